"""The maintenance record: kept on the VergeOS system, never overwritten, closed only after the restore.

Regressions of a real defect: with one VM stuck after its kill, playbooks/maintenance.yml
failed in its first play, the restore never ran and every other VM stayed off; a relaunch
saw them all "already stopped" and restored nothing (a relaunch at every moment of the round
trip is test_maintenance_relaunch.py's). Judged by the simulator's request log and its tags,
through real ansible-playbook runs.
"""

import os
import sys

import pytest
import yaml

from run_ansible import ROOT, run, sim_env

STUCK = {"acpi": "ignore", "stuck_after_kill": True}
CATEGORY = "vergeos_power_maintenance"
MAINTENANCE = os.path.join(ROOT, "playbooks", "maintenance.yml")
RESTORE = os.path.join(ROOT, "playbooks", "maintenance_restore.yml")
FAST = ["-e", "maintenance_timeout=2", "-e", "maintenance_kill_timeout=2", "-e", "maintenance_poll_interval=0.2",
        "-e", "maintenance_wait_for_agent=false", "-e", "maintenance_start_timeout=20",
        # A dead job's lease goes stale in 4 s (a relaunch waits that long at most).
        "-e", "maintenance_lease_life=4"]


def world(*vms):
    return {"speed": 100, "timings": {"shutdown": 20, "kill": 3, "boot": 20}, "vms": list(vms)}


def vm(key, name, power="running", **extra):
    return dict({"key": key, "name": name, "power": power}, **extra)


def actions(sim, action):
    return sorted(int(entry["body"]["vm"]) for entry in sim.requests()
                  if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions" and entry["body"]["action"] == action)


def writes(sim, prefix):
    return [entry for entry in sim.requests() if entry["method"] != "GET" and entry["path"].startswith("/api/v4/" + prefix)]


def power(sim):
    rows = sim.api("GET", "/api/v4/vms", params={"fields": "$key,machine#status#status as status"}).json()
    return {int(row["$key"]): row["status"] for row in rows}


def record(sim, name="maintenance"):
    """Return the ids the record holds on the simulator, or None when it is not open (read as another client would)."""
    categories = sim.api("GET", "/api/v4/tag_categories", params={"fields": "$key,name"}).json()
    category = [row["$key"] for row in categories if row["name"] == CATEGORY]
    if not category:
        return None
    tags = sim.api("GET", "/api/v4/tags", params={"fields": "$key,name,category"}).json()
    found = [row["$key"] for row in tags if row["name"] == name and int(row["category"]) == int(category[0])]
    if not found:
        return None
    members = sim.api("GET", "/api/v4/tag_members", params={"fields": "tag,member"}).json()
    return sorted(int(row["member"].split("/")[1]) for row in members if int(row["tag"]) == int(found[0]))


@pytest.fixture
def load(sim):
    def loader(scenario):
        sim.load(scenario)
        sim.clear_requests()
    yield loader
    sim.reset()


def play(tmp_path, tasks, name="play.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump([{"name": "Record", "hosts": "localhost", "gather_facts": False,
                                     "vars": {"ansible_python_interpreter": sys.executable}, "tasks": tasks}], sort_keys=False))
    return str(path)


def test_one_stuck_vm_never_leaves_the_others_down(sim, load, tmp_path):
    load(world(vm(1, "web01"), vm(2, "web02"), vm(3, "hung01", guest=STUCK), vm(4, "spare01", "stopped")))
    marker = tmp_path / "maintained"
    tasks = tmp_path / "maintain.yml"
    tasks.write_text(yaml.safe_dump([{"name": "Maintain", "ansible.builtin.file": {"path": str(marker), "state": "touch", "mode": "0600"}}]))
    result = run("ansible-playbook", MAINTENANCE, "-e", '{"maintenance_targets": ["web01", "web02", "hung01", "spare01"]}',
                 "-e", "maintenance_tasks=%s" % tasks, "-e", "maintenance_start_timeout=3", *FAST[:8], env=sim_env(sim))
    assert result.returncode != 0, result.stdout[-3000:]
    # The stop failed for hung01: the maintenance did not happen, the others are back, the record keeps hung01 only.
    assert not marker.exists()
    # hung01 is stuck in stopping: no power-on is sent to it, and the restore says it did not come back.
    assert actions(sim, "poweron") == [1, 2], result.stdout[-3000:]
    states = power(sim)
    assert states[1] == "running" and states[2] == "running" and states[4] == "stopped"
    assert record(sim) == [3]
    assert "maintenance record maintenance: stays open with 1 VM(s): hung01" in result.stdout
    assert "maintenance_restore.yml -e maintenance_record=maintenance once fixed" in result.stdout
    assert "hung01: not settled by the deadline" in result.stdout


