"""A maintenance round trip killed at any moment, then relaunched (AWX's Relaunch) or restored with maintenance_restore.yml.

The promises, judged from the simulator's request log after the second run: every VM that
was running before runs again; no VM got a second graceful power-off, nor a kill beyond
those of an uninterrupted run (one per guest that ignores ACPI); no VM that was stopped
before was started. The first run is killed with its whole process tree (ansible-core's
workers call setsid, so killing the process group alone would leave them running: one case
does just that, and the relaunch must not race the orphaned worker, which still holds the
record's lease).
"""

import os
import signal
import subprocess
import time

import pytest
import yaml

from run_ansible import BIN, ROOT, base_env, kill_tree, run, sim_env, vm_actions as actions, vm_statuses as power

MAINTENANCE = os.path.join(ROOT, "playbooks", "maintenance.yml")
RESTORE = os.path.join(ROOT, "playbooks", "maintenance_restore.yml")
DEAF = {"acpi": "ignore"}
# speed 100: a guest shuts down in 0.2 s and boots in 0.3 s; a deaf guest is killed after maintenance_timeout (3 s).
WORLD = {"speed": 100, "timings": {"shutdown": 20, "kill": 3, "boot": 30}, "switches": {"no_resources": "refuse"},
         "vms": [{"key": 1, "name": "db01", "power": "running"}, {"key": 2, "name": "web01", "power": "running"},
                 {"key": 3, "name": "deaf01", "power": "running", "guest": DEAF},
                 {"key": 4, "name": "deaf02", "power": "running", "guest": DEAF},
                 {"key": 5, "name": "spare01", "power": "stopped"}]}
RUNNING_BEFORE = [1, 2, 3, 4]
OPTIONS = ["-e", '{"maintenance_targets": ["db01", "web01", "deaf01", "deaf02", "spare01"]}', "-e", "maintenance_record=rack7",
           "-e", "maintenance_timeout=3", "-e", "maintenance_kill_timeout=3", "-e", "maintenance_poll_interval=0.2",
           "-e", "maintenance_wait_for_agent=false", "-e", "maintenance_start_timeout=30",
           # A lease of 4 s: a relaunch waits at most about that long for a dead job's lease to go stale.
           "-e", "maintenance_lease_life=4"]
# A job killed in its maintenance phase beats no more, and its lease is taken over only when named (the owner).
TAKEOVER = ["-e", "maintenance_takeover=playbooks/maintenance.yml"]


def tag_names(sim):
    return {tag["name"]: tag["description"] for tag in sim.api("GET", "/api/v4/tags", params={"fields": "name,description"}).json()}


def phase(sim):
    """Return the phase the record rack7 says (None when it is not open), read as another client would."""
    description = tag_names(sim).get("rack7")
    return yaml.safe_load(description).get("phase") if description is not None else None


MOMENTS = {
    # the lease is taken, the record not yet opened
    "before-the-record": lambda sim: "rack7+lease" in tag_names(sim) and "rack7" not in tag_names(sim),
    # the record is open, nothing stopped yet
    "before-the-stop": lambda sim: phase(sim) == "stopping" and not actions(sim, "poweroff"),
    # poweroffs sent, the deaf guests still stopping, no kill yet
    "mid-stop": lambda sim: len(actions(sim, "poweroff")) == 4 and not actions(sim, "kill") and power(sim)[3] == "stopping",
    # every VM off (the deaf ones killed), the phase not yet moved on
    "after-the-stop": lambda sim: phase(sim) == "stopping" and all(state == "stopped" for state in power(sim).values()),
    # every VM off, the maintenance tasks waiting
    "mid-maintenance": lambda sim: phase(sim) == "maintaining",
    # the restore under way
    "mid-restore": lambda sim: len(actions(sim, "poweron")) >= 1,
}


