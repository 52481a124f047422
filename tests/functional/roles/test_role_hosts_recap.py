"""The role over inventory hosts: every host whose VM could not be stopped is failed in the recap, and no other (AWX colours them)."""

import re
import sys

import yaml

from run_ansible import run, sim_env

STUCK = {"acpi": "ignore", "stuck_after_kill": True}
WORLD = {
    "speed": 100,
    "timings": {"shutdown": 20, "kill": 3},
    "vms": [
        {"name": "fine01", "key": 1, "power": "running"},
        {"name": "stuck01", "key": 2, "power": "running", "guest": STUCK},
        {"name": "fine02", "key": 3, "power": "running"},
        {"name": "stuck02", "key": 4, "power": "running", "guest": STUCK},
    ],
}


def recap(stdout):
    """Return {host: failed count} from the PLAY RECAP."""
    return {match.group(1): int(match.group(2)) for match in re.finditer(r"^(\S+)\s+: ok=\d+.*?failed=(\d+)", stdout, re.M)}


def test_each_host_whose_vm_failed_is_failed_and_only_those(sim, tmp_path):
    sim.load(WORLD)
    url = "https://" + sim.host
    hosts = {vm["name"]: {"vergeos_id": vm["key"], "vergeos_url": url} for vm in WORLD["vms"]}
    inventory = tmp_path / "hosts.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": local}}))
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{"name": "Safe shutdown of the play's hosts", "hosts": "all", "gather_facts": False,
                                     "vars": {"safe_shutdown_timeout": 1, "safe_shutdown_kill_timeout": 1, "safe_shutdown_poll_interval": 0.2},
                                     "roles": ["vergeos.power.safe_shutdown"]}], sort_keys=False))
    try:
        result = run("ansible-playbook", "-i", str(inventory), str(play), env=sim_env(sim))
    finally:
        sim.reset()
    assert result.returncode != 0
    failed = recap(result.stdout)
    assert failed == {"fine01": 0, "fine02": 0, "stuck01": 1, "stuck02": 1}, result.stdout[-3000:]
    assert "VM stuck01 (id 2) could not be stopped" in result.stdout and "VM stuck02 (id 4) could not be stopped" in result.stdout
