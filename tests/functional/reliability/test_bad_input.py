"""Bad input to the modules: each case ends in one clear message, no traceback, nothing written.

All cases run as tasks of ONE ansible-playbook run (ignore_errors, results kept
in a file), so the matrix costs one Ansible start-up. Faults are switched on and
off around the cases that need them by uri tasks to the simulator's /_sim API.

The run holds the cases selected for the session only. The ones ansible-core decides
(its argument spec) and the TLS ones (the Python's ssl module words them) carry no
mark; the others are marked ``engine``: the collection's own Python decides them
whatever runs it, so tools/compat.py leaves them out (``-m "not engine"``) and the
main suite proves them once.
"""

import contextlib
import json
import sys

import pytest
import yaml

import launcher  # tests/simulator, on sys.path through tests/functional/pytest.ini
from run_ansible import run, sim_env

PASSWORD = "pw-Bad-Input-77"
WORLD = {
    "speed": 100,
    "users": [{"name": "admin", "password": PASSWORD}, {"name": "viewer", "password": "viewer-pw-5", "role": "readonly"}],
    "vms": [
        {"name": "web01", "key": 1, "power": "running"},
        {"name": "db01", "key": 2, "power": "stopped"},
        {"name": "twin", "key": 3, "power": "stopped"},
        {"name": "twin", "key": 4, "power": "running"},
    ],
    "snapshots": [{"vm": 1, "name": "web01-nightly", "expires": 0}],
}
POWER = "vergeos.power.vergeos_vm_power"
INFO = "vergeos.power.vergeos_vm_info"

