"""Power changes through a lossy, overloaded VergeOS: seeded faults, real ansible-playbook runs.

20% of reads answer 429/500/502/503, 5% of all requests lose their connection
(for power actions, half of those after VergeOS carried the action out), and
actions are slowed down. A batch of 120 changes must converge, no obedient guest
may ever get a kill, and no action may take effect twice.
"""

import json
import sys

import pytest
import yaml

from run_ansible import run, sim_env

SEED = 20261201
PASSWORD = "pw-Faults-4471"
UP = ["up-%03d" % number for number in range(60)]
DOWN = ["down-%03d" % number for number in range(60)]
WORLD = {
    "speed": 100,
    "users": [{"name": "admin", "password": PASSWORD}],
    "timings": {"boot": 30, "shutdown": 60, "kill": 3},
    # A repeated action is refused, so an action that takes effect twice would show as two 201s.
    "switches": {"redundant_action": 409},
    "vms": [{"name": name, "power": "running"} for name in UP] + [{"name": name, "power": "stopped"} for name in DOWN],
}
FAULTS = [
    {"method": "GET", "kind": "error", "status": [429, 500, 502, 503], "rate": 0.2},
    {"kind": "drop", "rate": 0.05},
    {"method": "POST", "path": "/api/v4/vm_actions", "kind": "drop", "applied": True, "rate": 0.05},
    {"method": "POST", "path": "/api/v4/vm_actions", "kind": "delay", "delay": 0.05, "rate": 0.5},
]


def write_play(tmp_path, tasks):
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([{"name": "Faults", "hosts": "localhost", "gather_facts": False,
                                     "vars": {"ansible_python_interpreter": sys.executable}, "tasks": tasks}], sort_keys=False))
    return str(path)


def dump_task(variable, tmp_path):
    return {"name": "Keep %s" % variable, "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % variable,
                                                                   "dest": str(tmp_path / (variable + ".json")), "mode": "0600"}}


def vm_states(sim):
    response = sim.api("GET", "/api/v4/vms", params={"filter": "is_snapshot eq false", "fields": "$key,name,machine#status#status as status"},
                       auth=("admin", PASSWORD))
    assert response.status_code == 200
    return {row["name"]: row["status"] for row in response.json()}


def key_names(sim):
    response = sim.api("GET", "/api/v4/vms", params={"filter": "is_snapshot eq false", "fields": "$key,name"}, auth=("admin", PASSWORD))
    return {row["$key"]: row["name"] for row in response.json()}


def carried_out(entry):
    """Return the API's own status for a logged request that VergeOS carried out, else None."""
    fault = entry.get("fault")
    if fault is None:
        return entry["status"]
    return fault.get("api_status") if fault.get("applied") else None


@pytest.fixture
def lossy(sim):
    sim.load(WORLD)
    sim.clear_faults()
    sim.add_faults(*FAULTS, seed=SEED)
    sim.clear_requests()
    yield sim
    sim.reset()  # faults off, the default world (and admin password) back


