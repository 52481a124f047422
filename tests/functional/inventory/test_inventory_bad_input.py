"""Bad inventory sources: each ends in one message that names what is wrong, no traceback, no secret, and no request sent.

The inventory half of the bad-input matrix (the modules' half is reliability/test_bad_input.py,
the role's roles/test_role_bad_input.py). Every source is read by the real ansible-inventory.

The cases that need no environment of their own are read by ONE ansible-inventory run, one source
each (ansible-inventory takes -i once per source and tries them in turn), with unparsed sources
allowed so that it reads every one: each must be refused by the plugin with its own message, in
the part of the output that ends with ansible's "Unable to parse SOURCE". The cases that set an
environment variable run alone, where a source that fails to parse fails the command
(ANSIBLE_INVENTORY_UNPARSED_FAILED, as for every other inventory test).
"""

import json
import os
import re

import pytest

from inventory_helpers import BIN, SCENARIO, api_requests, run, sim_source, write_source

SECRET = "Pa55-never-shown"

# (case id, source options over sim_source (None removes one), environment, words the message must contain)
CASES = [
    ("filters_unknown_state", {"filters": {"power_state": ["on"]}}, None, "unknown on"),
    ("filters_unknown_key", {"filters": {"colour": "red"}}, None, "unknown filter key(s) colour"),
    ("filters_not_a_dict", {"filters": "running"}, None, "filters"),
    ("name_regex_perl", {"filters": {"name_regex": r"^web\d+$"}}, None, "POSIX extended regular expressions"),
    ("name_regex_invalid", {"filters": {"name_regex": "("}}, None, "is not a valid regular expression"),
    ("page_size_negative", {"page_size": -1}, None, "page_size must be 0"),
    ("api_timeout_zero", {"api_timeout": 0}, None, "api_timeout must be a number of seconds greater than 0"),
    ("validate_certs_typo", {"validate_certs": "maybe"}, None, "validate_certs must be true or false, not 'maybe' (from the source)"),
    ("want_tags_typo", {"want_tags": "ture"}, None, "want_tags must be true or false, not 'ture'"),
    ("strict_typo_key", {"strikt": True}, None, "unknown key(s) strikt (did you mean strict?)"),
    ("sites_key_typo", {"sites": [{"name": "a", "hots": "x"}]}, None, "unknown key(s) hots (did you mean host?)"),
    ("sites_entry_not_a_dict", {"sites": ["a.example.com"]}, None, "each entry of sites must be a dict"),
    ("sites_duplicate_names", {"sites": [{"name": "a"}, {"name": "a"}]}, None, "two sites are named a"),
    ("sites_same_system", {"sites": [{"name": "a"}, {"name": "b"}]}, None, "are the same system"),
    ("sites_password_twice", {"sites": [{"name": "a", "password": "x", "password_env": "X"}]}, {"X": "y"},
     "give password or password_env, not both"),
    ("sites_password_env_unset", {"sites": [{"name": "a", "password_env": "NOT_SET_HERE"}]}, None,
     "password_env names the environment variable NOT_SET_HERE, which is not set or empty"),
    ("sites_validate_certs_typo", {"sites": [{"name": "a", "validate_certs": "maybe"}]}, None, "validate_certs must be true or false"),
    ("sites_timeout_bad", {"sites": [{"name": "a", "api_timeout": "soon"}]}, None, "api_timeout must be a number of seconds"),
    ("host_with_path", {"host": "vergeos.example.com/api"}, None, "must not contain a path or query"),
    ("host_http", {"host": "http://vergeos.example.com"}, None, "only https:// is supported"),
    ("host_with_credentials", {"host": "admin:%s@vergeos.example.com" % SECRET}, None, "must not carry credentials"),
    ("host_bad_port", {"host": "vergeos.example.com:99999"}, None, "the port must be a number from 1 to 65535"),
    ("username_with_colon", {"username": "ad:min"}, None, 'username must not contain ":"'),
    ("api_key_with_space", {"username": None, "password": None, "api_key": "two words"}, None, "characters an HTTP header cannot carry"),
    ("no_credentials", {"username": None, "password": None}, None, "no credentials"),
    ("ca_path_missing", {"ca_path": "/nonexistent/ca.pem"}, None, "does not exist"),
    ("no_host", {"host": None}, None, "no VergeOS system: give host (or set VERGEOS_HOST)"),
    ("insecure_typo", {"validate_certs": None}, {"VERGEOS_INSECURE": "perhaps"}, "VERGEOS_INSECURE must be true or false"),
    ("env_validate_certs_typo", {"validate_certs": None}, {"VERGEOS_VALIDATE_CERTS": "yess"},
     "validate_certs must be true or false, not 'yess' (from VERGEOS_VALIDATE_CERTS)"),
    ("hostnames_unknown", {"hostnames": "uuid"}, None, "hostnames"),
]


