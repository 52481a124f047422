"""Power changes at scale through a throttled, lossy VergeOS: real ansible-playbook runs, judged by the request log.

The simulator drops the connection of a user over 50 requests a second (burst 20),
VergeOS's way of throttling, and seeded faults hit reads, power actions and snapshot
POSTs: 502/503 answers, dropped requests, and answers lost after VergeOS carried the
request out. The assertions read the simulator's request log and final state, never
the module's own words; wall times belong to the benchmarks (make bench).
"""

import json
import re
import sys

import pytest
import yaml

from run_ansible import run, sim_env

SEED = 20261202
PASSWORD = "pw-Throttled-2112"
AUDITOR = ("auditor", "auditor-pw-77")  # the test's own reads: a bucket of their own
SPEED = 20
# Burst 20: the limit bites within the first requests (before the seeded losses of the role test's keys 21-40, which the
# pacer also takes for throttling), whatever the pacer does after.
RATE_LIMIT = {"rate": 50, "burst": 20, "mode": "drop"}
LOSSY = [
    {"method": "GET", "kind": "error", "status": [502, 503], "rate": 0.1},
    {"kind": "drop", "rate": 0.03},
    {"method": "POST", "path": "/api/v4/vm_actions", "kind": "drop", "applied": True, "rate": 0.05},
    {"method": "POST", "path": "/api/v4/vm_actions", "kind": "error", "status": 503, "rate": 0.05},
]
SNAPSHOT_FAULTS = [
    {"method": "POST", "path": "/api/v4/machine_snapshots", "kind": "error", "status": 503, "rate": 0.1},
    {"method": "POST", "path": "/api/v4/machine_snapshots", "kind": "drop", "applied": True, "rate": 0.1},
]
USERS = [{"name": "admin", "password": PASSWORD}, {"name": AUDITOR[0], "password": AUDITOR[1], "role": "readonly"}]


def write_play(tmp_path, play):
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([dict({"name": "Throttled", "hosts": "localhost", "gather_facts": False,
                                          "vars": {"ansible_python_interpreter": sys.executable}}, **play)], sort_keys=False))
    return str(path)


def keep(variable, tmp_path):
    return {"name": "Keep %s" % variable, "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % variable,
                                                                   "dest": str(tmp_path / (variable + ".json")), "mode": "0600"}}


def audit(sim, table, fields):
    response = sim.api("GET", "/api/v4/" + table, params={"fields": fields}, auth=AUDITOR)
    assert response.status_code == 200, response.text
    return response.json()


def states_by_name(sim):
    return {row["name"]: row["status"] for row in audit(sim, "vms", "$key,name,is_snapshot,machine#status#status as status")
            if not row["is_snapshot"]}


def carried_out(entry):
    """Whether VergeOS carried a logged request out (a fault may have lost its answer afterwards)."""
    fault = entry.get("fault")
    return entry["status"] is not None and 200 <= entry["status"] < 300 if fault is None else bool(fault.get("applied"))


def acknowledged(entry):
    """Whether the client got a 2xx answer to a logged request."""
    return entry["status"] is not None and 200 <= entry["status"] < 300


def actions_of(log, key, action):
    return [entry for entry in log if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions"
            and int(entry["body"]["vm"]) == key and entry["body"]["action"] == action]


def reads_between(log, key, first, last):
    """Return the reads of VM ``key`` answered between two logged requests, by their places in the log (not their times)."""
    term = re.compile(r"\$key eq %d\b" % key)
    return [entry for entry in log[log.index(first) + 1:log.index(last)] if entry["method"] == "GET" and entry["path"] == "/api/v4/vms"
            and acknowledged(entry) and term.search(str(entry["query"].get("filter", "")))]


def throttled(log):
    return [entry for entry in log if "rate_limit" in (entry.get("fault") or {})]


def busiest_second(log, user):
    """Return the most requests of ``user`` that reached the simulator within one second (a sliding window)."""
    times = sorted(entry["time"] for entry in log if entry.get("user") == user)
    start, busiest = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


@pytest.fixture
def throttled_sim(sim):
    def load(world, *faults):
        sim.load(dict(world, speed=SPEED, users=USERS, rate_limit=RATE_LIMIT))
        sim.clear_faults()
        sim.add_faults(*faults, seed=SEED)
        sim.clear_requests()
        return sim
    yield load
    sim.reset()  # faults and the rate limit off, the default world back


# ---------------------------------------------------------------- 200 VMs stopped, then started, default options


FLEET = ["vm-%03d" % number for number in range(200)]


@pytest.mark.xdist_group("throttled")
def test_stop_then_start_200_vms_with_default_options(throttled_sim, tmp_path):
    sim = throttled_sim({"timings": {"boot": 20, "shutdown": 20, "kill": 3},
                         "vms": [{"name": name, "key": index + 1, "power": "running"} for index, name in enumerate(FLEET)]}, *LOSSY)
    tasks = [
        {"name": "Stop all", "vergeos.power.vergeos_vm_power": {"names": FLEET, "state": "stopped"}, "register": "stop"},
        {"name": "Start all", "vergeos.power.vergeos_vm_power": {"names": FLEET, "state": "running"}, "register": "start"},
        keep("stop", tmp_path), keep("start", tmp_path),
    ]
    result = run("ansible-playbook", write_play(tmp_path, {"tasks": tasks}), env=sim_env(sim, PASSWORD))
    log = sim.requests()
    sim.clear_faults()
    assert result.returncode == 0, result.stdout[-6000:]
    assert set(states_by_name(sim).values()) == {"running"}
    for name in ("stop", "start"):
        task = json.loads((tmp_path / (name + ".json")).read_text())
        assert task["failed"] is False and len(task["vms"]) == 200
        assert not [vm for vm in task["vms"] if vm["failed"]]
    assert len(throttled(log)) > 0, "the rate limit never dropped a request: the test did not test what it says"
    assert all(fault["fired"] > 0 for fault in sim.faults()["faults"]), sim.faults()  # every kind of fault did happen
    for key in range(1, 201):
        offs, ons = actions_of(log, key, "poweroff"), actions_of(log, key, "poweron")
        assert offs and ons and not actions_of(log, key, "kill")
        # Each action took effect once at most in a way that mattered: no poweroff after the VM's first poweron.
        first_on = log.index(ons[0])
        assert all(log.index(entry) < first_on for entry in offs)
    assert PASSWORD not in result.stdout + result.stderr + json.dumps(log)


