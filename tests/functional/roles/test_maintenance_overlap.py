"""Two maintenances on overlapping VMs: with different record names, and with the same one.

Judged from the simulator's request log: no VM is powered on while an open record still
covers it; nothing is left down once both end; a second job on the same record name while
the first is alive refuses before any write.
"""

import os
import subprocess
import time

import pytest
import yaml

from run_ansible import BIN, ROOT, base_env, run, sim_env, vm_actions as actions, vm_statuses as power

MAINTENANCE = os.path.join(ROOT, "playbooks", "maintenance.yml")
WORLD = {"speed": 100, "timings": {"shutdown": 20, "boot": 30}, "switches": {"no_resources": "refuse"},
         "vms": [{"key": 1, "name": "a1", "power": "running"}, {"key": 2, "name": "a2", "power": "running"},
                 {"key": 3, "name": "shared", "power": "running"}, {"key": 4, "name": "b1", "power": "running"},
                 {"key": 5, "name": "idle", "power": "stopped"}]}
COMMON = ["-e", "maintenance_timeout=5", "-e", "maintenance_poll_interval=0.2", "-e", "maintenance_wait_for_agent=false",
          "-e", "maintenance_start_timeout=20", "-e", "maintenance_lease_life=6"]


def poweron_log(sim):
    return [int(entry["body"]["vm"]) for entry in sim.requests()
            if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions" and entry["body"]["action"] == "poweron"]


def phases(sim):
    tags = sim.api("GET", "/api/v4/tags", params={"fields": "name,description"}).json()
    return {tag["name"]: yaml.safe_load(tag["description"]).get("phase") for tag in tags if "+" not in tag["name"]
            and tag["name"] != "maintenance"}


def start_job(sim, tmp_path, record, targets, go):
    tasks = tmp_path / ("%s.yml" % record)
    tasks.write_text(yaml.safe_dump([{"name": "Wait for the operator", "ansible.builtin.wait_for": {"path": str(go), "timeout": 120}}]))
    args = [os.path.join(BIN, "ansible-playbook"), MAINTENANCE, *COMMON, "-e", "maintenance_record=%s" % record,
            "-e", yaml.safe_dump({"maintenance_targets": targets}, default_flow_style=True).strip(), "-e", "maintenance_tasks=%s" % tasks]
    return subprocess.Popen(args, env=base_env(sim_env(sim)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True)


def wait_for(condition, process, what):
    deadline = time.monotonic() + 120
    while not condition():
        assert process.poll() is None, "the job ended before %s: %s" % (what, process.stdout.read()[-3000:])
        assert time.monotonic() < deadline, "never: %s" % what
        time.sleep(0.1)


@pytest.fixture
def estate(sim):
    sim.load(WORLD)
    sim.clear_requests()
    yield sim
    sim.reset()


def test_overlapping_maintenances_never_start_a_vm_the_other_still_covers(estate, tmp_path):
    go_a, go_b = tmp_path / "go-a", tmp_path / "go-b"
    job_a = start_job(estate, tmp_path, "rack-a", ["a1", "a2", "shared"], go_a)
    wait_for(lambda: phases(estate).get("rack-a") == "maintaining", job_a, "rack-a maintaining")
    # B starts while A maintains: shared is already off (A stopped it), so B covers it without recording it as running.
    job_b = start_job(estate, tmp_path, "rack-b", ["shared", "b1"], go_b)
    wait_for(lambda: phases(estate).get("rack-b") == "maintaining", job_b, "rack-b maintaining")
    assert actions(estate, "poweroff") == [1, 2, 3, 4]
    # A's restore ends first: shared stays off (B still covers it), parked in rack-a waiting for rack-b.
    go_a.touch()
    out_a = job_a.communicate(timeout=120)[0]
    assert job_a.returncode == 0, out_a[-4000:]
    assert "still cover it" in out_a and "rack-b" in out_a
    assert sorted(poweron_log(estate)) == [1, 2], "a VM another record covers was started: %s" % poweron_log(estate)
    assert phases(estate) == {"rack-a": "waiting", "rack-b": "maintaining"}
    # B closes last: it starts its own VM and the one A parked for it, and closes both records.
    go_b.touch()
    out_b = job_b.communicate(timeout=120)[0]
    assert job_b.returncode == 0, out_b[-4000:]
    assert sorted(poweron_log(estate)) == [1, 2, 3, 4], "each VM that ran is started exactly once"
    states = power(estate)
    assert [key for key in (1, 2, 3, 4) if states[key] != "running"] == [] and states[5] == "stopped"
    assert phases(estate) == {}, "a record is left open"


def test_a_second_job_on_the_same_record_name_refuses_before_any_write(estate, tmp_path):
    go = tmp_path / "go"
    first = start_job(estate, tmp_path, "rack-a", ["a1", "shared"], go)
    wait_for(lambda: phases(estate).get("rack-a") == "maintaining", first, "the first job maintaining")
    seen = len(estate.requests())
    second = run("ansible-playbook", MAINTENANCE, *COMMON, "-e", "maintenance_record=rack-a", "-e", '{"maintenance_targets": ["b1"]}',
                 env=sim_env(estate))
    assert second.returncode != 0
    assert "holds its lease" in second.stdout and "maintenance_takeover" in second.stdout, second.stdout[-3000:]
    writes = [entry for entry in estate.requests()[seen:] if entry["method"] != "GET" and entry["path"].startswith("/api/")]
    assert writes == [], "the second job wrote: %s" % writes
    go.touch()
    out = first.communicate(timeout=120)[0]
    assert first.returncode == 0, out[-4000:]
    assert actions(estate, "poweroff") == [1, 3] and sorted(poweron_log(estate)) == [1, 3]
    assert power(estate)[4] == "running" and phases(estate) == {}
