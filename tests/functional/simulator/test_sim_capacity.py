"""The capacity model: node RAM, cores and reserve, running VMs using them, placement, 507 or queue, holds (the race)."""

import json
import os
import subprocess
import sys

import jsonschema
import pytest

from sim_helpers import act, ok_json, rows, scenario_schema, status_of, vm_keys, wait_for

# At the fixture's speed 100, 10 scenario seconds are 0.1 s.
QUICK = {"boot": 10, "shutdown": 10, "kill": 10, "reboot": 10}
GB = 1024
NODE_FIELDS = "$key,name,cluster,running,maintenance,ram,vm_ram,cores"
RUNNING_FIELDS = "$key,machine,node,running,running_ram,running_cores"
HOLDS = "/_sim/capacity/holds"


def _vm(name, ram, cores=1, **fields):
    return dict({"name": name, "ram": ram, "cpu_cores": cores}, **fields)


def _load(sim, *vms, capacity=None, nodes=None, switches=None, timings=None):
    """Two 8 GB nodes, 1 GB kept by the platform on each (7 GB for VMs), unless told otherwise.

    A start without room is refused (`no_resources: refuse`, 507), so that these tests see it at once; the recorded
    default (accepted, never carried out) has its own tests in test_sim_recorded.py.
    """
    scenario = {"timings": dict(QUICK, **(timings or {})), "capacity": dict({"ram": 8 * GB, "ram_reserve": GB, "cores": 4}, **(capacity or {})),
                "nodes": nodes or [{"name": "n1", "key": 1}, {"name": "n2", "key": 2}],
                "vms": [dict(vm, key=index + 1) for index, vm in enumerate(vms)],
                "switches": dict({"no_resources": "refuse"}, **(switches or {}))}
    sim.load(scenario)
    return sim


def _capacity(sim):
    return ok_json(sim.api("GET", "/_sim/capacity", auth=None))


def _free(sim):
    return {node["name"]: node["ram_free"] for node in _capacity(sim)["nodes"]}


def _node_of(sim, key):
    return status_of(sim, key)["node"]


def _settle(sim, key, wanted):
    return wait_for(lambda: status_of(sim, key), lambda row: row["status"] == wanted)


def _refused(response, status=507):
    assert response.status_code == status, response.text
    assert response.json()["err"] == "Insufficient cluster resources to start VM"


def _hold(sim, **body):
    return sim.api("POST", HOLDS, auth=None, json=body)


# ---------------------------------------------------------------- off by default


def test_the_default_world_has_no_capacity_model(world):
    nodes = rows(world, "nodes", fields=NODE_FIELDS)
    assert {(node["ram"], node["vm_ram"], node["cores"], node["running"], node["maintenance"]) for node in nodes} == {
        (524288, 524288, 64, True, False)}
    report = _capacity(world)
    assert report["active"] is False and report["holds"] == []
    assert sum(node["machines"] for node in report["nodes"]) == 5  # the running half of the default world is counted
    refused = _hold(world, ram=GB)
    assert refused.status_code == 409 and "capacity model is off" in refused.json()["err"]


def test_without_capacity_a_huge_vm_still_starts(sim):
    sim.load({"timings": QUICK, "vms": [_vm("huge", 4 * 524288, 512, key=1)]})
    assert act(sim, 1, "poweron").status_code == 201
    assert _settle(sim, 1, "running")["running_ram"] == 4 * 524288


# ---------------------------------------------------------------- fit, misfit, stop, reserve


def test_a_start_that_fits_lands_on_the_first_node_with_room_and_uses_its_ram(sim):
    _load(sim, _vm("a", 4 * GB), _vm("b", 4 * GB), _vm("c", 3 * GB))
    assert [node["vm_ram"] for node in rows(sim, "nodes", fields=NODE_FIELDS)] == [7 * GB, 7 * GB]
    for key in (1, 2, 3):
        assert act(sim, key, "poweron").status_code == 201
    assert [_node_of(sim, key) for key in (1, 2, 3)] == [1, 2, 1]  # b does not fit beside a; c does
    assert _free(sim) == {"n1": 0, "n2": 3 * GB}
    row = status_of(sim, 1)
    assert (row["running_ram"], row["running_cores"], row["running"]) == (4 * GB, 1, True)


