"""VMs that cannot start: insufficient resources (507) and a start that ends in error. Clear, per VM, nothing re-sent."""


from run_ansible import run_play

WORLD = {
    "speed": 100,
    # The 507 answer on purpose (the recorded default accepts the start and never carries it out: test_start_never_began.py).
    "switches": {"no_resources": "refuse"},
    "vms": [
        {"name": "big01", "key": 1, "guest": {"start": "no_resources", "no_resources_status": 507}},
        {"name": "broken01", "key": 2, "guest": {"start": "error"}},
        {"name": "fine01", "key": 3},
    ],
}


def test_each_vm_that_cannot_start_fails_with_its_own_cause(sim, tmp_path):
    sim.load(WORLD)
    tasks = [
        {"name": "Start all three", "vergeos.power.vergeos_vm_power": {"names": ["big01", "broken01", "fine01"], "state": "running",
                                                                       "poll_interval": 0.2, "wait_timeout": 60},
         "register": "start", "ignore_errors": True},
    ]
    result, log, kept = run_play(sim, tmp_path, tasks, keep=["start"])
    assert result.returncode == 0, result.stdout[-3000:]
    start = kept["start"]
    assert start["failed"] is True
    vms = {vm["name"]: vm for vm in start["vms"]}
    assert vms["fine01"]["failed"] is False and vms["fine01"]["power_state"] == "running"
    assert vms["big01"]["failed"] is True and "HTTP 507" in vms["big01"]["msg"] and vms["big01"]["changed"] is False
    assert vms["broken01"]["failed"] is True and "error" in vms["broken01"]["msg"] and vms["broken01"]["power_state"] == "error"
    assert "big01" in start["msg"] and "broken01" in start["msg"]
    posts = sorted((entry["body"]["vm"], entry["body"]["action"]) for entry in log if entry["method"] == "POST")
    assert posts == [(1, "poweron"), (2, "poweron"), (3, "poweron")]  # a definite refusal is not sent again
    assert "Traceback" not in result.stdout + result.stderr