def first_run(sim, tmp_path, moment):
    """Run maintenance.yml until ``moment``, then kill it with its workers; return the maintenance marker's path."""
    go = tmp_path / "go"
    tasks = tmp_path / "maintain.yml"
    # The maintenance waits for the test's go (the relaunch runs it again: it was interrupted).
    tasks.write_text(yaml.safe_dump([{"name": "Wait for the operator", "ansible.builtin.wait_for": {"path": str(go), "timeout": 120}}]))
    if moment != "mid-maintenance":
        go.touch()
    args = [os.path.join(BIN, "ansible-playbook"), MAINTENANCE, *OPTIONS, "-e", "maintenance_tasks=%s" % tasks]
    process = subprocess.Popen(args, env=base_env(sim_env(sim)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not MOMENTS[moment](sim):
            assert process.poll() is None, "the first run ended before the moment %s" % moment
            assert time.monotonic() < deadline, "the moment %s never came" % moment
            time.sleep(0.05)
    finally:
        kill_tree(process)
    go.touch()
    return tasks


def assert_promises(sim):
    states = power(sim)
    assert [key for key in RUNNING_BEFORE if states[key] != "running"] == [], states
    assert states[5] == "stopped" and 5 not in actions(sim, "poweron")
    poweroffs = actions(sim, "poweroff")
    assert sorted(set(poweroffs)) == poweroffs, "a second graceful power-off: %s" % poweroffs
    assert set(poweroffs) <= set(RUNNING_BEFORE)
    kills = actions(sim, "kill")
    assert sorted(set(kills)) == kills and set(kills) <= {3, 4}, "a kill beyond an uninterrupted run's: %s" % kills


@pytest.fixture
def rack(sim):
    sim.load(WORLD)
    sim.clear_requests()
    yield sim
    sim.reset()


@pytest.mark.parametrize("then", ["relaunch", "restore"])
@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_a_run_killed_at_any_moment_is_finished_without_a_second_outage(rack, tmp_path, moment, then):
    tasks = first_run(rack, tmp_path, moment)
    takeover = TAKEOVER if moment == "mid-maintenance" else []
    if then == "relaunch":
        result = run("ansible-playbook", MAINTENANCE, *OPTIONS, *takeover, "-e", "maintenance_tasks=%s" % tasks, env=sim_env(rack))
    else:
        result = run("ansible-playbook", RESTORE, *OPTIONS, *takeover, env=sim_env(rack))
    assert result.returncode == 0, result.stdout[-4000:]
    assert_promises(rack)
    if then == "relaunch" or moment not in ("before-the-record", "before-the-stop"):
        assert phase(rack) is None, "the record is still open"
    assert "rack7+lease" not in tag_names(rack), "the lease was not given up"
    if then == "relaunch" and moment == "mid-stop":
        # The deaf guests were only waited for, then killed by the recorded policy.
        assert actions(rack, "kill") == [3, 4]


def test_a_relaunch_of_a_finished_round_trip_stops_nothing(rack, tmp_path):
    tasks = tmp_path / "maintain.yml"
    tasks.write_text(yaml.safe_dump([{"name": "Maintain", "ansible.builtin.debug": {"msg": "patching"}}]))
    stats = dict(sim_env(rack), ANSIBLE_SHOW_CUSTOM_STATS="true")
    first = run("ansible-playbook", MAINTENANCE, *OPTIONS, "-e", "maintenance_tasks=%s" % tasks, env=stats)
    assert first.returncode == 0, first.stdout[-4000:]
    assert actions(rack, "poweroff") == RUNNING_BEFORE and actions(rack, "kill") == [3, 4]
    # What an AWX workflow reads (set_stats): the record closed, every VM that ran restored, none left.
    shown = " ".join(first.stdout.split())
    assert '"left_in_record": []' in shown and '"phase": "closed"' in shown and '"restored": [ 1, 2, 3, 4 ]' in shown, shown[-2000:]
    again = run("ansible-playbook", MAINTENANCE, *OPTIONS, "-e", "maintenance_tasks=%s" % tasks, env=sim_env(rack))
    assert again.returncode == 0, again.stdout[-4000:]
    assert "finished" in again.stdout and "nothing is stopped again" in again.stdout
    assert actions(rack, "poweroff") == RUNNING_BEFORE and actions(rack, "kill") == [3, 4]
    assert_promises(rack)
    # Asked for, a new round trip on the same name runs.
    new = run("ansible-playbook", MAINTENANCE, *OPTIONS, "-e", "maintenance_tasks=%s" % tasks, "-e", "maintenance_new_run=true",
              env=sim_env(rack))
    assert new.returncode == 0, new.stdout[-4000:]
    assert actions(rack, "poweroff") == sorted(RUNNING_BEFORE * 2)


def test_the_status_playbook_shows_each_open_record(rack, tmp_path):
    opened = [{"name": "Open", "vergeos.power.vergeos_maintenance_record": {
        "name": "rack7", "state": "open", "ids": [1, 2], "phase": "maintaining", "owner": "AWX job 42"}}]
    play = tmp_path / "open.yml"
    play.write_text(yaml.safe_dump([{"name": "Open", "hosts": "localhost", "gather_facts": False, "tasks": opened}]))
    assert run("ansible-playbook", str(play), env=sim_env(rack)).returncode == 0
    rack.clear_requests()
    result = run("ansible-playbook", os.path.join(ROOT, "playbooks", "maintenance_status.yml"), env=sim_env(rack))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "rack7: maintaining for " in result.stdout and "run by AWX job 42; 2 VM(s): db01, web01" in result.stdout
    assert [entry for entry in rack.requests() if entry["method"] != "GET"] == []


@pytest.mark.parametrize("extra, said", [
    ("maintenance_relaunch_window=soon", "maintenance_relaunch_window must be a number of seconds"),
    ("maintenance_relaunch_window=-5", "maintenance_relaunch_window must be a number of seconds"),
])
def test_a_bad_relaunch_variable_is_refused_before_any_write(rack, extra, said):
    result = run("ansible-playbook", MAINTENANCE, *OPTIONS, "-e", extra, env=sim_env(rack))
    assert result.returncode != 0
    assert said in " ".join(result.stdout.split()), result.stdout[-3000:]
    assert [entry for entry in rack.requests() if entry["method"] != "GET"] == []


def test_a_survey_string_asks_for_a_new_run(rack):
    """AWX surveys send text: "yes" for maintenance_new_run starts a new round trip inside the window."""
    first = run("ansible-playbook", MAINTENANCE, *OPTIONS, env=sim_env(rack))
    assert first.returncode == 0, first.stdout[-3000:]
    again = run("ansible-playbook", MAINTENANCE, *OPTIONS, "-e", '{"maintenance_new_run": "yes"}', env=sim_env(rack))
    assert again.returncode == 0, again.stdout[-3000:]
    assert actions(rack, "poweroff") == sorted(RUNNING_BEFORE * 2)
    states = power(rack)
    assert [key for key in RUNNING_BEFORE if states[key] != "running"] == [] and states[5] == "stopped"


def test_a_relaunch_does_not_race_the_orphaned_worker_of_a_killed_job(rack, tmp_path):
    """Killing only the job's process group leaves ansible's worker running the power task: it keeps the lease alive.

    The relaunch waits for the lease, sees it beat and refuses, sending nothing; once the orphan
    has finished its stop (and its lease went stale), a relaunch finishes the round trip.
    """
    tasks = tmp_path / "maintain.yml"
    tasks.write_text(yaml.safe_dump([{"name": "Nothing to do", "ansible.builtin.debug": {"msg": "maintained"}}]))
    # The deaf guests' deadline is 12 s: the orphan is still waiting for them when the relaunch comes.
    options = [*OPTIONS, "-e", "maintenance_timeout=12", "-e", "maintenance_tasks=%s" % tasks]
    args = [os.path.join(BIN, "ansible-playbook"), MAINTENANCE, *options]
    process = subprocess.Popen(args, env=base_env(sim_env(rack)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not MOMENTS["mid-stop"](rack):
        assert process.poll() is None and time.monotonic() < deadline, "the first run never reached mid-stop"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    sent_before = len(rack.requests())
    raced = run("ansible-playbook", MAINTENANCE, *options, env=sim_env(rack))
    assert raced.returncode != 0, raced.stdout[-3000:]
    assert "beat again while this job waited" in raced.stdout, raced.stdout[-3000:]
    relaunch_writes = [entry for entry in rack.requests()[sent_before:]
                       if entry["method"] != "GET" and entry["path"].startswith("/api/v4/") and "+lease" not in str(entry.get("body"))
                       and entry["path"] != "/api/v4/vm_actions"]
    assert actions(rack, "poweroff") == RUNNING_BEFORE and not actions(rack, "poweron"), "the relaunch raced the orphan"
    # The orphan finishes its stop (the deaf guests killed at their deadline) and ends; its lease goes stale.
    while actions(rack, "kill") != [3, 4] or power(rack)[3] != "stopped" or power(rack)[4] != "stopped":
        assert time.monotonic() < deadline + 60, "the orphaned worker never finished its stop"
        time.sleep(0.2)
    assert relaunch_writes == [] or all(entry["path"].startswith("/api/v4/tags/") for entry in relaunch_writes)
    finished = run("ansible-playbook", MAINTENANCE, *options, env=sim_env(rack))
    assert finished.returncode == 0, finished.stdout[-4000:]
    assert_promises(rack)
    assert phase(rack) is None and "rack7+lease" not in tag_names(rack)
