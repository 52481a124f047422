"""Conformance: the vendor's Python SDK (pyvergeos 1.7.1), unchanged, against the simulator.

Every call goes over HTTPS with certificate verification on, trusting only
the simulator's CA. State changes are observed the way the SDK reports them
(``vm.refresh()``, ``vm.machine_status.get()``), and cross-checked against
plain API reads that use no traversal.
"""

import re
import time

import certifi
import pytest

from pyvergeos.filters import Filter
from pyvergeos.exceptions import (
    APIError,
    AuthenticationError,
    NotFoundError,
    ValidationError,
    VergeConnectionError,
)

MISSING_KEY = 987654

# A small world of its own, for what the default world does not show: API keys
# (one read-only), a name with the filter grammar's reserved characters, and
# two VMs sharing a name.
ODD_NAME = "o'brien {db} \\ 1"
SMALL_WORLD = {
    "description": "conformance: api keys, odd and duplicate names",
    "api_keys": [{"key": "conformance-admin-key", "role": "admin"}, {"key": "conformance-readonly-key", "role": "readonly"}],
    "vms": [
        {"name": ODD_NAME, "power": "running"},
        {"name": "twin", "power": "stopped", "cpu_cores": 2},
        {"name": "twin", "power": "stopped", "cpu_cores": 4},
        {"name": "o'brien", "power": "stopped"},
    ],
}


def sdk_vm(client, raw_vm):
    """The SDK's view of a VM picked from the raw listing."""
    vm = client.vms.get(raw_vm["$key"])
    assert vm.key == raw_vm["$key"]
    return vm


def state(vm):
    """(running, status) as the SDK reports them after a refresh."""
    vm.refresh()
    return vm.is_running, vm.status


def logged(sim, method, suffix):
    """Requests in the simulator's log with this method whose path ends with ``suffix``."""
    return [r for r in sim.requests() if r.get("method") == method and str(r.get("path", "")).endswith(suffix)]


# --------------------------------------------------------------------------
# connect, authentication, TLS


def test_connect_basic_reads_system(client, raw):
    assert client.is_connected
    system = raw.get("system", fields="$key,yb_version,os_version,cloud_name")
    row = system[0] if isinstance(system, list) else system
    assert client.version == row["yb_version"]
    assert client.os_version == row["os_version"]
    assert client.cloud_name == row["cloud_name"]
    assert isinstance(client.version, str) and client.version


def test_connect_validates_with_the_system_call(sim, world, make_client):
    sim.clear_requests()
    make_client()
    calls = sim.requests()
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [("GET", "/api/v4/system", 200)]
    assert calls[0]["query"] == {"fields": "$key,yb_version,os_version,cloud_name"}


def test_bad_password_is_authentication_error(world, make_client):
    with pytest.raises(AuthenticationError) as err:
        make_client(password="not-the-password")
    assert err.value.status_code == 401
    assert isinstance(err.value.response_body, dict) and "err" in err.value.response_body


def test_connect_bearer_api_key(sim, world, make_client):
    sim.load(SMALL_WORLD)
    client = make_client(token="conformance-admin-key")
    assert client.is_connected
    assert sorted(vm.name for vm in client.vms.list()) == sorted(vm["name"] for vm in SMALL_WORLD["vms"])


def test_readonly_api_key_reads_but_cannot_act(sim, world, make_client):
    sim.load(SMALL_WORLD)
    client = make_client(token="conformance-readonly-key")
    vm = client.vms.get(name="o'brien")
    with pytest.raises(AuthenticationError) as err:
        vm.power_on()
    assert err.value.status_code == 403
    assert vm.refresh().is_running is False


def test_names_with_reserved_characters_and_duplicates(sim, world, make_client):
    sim.load(SMALL_WORLD)
    client = make_client()
    odd = client.vms.get(name=ODD_NAME)
    assert odd.name == ODD_NAME and odd.is_running
    assert [vm.name for vm in client.vms.list(name="o'brien")] == ["o'brien"]
    twins = client.vms.list(name="twin")
    assert len(twins) == 2 and len({vm.key for vm in twins}) == 2
    assert sorted(vm["cpu_cores"] for vm in twins) == [2, 4]
    assert sorted(vm.name for vm in client.vms.list(name="o'brien*")) == sorted(["o'brien", ODD_NAME])


def test_bad_bearer_token_is_authentication_error(world, make_client):
    with pytest.raises(AuthenticationError) as err:
        make_client(token="this-is-not-an-api-key")
    assert err.value.status_code == 401


