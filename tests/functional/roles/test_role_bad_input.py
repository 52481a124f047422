"""Bad input to the safe_shutdown and safe_startup roles: each case ends in one message that names what is wrong, and nothing is written.

The roles' half of the bad-input matrix. All cases run in ONE ansible-playbook run: each includes
its role in a block whose rescue keeps the failure's message, so the matrix costs one Ansible
start-up. The simulator's request log must then hold no write at all.

A VM name is read as the modules read it, spaces included: ' vm-001' is not vm-001 (a role that
stripped it acted on another VM than the one named), and the refusal names both spellings.
"""

import json
import sys

import pytest
import yaml

from run_ansible import run, sim_env

WORLD = {
    "speed": 100,
    "vms": [
        {"name": "web01", "key": 1, "power": "running"},
        {"name": "twin", "key": 2, "power": "running"},
        {"name": "twin", "key": 3, "power": "running"},
        {"name": "stag01", "key": 4, "power": "running", "tags": ["staging"]},
        {"name": "stag02", "key": 5, "power": "running", "tags": ["staging"]},
        {"name": "vm-001", "key": 6, "power": "running"},
        {"name": "cold01", "key": 7, "power": "stopped"},
        {"name": "blind01", "key": 8, "power": "stopped", "nics": [{"ipaddress": ""}]},
    ],
    "tag_categories": [{"name": "environment"}],
    "tags": [{"name": "staging", "category": "environment"}],
    "snapshots": [{"vm": 1, "name": "web01-nightly", "expires": 0}],
}
WEB = {"safe_shutdown_targets": ["web01"]}

# (case id, role variables, words the message must contain)
CASES = [
    ("targets_dict", {"safe_shutdown_targets": {"web01": 1}}, "safe_shutdown_targets"),
    ("targets_bool", {"safe_shutdown_targets": [True]}, "not True"),
    ("targets_zero", {"safe_shutdown_targets": [0]}, "not 0"),
    ("targets_negative", {"safe_shutdown_targets": [-4]}, "not -4"),
    ("targets_empty_name", {"safe_shutdown_targets": ["web01", " "]}, "not ' '"),
    ("targets_float", {"safe_shutdown_targets": [1.5]}, "not 1.5"),
    ("targets_list_as_text", {"safe_shutdown_targets": "[web01, twin]"}, "looks like a list written as text"),
    ("targets_and_filters", dict(WEB, safe_shutdown_filters={"tags": ["staging"]}), "not both"),
    ("filters_key_typo", {"safe_shutdown_filters": {"name_rx": "web"}}, "name_rx"),
    ("filters_state_typo", {"safe_shutdown_filters": {"power_state": ["on"]}}, "power_state"),
    ("filters_perl_regex", {"safe_shutdown_filters": {"name_regex": r"^web\d+"}}, "POSIX extended regular expressions"),
    ("filters_bad_regex", {"safe_shutdown_filters": {"name_regex": "web("}}, "is not a valid regular expression"),
    ("filters_match_nothing", {"safe_shutdown_filters": {"name_regex": "^nothing$"}}, "match no VM"),
    ("filters_too_many", {"safe_shutdown_filters": {"tags": ["staging"]}, "safe_shutdown_max_targets": 1},
     "more than safe_shutdown_max_targets (1)"),
    ("timeout_word", dict(WEB, safe_shutdown_timeout="soon"), "safe_shutdown_timeout"),
    ("timeout_negative", dict(WEB, safe_shutdown_timeout=-1), "safe_shutdown_timeout must be a number of seconds, 0 or more"),
    ("timeout_negative_text", dict(WEB, safe_shutdown_timeout="-5"), "safe_shutdown_timeout must be a number of seconds, 0 or more"),
    ("kill_timeout_negative", dict(WEB, safe_shutdown_kill_timeout=-3), "safe_shutdown_kill_timeout must be a number of seconds"),
    ("poll_zero", dict(WEB, safe_shutdown_poll_interval=0), "safe_shutdown_poll_interval must be a number of seconds above 0"),
    ("poll_zero_text", dict(WEB, safe_shutdown_poll_interval="0"), "safe_shutdown_poll_interval must be a number of seconds above 0"),
    ("max_targets_zero", dict(WEB, safe_shutdown_max_targets=0), "safe_shutdown_max_targets must be a whole number, 1 or more"),
    ("max_targets_word", dict(WEB, safe_shutdown_max_targets="two"), "safe_shutdown_max_targets"),
    ("timeouts_text", dict(WEB, safe_shutdown_timeouts="web01=30"), "safe_shutdown_timeouts"),
    ("timeouts_word_value", dict(WEB, safe_shutdown_timeouts={"web01": "soon"}), "safe_shutdown_timeouts values must be numbers"),
    ("timeouts_negative", dict(WEB, safe_shutdown_timeouts={"web01": -1}), "safe_shutdown_timeouts values must be numbers"),
    ("escalate_typo", dict(WEB, safe_shutdown_escalate="ture"), "safe_shutdown_escalate"),
    ("expires_negative", dict(WEB, safe_shutdown_snapshot_expires=-1), "safe_shutdown_snapshot_expires must be a number of seconds"),
    ("retry_negative", dict(WEB, safe_shutdown_snapshot_retry_timeout=-5), "safe_shutdown_snapshot_retry_timeout must be"),
    ("batch_typo", dict(WEB, safe_shutdown_batch="maybe"), "safe_shutdown_batch"),
    ("unknown_vm", {"safe_shutdown_targets": ["web01", "no-such-vm"]}, "no VM is named 'no-such-vm'"),
    ("shared_name", {"safe_shutdown_targets": ["twin"]}, "twin"),
    ("snapshot_as_target", {"safe_shutdown_targets": ["web01-nightly"]}, "is a snapshot"),
    ("unknown_id", {"safe_shutdown_targets": [999]}, "no VM has id 999"),
    ("record_bad_name", dict(WEB, safe_shutdown_record="rack 7!"), "safe_shutdown_record must be a maintenance record name"),
    ("record_list", dict(WEB, safe_shutdown_record=["rack7"]), "safe_shutdown_record must be a maintenance record name"),
    ("record_note_too_long", dict(WEB, safe_shutdown_record="rack7", safe_shutdown_record_note="x" * 1001),
     "safe_shutdown_record_note must be at most 1000 characters"),
    ("targets_spaced_name", {"safe_shutdown_targets": [" vm-001"]}, "no VM is called ' vm-001'; did you mean 'vm-001'?"),
    ("targets_spaced_textarea", {"safe_shutdown_targets": "web01\r\nvm-001 \r\n"}, "no VM is called 'vm-001 '; did you mean 'vm-001'?"),
    ("tiers_spaced_name", {"safe_shutdown_tiers": [{"targets": ["web01"]}, {"targets": ["vm-001 "]}]},
     "no VM is called 'vm-001 '; did you mean 'vm-001'?"),
]
COLD = [{"targets": ["cold01"]}]
# The same for safe_startup, whose VMs here are stopped: a case that is not refused would power one on (a write).
STARTUP_CASES = [
    ("startup_timeout_zero", {"safe_startup_tiers": COLD, "safe_startup_timeout": 0},
     "safe_startup_timeout must be a number of seconds above 0; not 0"),
    ("startup_timeout_negative_text", {"safe_startup_tiers": COLD, "safe_startup_timeout": "-5"},
     "safe_startup_timeout must be a number of seconds above 0; not '-5'"),
    ("startup_tier_timeout_zero", {"safe_startup_tiers": [{"targets": ["cold01"], "timeout": 0}]},
     "safe_startup_tiers tier 1 timeout must be a number of seconds above 0; not 0"),
    ("startup_no_tiers", {"safe_startup_tiers": []}, "safe_startup_tiers is empty and no host of the play carries vergeos_id"),
    ("startup_port_without_address",
     {"safe_startup_tiers": [{"targets": ["cold01"]}, {"name": "web", "targets": ["blind01"], "up": "port", "port": 8080}]},
     "safe_startup_tiers tier 2 (web) has up = port (the tier's up, or safe_startup_up), but blind01 (id 8) show(s) no IP address"),
    ("startup_spaced_name", {"safe_startup_tiers": [{"targets": ["cold01"]}, {"targets": [" vm-001"]}]},
     "no VM is called ' vm-001'; did you mean 'vm-001'?"),
    ("startup_unknown_vm", {"safe_startup_tiers": [{"targets": ["cold01", "no-such-vm"]}]}, "no VM is named 'no-such-vm'"),
    ("startup_up_typo", {"safe_startup_tiers": COLD, "safe_startup_up": "pong"},
     "value of safe_startup_up must be one of: running, agent, port, url, got: pong"),
]
ALL = [("safe_shutdown",) + case for case in CASES] + [("safe_startup",) + case for case in STARTUP_CASES]


