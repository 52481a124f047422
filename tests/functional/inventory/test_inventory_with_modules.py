"""The inventory plugin and the modules together, as an operator runs them: ad-hoc, no delegate_to, no SSH."""

import json
import os

from inventory_helpers import BIN, run, sim_source, write_source


def statuses(sim):
    rows = sim.api("GET", "/api/v4/vms", params={"filter": "is_snapshot eq false", "fields": "$key,machine#status#status as status"}).json()
    return {row["$key"]: row["status"] for row in rows}


def posts(sim):
    return [entry for entry in sim.requests() if entry["method"] == "POST"]


def adhoc(tmp_path, source, pattern, module, args, *extra, env=None):
    path = write_source(tmp_path, source)
    return run([os.path.join(BIN, "ansible"), pattern, "-i", path, "-m", module, "-a", args, "-o", *extra], env=env, cwd=str(tmp_path))


def test_ad_hoc_stop_of_the_running_group(scenario, tmp_path):
    before = statuses(scenario)
    connection = {"VERGEOS_HOST": scenario.host, "VERGEOS_USERNAME": "admin", "VERGEOS_PASSWORD": "admin", "VERGEOS_CA_PATH": scenario.ca}
    result = adhoc(tmp_path, sim_source(scenario), "vergeos_power_running", "vergeos.power.vergeos_vm_power",
                   "state=stopped poll_interval=0.2", env=connection)
    assert result.returncode == 0, result.stdout + result.stderr
    # web01 (11), db01 (13) and twin_21 (21) were running: each host stopped its own VM and no other.
    assert sorted(entry["body"]["vm"] for entry in posts(scenario)) == [11, 13, 21]
    after = statuses(scenario)
    assert {key: after[key] for key in (11, 13, 21)} == {11: "stopped", 13: "stopped", 21: "stopped"}
    assert {key: after[key] for key in (12, 22)} == {key: before[key] for key in (12, 22)}
    lines = {line.split(" | ")[0]: line for line in result.stdout.splitlines() if " | " in line}
    assert set(lines) == {"web01", "db01", "twin_21"} and all("CHANGED" in line for line in lines.values())
    assert "UNREACHABLE" not in result.stdout


def test_ad_hoc_info_reads_each_host_vm(scenario, tmp_path):
    connection = {"VERGEOS_HOST": scenario.host, "VERGEOS_USERNAME": "admin", "VERGEOS_PASSWORD": "admin", "VERGEOS_CA_PATH": scenario.ca}
    result = adhoc(tmp_path, sim_source(scenario), "twin_22", "vergeos.power.vergeos_vm_info", "", env=connection)
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout.split(" => ", 1)[1])
    assert [vm["id"] for vm in answer["vms"]] == [22] and answer["name"] == "twin"


def test_a_task_connected_to_another_system_refuses_the_hosts(scenario, simulator_factory, tmp_path):
    other = simulator_factory("--speed", "100")
    connection = {"VERGEOS_HOST": other.host, "VERGEOS_USERNAME": "admin", "VERGEOS_PASSWORD": "admin", "VERGEOS_CA_PATH": other.ca}
    result = adhoc(tmp_path, sim_source(scenario), "web01", "vergeos.power.vergeos_vm_power", "state=stopped", env=connection)
    assert result.returncode != 0
    assert "refusing to act on a VM of another system" in result.stdout
    assert posts(scenario) == [] and [entry for entry in other.requests() if entry["method"] != "GET"] == []