def test_certificate_verification_is_on(sim, world, make_client, monkeypatch):
    # A bundle that does not hold the simulator's CA: the SDK, with its default
    # verify_ssl=True, must refuse the server certificate.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    with pytest.raises(VergeConnectionError) as err:
        make_client(retry_total=0)  # urllib3 would retry the handshake for 6 s
    assert "certificate" in str(err.value).lower() or "ssl" in str(err.value).lower()


# --------------------------------------------------------------------------
# listing and reading VMs


def test_list_vms_power_state_matches_machine_status(client, raw):
    expected = {vm["$key"]: vm for vm in raw.vms()}
    listed = client.vms.list()
    assert sorted(vm.key for vm in listed) == sorted(expected)
    states = set()
    for vm in listed:
        ref = expected[vm.key]
        assert vm.name == ref["name"]
        assert vm.machine_key == ref["machine"]
        assert vm.is_snapshot is False
        assert ref["ms"] is not None, "no machine_status row for machine %s" % ref["machine"]
        assert vm.is_running == bool(ref["ms"]["running"]), vm.name
        assert vm.status == ref["ms"]["status"], vm.name
        states.add(vm.is_running)
        if vm.is_running:
            assert vm.node_name, "a running VM reports its node"
        else:
            assert vm.node_name is None, "a stopped VM has no node"
        assert vm.cluster_name, "every VM belongs to a cluster"
    assert states == {True, False}, "the default world has running and stopped VMs"


def test_list_running_and_stopped_partition(client, raw):
    running = {vm.key for vm in client.vms.list_running()}
    stopped = {vm.key for vm in client.vms.list_stopped()}
    assert running and stopped
    assert not running & stopped
    assert running | stopped == {vm["$key"] for vm in raw.vms()}
    assert running == {vm["$key"] for vm in raw.vms() if vm["ms"]["running"]}


def test_get_by_name_and_by_key_agree(client, raw):
    ref = raw.vms()[0]
    by_name = client.vms.get(name=ref["name"])
    by_key = client.vms.get(ref["$key"])
    for vm in (by_name, by_key):
        assert vm.key == ref["$key"]
        assert vm.name == ref["name"]
        assert vm.machine_key == ref["machine"]
        assert vm["cpu_cores"] == ref["cpu_cores"]
        assert vm["ram"] == ref["ram"]
    assert by_name.is_running == by_key.is_running == bool(ref["ms"]["running"])


def test_projection_all_and_alias_names(client, raw):
    # 'all' is expanded by the SDK with its traversals; a bare alias name
    # ("running") is translated to the traversal it stands for.
    expected = {vm["$key"]: bool(vm["ms"]["running"]) for vm in raw.vms()}
    wide = client.vms.list(fields="all")
    assert {vm.key: vm.is_running for vm in wide} == expected
    assert all(vm.cluster_name for vm in wide)
    narrow = client.vms.list(fields=["$key", "name", "running"])
    assert {vm.key: vm.is_running for vm in narrow} == expected
    assert all(set(vm) == {"$key", "name", "running"} for vm in narrow)


def test_vm_tags_and_nics(client, raw):
    bulk = raw.get("tag_members", filter="member bw 'vms/'", fields="tag,member,tag#name as tag_name,tag#category#name as category_name")
    assert bulk
    nics = raw.get("machine_nics", fields="$key,machine,name,macaddress,ipaddress")
    for ref in raw.vms()[:4]:
        vm = sdk_vm(client, ref)
        want = sorted((m["tag"], m["tag_name"], m["category_name"]) for m in bulk if m["member"] == "vms/%d" % vm.key)
        got = sorted((t["tag_key"], t["tag_name"], t["category_name"]) for t in vm.get_tags())
        assert got == want, vm.name
        want = sorted((n["$key"], n["macaddress"], n["ipaddress"]) for n in nics if n["machine"] == vm.machine_key)
        assert want, "every VM of the default world has a NIC"
        assert sorted((n.key, n.mac_address, n.ip_address) for n in vm.nics.list()) == want
    assert any(m["member"] == "vms/%d" % ref["$key"] for ref in raw.vms()[:4] for m in bulk)


def test_get_missing_vm_is_not_found(client):
    with pytest.raises(NotFoundError) as err:
        client.vms.get(MISSING_KEY)
    assert err.value.status_code == 404
    with pytest.raises(NotFoundError):
        client.vms.get(name="no-such-vm-in-this-world")