def test_a_start_that_fits_nowhere_is_507_and_changes_nothing(sim):
    _load(sim, _vm("a", 4 * GB, power="running"), _vm("b", 4 * GB, power="running"), _vm("c", 4 * GB))
    before = status_of(sim, 3)
    _refused(act(sim, 3, "poweron"))
    assert status_of(sim, 3) == before
    assert _free(sim) == {"n1": 3 * GB, "n2": 3 * GB}  # 6 GB free in all, but 3 GB on each node


def test_the_refusal_status_is_the_guests_no_resources_status(sim):
    _load(sim, _vm("big", 8 * GB, guest={"no_resources_status": 503}))
    _refused(act(sim, 1, "poweron"), 503)


def test_the_platform_reserve_is_respected(sim):
    _load(sim, _vm("just-over", 7 * GB + 1), _vm("exact", 7 * GB))
    _refused(act(sim, 1, "poweron"))  # 8 GB nodes, but 1 GB is the platform's
    assert act(sim, 2, "poweron").status_code == 201
    assert _capacity(sim)["nodes"][0]["ram_reserve"] == GB


def test_per_node_capacity_wins_over_the_section(sim):
    _load(sim, _vm("a", 10 * GB), nodes=[{"name": "n1", "key": 1}, {"name": "big", "key": 2, "ram": 16 * GB, "ram_reserve": 0}])
    assert act(sim, 1, "poweron").status_code == 201
    assert _node_of(sim, 1) == 2
    assert [(node["ram"], node["vm_ram"]) for node in rows(sim, "nodes", fields=NODE_FIELDS)] == [(8 * GB, 7 * GB), (16 * GB, 16 * GB)]


def test_a_stop_frees_the_capacity(sim):
    _load(sim, _vm("a", 6 * GB), _vm("b", 6 * GB), _vm("c", 6 * GB), timings={"shutdown": 50})
    assert act(sim, 1, "poweron").status_code == 201
    assert act(sim, 2, "poweron").status_code == 201
    _refused(act(sim, 3, "poweron"))
    _settle(sim, 1, "running")
    assert act(sim, 1, "poweroff").status_code == 201
    _refused(act(sim, 3, "poweron"))  # still stopping: its RAM is held until it is off
    _settle(sim, 1, "stopped")
    assert act(sim, 3, "poweron").status_code == 201
    assert _node_of(sim, 3) == 1


def test_nodes_down_or_in_maintenance_take_no_vm(sim):
    nodes = [{"name": "down", "key": 1, "running": False}, {"name": "maint", "key": 2, "maintenance": True}, {"name": "up", "key": 3}]
    _load(sim, _vm("a", GB), _vm("b", GB), nodes=nodes)
    assert act(sim, 1, "poweron").status_code == 201
    assert _node_of(sim, 1) == 3
    assert act(sim, 2, "poweron", preferred_node=2).status_code == 201  # a preferred node in maintenance is passed over
    assert _node_of(sim, 2) == 3


# ---------------------------------------------------------------- preferred node


def test_the_preferred_node_is_honoured_when_the_vm_fits_there(sim):
    _load(sim, _vm("a", 4 * GB))
    assert act(sim, 1, "poweron", preferred_node=2).status_code == 201
    assert _node_of(sim, 1) == 2


def test_a_preferred_node_without_room_falls_back_to_another(sim):
    _load(sim, _vm("a", 5 * GB, power="running", node="n2"), _vm("b", 4 * GB))
    assert act(sim, 2, "poweron", preferred_node="2").status_code == 201
    assert _node_of(sim, 2) == 1


def test_strict_preferred_node_refuses_when_the_vm_does_not_fit_there(sim):
    _load(sim, _vm("a", 5 * GB, power="running", node="n2"), _vm("b", 4 * GB), capacity={"preferred_node": "strict"})
    _refused(act(sim, 2, "poweron", preferred_node=2))
    assert act(sim, 2, "poweron", preferred_node=1).status_code == 201
    assert _node_of(sim, 2) == 1


