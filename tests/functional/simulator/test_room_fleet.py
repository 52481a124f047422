"""The fleet room (fleet.py), in this process: clusters, nodes, VMs and machines, placement, power actions, status writes."""

import pytest

import power
from room_helpers import NOW, world_of
from wire import ApiError

WORLD = {"nodes": [{"name": "n1"}, {"name": "n2"}, {"name": "down", "running": False}],
         "vms": [{"name": "web", "key": 1, "power": "running", "guest_agent": True, "port": {"host": "127.0.0.9"}},
                 {"name": "db", "key": 2, "nics": [{}, {"ipaddress": "192.0.2.5"}]},
                 {"name": "old", "key": 3, "guest": {"after_restart": "unhealthy"}}]}


def _refusal(call):
    with pytest.raises(ApiError) as refused:
        call()
    return refused.value.code, refused.value.message


def test_every_vm_has_its_rows_with_keys_that_differ():
    world = world_of(WORLD)
    for vm in world.tables["vms"].values():
        machine = world.machines[vm["machine"]]
        assert len({vm["$key"], machine.key, machine.row["$key"]}) == 3
        assert world.tables["machines"][machine.key]["status"] == machine.row["$key"]
    web = world.fleet.machine_of_vm("1")
    assert [nic["ipaddress"] for nic in web.nics] == ["127.0.0.9"]  # where its port listens
    assert [machine.vm["name"] for machine, _port in world.fleet.port_entries] == ["web"]
    assert [nic["ipaddress"] for nic in world.fleet.machine_of_vm(2).nics][1] == "192.0.2.5"
    assert power.is_up(web) and web.has_run and not world.fleet.machine_of_vm(2).has_run


def test_starts_go_round_the_running_nodes():
    world = world_of(WORLD)
    nodes = []
    for key in (2, 3):
        world.fleet.vm_action({"vm": key, "action": "poweron"}, NOW)
        nodes.append(world.fleet.machine_of_vm(key).row["node"])
    names = [world.tables["nodes"][node]["name"] for node in nodes]
    assert sorted(names) == ["n1", "n2"]  # never the node that is down
    assert world.fleet.pick_node(world.fleet.machine_of_vm(2), 3) == 3  # a preferred node exists: taken (no capacity model)


@pytest.mark.parametrize("body, code", [
    ({"vm": 1}, 422), ({"vm": 1, "action": "dance"}, 422), ({"vm": 1, "action": "reset", "params": "x"}, 422),
    ({"action": "kill"}, 422), ({"vm": "x", "action": "kill"}, 422), ({"vm": 99, "action": "kill"}, 404),
    ({"vm": 2, "action": "reset"}, 422), ({"vm": 1, "action": "guestreset"}, 422),
])
def test_bad_power_actions_are_refused(body, code):
    world = world_of(WORLD)
    assert _refusal(lambda: world.fleet.vm_action(body, NOW))[0] == code


def test_a_power_cycle_is_a_restart_a_first_start_is_not():
    world = world_of(WORLD)
    old = world.fleet.machine_of_vm(3)
    world.fleet.vm_action({"vm": 3, "action": "poweron"}, NOW)
    assert (old.restarts, old.condition) == (0, "healthy")
    world.advance(NOW + 100)
    world.fleet.vm_action({"vm": 3, "action": "kill"}, NOW + 100)
    world.advance(NOW + 200)
    world.fleet.vm_action({"vm": 3, "action": "poweron"}, NOW + 200)
    assert (old.restarts, old.condition) == (1, "unhealthy")
    world.advance(NOW + 300)
    assert power.is_up(old) and power.health_answer(old) == 503


def test_a_status_write_tells_the_platform_what_is():
    world = world_of(WORLD)
    web = world.fleet.machine_of_vm(1)
    world.fleet.write_status(web.row["$key"], {"running": False, "status": "stopped", "state": "offline"}, NOW)
    assert (web.row["running"], web.row["node"], web.restarts) == (False, None, 0)
    assert _refusal(lambda: world.fleet.write_status(1, {"running": False}, NOW))[0] == 404  # a VM key is no status key


def test_a_removed_vm_takes_its_rows_and_its_pending_transition():
    world = world_of(WORLD)
    web = world.fleet.machine_of_vm(1)
    world.fleet.vm_action({"vm": 1, "action": "poweroff"}, NOW)
    assert web.pending is not None
    world.fleet.remove_vm(web.key)
    assert web.pending is None and 1 not in world.tables["vms"] and web.key not in world.tables["machines"]