def test_the_restore_runs_from_the_record_alone(sim, load, tmp_path):
    load(world(vm(1, "db01", "stopped"), vm(2, "web01", "stopped"), vm(3, "other01", "stopped")))
    opened = run("ansible-playbook", play(tmp_path, [{"vergeos.power.vergeos_maintenance_record": {"name": "r1", "state": "open", "ids": [1, 2]}}]),
                 env=sim_env(sim))
    assert opened.returncode == 0, opened.stdout[-3000:]
    sim.clear_requests()
    result = run("ansible-playbook", RESTORE, "-e", "maintenance_record=r1", *FAST[4:], env=sim_env(sim))
    assert result.returncode == 0, result.stdout[-3000:]
    assert actions(sim, "poweron") == [1, 2]
    assert record(sim, "r1") is None
    again = run("ansible-playbook", RESTORE, "-e", "maintenance_record=r1", *FAST[4:], env=sim_env(sim))
    assert again.returncode == 0 and "No open maintenance record r1" in again.stdout
    assert actions(sim, "poweron") == [1, 2]


def test_the_module_adds_never_removes_and_check_mode_sends_nothing(sim, load, tmp_path):
    load(world(vm(1, "a"), vm(2, "b"), vm(3, "c")))
    tasks = [
        {"name": "Open", "vergeos.power.vergeos_maintenance_record": {"name": "m", "state": "open", "ids": [1, 2], "note": "job 7"},
         "register": "opened"},
        {"name": "Relaunch with nothing running", "vergeos.power.vergeos_maintenance_record": {"name": "m", "state": "open", "ids": []},
         "register": "relaunch"},
        {"name": "Would add", "vergeos.power.vergeos_maintenance_record": {"name": "m", "state": "open", "ids": [3]},
         "check_mode": True, "register": "would"},
        {"name": "Read", "vergeos.power.vergeos_maintenance_record_info": {"name": "m"}, "register": "read"},
        {"name": "Check", "ansible.builtin.assert": {"that": [
            "opened.changed and opened.record.ids == [1, 2] and opened.record.note == 'job 7'",
            "opened.record.vms | map(attribute='name') | list == ['a', 'b']",
            "not relaunch.changed and relaunch.record.ids == [1, 2]",
            "would.changed and would.record.ids == [1, 2, 3]",
            "read.record.ids == [1, 2] and read.record.opened == opened.record.opened and read.records | length == 1"]}},
    ]
    result = run("ansible-playbook", play(tmp_path, tasks), env=sim_env(sim))
    assert result.returncode == 0, result.stdout[-3000:]
    assert record(sim, "m") == [1, 2]
    # One category, one tag, two memberships: nothing else was written, nothing in check mode.
    expected = ["/api/v4/tag_categories", "/api/v4/tags", "/api/v4/tag_members", "/api/v4/tag_members"]
    assert [entry["path"] for entry in writes(sim, "tag")] == expected
    sim.clear_requests()
    closing = [
        {"name": "Close for one", "vergeos.power.vergeos_maintenance_record": {"name": "m", "state": "closed", "ids": [2, 3]},
         "register": "one"},
        {"name": "Close", "vergeos.power.vergeos_maintenance_record": {"name": "m", "state": "closed"}, "register": "rest"},
        {"name": "Close again", "vergeos.power.vergeos_maintenance_record": {"name": "m", "state": "closed"}, "register": "again"},
        {"name": "Check", "ansible.builtin.assert": {"that": [
            "one.changed and one.record.open and one.record.ids == [1]",
            "rest.changed and not rest.record.open", "not again.changed",
            # The closing mark says when it was closed, and what had opened it (a relaunch of the finished job reads it).
            "rest.record.last_closed.note == 'job 7' and rest.record.last_closed.at >= rest.record.last_closed.opened",
            "again.record.last_closed == rest.record.last_closed"]}},
    ]
    result = run("ansible-playbook", play(tmp_path, closing), env=sim_env(sim))
    assert result.returncode == 0, result.stdout[-3000:]
    assert record(sim, "m") is None
    # The closing mark (a sibling tag, "m+closed") is written before the record's tag goes.
    expected = ["DELETE /api/v4/tag_members", "DELETE /api/v4/tag_members", "POST /api/v4/tags", "DELETE /api/v4/tags"]
    assert [entry["method"] + " " + (entry["path"] if entry["method"] == "POST" else entry["path"].rsplit("/", 1)[0])
            for entry in writes(sim, "tag")] == expected
    assert [entry["body"]["name"] for entry in writes(sim, "tags") if entry["method"] == "POST"] == ["m+closed"]