def test_a_batch_of_120_changes_converges_through_faults(lossy, tmp_path):
    common = {"poll_interval": 0.3, "wait_timeout": 120, "max_concurrent_actions": 60}
    tasks = [
        {"name": "Stop the running half", "vergeos.power.vergeos_vm_power": dict(common, names=UP, state="stopped"), "register": "stop"},
        {"name": "Start the stopped half", "vergeos.power.vergeos_vm_power": dict(common, names=DOWN, state="running"), "register": "start"},
        dump_task("stop", tmp_path), dump_task("start", tmp_path),
    ]
    result = run("ansible-playbook", "-vvv", write_play(tmp_path, tasks), env=sim_env(lossy, PASSWORD))
    log = lossy.requests()
    lossy.clear_faults()
    assert result.returncode == 0, result.stdout[-4000:]
    for text in (result.stdout + result.stderr, json.dumps(log), (tmp_path / "stop.json").read_text()):
        assert PASSWORD not in text
    fired = lossy.faults()
    assert all(fault["fired"] > 0 for fault in fired["faults"]), fired  # the faults did happen

    states = vm_states(lossy)
    assert {states[name] for name in UP} == {"stopped"} and {states[name] for name in DOWN} == {"running"}
    stop = json.loads((tmp_path / "stop.json").read_text())
    start = json.loads((tmp_path / "start.json").read_text())
    assert stop["changed"] and start["changed"]
    assert all(vm["power_state"] == "stopped" and not vm["failed"] for vm in stop["vms"])
    assert all(vm["power_state"] == "running" and not vm["failed"] for vm in start["vms"])

    names = key_names(lossy)
    actions = [entry for entry in log if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions"]
    by_vm = {}
    for entry in actions:
        by_vm.setdefault(names[int(entry["body"]["vm"])], []).append(entry)
    assert sorted(by_vm) == sorted(UP + DOWN)
    for name, entries in by_vm.items():
        wanted = "poweroff" if name in UP else "poweron"
        assert {entry["body"]["action"] for entry in entries} == {wanted}, (name, entries)  # never a kill, never the opposite
        assert len(entries) <= 3, (name, entries)
        effective = [entry for entry in entries if carried_out(entry) == 201]
        assert len(effective) == 1, (name, entries)  # took effect exactly once
    lost = [entry for entry in actions if entry.get("fault", {}).get("kind") == "drop"]
    assert lost, "no power action lost its answer: the test did not test what it says"
    assert_each_action_follows_a_fresh_read(log, names)


def mentions(entry, key, name):
    """Return whether a logged VM read answered for this VM (its key or its name is in the filter)."""
    text = str(entry.get("query", {}).get("filter", ""))
    return entry["status"] == 200 and ("$key eq %d" % key in text or "name eq '%s'" % name in text)


def assert_each_action_follows_a_fresh_read(log, names):
    """Every POST for a VM comes after a successful read of that VM made after its previous POST."""
    last_post = {}
    for index, entry in enumerate(log):
        if entry["method"] != "POST":
            continue
        key = int(entry["body"]["vm"])
        since = last_post.get(key, -1)
        reads = [earlier for earlier in log[since + 1:index]
                 if earlier["method"] == "GET" and earlier["path"] == "/api/v4/vms" and mentions(earlier, key, names[key])]
        assert reads, "POST %s to VM %s without a fresh read before it" % (entry["body"]["action"], names[key])
        last_post[key] = index


def test_a_definite_refusal_names_the_vm_and_the_cause(sim, tmp_path):
    sim.load(WORLD)
    sim.clear_faults()
    sim.add_faults({"method": "POST", "path": "/api/v4/vm_actions", "kind": "error", "status": 403,
                    "message": "permission denied for vm_actions", "count": 1}, seed=SEED)
    sim.clear_requests()
    try:
        tasks = [{"name": "Stop three", "vergeos.power.vergeos_vm_power": {"names": UP[:3], "state": "stopped", "poll_interval": 0.3},
                  "register": "stop", "ignore_errors": True}, dump_task("stop", tmp_path)]
        result = run("ansible-playbook", write_play(tmp_path, tasks), env=sim_env(sim, PASSWORD))
    finally:
        sim.reset()
    assert result.returncode == 0, result.stdout[-4000:]
    stop = json.loads((tmp_path / "stop.json").read_text())
    assert stop["failed"] is True
    failed = [vm for vm in stop["vms"] if vm["failed"]]
    assert len(failed) == 1 and len(stop["vms"]) == 3
    assert "HTTP 403" in failed[0]["msg"] and "permission denied" in failed[0]["msg"]
    assert failed[0]["name"] in stop["msg"] and "HTTP 403" in stop["msg"]
    assert [vm["power_state"] for vm in stop["vms"] if not vm["failed"]] == ["stopped", "stopped"]
    assert "Traceback" not in result.stdout + result.stderr