# ansible-inventory's last word on each source it could not read, after what each plugin said about it.
UNPARSED = re.compile(r"\[WARNING\]: Unable to parse (\S+) as an inventory source")


def source_of(sim, options):
    source = sim_source(sim, password=SECRET if "password" not in options else options["password"])
    for key, value in options.items():
        if value is None:
            source.pop(key, None)
        else:
            source[key] = value
    return source


def assert_clean(case_id, output):
    assert "Traceback" not in output, case_id
    assert SECRET not in output, case_id


@pytest.fixture(scope="module")
def batch(sim, tmp_path_factory):
    """Read every source of the cases without an environment of their own in one ansible-inventory run.

    Returns {case id: its part of the output, whitespace collapsed}, the whole output and the requests sent.
    """
    directory = tmp_path_factory.mktemp("bad-sources")
    sim.reset()
    sim.load(SCENARIO)
    sim.clear_requests()
    try:
        paths, env = {}, {}
        for case_id, options, case_env, _words in BATCHED:
            paths[write_source(directory, source_of(sim, options), "%s.vergeos.yml" % case_id)] = case_id
            env.update(case_env or {})
        sources = [argument for path in paths for argument in ("-i", path)]
        result = run([os.path.join(BIN, "ansible-inventory"), *sources, "--list"], cwd=str(directory),
                     env=dict(env, ANSIBLE_INVENTORY_UNPARSED_FAILED="false"))
        sent = api_requests(sim)
    finally:
        sim.reset()
    assert result.returncode == 0, result.stderr[-3000:]
    parts, start = {}, 0
    for match in UNPARSED.finditer(result.stderr):
        parts[paths[match.group(1)]] = " ".join(result.stderr[start:match.start()].split())
        start = match.end()
    return {"parts": parts, "output": result.stdout + result.stderr, "sent": sent, "hosts": json.loads(result.stdout)["_meta"]["hostvars"]}


def test_no_bad_source_gave_a_host_or_sent_a_request(batch):
    assert batch["hosts"] == {}
    assert batch["sent"] == []


# The cases whose environment would change how the other sources are read run alone.
ALONE = {"insecure_typo", "env_validate_certs_typo"}
BATCHED = [case for case in CASES if case[0] not in ALONE]


@pytest.mark.parametrize("case", BATCHED, ids=[case[0] for case in BATCHED])
def test_each_bad_source_is_refused_by_the_plugin_with_one_clear_message(batch, case):
    case_id, _options, _env, words = case
    assert case_id in batch["parts"], "ansible-inventory did not give up on the source of %s: %s" % (case_id, batch["output"][-3000:])
    part = batch["parts"][case_id]
    # The source was refused when read as a vergeos.power.vergeos source (through the auto plugin, as the file names it).
    assert "Failed to parse inventory with 'auto' plugin: " in part, (case_id, part[-1500:])
    assert words in part, (case_id, part[-1500:])
    assert_clean(case_id, batch["output"])


@pytest.mark.parametrize("case", [case for case in CASES if case[0] in ALONE], ids=sorted(ALONE, key=[case[0] for case in CASES].index))
def test_each_bad_source_fails_with_one_clear_message_and_sends_nothing(scenario, run_inventory, case):
    case_id, options, env, words = case
    result = run_inventory(source_of(scenario, options), env=dict(env or {}))
    text = " ".join(result.stderr.split())
    assert result.rc != 0, case_id
    assert words in text, (case_id, text[-1500:])
    assert_clean(case_id, result.stdout + result.stderr)
    assert api_requests(scenario) == []