def test_snapshot_rows_are_excluded_where_the_sdk_excludes_them(client, raw):
    snapshot_rows = raw.get("vms", filter="is_snapshot eq true", fields="$key,name,is_snapshot")
    assert snapshot_rows, "the default world has snapshot rows in vms"
    snap_keys = {row["$key"] for row in snapshot_rows}
    listed = {vm.key for vm in client.vms.list()}
    assert not listed & snap_keys
    everything = client.vms.list(include_snapshots=True)
    assert snap_keys <= {vm.key for vm in everything}
    assert {vm.key for vm in everything if vm.is_snapshot} == snap_keys
    # get-by-key does not filter: a snapshot row is readable and flagged
    snap = client.vms.get(sorted(snap_keys)[0])
    assert snap.is_snapshot is True
    # get-by-name does filter it out
    snap_name = snapshot_rows[0]["name"]
    if snap_name not in {vm["name"] for vm in raw.vms()}:
        with pytest.raises(NotFoundError):
            client.vms.get(name=snap_name)


# --------------------------------------------------------------------------
# filters and paging


def test_filter_by_exact_name(client, raw):
    ref = raw.vms()[-1]
    found = client.vms.list(name=ref["name"])
    assert [vm.key for vm in found] == [ref["$key"]]
    assert client.vms.list(name=ref["name"] + "-nope") == []


def test_filter_wildcard_begins_with(client, raw):
    names = [vm["name"] for vm in raw.vms()]
    prefix = names[0][:-1]
    found = client.vms.list(name=prefix + "*")
    expected = sorted(n for n in names if n.startswith(prefix))
    assert sorted(vm.name for vm in found) == expected
    assert 0 < len(expected) < len(names), "pick a prefix that splits the world"


def test_filter_regex_and_contains(client, raw):
    names = [vm["name"] for vm in raw.vms()]
    target = names[1]
    # rx is POSIX ERE with partial matching, here anchored on the whole name
    ere = "".join("\\" + ch if ch in ".[]()*+?{}|^$\\" else ch for ch in target)
    found = client.vms.list(filter=str(Filter().rx("name", "^%s$" % ere)))
    assert [vm.name for vm in found] == [target]
    loose = ere[:-1] + "[0-9]" if ere[-1].isdigit() else ere  # unanchored: a partial match
    found = client.vms.list(filter=str(Filter().rx("name", loose)))
    assert target in [vm.name for vm in found]
    assert sorted(vm.name for vm in found) == sorted(n for n in names if re.search(loose, n))
    fragment = target[1:-1].upper()
    assert fragment.lower() != fragment, "the fragment has letters, so case matters"
    found = client.vms.list(filter=str(Filter().ct("name", fragment)))
    assert target in [vm.name for vm in found]
    assert sorted(vm.name for vm in found) == sorted(n for n in names if fragment.lower() in n.lower())
    found = client.vms.list(filter=str(Filter().cs("name", fragment)))
    assert sorted(vm.name for vm in found) == sorted(n for n in names if fragment in n)


def test_filter_list_shorthand_becomes_or_chain(client, raw):
    refs = raw.vms()[:2]
    found = client.vms.list(name=[refs[0]["name"], refs[1]["name"]])
    assert sorted(vm.key for vm in found) == sorted(r["$key"] for r in refs)


def test_paging_limit_offset(client):
    everything = client.vms.list()
    assert len(everything) >= 6
    keys = [vm.key for vm in everything]
    assert [vm.key for vm in client.vms.list(limit=3, offset=2)] == keys[2:5]
    assert [vm.key for vm in client.vms.list(limit=2)] == keys[:2]
    assert [vm.key for vm in client.vms.list(limit=0)] == keys
    assert client.vms.list(limit=5, offset=len(keys)) == []
    assert [vm.key for vm in client.vms.iter_all(page_size=3)] == keys


# --------------------------------------------------------------------------
# power actions, observed through the SDK


def test_power_on_stopped_vm(sim, client, raw, wait_until):
    vm = sdk_vm(client, raw.vm_where(running=False))
    assert state(vm) == (False, "stopped")
    sim.clear_requests()
    assert vm.power_on() is vm
    posts = logged(sim, "POST", "/api/v4/vm_actions")
    assert len(posts) == 1 and posts[0]["status"] == 201
    assert wait_until(lambda: state(vm) == (True, "running")), state(vm)
    ms = vm.machine_status.get()
    assert ms.is_running and ms.powerstate and ms.state_raw == "online"
    assert ms.node_key is not None and ms.node_name


