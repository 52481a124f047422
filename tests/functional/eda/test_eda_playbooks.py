"""The restart playbook checks again what a (possibly stale) event said, and acts only when all of it still holds.

One ansible-playbook run imports vergeos.power.eda_restart_vm once per event, each event claiming
its VM stopped on its own, opted in and outside any maintenance; only one of them still is.
"""

import json

from eda_helpers import actions
from run_ansible import run, sim_env

OPT_IN = "autorestart"
RECORD_DESCRIPTION = json.dumps({"vergeos.power": "maintenance record", "version": 1, "opened": 1767225600, "note": "rack 9"})


def event(key, name):
    """An event as vergeos.power.vm_power_events gives it, as ansible-rulebook hands it to a playbook."""
    return {"event": {"vergeos_power": {
        "type": "changed", "time": "2026-12-02T10:00:00.000Z", "timestamp": 1796205600.0, "system": "https://127.0.0.1",
        "vm": {"id": key, "name": name, "power_state": "stopped", "status": "stopped", "status_info": None, "node": None,
               "cluster": "cluster1", "running": False, "tags": [OPT_IN], "under_maintenance": False, "maintenance_records": []},
        "previous": {"power_state": "running", "status": "running", "status_info": None, "node": "node1"}, "in_state_for": 60.0}}}


def test_the_restart_playbook_acts_only_on_what_still_holds(sim, tmp_path):
    sim.load({
        "speed": 100,
        "tag_categories": [{"name": "policy"}, {"name": "vergeos_power_maintenance"}],
        "tags": [{"name": OPT_IN, "category": "policy"},
                 {"name": "rack9", "category": "vergeos_power_maintenance", "description": RECORD_DESCRIPTION}],
        "vms": [
            {"key": 71, "name": "stale-untagged", "power": "stopped"},
            {"key": 72, "name": "stale-maintained", "power": "stopped", "tags": [OPT_IN, "rack9"]},
            {"key": 73, "name": "stale-running", "power": "running", "tags": [OPT_IN]},
            {"key": 74, "name": "still-true", "power": "stopped", "tags": [OPT_IN]},
        ],
    })
    plays = [{"ansible.builtin.import_playbook": "vergeos.power.eda_restart_vm",
              "vars": {"ansible_eda": event(key, name), "eda_opt_in_tag": OPT_IN, "eda_start_timeout": 30}}
             for key, name in ((71, "stale-untagged"), (72, "stale-maintained"), (73, "stale-running"), (74, "still-true"))]
    playbook = tmp_path / "events.yml"
    playbook.write_text(json.dumps(plays))
    sim.clear_requests()
    try:
        result = run("ansible-playbook", str(playbook), env=dict(sim_env(sim), ANSIBLE_NOCOLOR="1"))
        log = sim.requests()
    finally:
        sim.reset()

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert actions(log) == [(74, "poweron")], output
    assert "VM stale-untagged (id 71) is not powered on: it no longer carries the opt-in tag autorestart." in output
    assert "VM stale-maintained (id 72) is not powered on: it is under the open maintenance record(s) rack9." in output
    assert "VM stale-running (id 73) is not powered on: it is running now, not stopped." in output
    assert "VM still-true (id 74) is not powered on" not in output
