"""Scenarios: loading, validation, defaults, generator, speed, reset; the schema file agrees with the server."""

import copy
import json
import os
import re
import time

import jsonschema
import pytest

from sim_helpers import act, ok_json, rows, status_of

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "simulator", "scenario.schema.json")
FULL = {
    "description": "every section",
    "speed": 50,
    "system": {"cloud_name": "lab", "yb_version": "4.13.2", "os_version": "4.13"},
    "users": [{"name": "ops", "password": "pw", "role": "admin"}],
    "api_keys": [{"key": "k1"}],
    "timings": {"boot": 10, "shutdown": 10, "kill": 1, "reboot": 10},
    "clusters": [{"name": "east", "key": 7}, {"name": "west"}],
    "nodes": [{"name": "e1", "cluster": "east"}, {"name": "w1", "cluster": "west", "key": 40}],
    "tag_categories": [{"name": "env"}],
    "tags": [{"name": "prod", "category": "env"}],
    "vms": [
        {"name": "web01", "key": 42, "power": "running", "node": "w1", "cluster": "west", "cpu_cores": 3, "ram": 3072,
         "os_family": "windows", "guest_agent": True, "tags": ["prod"], "description": "front",
         "nics": [{"name": "lan", "macaddress": "52:54:00:aa:bb:cc", "ipaddress": "192.0.2.10"}, {"ipaddress": None}]},
        {"name": "web01"},
        {"name": "tmpl", "is_snapshot": True},
    ],
    "generate": {"count": 5, "prefix": "bulk-", "running_ratio": 1, "tags": ["prod"]},
    "snapshots": [{"vm": 42, "name": "nightly", "expires": 0}],
}
# (scenario, part of the error message, whether the schema file alone rejects it)
INVALID = [
    ({"unknown": 1}, "unknown field 'unknown'", True),
    ({"speed": 0}, "scenario.speed", True),
    ({"vms": [{"name": "a", "power": "on"}]}, "scenario.vms[0].power", True),
    ({"vms": [{"name": "a", "cpu_cores": "two"}]}, "scenario.vms[0].cpu_cores", True),
    ({"vms": [{"power": "running"}]}, "missing required field 'name'", True),
    ({"users": [{"name": "x", "password": "y", "role": "root"}]}, "scenario.users[0].role", True),
    ({"generate": {"count": -1}}, "scenario.generate.count", True),
    ({"timings": {"boot": -1}}, "scenario.timings.boot", True),
    ({"vms": [{"name": "a", "cluster": "nowhere"}]}, "scenario.vms[0].cluster", False),
    ({"vms": [{"name": "a", "node": "node1"}]}, "only a running VM has a node", False),
    ({"vms": [{"name": "a", "tags": ["ghost"]}]}, "scenario.vms[0].tags", False),
    ({"vms": [{"name": "a", "key": 3}, {"name": "b", "key": 3}]}, "duplicate key", False),
    ({"vms": [{"name": "a", "is_snapshot": True, "power": "running"}]}, "never running", False),
    ({"tags": [{"name": "t", "category": "none"}]}, "scenario.tags[0].category", False),
    ({"nodes": [{"name": "n"}, {"name": "n"}]}, "duplicate name", False),
    ({"snapshots": [{"vm": "ghost", "name": "s"}]}, "scenario.snapshots[0].vm", False),
]


def test_full_scenario_loads(sim):
    summary = sim.load(FULL)
    assert summary["speed"] == 50 and summary["tables"]["vms"] == 2 + 1 + 5 + 1
    system = ok_json(sim.api("GET", "/api/v4/system", auth=("ops", "pw")))[0]
    assert (system["cloud_name"], system["yb_version"]) == ("lab", "4.13.2")
    assert sim.api("GET", "/api/v4/system", auth=None, headers={"Authorization": "Bearer k1"}).status_code == 200
    assert sim.api("GET", "/api/v4/system").status_code == 401  # admin/admin is gone
    vm = ok_json(sim.api("GET", "/api/v4/vms/42", auth=("ops", "pw"), params={
        "fields": "name,cpu_cores,ram,os_family,description,machine#status#node#name as node,machine#cluster#name as cluster"}))
    assert vm == {"name": "web01", "cpu_cores": 3, "ram": 3072, "os_family": "windows", "description": "front", "node": "w1",
                  "cluster": "west"}
    machine = ok_json(sim.api("GET", "/api/v4/vms/42", auth=("ops", "pw"), params={"fields": "machine"}))["machine"]
    nics = ok_json(sim.api("GET", "/api/v4/machine_nics", auth=("ops", "pw"),
                           params={"filter": "machine eq %d" % machine, "fields": "name,macaddress,ipaddress"}))
    assert nics[0] == {"name": "lan", "macaddress": "52:54:00:aa:bb:cc", "ipaddress": "192.0.2.10"}
    assert nics[1]["ipaddress"] is None
    duplicates = ok_json(sim.api("GET", "/api/v4/vms", auth=("ops", "pw"), params={"filter": "name eq 'web01'", "fields": "$key"}))
    assert len(duplicates) == 2
    bulk = ok_json(sim.api("GET", "/api/v4/vms", auth=("ops", "pw"), params={
        "filter": "name bw 'bulk-'", "fields": "name,machine#status#running as running"}))
    assert [row["name"] for row in bulk] == ["bulk-001", "bulk-002", "bulk-003", "bulk-004", "bulk-005"]
    assert all(row["running"] for row in bulk)
    members = ok_json(sim.api("GET", "/api/v4/tag_members", auth=("ops", "pw")))
    assert len(members) == 1 + 3  # with one generator tag, every second bulk VM is tagged
    assert ok_json(sim.api("GET", "/api/v4/clusters/7", auth=("ops", "pw")))["name"] == "east"