# ---------------------------------------------------------------- cores


def test_cores_are_not_a_limit_by_default(sim):
    _load(sim, _vm("a", GB, 64), _vm("b", GB, 64))
    assert act(sim, 1, "poweron").status_code == 201
    assert act(sim, 2, "poweron").status_code == 201
    assert [_node_of(sim, key) for key in (1, 2)] == [1, 1]  # 128 cores on a 4-core node: overcommit is allowed
    assert _capacity(sim)["nodes"][0]["cores_used"] == 128


def test_core_overcommit_limits_cores_to_a_ratio(sim):
    _load(sim, _vm("a", GB, 4), _vm("b", GB, 4), _vm("c", GB, 4), _vm("d", GB, 2), capacity={"core_overcommit": 1.5})
    for key in (1, 2):
        assert act(sim, key, "poweron").status_code == 201
    assert [_node_of(sim, key) for key in (1, 2)] == [1, 2]  # 6 cores per node
    _refused(act(sim, 3, "poweron"))
    assert act(sim, 4, "poweron").status_code == 201  # 2 more fit: 4 + 2 = 6
    node = _capacity(sim)["nodes"][0]
    assert (node["cores_limit"], node["cores_used"], node["cores_free"]) == (6, 6, 0)


# ---------------------------------------------------------------- queue


def test_queued_when_it_fits_nowhere_and_started_when_a_stop_makes_room(sim):
    _load(sim, _vm("a", 6 * GB, power="running"), _vm("b", 6 * GB, power="running"), _vm("c", 4 * GB), _vm("d", 2 * GB),
          switches={"no_resources": "queue"})
    for key in (3, 4):
        assert act(sim, key, "poweron").status_code == 201
    assert [status_of(sim, key)["status"] for key in (3, 4)] == ["waitingforresources"] * 2
    assert [status_of(sim, key)["node"] for key in (3, 4)] == [None, None]
    assert act(sim, 2, "kill").status_code == 201
    # 7 GB free on n2: every queued VM that fits starts, oldest first.
    assert _settle(sim, 3, "running")["node"] == 2
    assert _settle(sim, 4, "running")["node"] == 2


def test_the_queue_is_first_come_first_served(sim):
    _load(sim, _vm("a", 6 * GB, power="running", node="n1"), _vm("b", 6 * GB, power="running", node="n2"),
          _vm("big", 7 * GB), _vm("small", GB), switches={"no_resources": "queue"})
    holds = [hold["id"] for hold in ok_json(_hold(sim, leave_ram=0))["holds"]]  # nothing free anywhere
    for key in (3, 4):
        assert act(sim, key, "poweron").status_code == 201
    ok_json(sim.api("DELETE", "%s/%d" % (HOLDS, holds[1]), auth=None))
    assert status_of(sim, 4)["status"] == "waitingforresources"  # 1 GB free on n2 would do, but it waits behind big
    assert act(sim, 2, "kill").status_code == 201
    assert _settle(sim, 3, "running")["node"] == 2
    assert status_of(sim, 4)["status"] == "waitingforresources"  # n2 is full again, n1 still held
    ok_json(sim.api("DELETE", "%s/%d" % (HOLDS, holds[0]), auth=None))
    assert _settle(sim, 4, "running")["node"] == 1


def test_a_guest_without_resources_is_still_refused_with_capacity_on(sim):
    _load(sim, _vm("tiny", 1, guest={"start": "no_resources"}))
    _refused(act(sim, 1, "poweron"))


# ---------------------------------------------------------------- the reads a client makes for headroom


