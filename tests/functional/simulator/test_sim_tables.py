"""Tables of the default world: shapes, references, key ranges, errors."""

import pytest

from sim_helpers import ok_json, rows

TABLES = ("system", "vms", "machines", "machine_status", "machine_nics", "machine_snapshots", "clusters", "nodes",
          "tags", "tag_categories", "tag_members")
VM_COLUMNS = {"$key", "name", "description", "enabled", "cpu_cores", "ram", "os_family", "guest_agent", "uefi",
              "machine_type", "created", "modified", "is_snapshot", "uuid", "machine", "running"}
STATUS_COLUMNS = {"$key", "machine", "running", "powerstate", "status", "status_info", "state", "node", "migrated_node",
                  "migration_destination", "started", "local_time", "last_update", "running_cores", "running_ram",
                  "migratable", "agent_version", "agent_features", "agent_guest_info"}
SNAPSHOT_COLUMNS = {"$key", "name", "description", "created", "expires", "expires_type", "quiesced", "created_manually",
                    "machine", "snap_machine", "snapshot_period"}


@pytest.mark.parametrize("table", TABLES)
def test_every_table_lists_and_gets_one_row(world, table):
    listed = rows(world, table)
    assert listed and all("$key" in row for row in listed)
    single = ok_json(world.api("GET", "/api/v4/%s/%s" % (table, listed[0]["$key"])))
    assert single == listed[0]


def test_answers_are_json_with_content_length(world):
    response = world.api("GET", "/api/v4/vms")
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content)


@pytest.mark.parametrize("table, columns", [("vms", VM_COLUMNS), ("machine_status", STATUS_COLUMNS),
                                            ("machine_snapshots", SNAPSHOT_COLUMNS)])
def test_documented_columns(world, table, columns):
    assert columns <= set(rows(world, table, fields="all")[0])


def test_missing_row_unknown_table_and_unknown_paths_are_404(world):
    for path in ("/api/v4/vms/999999", "/api/v4/vms/abc", "/api/v4/nosuchtable", "/api/v4/vms/1/extra", "/api/v5/vms", "/elsewhere"):
        response = world.api("GET", path)
        assert response.status_code == 404, path
        assert response.json()["err"]


def test_unsupported_methods_are_405(world):
    assert world.api("POST", "/api/v4/vms", json={"name": "x"}).status_code == 405
    assert world.api("DELETE", "/api/v4/vms/1").status_code == 405
    assert world.api("PUT", "/api/v4/machine_status", json={}).status_code == 405


def test_default_world_shape(world):
    vms = rows(world, "vms", filter="is_snapshot eq false", fields="name,machine#status#running as running,guest_agent")
    assert len(vms) == 10
    assert len({vm["name"] for vm in vms}) == 10 and vms[0]["name"] == "vm-001"
    assert {vm["running"] for vm in vms} == {True, False}
    assert {vm["guest_agent"] for vm in vms} == {True, False}
    assert len(rows(world, "clusters")) == 1 and 2 <= len(rows(world, "nodes")) <= 3
    assert len(rows(world, "tag_categories")) >= 2
    assert 0 < len(rows(world, "tag_members")) < 10
    assert len(rows(world, "vms", filter="is_snapshot eq true")) >= 1


def test_key_ranges_differ(world):
    for vm in rows(world, "vms", fields="$key,machine,machine#status as status_key"):
        assert len({vm["$key"], vm["machine"], vm["status_key"]}) == 3
    vm_keys = {vm["$key"] for vm in rows(world, "vms")}
    assert not vm_keys & {row["$key"] for row in rows(world, "machines")}
    assert not vm_keys & {row["$key"] for row in rows(world, "machine_status")}
    assert not vm_keys & {row["$key"] for row in rows(world, "machine_snapshots")}


def test_references_agree(world):
    machines = {row["$key"]: row for row in rows(world, "machines")}
    statuses = {row["$key"]: row for row in rows(world, "machine_status")}
    nodes = {row["$key"]: row for row in rows(world, "nodes")}
    clusters = {row["$key"] for row in rows(world, "clusters")}
    for vm in rows(world, "vms"):
        machine = machines[vm["machine"]]
        status = statuses[machine["status"]]
        assert status["machine"] == machine["$key"] and machine["cluster"] in clusters
        assert status["node"] is None or status["node"] in nodes
    assert all(node["cluster"] in clusters for node in nodes.values())


def test_snapshot_rows_have_machines_and_never_run(world):
    snapshots = rows(world, "vms", filter="is_snapshot eq true", fields="$key,machine,machine#status#running as running")
    assert snapshots and all(row["machine"] and row["running"] is False for row in snapshots)
    taken = rows(world, "machine_snapshots")
    assert {row["snap_machine"] for row in taken} == {row["machine"] for row in snapshots}


def test_nics_and_tags(world):
    nics = rows(world, "machine_nics", fields="machine,name,macaddress,ipaddress")
    machines = {vm["machine"] for vm in rows(world, "vms", filter="is_snapshot eq false", fields="machine")}
    assert {nic["machine"] for nic in nics} == machines
    assert len({nic["macaddress"] for nic in nics}) == len(nics) and all(nic["ipaddress"] for nic in nics)
    vm_keys = {vm["$key"] for vm in rows(world, "vms")}
    categories = {row["$key"] for row in rows(world, "tag_categories")}
    tags = {row["$key"]: row for row in rows(world, "tags")}
    assert all(tag["category"] in categories for tag in tags.values())
    for member in rows(world, "tag_members"):
        kind, _slash, key = member["member"].partition("/")
        assert kind == "vms" and int(key) in vm_keys and member["tag"] in tags


def test_system_row(world):
    system = ok_json(world.api("GET", "/api/v4/system/1", params={"fields": "$key,yb_version,os_version,cloud_name"}))
    assert set(system) == {"$key", "yb_version", "os_version", "cloud_name"}


def test_generated_world_is_deterministic(world):
    first = rows(world, "vms", fields="all")
    world.reset()
    assert rows(world, "vms", fields="all") == first