# (case id, module, arguments, text the message must contain, faults to install first or None)
CASES = [
    ("unknown_state", POWER, {"name": "web01", "state": "paused"}, "value of state must be one of: running, stopped, restarted", None),
    ("no_state", POWER, {"name": "web01"}, "missing required arguments: state", None),
    ("name_and_id", POWER, {"name": "web01", "id": 1, "state": "stopped"}, "mutually exclusive: name|id", None),
    ("filters_and_name", POWER, {"name": "web01", "filters": {"name_regex": "w"}, "state": "stopped"}, "mutually exclusive", None),
    ("id_not_a_number", POWER, {"id": "web01", "state": "stopped"}, "cannot be converted to an int", None),
    ("ids_not_numbers", INFO, {"ids": ["x"]}, "cannot be converted to an int", None),
    ("unknown_option", POWER, {"name": "web01", "state": "stopped", "sate": "x"},
     "Unsupported parameters for (vergeos.power.vergeos_vm_power) module: sate.", None),
    ("force_not_bool", POWER, {"name": "web01", "state": "stopped", "force": "maybe"}, "is not a valid boolean", None),
    ("empty_names", POWER, {"names": [], "state": "stopped"}, "no VM selected", None),
    ("empty_ids", POWER, {"ids": [], "state": "stopped"}, "no VM selected", None),
    ("empty_name", INFO, {"name": ""}, "a VM name must be a non-empty string", None),
    ("no_such_name", POWER, {"name": "ghost", "state": "stopped"}, "no VM is named 'ghost'", None),
    ("no_such_id", POWER, {"id": 999, "state": "stopped"}, "no VM has id 999", None),
    ("shared_name", POWER, {"name": "twin", "state": "stopped"}, "2 VMs are named 'twin' (ids 3, 4): give id to pick one", None),
    ("shared_in_names", POWER, {"names": ["web01", "twin"], "state": "stopped"}, "several VMs share the name 'twin' (ids 3, 4)", None),
    ("snapshot_by_name", POWER, {"name": "web01-nightly", "state": "stopped"}, "is a snapshot", None),
    ("unknown_power_filter", POWER, {"filters": {"power_state": ["asleep"]}, "state": "stopped"}, "value of power_state must be one or more of", None),
    ("unknown_filter_key", INFO, {"filters": {"colour": "red"}}, "Unsupported parameters", None),
    ("filter_matches_nothing", POWER, {"filters": {"name_regex": "^nothing$"}, "state": "stopped"}, "the filters match no VM", None),
    ("too_many_targets", POWER, {"filters": {"name_regex": "."}, "state": "stopped", "max_targets": 2},
     "the filters match 4 VMs, more than max_targets (2)", None),
    ("bad_regex", INFO, {"filters": {"name_regex": "("}}, "is not a valid regular expression", None),
    ("perl_regex", INFO, {"filters": {"name_regex": "^web\\d+$"}}, "POSIX extended regular expressions", None),
    ("negative_timeout", POWER, {"name": "web01", "state": "stopped", "wait_timeout": -1}, "wait_timeout must be a number of seconds, zero or more", None),
    ("zero_poll", POWER, {"name": "web01", "state": "stopped", "poll_interval": 0}, "poll_interval must be more than zero", None),
    ("rate_a_boolean", POWER, {"name": "web01", "state": "stopped", "max_requests_per_second": True},
     "argument 'max_requests_per_second' must be a number, not the boolean True", None),
    ("rate_not_a_number", POWER, {"name": "web01", "state": "stopped", "max_requests_per_second": "ten"},
     "we were unable to convert to float: str cannot be converted to a float", None),
    ("zero_concurrency", POWER, {"name": "web01", "state": "stopped", "max_concurrent_actions": 0}, "max_concurrent_actions must be 1 or more", None),
    ("bad_on_timeout", POWER, {"name": "web01", "state": "stopped", "on_timeout": "later"}, "value of on_timeout must be one of", None),
    ("zero_api_timeout", INFO, {"name": "web01", "api_timeout": 0}, "api_timeout must be a number of seconds greater than 0", None),
    ("url_with_path", INFO, {"name": "web01", "host": "https://vergeos.example.com/api/v4"}, "must not contain a path", None),
    ("http_scheme", INFO, {"name": "web01", "host": "http://vergeos.example.com"}, "only https:// is supported", None),
    ("credentials_in_url", INFO, {"name": "web01", "host": "https://admin:secret@vergeos.example.com"}, "must not carry credentials", None),
    ("bad_port", INFO, {"name": "web01", "host": "vergeos.example.com:99999"}, "port must be a number", None),
    ("unreachable", INFO, {"name": "web01", "host": "127.0.0.1:1", "api_timeout": 5}, "cannot connect to https://127.0.0.1:1", None),
    ("missing_ca_file", INFO, {"name": "web01", "ca_path": "/nonexistent/ca.pem"}, "ca_path /nonexistent/ca.pem does not exist", None),
    ("wrong_password", INFO, {"name": "web01", "password": "not-it"}, "HTTP 401", None),
    ("no_credentials", INFO, {"name": "web01", "username": None, "password": None}, "no credentials", None),
    ("api_key_with_newline", INFO, {"name": "web01", "api_key": "abc\ndef"}, "api_key contains characters", None),
    ("read_only_user", POWER, {"name": "web01", "state": "stopped", "username": "viewer", "password": "viewer-pw-5"}, "HTTP 403", None),
    ("api_not_found", INFO, {"name": "web01"}, "HTTP 404", [{"path": "/api/v4", "kind": "error", "status": 404, "message": "API not found"}]),
    ("html_not_json", INFO, {"name": "web01"}, "HTTP 502", [{"path": "/api/v4", "kind": "html", "status": 502}]),
    ("truncated_body", INFO, {"name": "web01"}, "the answer is not valid JSON", [{"path": "/api/v4", "kind": "truncate", "cut": "body"}]),
    ("filter_ignored", POWER, {"name": "web01", "state": "stopped"}, "the filter was not applied",
     [{"method": "GET", "path": "/api/v4/vms", "kind": "unfiltered"}]),
    ("listing_filter_ignored", POWER, {"filters": {"name_regex": "^web"}, "state": "stopped"}, "answered snapshot rows",
     [{"method": "GET", "path": "/api/v4/vms", "kind": "unfiltered"}]),
    ("cut_connection", INFO, {"name": "web01", "api_timeout": 5}, "cut off", [{"path": "/api/v4", "kind": "truncate", "cut": "connection"}]),
]
TLS_CASES = [
    ("tls_name_mismatch", "name-mismatch", "was issued for another name"),
    ("tls_expired", "expired", "outside its validity dates"),
]
# The cases whose message ansible-core's argument spec writes (a newer ansible-core may word them otherwise).
CORE_DECIDES = {"unknown_state", "no_state", "name_and_id", "filters_and_name", "id_not_a_number", "ids_not_numbers", "unknown_option",
                "force_not_bool", "unknown_power_filter", "unknown_filter_key", "bad_on_timeout"}


def fault_task(sim, method, faults=None):
    task = {"name": "%s faults" % method, "ansible.builtin.uri": {"url": sim.url + "/_sim/faults", "method": method, "ca_path": sim.ca}}
    if faults:
        task["ansible.builtin.uri"].update(body_format="json", body={"faults": faults})
    return task


def case_task(case_id, module, args):
    return {"name": case_id, module: args, "register": case_id, "ignore_errors": True}