def test_two_reads_give_each_nodes_headroom(sim):
    _load(sim, _vm("a", 3 * GB, 2, power="running", node="n1"), _vm("b", 2 * GB, 1, power="running", node="n1"),
          _vm("c", 5 * GB, 4, power="running", node="n2"), _vm("off", 4 * GB))
    nodes = rows(sim, "nodes", fields=NODE_FIELDS)
    running = rows(sim, "machine_status", filter="running eq true", fields=RUNNING_FIELDS)
    headroom = {node["name"]: node["vm_ram"] - sum(row["running_ram"] for row in running if row["node"] == node["$key"])
                for node in nodes}
    assert headroom == {"n1": 2 * GB, "n2": 2 * GB} == _free(sim)
    # The same from the VM list (traversals), which a client reads anyway to find the VMs to start.
    vms = rows(sim, "vms", filter="is_snapshot eq false",
               fields="$key,name,ram,cpu_cores,machine#status#running as running,machine#status#node as node,"
                      "machine#status#running_ram as running_ram,machine#status#running_cores as running_cores")
    assert sum(vm["running_ram"] for vm in vms if vm["node"] == 1) == 5 * GB
    # A stopped VM keeps its last run's RAM (recorded): only `running` says it uses none.
    assert [(vm["running_ram"], vm["node"]) for vm in vms if not vm["running"]] == [(4 * GB, None)]
    assert sum(vm["running_ram"] for vm in vms if vm["running"]) == 10 * GB == sum(node["ram_used"] for node in _capacity(sim)["nodes"])


def test_running_vms_of_the_scenario_must_fit(sim):
    before = vm_keys(sim)
    for vms, message in (([_vm("a", 8 * GB, power="running")], "fits on no node"),
                         ([_vm("a", 4 * GB, power="running", node="n1"), _vm("b", 4 * GB, power="running", node="n1")],
                          "does not fit on node 'n1'")):
        scenario = {"capacity": {"ram": 8 * GB, "ram_reserve": GB}, "nodes": [{"name": "n1"}, {"name": "n2"}],
                    "vms": vms}
        response = sim.api("POST", "/_sim/scenario", auth=None, json=scenario)
        assert response.status_code == 400 and message in response.json()["err"], response.text
    assert vm_keys(sim) == before