# ---------------------------------------------------------------- the role over 200 VMs


TIMEOUT = 30
POLL = 1
DEAF = list(range(1, 21))  # 10 %: they ignore ACPI; half show running, half stopping
SLOW = list(range(21, 41))  # obedient, shutdown near the timeout, first poweroff lost
PLAIN = list(range(41, 201))


def role_world():
    vms = []
    for key in range(1, 201):
        vm = {"name": "vm-%03d" % key, "key": key, "power": "running"}
        if key in DEAF:
            vm["guest"] = {"acpi": "ignore", "acpi_pending_status": "running" if key % 2 else "stopping"}
        if key in SLOW:
            vm["timings"] = {"shutdown": (TIMEOUT - 3) * SPEED}
        vms.append(vm)
    return {"timings": {"boot": 20, "shutdown": 20, "kill": 3}, "vms": vms}


@pytest.mark.xdist_group("throttled")
def test_safe_shutdown_over_200_vms_kills_only_the_deaf_at_their_own_deadlines(throttled_sim, tmp_path):
    first_poweroff_lost = [{"method": "POST", "path": "/api/v4/vm_actions", "body": {"vm": key, "action": "poweroff"}, "kind": "drop",
                            "applied": bool(key % 2), "count": 1} for key in SLOW]
    sim = throttled_sim(role_world(), *first_poweroff_lost, *LOSSY, *SNAPSHOT_FAULTS)
    play = {"roles": [{"role": "vergeos.power.safe_shutdown", "vars": {
        "safe_shutdown_targets": ["vm-%03d" % key for key in range(1, 201)],
        "safe_shutdown_timeout": TIMEOUT, "safe_shutdown_kill_timeout": TIMEOUT, "safe_shutdown_poll_interval": POLL,
        "safe_shutdown_snapshot_before_kill": True}}],
        "post_tasks": [keep("safe_shutdown_result", tmp_path)]}
    result = run("ansible-playbook", write_play(tmp_path, play), env=sim_env(sim, PASSWORD))
    log = sim.requests()
    sim.clear_faults()
    assert result.returncode == 0, result.stdout[-6000:]
    # Either the limit bit (and the run still came through), or the pacer kept the client under it all along (the seeded losses,
    # which it also takes for throttling, can slow it down before the limit does): never a client above the limit and unthrottled.
    assert throttled(log) or busiest_second(log, "admin") <= RATE_LIMIT["rate"] + RATE_LIMIT["burst"], busiest_second(log, "admin")
    assert all(fault["fired"] == 1 for fault in sim.faults()["faults"][:len(SLOW)])  # every slow VM lost its first poweroff
    assert set(states_by_name(sim).values()) == {"stopped"}

    killed = {int(entry["body"]["vm"]) for entry in log if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions"
              and entry["body"]["action"] == "kill"}
    assert killed == set(DEAF)
    machines = {row["$key"]: row["machine"] for row in audit(sim, "vms", "$key,machine")}
    snapshots = audit(sim, "machine_snapshots", "machine,name")
    for key in DEAF:
        offs = [entry for entry in actions_of(log, key, "poweroff") if carried_out(entry)]
        kills = actions_of(log, key, "kill")
        start = offs[0]["time"]  # its graceful window cannot have started before VergeOS had its poweroff
        acked = [entry["time"] for entry in actions_of(log, key, "poweroff") if acknowledged(entry)]
        # Never early: its window starts at the first acknowledged poweroff, or at the first read that shows it stopping if that
        # came first (a loaded machine only makes the kill later, so this bound holds however slow the run).
        assert kills[0]["time"] >= min(acked or [start]) + TIMEOUT - 0.05 or kills[0]["time"] >= start + TIMEOUT - 0.05, \
            (key, start, acked, kills[0]["time"])
        # Not late, counted in the role's reads of this VM rather than in seconds: its window holds TIMEOUT / POLL of them, and
        # the kill follows within half a window more (a kill after a second window, or after every other VM's, needs twice as many).
        polls = reads_between(log, key, offs[0], kills[0])
        assert 1 <= len(polls) <= 1.5 * TIMEOUT / POLL + 2, (key, len(polls))
        taken = [row for row in snapshots if row["machine"] == machines[key]]
        assert len(taken) == 1, (key, taken)  # exactly one snapshot per killed VM, however its POSTs went
        posts = [entry for entry in log if entry["method"] == "POST" and entry["path"] == "/api/v4/machine_snapshots"
                 and entry["body"]["machine"] == machines[key] and carried_out(entry)]
        assert posts and posts[0]["time"] < kills[0]["time"]
    assert not [row for row in snapshots if row["machine"] not in {machines[key] for key in DEAF}]
    outcome = json.loads((tmp_path / "safe_shutdown_result.json").read_text())
    assert outcome["failed"] is False and outcome["failed_vms"] == []
    assert sorted(outcome["killed"]) == ["vm-%03d" % key for key in DEAF]
