"""The maintenance record against what real VergeOS systems were recorded doing (vergeos-api.md, "Recorded from real systems").

- A name in use is refused with 422 "This name is already in use" (409 elsewhere): two jobs
  opening one record at once must both succeed, deciding "already there" from a read-back,
  never from the status code, and never sending a membership twice.
- Tagging a VM needs a category with ``taggable_vms``: a record category made without it is
  repaired before the first power action, or the run refuses before it.

Judged from the simulator's request log (each job logs in as its own user) and its tags.
"""

import collections
import os
import sys

import pytest
import yaml

from run_ansible import ROOT, run, sim_env

CATEGORY = "vergeos_power_maintenance"
MAINTENANCE = os.path.join(ROOT, "playbooks", "maintenance.yml")
FAST = ["-e", "maintenance_timeout=2", "-e", "maintenance_kill_timeout=2", "-e", "maintenance_poll_interval=0.2",
        "-e", "maintenance_wait_for_agent=false", "-e", "maintenance_start_timeout=20"]
JOBS = 6
TAG_TABLES = ("tag_categories", "tags", "tag_members")


def world(vms, **extra):
    scenario = {"speed": 100, "timings": {"shutdown": 20, "kill": 3, "boot": 20}, "switches": {"no_resources": "refuse"},
                "vms": [{"key": key, "name": "vm%02d" % key, "power": "running"} for key in range(1, vms + 1)]}
    scenario.update(extra)
    return scenario


def table(entry):
    return entry["path"].split("?")[0].rstrip("/").split("/api/v4/", 1)[-1].split("/")[0]


def record_members(sim, name):
    """Return [VM id] of every membership row of the record (a VM twice would show twice), or None when it is not open."""
    categories = [row for row in sim.api("GET", "/api/v4/tag_categories", params={"fields": "$key,name"}).json() if row["name"] == CATEGORY]
    if not categories:
        return None
    tags = [row for row in sim.api("GET", "/api/v4/tags", params={"fields": "$key,name,category"}).json()
            if row["name"] == name and int(row["category"]) == int(categories[0]["$key"])]
    if not tags:
        return None
    members = sim.api("GET", "/api/v4/tag_members", params={"fields": "tag,member"}).json()
    return sorted(int(row["member"].split("/")[1]) for row in members if int(row["tag"]) == int(tags[0]["$key"]))


@pytest.fixture
def fresh(sim):
    sim.clear_faults()
    yield sim
    sim.clear_faults()
    sim.reset()


