"""machine_snapshots: create, list, expire, delete."""

import time

import pytest

from sim_helpers import ok_json, rows, wait_for

WORLD = {
    "vms": [{"key": 1, "name": "db01", "power": "running", "guest_agent": True},
            {"key": 2, "name": "app01", "power": "running"},
            {"key": 3, "name": "web01"}],
}
FIELDS = "$key,name,description,created,expires,expires_type,quiesced,created_manually,machine,snap_machine,snapshot_period"


@pytest.fixture
def sw(sim):
    sim.load(WORLD)
    return sim


def _machine(sim, vm_key):
    return ok_json(sim.api("GET", "/api/v4/vms/%d" % vm_key, params={"fields": "machine"}))["machine"]


def _create(sim, **body):
    return sim.api("POST", "/api/v4/machine_snapshots", json=body)


def test_create_list_and_delete(sw):
    machine = _machine(sw, 1)
    response = _create(sw, machine=machine, name="before-kill", created_manually=True, quiesce=False, expires=0, description="d")
    assert response.status_code == 201
    key = int(response.json()["$key"])  # a numeric string in the receipt (recorded), a number in rows
    assert response.json()["$key"] == str(key) and key != machine and response.json()["location"].endswith("/machine_snapshots/%d" % key)
    listed = rows(sw, "machine_snapshots", filter="machine eq %d" % machine, fields=FIELDS, sort="-created")
    assert [(row["$key"], row["name"], row["description"], row["expires"], row["expires_type"]) for row in listed] == [
        (key, "before-kill", "d", 0, "never")]
    assert listed[0]["created"] >= int(time.time()) - 5 and listed[0]["created_manually"] is True
    snap_vm = rows(sw, "vms", filter="machine eq %d" % listed[0]["snap_machine"], fields="is_snapshot,machine#status#running as running")
    assert snap_vm == [{"is_snapshot": True, "running": False}]
    assert sw.api("DELETE", "/api/v4/machine_snapshots/%d" % key).status_code == 200
    assert rows(sw, "machine_snapshots", filter="machine eq %d" % machine) == []
    assert rows(sw, "vms", filter="is_snapshot eq true") == []
    assert sw.api("DELETE", "/api/v4/machine_snapshots/%d" % key).status_code == 404


def test_vm_key_is_not_a_machine_key(sw):
    assert _create(sw, machine=1, name="wrong key", expires=0).status_code == 404


def test_expiry_is_respected(sw):
    machine = _machine(sw, 2)
    # Whole seconds: +3 leaves at least two seconds to list it before it expires, on a loaded machine too.
    _create(sw, machine=machine, name="short", expires=int(time.time()) + 3)
    _create(sw, machine=machine, name="keep", expires=0)
    listed = rows(sw, "machine_snapshots", filter="machine eq %d" % machine, fields="name,expires_type")
    assert sorted(row["name"] for row in listed) == ["keep", "short"]
    assert {row["expires_type"] for row in listed} == {"date", "never"}
    remaining = wait_for(lambda: rows(sw, "machine_snapshots", filter="machine eq %d" % machine, fields="name"),
                         lambda found: len(found) == 1, timeout=8, interval=0.1)
    assert remaining == [{"name": "keep"}]


def test_without_expires_the_platform_default_applies(sw):
    key = _create(sw, machine=_machine(sw, 3), name="default").json()["$key"]
    expires = ok_json(sw.api("GET", "/api/v4/machine_snapshots/%s" % key, params={"fields": "expires"}))["expires"]
    assert 71 * 3600 < expires - time.time() <= 72 * 3600


def test_quiesce_needs_a_running_agent(sw):
    assert _create(sw, machine=_machine(sw, 1), name="q", quiesce=True, expires=0).status_code == 201
    for vm_key in (2, 3):
        response = _create(sw, machine=_machine(sw, vm_key), name="q", quiesce=True, expires=0)
        assert response.status_code == 422 and response.json()["err"]


@pytest.mark.parametrize("body", [{"name": "x"}, {"machine": "abc", "name": "x"}, {"machine": None, "name": "x"}])
def test_create_needs_a_machine(sw, body):
    assert _create(sw, **body).status_code == 422


@pytest.mark.parametrize("extra", [{}, {"name": ""}, {"name": "x", "expires": "soon"}, {"name": "x", "expires": -1}])
def test_create_validates_name_and_expires(sw, extra):
    response = _create(sw, machine=_machine(sw, 1), **extra)
    assert response.status_code == 422 and response.json()["err"]


def test_a_snapshot_cannot_be_snapshotted_or_powered(sw):
    key = _create(sw, machine=_machine(sw, 1), name="s", expires=0).json()["$key"]
    snap_machine = ok_json(sw.api("GET", "/api/v4/machine_snapshots/%s" % key))["snap_machine"]
    assert _create(sw, machine=snap_machine, name="s2", expires=0).status_code == 422
    snap_vm = rows(sw, "vms", filter="is_snapshot eq true", fields="$key")[0]["$key"]
    assert sw.api("POST", "/api/v4/vm_actions", json={"vm": snap_vm, "action": "poweron"}).status_code == 422
