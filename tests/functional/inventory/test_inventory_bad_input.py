"""Bad inventory sources: each ends in one message that names what is wrong, no traceback, no secret, and no request sent.

The inventory half of the bad-input matrix (the modules' half is reliability/test_bad_input.py,
the role's roles/test_role_bad_input.py). Every source is read by the real ansible-inventory.
"""

import pytest

from inventory_helpers import api_requests, sim_source

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


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_each_bad_source_fails_with_one_clear_message_and_sends_nothing(scenario, run_inventory, case):
    case_id, options, env, words = case
    source = sim_source(scenario, password=SECRET if "password" not in options else options["password"])
    for key, value in options.items():
        if value is None:
            source.pop(key, None)
        else:
            source[key] = value
    result = run_inventory(source, env=dict(env or {}))
    text = " ".join(result.stderr.split())
    assert result.rc != 0, case_id
    assert words in text, (case_id, text[-1500:])
    assert "Traceback" not in result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert api_requests(scenario) == []