@pytest.mark.parametrize("duplicate", [422, 409])
def test_jobs_opening_one_record_at_once_all_succeed_and_lost_answers_are_not_resent(sim, load, tmp_path, duplicate):
    """Under both answers to a name in use: VergeOS's recorded 422, and the 409 others document."""
    load(dict(world(*[vm(key, "vm%02d" % key) for key in range(1, 7)]), switches={"duplicate_name": duplicate}))
    # Every membership write is carried out but its answer lost once: the read-back must see it, not send it again.
    sim.add_faults({"method": "POST", "path": "/api/v4/tag_members", "kind": "drop", "applied": True, "rate": 0.5}, seed=3)
    hosts = {"vm%02d" % key: {"vm_key": key} for key in range(1, 7)}
    inventory = tmp_path / "hosts.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": local}}))
    path = tmp_path / "concurrent.yml"
    path.write_text(yaml.safe_dump([{"name": "Every host opens the record with its VM", "hosts": "all", "gather_facts": False,
                                     "strategy": "free",
                                     "tasks": [{"name": "Open", "vergeos.power.vergeos_maintenance_record": {
                                         "name": "shared", "state": "open", "ids": ["{{ vm_key }}"]}}]}]))
    try:
        result = run("ansible-playbook", "-f", "6", "-i", str(inventory), str(path), env=sim_env(sim))
    finally:
        sim.clear_faults()
    assert result.returncode == 0, result.stdout[-3000:]
    assert record(sim, "shared") == [1, 2, 3, 4, 5, 6]
    members = writes(sim, "tag_members")
    dropped = [entry for entry in members if entry.get("fault")]
    assert dropped, "the faults did not fire: the test proves nothing"
    # A membership whose answer was lost is seen by the read-back and never sent again (a resend would be refused).
    assert len([entry for entry in members if entry["status"] in (409, 422)]) == 0
    assert len(members) == 6
    assert len(writes(sim, "tags")) >= 1 and len(writes(sim, "tag_categories")) >= 1


def test_a_user_who_may_not_write_tags_stops_nothing(sim, tmp_path):
    scenario = world(vm(1, "web01"), vm(2, "web02"))
    scenario["users"] = [{"name": "admin", "password": "admin"}, {"name": "viewer", "password": "v", "role": "readonly"}]
    sim.load(scenario)
    sim.clear_requests()
    try:
        result = run("ansible-playbook", MAINTENANCE, "-e", '{"maintenance_targets": ["web01", "web02"]}', *FAST,
                     env=sim_env(sim, username="viewer", password="v"))
        assert result.returncode != 0
        assert actions(sim, "poweroff") == [] and actions(sim, "kill") == []
        assert "HTTP 403" in result.stdout and "maintenance" in result.stdout
        # The first write of the round trip is the record's lease: refused, so nothing else is written.
        assert "Take the maintenance record's lease" in result.stdout and record(sim) is None
    finally:
        sim.reset()


def test_check_mode_writes_nothing(sim, load):
    load(world(vm(1, "web01"), vm(2, "web02")))
    result = run("ansible-playbook", "--check", MAINTENANCE, "-e", '{"maintenance_targets": ["web01", "web02"]}', *FAST, env=sim_env(sim))
    assert result.returncode == 0, result.stdout[-3000:]
    assert [entry for entry in sim.requests() if entry["method"] != "GET" and "/sys/tokens" not in entry["path"]] == []
    assert record(sim) is None


def test_the_same_vm_given_as_a_number_and_as_text_is_one_vm(sim, load, tmp_path):
    """ansible-core 2.19 hands a task's ints as a subclass of int; "3" converted by the argument spec is a plain one."""
    load(world(vm(1, "a"), vm(2, "b"), vm(3, "c")))
    tasks = [
        {"name": "Open", "vergeos.power.vergeos_maintenance_record": {"name": "twice", "state": "open", "ids": ["1", 1, 2, "2"]}},
        {"name": "Stop", "vergeos.power.vergeos_vm_power": {"ids": ["3", 3], "state": "stopped", "poll_interval": 0.2}},
    ]
    result = run("ansible-playbook", play(tmp_path, tasks), env=sim_env(sim))
    assert result.returncode == 0, result.stdout[-3000:]
    assert len(writes(sim, "tag_members")) == 2 and record(sim, "twice") == [1, 2]
    assert actions(sim, "poweroff") == [3]