def test_get_scenario_returns_the_loaded_one(sim):
    sim.load(FULL)
    assert ok_json(sim.api("GET", "/_sim/scenario", auth=None)) == FULL


@pytest.mark.parametrize("scenario, message, _structural", INVALID)
def test_invalid_scenarios_are_400_and_leave_the_world_alone(world, scenario, message, _structural):
    before = world.api("GET", "/_sim/health", auth=None).json()
    response = world.api("POST", "/_sim/scenario", auth=None, json=scenario)
    assert response.status_code == 400
    assert message in response.json()["err"]
    assert world.api("GET", "/_sim/health", auth=None).json() == before


def test_scenario_body_must_be_json(world):
    response = world.api("POST", "/_sim/scenario", auth=None, data="[1,")
    assert response.status_code == 400 and "JSON" in response.json()["err"]


def _schema():
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.parametrize("scenario, _message, structural", INVALID)
def test_schema_file_agrees_with_the_server(scenario, _message, structural):
    """Structural errors are caught by the schema file itself; references and duplicates only by the server."""
    if structural:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(scenario, _schema())
    else:
        jsonschema.validate(scenario, _schema())


def test_schema_file_accepts_valid_scenarios(sim):
    schema = _schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(FULL, schema)
    sim.reset()
    jsonschema.validate(ok_json(sim.api("GET", "/_sim/scenario", auth=None)), schema)


def test_minimal_scenario_gets_defaults(sim):
    sim.load({"vms": [{"name": "only"}]})
    assert len(rows(sim, "nodes")) == 3 and len(rows(sim, "clusters")) == 1
    vm = rows(sim, "vms", fields="$key,name,cpu_cores,ram,os_family,enabled,machine#status#status as status")
    assert vm == [{"$key": 1, "name": "only", "cpu_cores": 1, "ram": 1024, "os_family": "linux", "enabled": True, "status": "stopped"}]


def test_scenario_speed_and_per_vm_timings(sim):
    sim.load({"speed": 1, "vms": [{"key": 1, "name": "slow"}, {"key": 2, "name": "quick", "timings": {"boot": 0.05}}]})
    act(sim, 1, "poweron")
    act(sim, 2, "poweron")
    time.sleep(0.2)
    assert status_of(sim, 1)["status"] == "starting"  # 30 s at speed 1
    assert status_of(sim, 2)["status"] == "running"


def test_reset_returns_to_the_default_world(sim):
    sim.load({"vms": [{"name": "only"}]})
    summary = sim.reset()
    assert sim.requests() == []
    assert summary["tables"]["vms"] > 10 and summary["speed"] == 100
    assert rows(sim, "vms", fields="name", limit=1) == [{"name": "vm-001"}]


def test_generated_world_of_ten_thousand_vms_loads(sim):
    # How fast it loads is tests/bench/bench_simulator.py's to print: a timed bound here failed on a loaded machine.
    summary = sim.load({"generate": {"count": 10000}})
    assert summary["tables"]["vms"] == 10000
    assert rows(sim, "vms", fields=",")[0]["$count"] == 10000


def test_explicit_vm_keys_never_equal_machine_or_status_keys(sim):
    sim.load({"vms": [{"name": "a", "key": 5000}, {"name": "b", "key": 100}, {"name": "c"}]})
    for vm in rows(sim, "vms", fields="$key,machine,machine#status as status_key"):
        assert len({vm["$key"], vm["machine"], vm["status_key"]}) == 3


def test_unknown_sim_routes(sim):
    assert sim.api("GET", "/_sim/nothing", auth=None).status_code == 404
    assert sim.api("PUT", "/_sim/scenario", auth=None, json={}).status_code == 405


def test_scenario_is_not_mutated_by_loading(sim):
    scenario = copy.deepcopy(FULL)
    sim.load(scenario)
    assert scenario == FULL


def test_readme_examples_are_accepted(sim_faults):
    """The scenario and fault examples of tests/simulator/README.md load as written."""
    with open(os.path.join(os.path.dirname(SCHEMA_PATH), "README.md"), encoding="utf-8") as handle:
        blocks = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", handle.read(), re.S)]
    scenarios = [block for block in blocks if "faults" not in block]
    fault_requests = [block for block in blocks if "faults" in block]
    assert len(scenarios) == 1 and len(fault_requests) == 1
    jsonschema.validate(scenarios[0], _schema())
    assert sim_faults.load(scenarios[0])["tables"]["vms"] == 5 + 1000 + 1
    listing = ok_json(sim_faults.api("POST", "/_sim/faults", auth=None, json=fault_requests[0]))
    assert listing["seed"] == 42 and len(listing["faults"]) == 2