def play(tmp_path):
    tasks = []
    for role, case_id, variables, _words in ALL:
        tasks.append({"name": "Case %s" % case_id, "block": [
            {"name": "Run the role", "ansible.builtin.include_role": {"name": "vergeos.power." + role}, "vars": variables},
            {"name": "It must not get here", "ansible.builtin.set_fact": {"reached": "{{ reached | default([]) + ['%s'] }}" % case_id}},
        ], "rescue": [
            {"name": "Keep the message", "ansible.builtin.set_fact": {
                "messages": "{{ messages | default({}) | combine({'%s': [ansible_failed_result.msg | default('')] | flatten | join(' ')}) }}"
                % case_id}},
        ]})
    tasks.append({"name": "Keep the messages", "ansible.builtin.copy": {
        "content": "{{ {'messages': messages | default({}), 'reached': reached | default([])} | to_json }}",
        "dest": str(tmp_path / "messages.json"), "mode": "0600"}})
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([{"name": "Bad input to the role", "hosts": "localhost", "gather_facts": False,
                                     "vars": {"ansible_python_interpreter": sys.executable, "safe_shutdown_poll_interval": 0.2,
                                              "safe_startup_poll_interval": 0.2},
                                     "tasks": tasks}], sort_keys=False))
    return str(path)


@pytest.fixture(scope="module")
def results(sim, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("role-bad-input")
    sim.load(WORLD)
    sim.clear_requests()
    try:
        result = run("ansible-playbook", play(tmp_path), env=sim_env(sim))
        log = sim.requests()
    finally:
        sim.reset()
    assert result.returncode == 0, result.stdout[-4000:]
    kept = json.loads((tmp_path / "messages.json").read_text())
    return {"messages": kept["messages"], "reached": kept["reached"], "log": log, "output": result.stdout + result.stderr}


@pytest.mark.parametrize("case_id, words", [(case[1], case[3]) for case in ALL], ids=[case[1] for case in ALL])
def test_each_case_fails_with_a_message_that_names_the_problem(results, case_id, words):
    assert case_id not in results["reached"]
    assert words in results["messages"][case_id], results["messages"][case_id]


def test_nothing_was_written_and_nothing_crashed(results):
    assert [entry for entry in results["log"] if entry["method"] != "GET"] == []
    assert "Traceback" not in results["output"]
    assert len(results["messages"]) == len(ALL)
