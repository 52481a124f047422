"""A power-on VergeOS accepts and never carries out (recorded on a real system that lacked the resources).

The module waits for it, never sends it again, and fails it at the deadline saying the VM
never showed starting; the other VMs of the task start. Judged from the request log.
"""

from run_ansible import run_play

WORLD = {
    "speed": 100,
    "switches": {"no_resources": "ignore"},
    "vms": [
        {"name": "big01", "key": 1, "guest": {"start": "no_resources"}},
        {"name": "fine01", "key": 2},
    ],
}


def test_an_accepted_start_that_never_begins_fails_at_the_deadline_and_is_sent_once(sim, tmp_path):
    sim.load(WORLD)
    start = {"names": ["big01", "fine01"], "state": "running", "poll_interval": 0.2, "wait_timeout": 3}
    tasks = [{"name": "Start both", "vergeos.power.vergeos_vm_power": start, "register": "start", "ignore_errors": True}]
    result, log, kept = run_play(sim, tmp_path, tasks, keep=["start"])
    assert result.returncode == 0, result.stdout[-3000:]
    start = kept["start"]
    vms = {vm["name"]: vm for vm in start["vms"]}
    assert vms["fine01"]["failed"] is False and vms["fine01"]["power_state"] == "running"
    big = vms["big01"]
    assert big["failed"] is True and big["timed_out"] is True and big["power_state"] == "stopped"
    assert "accepted the power-on but the VM never showed starting" in big["msg"]
    assert start["timed_out"] == ["big01"] and start["failed"] is True
    posts = [(entry["body"]["vm"], entry["body"]["action"], entry["status"]) for entry in log if entry["method"] == "POST"]
    assert sorted(posts) == [(1, "poweron", 201), (2, "poweron", 201)]
