"""Two playbooks changing the same VMs at the same moment: consistent states and honest results."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from run_ansible import BIN, base_env, sim_env

NAMES = ["c-%03d" % number for number in range(20)]
SETTLED = {"running", "stopped"}


# Each playbook logs in as its own user, so the request log tells their requests apart.
PASSWORD = "Concurrent-pw-31"
USERS = [{"name": "admin", "password": "admin"}, {"name": "first", "password": PASSWORD}, {"name": "second", "password": PASSWORD}]


def world(power_of):
    return {"speed": 100, "timings": {"boot": 30, "shutdown": 60, "kill": 3}, "switches": {"redundant_action": 409}, "users": USERS,
            "vms": [{"name": name, "power": power_of(number)} for number, name in enumerate(NAMES)]}


def start_play(sim, tmp_path, label, state):
    path = tmp_path / ("%s.yml" % label)
    out = tmp_path / ("%s.json" % label)
    tasks = [
        {"name": "Change", "vergeos.power.vergeos_vm_power": {"names": NAMES, "state": state, "poll_interval": 0.2, "wait_timeout": 60,
                                                              "max_concurrent_actions": 20},
         "register": "change", "ignore_errors": True},
        {"name": "Keep", "ansible.builtin.copy": {"content": "{{ change | to_json }}", "dest": str(out), "mode": "0600"}},
    ]
    path.write_text(yaml.safe_dump([{"name": label, "hosts": "localhost", "gather_facts": False, "tasks": tasks,
                                     "vars": {"ansible_python_interpreter": sys.executable}}]))
    process = subprocess.Popen([os.path.join(BIN, "ansible-playbook"), str(path)], env=base_env(sim_env(sim, PASSWORD, label)),
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    return process, out


def finish(process, out):
    output, _unused = process.communicate(timeout=300)
    assert process.returncode == 0, output[-4000:]
    assert "Traceback" not in output
    return json.loads(out.read_text())


def statuses(sim):
    response = sim.api("GET", "/api/v4/vms", params={"filter": "is_snapshot eq false",
                                                     "fields": "name,machine#status#status as status,machine#status#running as running"})
    return {row["name"]: (row["status"], row["running"]) for row in response.json()}


@pytest.fixture
def together(sim, tmp_path):
    def run_two(power_of, first, second):
        sim.load(world(power_of))
        sim.clear_requests()
        plays = [start_play(sim, tmp_path, "first", first), start_play(sim, tmp_path, "second", second)]
        results = [finish(*play) for play in plays]
        return results, sim.requests()
    yield run_two
    sim.reset()


def test_two_playbooks_stopping_the_same_vms_both_succeed(together, sim):
    (first, second), log = together(lambda number: "running", "stopped", "stopped")
    assert first["failed"] is False and second["failed"] is False, (first["msg"], second["msg"])
    assert all(vm["power_state"] == "stopped" for vm in first["vms"] + second["vms"])
    posts = [entry for entry in log if entry["method"] == "POST"]
    assert {entry["body"]["action"] for entry in posts} == {"poweroff"}
    # Each playbook sent each VM at most one poweroff (two that read 'running' at once both send one,
    # which is harmless: a second ACPI signal to a guest already shutting down).
    per_vm_and_playbook = {}
    for entry in posts:
        key = (int(entry["body"]["vm"]), entry["user"])
        per_vm_and_playbook[key] = per_vm_and_playbook.get(key, 0) + 1
    assert len({vm_id for vm_id, _user in per_vm_and_playbook}) == len(NAMES)
    assert {user for _vm_id, user in per_vm_and_playbook} <= {"first", "second"}
    assert max(per_vm_and_playbook.values()) == 1, per_vm_and_playbook
    # Whoever came second waited for the first one's transition; between them every VM changed once.
    assert sum(vm["changed"] for vm in first["vms"] + second["vms"]) >= len(NAMES)
    assert {status for status, _running in statuses(sim).values()} == {"stopped"}


def test_a_stop_and_a_start_at_once_end_consistent_and_honest(together, sim):
    (stop, start), log = together(lambda number: "running" if number % 2 else "stopped", "stopped", "running")
    for result, wanted in ((stop, "stopped"), (start, "running")):
        for vm in result["vms"]:
            if vm["failed"]:
                # It says what happened to this VM; it did not fight the other playbook.
                assert vm["msg"] and vm["name"] in result["msg"], result["msg"]
            else:
                assert vm["power_state"] == wanted, vm
    final = statuses(sim)
    for name, (status, running) in final.items():
        assert status in SETTLED and running is (status == "running"), (name, status, running)
    kills = [entry for entry in log if entry["method"] == "POST" and entry["body"]["action"] == "kill"]
    assert kills == []
    # No VM was pushed back and forth: per VM and playbook, one kind of action (the playbook's own) and at most once.
    sent = {}
    for entry in log:
        if entry["method"] == "POST":
            sent.setdefault((int(entry["body"]["vm"]), entry["user"]), []).append(entry["body"]["action"])
    assert {user for _vm, user in sent} <= {"first", "second"}, sorted(sent)
    for (vm_id, user), actions in sorted(sent.items()):
        assert actions == [{"first": "poweroff", "second": "poweron"}[user]], (vm_id, user, actions)
