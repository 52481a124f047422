"""The snapshots room (snapshots.py), in this process: snapshot rows and VMs, late visibility, expiry."""

import pytest

from room_helpers import NOW, world_of
from wire import ApiError

WORLD = {"vms": [{"name": "web", "key": 1, "power": "running", "guest_agent": True}, {"name": "plain", "key": 2}]}


def _machine(world, vm_key):
    return world.tables["vms"][vm_key]["machine"]


def test_a_snapshot_adds_its_row_and_a_snapshot_vm():
    world = world_of(dict(WORLD, snapshots=[{"vm": "web", "name": "nightly", "expires": 0}]))
    (row,) = world.tables["machine_snapshots"].values()
    assert (row["$key"], row["name"], row["expires_type"], row["machine"]) == (800, "nightly", "never", _machine(world, 1))
    snap_vm = next(vm for vm in world.tables["vms"].values() if vm["is_snapshot"])
    assert snap_vm["name"] == "nightly" and snap_vm["machine"] == row["snap_machine"]
    world.snapshots.delete(800)
    assert world.tables["machine_snapshots"] == {} and not any(vm["is_snapshot"] for vm in world.tables["vms"].values())
    assert row["snap_machine"] not in world.machines


@pytest.mark.parametrize("body, code", [
    ({"name": "x"}, 422),  # no machine
    ({"machine": 999, "name": "x"}, 404),
    ({"machine": 1, "name": "x"}, 404),  # a VM key is not a machine key
    ({"machine": "web"}, 422),
    ({"machine": "web", "name": ""}, 422),
    ({"machine": "web", "name": "x", "expires": -1}, 422),
    ({"machine": "plain", "name": "x", "quiesce": True}, 422),  # no agent answering
    ({"machine": "snap", "name": "x"}, 422),  # a snapshot of a snapshot
])
def test_a_bad_snapshot_request_is_refused(body, code):
    world = world_of(dict(WORLD, snapshots=[{"vm": "web", "name": "snap"}]))
    machines = {vm["name"]: vm["machine"] for vm in world.tables["vms"].values()}
    body = dict(body, machine=machines.get(body.get("machine"), body.get("machine")))
    with pytest.raises(ApiError) as refused:
        world.snapshots.create(body, NOW)
    assert refused.value.code == code
    assert len(world.tables["machine_snapshots"]) == 1


def test_a_late_snapshot_is_readable_only_when_its_time_comes_and_can_be_deleted_before():
    world = world_of(dict(WORLD, switches={"snapshot_visible_after": 10}), speed=2)  # 5 s of world time
    first = world.snapshots.create({"machine": _machine(world, 1), "name": "a", "quiesce": True}, NOW)
    second = world.snapshots.create({"machine": _machine(world, 1), "name": "b"}, NOW)
    assert world.tables["machine_snapshots"] == {}
    world.snapshots.delete(second)  # before it was ever readable
    assert world.snapshots.advance(NOW + 4.9) is False
    version = world.version
    world.advance(NOW + 5)
    assert list(world.tables["machine_snapshots"]) == [first] and world.version == version + 1


def test_expired_snapshots_go_with_their_vms():
    world = world_of(WORLD)
    key = world.snapshots.create({"machine": _machine(world, 2), "name": "soon", "expires": int(NOW) + 60}, NOW)
    assert world.snapshots.create({"machine": _machine(world, 2), "name": "soon"}, NOW) != key  # a name in use is accepted
    world.advance(NOW + 59)
    assert key in world.tables["machine_snapshots"]
    world.advance(NOW + 60)
    assert key not in world.tables["machine_snapshots"] and len(world.tables["machine_snapshots"]) == 1  # 72 h default