def test_power_off_graceful(client, raw, wait_until):
    vm = sdk_vm(client, raw.vm_where(running=True))
    assert state(vm) == (True, "running")
    vm.power_off()
    # the action is asynchronous: a graceful shutdown takes 60 s or more on a
    # real system (0.6 s at speed 100), so right after the 201 the VM still runs
    running, status = state(vm)
    assert running is True and status in ("running", "stopping")
    assert wait_until(lambda: state(vm) == (False, "stopped")), state(vm)
    ms = vm.machine_status.get()
    assert not ms.is_running and ms.status_raw == "stopped" and ms.state_raw == "offline"
    assert ms.node_key is None


def test_guest_shutdown_is_poweroff(client, raw, wait_until):
    vm = sdk_vm(client, raw.vm_where(running=True))
    vm.guest_shutdown()
    assert wait_until(lambda: state(vm) == (False, "stopped")), state(vm)


def test_kill(client, raw, wait_until):
    vm = sdk_vm(client, raw.vm_where(running=True))
    vm.power_off(force=True)
    assert wait_until(lambda: state(vm) == (False, "stopped"), timeout=5), state(vm)
    assert not vm.machine_status.get().is_running


def test_reset_keeps_vm_running(sim, client, raw, wait_until):
    vm = sdk_vm(client, raw.vm_where(running=True))
    before = vm.machine_status.get()
    sim.clear_requests()
    vm.reset()
    posts = logged(sim, "POST", "/api/v4/vm_actions")
    assert [p["status"] for p in posts] == [201]
    time.sleep(0.05)
    assert wait_until(lambda: state(vm) == (True, "running")), state(vm)
    after = vm.machine_status.get()
    assert after.is_running
    assert (after.get("started") or 0) >= (before.get("started") or 0)


def test_guest_reboot_keeps_vm_running(sim, client, raw, wait_until):
    vm = sdk_vm(client, raw.vm_where(running=True))
    sim.clear_requests()
    vm.guest_reboot()
    posts = logged(sim, "POST", "/api/v4/vm_actions")
    assert [p["status"] for p in posts] == [201]
    time.sleep(0.05)
    assert wait_until(lambda: state(vm) == (True, "running")), state(vm)
    assert vm.machine_status.get().is_running


def test_power_cycle_round_trip(client, raw, wait_until):
    vm = sdk_vm(client, raw.vm_where(running=False))
    vm.power_on()
    assert wait_until(lambda: state(vm) == (True, "running"))
    started = vm.machine_status.get().started_at
    assert started is not None
    vm.power_off(force=True)
    assert wait_until(lambda: state(vm) == (False, "stopped"))
    # the listing agrees with the per-VM view
    assert vm.key in {v.key for v in client.vms.list_stopped()}


def test_unknown_action_is_validation_error(client, raw):
    ref = raw.vms()[0]
    with pytest.raises(ValidationError) as err:
        client._request("POST", "vm_actions", json_data={"vm": ref["$key"], "action": "bogus"})
    assert err.value.status_code == 422
    assert "not in list" in str(err.value)


def test_action_on_missing_vm_is_an_api_error(client):
    with pytest.raises(APIError) as err:
        client._request("POST", "vm_actions", json_data={"vm": MISSING_KEY, "action": "poweron"})
    assert err.value.status_code in (404, 422)


def test_unknown_table_is_not_found(client):
    with pytest.raises(NotFoundError):
        client._request("GET", "no_such_table")


# --------------------------------------------------------------------------
# machine_status


@pytest.mark.parametrize("running", [True, False])
def test_machine_status_through_the_sdk(client, raw, running):
    ref = raw.vm_where(running=running)
    vm = sdk_vm(client, ref)
    ms = vm.machine_status.get()
    assert ms.machine_key == vm.machine_key == ref["machine"]
    assert ms.key == ref["ms"]["$key"]
    assert ms.key != vm.key, "the status key is not the VM key"
    assert ms.is_running is running and ms.powerstate is running
    assert ms.status_raw == vm.status == ("running" if running else "stopped")
    assert ms.state_raw == ("online" if running else "offline")
    assert isinstance(ms.agent_guest_info, dict)
    assert isinstance(ms.running_cores, int) and isinstance(ms.running_ram_mb, int)
    if running:
        assert ms.node_key is not None and ms.node_name == vm.node_name
        assert ms.started_at is not None
    # the row read by key is the same machine's
    row = raw.get("machine_status/%s" % ms.key, fields="$key,machine,running")
    assert row["machine"] == vm.machine_key and row["running"] is running