@pytest.mark.parametrize("duplicate", [422, 409])
def test_jobs_opening_one_record_at_once_read_back_every_refusal(fresh, tmp_path, duplicate):
    sim = fresh
    users = [{"name": "admin", "password": "admin"}] + [{"name": "job%d" % job, "password": "pw%d" % job} for job in range(1, JOBS + 1)]
    scenario = world(JOBS, users=users)
    scenario["switches"]["duplicate_name"] = duplicate
    sim.load(scenario)
    sim.clear_requests()
    # Every tag write waits a moment before VergeOS handles it, so that each job reads the record before the others' writes land:
    # every job then creates the category, the tag and all six memberships, and all but one of each are refused.
    sim.add_faults(*[{"kind": "delay", "method": "POST", "path": "/api/v4/" + name, "delay": 1.5} for name in TAG_TABLES])
    hosts = {"job%d" % job: {"vergeos_username": "job%d" % job, "vergeos_password": "pw%d" % job} for job in range(1, JOBS + 1)}
    inventory = tmp_path / "hosts.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": local}}))
    path = tmp_path / "concurrent.yml"
    path.write_text(yaml.safe_dump([{"name": "Every job opens the record with every VM", "hosts": "all", "gather_facts": False,
                                     "strategy": "free",
                                     "tasks": [{"name": "Open", "vergeos.power.vergeos_maintenance_record": {
                                         "name": "shared", "state": "open", "ids": list(range(1, JOBS + 1)),
                                         "username": "{{ vergeos_username }}", "password": "{{ vergeos_password }}"}}]}]))
    env = sim_env(sim)
    del env["VERGEOS_USERNAME"], env["VERGEOS_PASSWORD"]
    result = run("ansible-playbook", "-f", str(JOBS), "-i", str(inventory), str(path), env=env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.count("failed=0") == JOBS, result.stdout[-3000:]
    # Each VM is in the record once.
    assert record_members(sim, "shared") == list(range(1, JOBS + 1))
    log = [entry for entry in sim.requests() if entry["user"] and entry["user"].startswith("job")]
    refused = [index for index, entry in enumerate(log) if entry["method"] == "POST" and entry["status"] == duplicate]
    assert [log[index] for index in refused if table(log[index]) == "tag_members"], "no membership was refused: the test proves nothing"
    assert all(table(log[index]) in TAG_TABLES for index in refused)
    for index in refused:
        entry = log[index]
        # The refusal is followed by a read of the same table by the same job: "already there" comes from what VergeOS lists.
        later = [other for other in log[index + 1:] if other["user"] == entry["user"]]
        assert [other for other in later if other["method"] == "GET" and table(other) == table(entry)], (entry, later[:5])
    # No job sends one membership twice (a refusal is never answered by sending it again).
    sent = collections.Counter((entry["user"], entry["body"]["tag"], entry["body"]["member"]) for entry in log
                               if entry["method"] == "POST" and table(entry) == "tag_members")
    assert max(sent.values()) == 1, sent
    assert "Traceback" not in result.stdout + result.stderr


def _stops(sim):
    return [index for index, entry in enumerate(sim.requests())
            if entry["method"] == "POST" and table(entry) == "vm_actions" and entry["body"]["action"] in ("poweroff", "kill")]


def test_a_record_category_that_cannot_tag_vms_is_repaired_before_the_first_stop(fresh):
    sim = fresh
    sim.load(world(2, tag_categories=[{"name": CATEGORY, "description": "made by hand", "taggable_vms": False}]))
    sim.clear_requests()
    result = run("ansible-playbook", MAINTENANCE, "-e", '{"maintenance_targets": ["vm01", "vm02"]}', *FAST, env=sim_env(sim))
    assert result.returncode == 0, result.stdout[-3000:]
    log = sim.requests()
    repairs = [index for index, entry in enumerate(log) if entry["method"] == "PUT" and table(entry) == "tag_categories"]
    assert len(repairs) == 1 and log[repairs[0]]["body"] == {"taggable_vms": True} and log[repairs[0]]["status"] == 200
    stops = _stops(sim)
    assert stops and repairs[0] < min(stops)
    # No membership was refused: the category could tag VMs by the time the first one was added (two in the record's set
    # covers, written before the stop, and two in the record).
    assert [entry["status"] for entry in log if entry["method"] == "POST" and table(entry) == "tag_members"] == [201] * 4
    categories = sim.api("GET", "/api/v4/tag_categories", params={"fields": "name,taggable_vms"}).json()
    assert [row["taggable_vms"] for row in categories if row["name"] == CATEGORY] == [True]
    assert record_members(sim, "maintenance") is None  # restored and closed


def test_a_record_category_that_cannot_tag_vms_and_may_not_be_changed_stops_nothing(fresh):
    sim = fresh
    sim.load(world(2, tag_categories=[{"name": CATEGORY, "description": "made by hand", "taggable_vms": False}]))
    sim.add_faults({"kind": "error", "method": "PUT", "path": "/api/v4/tag_categories", "status": 403, "message": "Permission denied"})
    sim.clear_requests()
    result = run("ansible-playbook", MAINTENANCE, "-e", '{"maintenance_targets": ["vm01", "vm02"]}', *FAST, env=sim_env(sim))
    assert result.returncode != 0
    assert _stops(sim) == []
    assert [entry for entry in sim.requests() if entry["method"] == "POST" and table(entry) == "tag_members"] == []
    text = " ".join(result.stdout.split())
    assert "cannot tag VMs (taggable_vms is off)" in text and "HTTP 403" in text and "nothing was stopped" in text
    assert "Traceback" not in result.stdout + result.stderr
