"""wait_for_agent against the simulator: running is not enough, the guest agent must answer."""


from run_ansible import run_play

WORLD = {
    "speed": 100,
    # A graceful reboot leaves the status at running while the guest (and its agent) is away for 'reboot' seconds.
    "timings": {"boot": 30, "reboot": 300},
    "vms": [{"name": "app01", "key": 1, "power": "running", "guest_agent": True},
            {"name": "noagent", "key": 2, "power": "stopped"}],
}


def test_a_running_vm_whose_agent_is_away_is_waited_for_without_an_action(sim, tmp_path):
    sim.load(WORLD)
    tasks = [
        {"name": "Reboot the guest", "vergeos.power.vergeos_vm_power": {"name": "app01", "state": "restarted", "poll_interval": 0.2}},
        {"name": "Wait for its agent", "vergeos.power.vergeos_vm_power": {"names": ["app01", "noagent"], "state": "running",
                                                                          "wait_for_agent": True, "poll_interval": 0.2},
         "register": "up"},
    ]
    result, log, kept = run_play(sim, tmp_path, tasks, keep=["up"])
    assert result.returncode == 0, result.stdout[-3000:]
    up = {vm["name"]: vm for vm in kept["up"]["vms"]}
    assert up["app01"]["actions"] == [] and up["app01"]["agent_version"]  # only waited: the reboot brings it back
    assert up["app01"]["elapsed"] >= 1.0  # the agent was away for the 3 s of the reboot (300 s at speed 100), minus the reboot task
    assert up["noagent"]["actions"] == ["poweron"] and up["noagent"]["power_state"] == "running"
    actions = [(entry["body"]["vm"], entry["body"]["action"]) for entry in log if entry["method"] == "POST"]
    assert actions == [(1, "reset"), (2, "poweron")]