def selected_cases(session):
    """Return the case ids whose test this session runs (every case when it runs none of them, e.g. one other test by name)."""
    selected = {item.callspec.params["case_id"] for item in session.items
                if item.module.__name__ == __name__ and item.originalname == "test_each_case_fails_with_one_clear_message"}
    return selected or {case[0] for case in CASES + TLS_CASES}


@pytest.fixture(scope="module")
def results(sim, tmp_path_factory, request):
    """Run the matrix of the selected cases once for every test of this file."""
    tmp_path = tmp_path_factory.mktemp("bad-input")
    selected = selected_cases(request.session)
    with contextlib.ExitStack() as stack:
        tls = {}
        for case_id, mode, _text in TLS_CASES:
            if case_id not in selected:
                continue
            state = tmp_path / case_id
            state.mkdir()
            tls[case_id] = stack.enter_context(launcher.start_simulator(["--speed", "100", "--tls-mode", mode], str(state)))
        try:
            return _run_matrix(sim, tls, tmp_path, selected)
        finally:
            sim.reset()  # the shared simulator gets its default world (and admin password) back


def _run_matrix(sim, tls, tmp_path, selected):
    sim.load(WORLD)
    sim.clear_faults()
    sim.clear_requests()
    tasks = []
    for case_id, module, args, _text, faults in CASES:
        if case_id not in selected:
            continue
        if faults:
            tasks.append(fault_task(sim, "POST", faults))
        tasks.append(case_task(case_id, module, args))
        if faults:
            tasks.append(fault_task(sim, "DELETE"))
    for case_id in tls:
        # The CA of each TLS simulator signed its certificate: only the name or the dates are wrong.
        tasks.append(case_task(case_id, INFO, {"name": "web01", "host": tls[case_id].host, "ca_path": tls[case_id].ca}))
    names = [case[0] for case in CASES + TLS_CASES if case[0] in selected]
    tasks.append({"name": "Keep the results", "ansible.builtin.copy": {
        "content": "{{ {%s} | to_json }}" % ", ".join("'%s': %s" % (name, name) for name in names),
        "dest": str(tmp_path / "results.json"), "mode": "0600"}})
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{"name": "Bad input", "hosts": "localhost", "gather_facts": False, "tasks": tasks,
                                     "vars": {"ansible_python_interpreter": sys.executable}}], sort_keys=False))
    outcome = run("ansible-playbook", "-vvv", str(play), env=sim_env(sim, PASSWORD))
    log = sim.requests()
    sim.clear_faults()
    assert outcome.returncode == 0, outcome.stdout[-5000:]
    return {"by_case": json.loads((tmp_path / "results.json").read_text()), "output": outcome.stdout + outcome.stderr,
            "log": log, "states": {row["$key"]: row["status"] for row in sim.api(
                "GET", "/api/v4/vms", params={"filter": "is_snapshot eq false", "fields": "$key,machine#status#status as status"},
                auth=("admin", PASSWORD)).json()}}


@pytest.mark.parametrize("case_id, text", [pytest.param(case[0], case[3], id=case[0], marks=() if case[0] in CORE_DECIDES else pytest.mark.engine)
                                           for case in CASES] + [pytest.param(case[0], case[2], id=case[0]) for case in TLS_CASES])
def test_each_case_fails_with_one_clear_message(results, case_id, text):
    result = results["by_case"][case_id]
    assert result["failed"] is True
    assert text in result["msg"], result["msg"]
    assert "<class '" not in result["msg"]  # the types a task author knows, not ansible-core's tagged classes
    # ansible-core 2.19 adds exception: "(traceback unavailable)" to every failed result; no traceback may be in it.
    assert "Traceback" not in json.dumps(result)
    assert result.get("changed") is not True


def test_the_matrix_is_large_enough():
    assert len(CASES) + len(TLS_CASES) >= 30


def test_nothing_was_written_and_no_vm_moved(results):
    writes = [entry for entry in results["log"] if entry["method"] != "GET"]
    # The one write attempt (the read-only user's poweroff) was refused by VergeOS.
    refused = [("POST", "/api/v4/vm_actions", 403)] if "read_only_user" in results["by_case"] else []
    assert [(entry["method"], entry["path"], entry["status"]) for entry in writes] == refused
    assert results["states"] == {1: "running", 2: "stopped", 3: "stopped", 4: "running"}


def test_no_traceback_and_no_secret_in_the_output(results):
    assert "Traceback" not in results["output"]
    for secret in (PASSWORD, "viewer-pw-5", "not-it"):
        assert secret not in results["output"]
        assert secret not in json.dumps(results["log"])