# --------------------------------------------------------------------------
# snapshots (machine_snapshots, owned by the VM's machine)


def test_snapshot_take_list_get_delete(client, raw):
    vm = sdk_vm(client, raw.vm_where(running=True))
    before = {s.key for s in vm.snapshots.list()}
    answer = vm.snapshots.create(name="conformance-snap", retention=0, description="before kill")
    made = [s for s in vm.snapshots.list() if s.key not in before]
    assert len(made) == 1, made
    snap = made[0]
    if isinstance(answer, dict) and "$key" in answer:
        assert int(answer["$key"]) == snap.key
    assert snap["name"] == "conformance-snap"
    assert snap["description"] == "before kill"
    assert snap.never_expires and snap.expires_at is None
    assert snap.is_manual and not snap.is_quiesced
    assert snap["machine"] == vm.machine_key
    assert snap.created_at is not None and abs(snap.created_at.timestamp() - time.time()) < 120
    assert vm.snapshots.get(snap.key)["name"] == "conformance-snap"
    assert vm.snapshots.get(name="conformance-snap").key == snap.key
    vm.snapshots.delete(snap.key)
    assert snap.key not in {s.key for s in vm.snapshots.list()}
    with pytest.raises(NotFoundError):
        vm.snapshots.get(snap.key)
    with pytest.raises(NotFoundError):
        vm.snapshots.delete(snap.key)


def test_snapshot_expiry_and_order(client, raw):
    vm = sdk_vm(client, raw.vm_where(running=False))
    vm.snapshots.create(name="conformance-a", retention=3600)
    time.sleep(1.1)
    vm.snapshots.create(name="conformance-b", retention=7200, quiesce=False)
    snaps = vm.snapshots.list()
    created = [s["created"] for s in snaps]
    assert created == sorted(created, reverse=True), "sort=-created: most recent first"
    by_name = {s["name"]: s for s in snaps}
    assert [s["name"] for s in snaps].index("conformance-b") < [s["name"] for s in snaps].index("conformance-a")
    for name, retention in (("conformance-a", 3600), ("conformance-b", 7200)):
        snap = by_name[name]
        assert not snap.never_expires
        assert abs(snap["expires"] - (time.time() + retention)) < 60
    assert [s.key for s in vm.snapshots.list(limit=1)] == [snaps[0].key]


def test_snapshot_of_another_vm_is_refused(client, raw):
    owner = sdk_vm(client, raw.vm_where(running=True))
    other = sdk_vm(client, raw.vm_where(running=False))
    owner.snapshots.create(name="conformance-owned", retention=0)
    snap = owner.snapshots.get(name="conformance-owned")
    assert snap.key not in {s.key for s in other.snapshots.list()}
    with pytest.raises(NotFoundError):
        other.snapshots.get(snap.key)
    with pytest.raises(NotFoundError):
        other.snapshots.delete(snap.key)
    assert owner.snapshots.get(snap.key).key == snap.key


# --------------------------------------------------------------------------
# everything the SDK sent was understood


def test_sdk_queries_arrive_verbatim(sim, client):
    # the simulator decodes requests' form encoding (+, %23, %24, %27) back to
    # exactly what the SDK meant; see the request log
    sim.clear_requests()
    client.vms.list(filter="name eq 'vm 1#$'", limit=1)
    calls = logged(sim, "GET", "/api/v4/vms")
    assert len(calls) == 1
    query = calls[0]["query"]
    assert query["filter"] == "(name eq 'vm 1#$') and is_snapshot eq false"
    assert query["fields"].startswith("$key,name,") and "machine#status#running as running" in query["fields"].split(",")
    assert str(query["limit"]) == "1"
    assert calls[0]["status"] == 200


def test_sdk_session_answers_no_server_errors(sim, client, raw):
    sim.clear_requests()
    vm = client.vms.get(name=raw.vms()[0]["name"])
    client.vms.list(limit=2, offset=1)
    vm.machine_status.get()
    vm.snapshots.list()
    vm.refresh()
    calls = sim.requests()
    assert len(calls) >= 5
    bad = [(c["method"], c["path"], c["status"]) for c in calls if c["status"] >= 400]
    assert not bad
