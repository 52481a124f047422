"""The world (world.py), in this process: the rooms it composes share the rows, and its clock and version."""

from room_helpers import NOW, world_of


def test_the_rooms_share_one_set_of_rows():
    world = world_of({"vms": [{"name": "a"}], "tag_categories": [{"name": "c"}]})
    assert world.tables is world.store.rows is world.fleet.rows is world.tags.rows is world.snapshots.rows
    assert world.machines is world.store.machines is world.fleet.machines
    assert world.power is world.fleet.power and world.capacity is world.fleet.capacity
    assert world.store.counts()["vms"] == 1 and world.store.counts()["tag_categories"] == 1


def test_the_clock_never_goes_back():
    world = world_of({"vms": [{"name": "a"}]})
    assert world.tick(NOW + 5) == NOW + 5
    assert world.tick(NOW + 1) == NOW + 5  # a request handled later is never handled earlier


def test_advance_counts_a_change_only_when_something_fell_due():
    world = world_of({"timings": {"boot": 10}, "vms": [{"name": "a", "key": 1}]})
    world.advance(NOW + 1)
    version = world.version
    world.fleet.vm_action({"vm": 1, "action": "poweron"}, NOW + 1)
    world.advance(NOW + 5)
    assert world.version == version  # the boot is not due yet
    world.advance(NOW + 11)
    assert world.version == version + 1 and world.fleet.machine_of_vm(1).row["status"] == "running"


def test_an_old_system_refuses_the_newer_operators():
    assert world_of({"system": {"yb_version": "4.13.1"}}).store.old_filter_grammar is True
    assert world_of({}).store.old_filter_grammar is False