def test_the_server_refuses_to_start_with_running_vms_that_do_not_fit(tmp_path):
    path = tmp_path / "overfull.json"
    path.write_text(json.dumps({"nodes": [{"name": "n1", "ram": GB}], "vms": [{"name": "a", "ram": 2 * GB, "power": "running"}]}),
                    encoding="utf-8")
    server = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "simulator", "server.py")
    result = subprocess.run([sys.executable, server, "--scenario", str(path), "--http"], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 2
    assert "scenario.vms[0]: the running VM 'a' (2048 MB, 1 cores) fits on no node" in result.stderr


def test_running_vms_with_a_node_are_placed_first(sim):
    # Auto-placed first, `free` would take n1 and `pinned` would not fit there.
    _load(sim, _vm("free", 4 * GB, power="running"), _vm("pinned", 4 * GB, power="running", node="n1"))
    assert [_node_of(sim, key) for key in (1, 2)] == [2, 1]


# ---------------------------------------------------------------- holds: capacity taken behind the API's back


def test_a_hold_takes_ram_that_no_read_shows(sim):
    _load(sim, _vm("a", 4 * GB))
    holds = ok_json(_hold(sim, ram=4 * GB))["holds"]  # on every node
    assert [(hold["node"], hold["ram"], hold["active"]) for hold in holds] == [("n1", 4 * GB, True), ("n2", 4 * GB, True)]
    assert [node["vm_ram"] for node in rows(sim, "nodes", fields=NODE_FIELDS)] == [7 * GB, 7 * GB]
    assert rows(sim, "machine_status", filter="running eq true", fields=RUNNING_FIELDS) == []
    _refused(act(sim, 1, "poweron"))
    assert ok_json(sim.api("DELETE", "%s/%d" % (HOLDS, holds[1]["id"]), auth=None))["holds"] == [holds[0]]
    assert act(sim, 1, "poweron").status_code == 201
    assert _node_of(sim, 1) == 2


def test_a_hold_armed_for_the_next_poweron_is_the_race_after_a_passed_check(sim):
    _load(sim, _vm("a", 4 * GB), _vm("b", GB))
    ok_json(_hold(sim, leave_ram=GB, on="poweron"))
    assert _free(sim) == {"n1": 7 * GB, "n2": 7 * GB}  # a pre-flight now sees room
    listed = ok_json(sim.api("GET", HOLDS, auth=None))["holds"]
    assert [(hold["on"], hold["active"]) for hold in listed] == [("poweron", False), ("poweron", False)]
    _refused(act(sim, 1, "poweron"))  # the holds took all but 1 GB of each node just before it was decided
    assert _free(sim) == {"n1": GB, "n2": GB}
    assert [(hold["ram"], hold["active"]) for hold in _capacity(sim)["holds"]] == [(6 * GB, True), (6 * GB, True)]
    assert act(sim, 2, "poweron").status_code == 201
    assert ok_json(sim.api("DELETE", HOLDS, auth=None)) == {"cleared": 2}
    assert act(sim, 1, "poweron").status_code == 201


def test_removing_a_hold_starts_queued_vms(sim):
    _load(sim, _vm("a", 4 * GB), switches={"no_resources": "queue"})
    ok_json(_hold(sim, node=1, ram=7 * GB))
    ok_json(_hold(sim, node="n2", leave_ram=0))
    assert act(sim, 1, "poweron").status_code == 201
    assert status_of(sim, 1)["status"] == "waitingforresources"
    ok_json(sim.api("DELETE", HOLDS + "/2", auth=None))
    assert _settle(sim, 1, "running")["node"] == 2


@pytest.mark.parametrize("body, status, message", [
    ({"ram": -1}, 400, "body.ram"),
    ({"ram": 1, "leave_ram": 1}, 400, "ram or leave_ram, not both"),
    ({"node": "n1"}, 400, "give ram, leave_ram or cores"),
    ({"ram": 1, "on": "later"}, 400, "body.on"),
    ({"ram": 1, "colour": "red"}, 400, "unknown field 'colour'"),
    ({"node": "nowhere", "ram": 1}, 404, "node nowhere does not exist"),
])
def test_bad_holds_are_refused(sim, body, status, message):
    _load(sim)
    response = _hold(sim, **body)
    assert response.status_code == status and message in response.json()["err"], response.text
    assert ok_json(sim.api("GET", HOLDS, auth=None))["holds"] == []
    assert sim.api("DELETE", HOLDS + "/99", auth=None).status_code == 404
    assert sim.api("POST", HOLDS + "/1", auth=None, json={}).status_code == 405


def test_a_scenario_load_forgets_the_holds(sim):
    _load(sim)
    ok_json(_hold(sim, ram=GB))
    _load(sim)
    assert _capacity(sim)["holds"] == []


# ---------------------------------------------------------------- scenario validation


@pytest.mark.parametrize("scenario, where", [
    ({"capacity": {"ram": GB, "ram_reserve": 2 * GB}}, "scenario.nodes[0].ram_reserve: 2048 MB is more than the node's ram"),
    ({"nodes": [{"name": "n", "ram": GB, "ram_reserve": 2 * GB}]}, "scenario.nodes[0].ram_reserve"),
    ({"capacity": {"core_overcommit": 0}}, "scenario.capacity.core_overcommit"),
    ({"capacity": {"preferred_node": "sometimes"}}, "scenario.capacity.preferred_node"),
    ({"capacity": {"disk": 1}}, "unknown field 'disk'"),
    ({"nodes": [{"name": "n", "cores": -1}]}, "scenario.nodes[0].cores"),
    ({"nodes": [{"name": "n", "running": "yes"}]}, "scenario.nodes[0].running"),
])
def test_bad_capacity_sections_are_400(sim, scenario, where):
    response = sim.api("POST", "/_sim/scenario", auth=None, json=scenario)
    assert response.status_code == 400 and where in response.json()["err"], response.text


def test_the_schema_accepts_a_capacity_scenario():
    jsonschema.validate({"capacity": {"ram": 8 * GB, "cores": 4, "ram_reserve": GB, "core_overcommit": 2, "preferred_node": "strict"},
                         "nodes": [{"name": "n1", "ram": 16 * GB, "running": True, "maintenance": False}],
                         "vms": [{"name": "a", "port": {"host": "127.0.0.2", "port": 0}}]}, scenario_schema())
