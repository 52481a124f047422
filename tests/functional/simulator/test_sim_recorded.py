"""The defaults recorded from real systems (vergeos-api.md, "Recorded from real systems"), each old behaviour a switch value.

Each default and each old value has its own test, asserted from the HTTP
answers and from the request log: duplicate names (`duplicate_name`), tagging
VMs in a category without `taggable_vms` (`taggable_vms`), a power-on without
resources (`no_resources`), receipt keys (`key_type`), stopped status rows
(`status_rows`), the recorded error wording, a guest with no OS, and the
session token as a cookie.
"""

import pytest

from sim_helpers import act, ok_json, rows, status_of, wait_for

IN_USE = {"err": "This name is already in use"}
NOT_PERMITTED = {"err": "Operation not permitted"}
NO_RESOURCES = "Insufficient cluster resources to start VM"

TAG_WORLD = {
    "speed": 100,
    "users": [{"name": "admin", "password": "admin"}, {"name": "viewer", "password": "v", "role": "readonly"}],
    # `environment` tags a VM in the scenario, so it can tag VMs; `loose` tags none, so it cannot (as made without the flag).
    "tag_categories": [{"name": "environment", "key": 1}, {"name": "loose", "key": 2}],
    "tags": [{"name": "production", "category": "environment", "key": 1}, {"name": "spare", "category": "loose", "key": 2}],
    "vms": [{"name": "web01", "key": 1, "tags": ["production"]}, {"name": "db01", "key": 2}],
}


def _tags(sim, **switches):
    sim.load(dict(TAG_WORLD, switches=switches))
    sim.clear_requests()


def _post(sim, table, body, auth=("admin", "admin")):
    return sim.api("POST", "/api/v4/" + table, json=body, auth=auth)


def _logged(sim, method, table):
    """Return (status, body) of the logged requests of one method on one table, in order."""
    return [(entry["status"], entry["body"]) for entry in sim.requests()
            if entry["method"] == method and entry["path"].startswith("/api/v4/" + table)]


# ---------------------------------------------------------------- duplicate_name


DUPLICATES = [
    ("tag_categories", {"name": "environment"}, "a tag category named environment exists"),
    ("tags", {"name": "production", "category": 1}, "a tag named production exists in that category"),
    ("tag_members", {"tag": 1, "member": "vms/1"}, "vms/1 already carries that tag"),
]


@pytest.mark.parametrize("table, body, _old", DUPLICATES, ids=[case[0] for case in DUPLICATES])
def test_duplicate_name_default_is_422_this_name_is_already_in_use(sim, table, body, _old):
    _tags(sim)
    before = rows(sim, table, fields="$key")
    response = _post(sim, table, body)
    assert (response.status_code, response.json()) == (422, IN_USE)
    assert rows(sim, table, fields="$key") == before  # nothing created
    assert _logged(sim, "POST", table) == [(422, body)]


@pytest.mark.parametrize("table, body, old", DUPLICATES, ids=[case[0] for case in DUPLICATES])
def test_duplicate_name_409_is_the_old_answer_with_its_old_words(sim, table, body, old):
    _tags(sim, duplicate_name=409)
    response = _post(sim, table, body)
    assert (response.status_code, response.json()) == (409, {"err": old})
    assert _logged(sim, "POST", table) == [(409, body)]


def test_a_name_is_in_use_only_within_its_scope(sim):
    _tags(sim)
    # The same tag name in another category, and another tag on the same VM, are not duplicates.
    assert ok_json(_post(sim, "tags", {"name": "production", "category": 2}), 201)
    assert ok_json(_post(sim, "tags", {"name": "staging", "category": 1}), 201)
    staging = rows(sim, "tags", filter="name eq 'staging'", fields="$key")[0]["$key"]
    assert ok_json(_post(sim, "tag_members", {"tag": staging, "member": "vms/1"}), 201)
    assert [status for status, _body in _logged(sim, "POST", "tags")] == [201, 201]


def test_snapshots_keep_accepting_a_name_in_use(sim):
    _tags(sim)
    machine = rows(sim, "vms", filter="$key eq 1", fields="machine")[0]["machine"]
    first = ok_json(_post(sim, "machine_snapshots", {"machine": machine, "name": "before-maintenance"}), 201)
    second = ok_json(_post(sim, "machine_snapshots", {"machine": machine, "name": "before-maintenance"}), 201)
    assert first["$key"] != second["$key"]
    assert len(rows(sim, "machine_snapshots", filter="name eq 'before-maintenance'", fields="$key")) == 2


# ---------------------------------------------------------------- taggable_vms


def test_taggable_vms_enforced_refuses_a_vm_in_a_category_without_it(sim):
    _tags(sim)
    categories = {row["name"]: row for row in rows(sim, "tag_categories", fields="name,taggable_vms,single_tag_selection")}
    assert categories["environment"]["taggable_vms"] is True and categories["loose"]["taggable_vms"] is False
    response = _post(sim, "tag_members", {"tag": 2, "member": "vms/2"})
    assert (response.status_code, response.json()) == (422, NOT_PERMITTED)
    assert rows(sim, "tag_members", filter="tag eq 2", fields="$key") == []
    assert ok_json(_post(sim, "tag_members", {"tag": 1, "member": "vms/2"}), 201)  # a category that may: accepted
    assert [status for status, _body in _logged(sim, "POST", "tag_members")] == [422, 201]


def test_taggable_vms_ignored_is_the_old_behaviour(sim):
    _tags(sim, taggable_vms="ignored")
    assert ok_json(_post(sim, "tag_members", {"tag": 2, "member": "vms/2"}), 201)
    assert [row["member"] for row in rows(sim, "tag_members", filter="tag eq 2", fields="member")] == ["vms/2"]


def test_a_new_category_stores_its_flags_and_cannot_tag_vms_without_taggable_vms(sim):
    _tags(sim)
    plain = ok_json(_post(sim, "tag_categories", {"name": "plain"}), 201)["$key"]
    able = ok_json(_post(sim, "tag_categories", {"name": "able", "taggable_vms": True, "single_tag_selection": True}), 201)["$key"]
    found = {row["name"]: (row["taggable_vms"], row["single_tag_selection"])
             for row in rows(sim, "tag_categories", fields="name,taggable_vms,single_tag_selection")}
    assert (found["plain"], found["able"]) == ((False, False), (True, True))
    plain_tag = ok_json(_post(sim, "tags", {"name": "p", "category": plain}), 201)["$key"]
    able_tag = ok_json(_post(sim, "tags", {"name": "a", "category": able}), 201)["$key"]
    assert _post(sim, "tag_members", {"tag": plain_tag, "member": "vms/2"}).json() == NOT_PERMITTED
    assert _post(sim, "tag_members", {"tag": able_tag, "member": "vms/2"}).status_code == 201
    response = _post(sim, "tag_categories", {"name": "bad", "taggable_vms": "yes"})
    assert response.status_code == 422 and "taggable_vms" in response.json()["err"]


def test_put_tag_categories_repairs_a_category(sim):
    _tags(sim)
    assert _post(sim, "tag_members", {"tag": 2, "member": "vms/2"}).status_code == 422
    response = sim.api("PUT", "/api/v4/tag_categories/2", json={"taggable_vms": True, "description": "repaired"})
    assert (response.status_code, response.content) == (200, b"")
    row = rows(sim, "tag_categories", filter="$key eq 2", fields="name,description,taggable_vms")[0]
    assert row == {"name": "loose", "description": "repaired", "taggable_vms": True}
    assert _post(sim, "tag_members", {"tag": 2, "member": "vms/2"}).status_code == 201
    assert [status for status, _body in _logged(sim, "PUT", "tag_categories")] == [200]
    # Renamed to itself is no duplicate; to another category's name it is; a reader may not write; a missing key is 404.
    assert sim.api("PUT", "/api/v4/tag_categories/2", json={"name": "loose"}).status_code == 200
    assert (sim.api("PUT", "/api/v4/tag_categories/2", json={"name": "environment"}).json()) == IN_USE
    assert sim.api("PUT", "/api/v4/tag_categories/2", json={"taggable_vms": False}, auth=("viewer", "v")).status_code == 403
    missing = sim.api("PUT", "/api/v4/tag_categories/99", json={"taggable_vms": True})
    assert (missing.status_code, missing.json()) == (404, {"err": "Resource '/v4/tag_categories/99' not found during put"})
    assert sim.api("DELETE", "/api/v4/tag_categories/2").status_code == 405


def test_put_tag_categories_to_a_name_in_use_is_409_with_the_old_switch(sim):
    _tags(sim, duplicate_name=409)
    response = sim.api("PUT", "/api/v4/tag_categories/2", json={"name": "environment"})
    assert (response.status_code, response.json()) == (409, {"err": "a tag category named environment exists"})


def test_a_scenario_says_taggable_vms_per_category(sim):
    sim.load({"tag_categories": [{"name": "a", "taggable_vms": True}, {"name": "b", "taggable_vms": False}, {"name": "c"}],
              "tags": [{"name": "ta", "category": "a"}, {"name": "tb", "category": "b"}, {"name": "tc", "category": "c"}],
              "vms": [{"name": "v", "tags": ["tc"]}]})
    found = {row["name"]: row["taggable_vms"] for row in rows(sim, "tag_categories", fields="name,taggable_vms")}
    assert found == {"a": True, "b": False, "c": True}  # c: it tags a VM in the scenario
    contradiction = {"tag_categories": [{"name": "b", "taggable_vms": False}], "tags": [{"name": "tb", "category": "b"}],
                     "vms": [{"name": "v", "tags": ["tb"]}]}
    response = sim.api("POST", "/_sim/scenario", json=contradiction)
    assert response.status_code == 400 and "taggable_vms false" in response.json()["err"]


# ---------------------------------------------------------------- no_resources


def _info(sim, vm_key):
    """Return the status_info of a VM's machine_status row."""
    return rows(sim, "machine_status", filter="machine eq %s" % status_of(sim, vm_key)["machine"], fields="status_info")[0]["status_info"]


NO_ROOM = [{"key": 1, "name": "big", "guest": {"start": "no_resources"}}, {"key": 2, "name": "fine"}]


def test_no_resources_default_accepts_a_poweron_that_never_happens(sim):
    sim.load({"speed": 100, "timings": {"boot": 1}, "vms": NO_ROOM})
    sim.clear_requests()
    response = act(sim, 1, "poweron")
    assert (response.status_code, response.content) == (201, b"")
    assert act(sim, 2, "poweron").status_code == 201
    wait_for(lambda: status_of(sim, 2), lambda row: row["status"] == "running")  # a start that does happen, meanwhile
    row = rows(sim, "machine_status", filter="machine eq %s" % status_of(sim, 1)["machine"], fields="running,status,node,status_info")[0]
    assert row == {"running": False, "status": "stopped", "node": None, "status_info": NO_RESOURCES}
    assert act(sim, 1, "poweron").status_code == 201  # asked again: accepted again, still nothing
    assert status_of(sim, 1)["running"] is False
    assert [entry["status"] for entry in sim.requests() if entry["method"] == "POST"] == [201, 201, 201]


def test_no_resources_default_covers_a_vm_that_fits_on_no_node(sim):
    sim.load({"speed": 100, "capacity": {"ram": 4096}, "nodes": [{"name": "n1"}], "vms": [{"key": 1, "name": "huge", "ram": 8192}]})
    assert act(sim, 1, "poweron").status_code == 201
    row = status_of(sim, 1)
    assert (row["running"], row["status"], row["node"]) == (False, "stopped", None)
    assert ok_json(sim.api("GET", "/_sim/capacity", auth=None))["nodes"][0]["ram_used"] == 0


def test_no_resources_refuse_is_the_old_507(sim):
    sim.load({"speed": 100, "vms": NO_ROOM, "switches": {"no_resources": "refuse"}})
    sim.clear_requests()
    response = act(sim, 1, "poweron")
    assert (response.status_code, response.json()) == (507, {"err": NO_RESOURCES})
    assert _info(sim, 1) == ""  # refused: nothing changed
    assert [entry["status"] for entry in sim.requests() if entry["method"] == "POST"] == [507]


def test_no_resources_queue_stays_a_value(sim):
    sim.load({"speed": 100, "vms": NO_ROOM, "switches": {"no_resources": "queue"}})
    assert act(sim, 1, "poweron").status_code == 201
    assert status_of(sim, 1)["status"] == "waitingforresources"


# ---------------------------------------------------------------- key_type


def _receipts(sim):
    """Create a category, a tag, a member and a snapshot; return their receipts' `$key` values."""
    category = ok_json(_post(sim, "tag_categories", {"name": "made", "taggable_vms": True}), 201)
    tag = ok_json(_post(sim, "tags", {"name": "made", "category": category["$key"]}), 201)
    member = ok_json(_post(sim, "tag_members", {"tag": tag["$key"], "member": "vms/2"}), 201)
    machine = rows(sim, "vms", filter="$key eq 2", fields="machine")[0]["machine"]
    snapshot = ok_json(_post(sim, "machine_snapshots", {"machine": machine, "name": "s"}), 201)
    return [receipt["$key"] for receipt in (category, tag, member, snapshot)], [receipt["$row"] for receipt in (category, tag, member, snapshot)]


def test_key_type_default_receipts_carry_string_keys_and_rows_numbers(sim):
    _tags(sim)
    keys, row_numbers = _receipts(sim)
    assert all(isinstance(key, str) and key.isdigit() for key in keys), keys
    assert all(isinstance(number, int) for number in row_numbers)
    for table, key in zip(("tag_categories", "tags", "tag_members", "machine_snapshots"), keys, strict=True):
        row = ok_json(sim.api("GET", "/api/v4/%s/%s" % (table, key)))  # the string key reads its row back
        assert row["$key"] == int(key)
    member = rows(sim, "tag_members", filter="$key eq %s" % keys[2], fields="$key,tag")[0]
    assert member == {"$key": int(keys[2]), "tag": int(keys[1])}
    login = ok_json(sim.api("POST", "/api/sys/tokens", json={"login": "admin", "password": "admin"}, auth=None), 201)
    assert isinstance(login["$key"], str)
    assert [entry["status"] for entry in sim.requests() if entry["method"] == "POST"] == [201] * 5


def test_key_type_int_is_the_old_numbers_in_receipts(sim):
    _tags(sim, key_type="int")
    keys, _rows = _receipts(sim)
    assert all(isinstance(key, int) and not isinstance(key, bool) for key in keys), keys


# ---------------------------------------------------------------- status_rows

STATUS_VMS = [
    {"key": 1, "name": "agent", "power": "running", "guest_agent": True, "cpu_cores": 2, "ram": 2048},
    {"key": 2, "name": "bare", "power": "running", "cpu_cores": 3, "ram": 3072},
    {"key": 3, "name": "off", "cpu_cores": 4, "ram": 4096},
]


def _status_rows(sim, **switches):
    sim.load({"speed": 100, "timings": {"shutdown": 1, "kill": 1}, "vms": STATUS_VMS, "switches": switches})


def test_status_rows_recorded_keep_the_last_run_and_show_lists(sim):
    _status_rows(sim)
    running = status_of(sim, 1)
    assert act(sim, 1, "poweroff").status_code == 201
    stopped = wait_for(lambda: status_of(sim, 1), lambda row: row["status"] == "stopped")
    assert (stopped["running"], stopped["node"]) == (False, None)
    assert (stopped["started"], stopped["running_cores"], stopped["running_ram"]) == (running["started"], 2, 2048)
    extra = rows(sim, "machine_status", filter="machine eq %s" % stopped["machine"], fields="agent_features,agent_guest_info")[0]
    assert extra == {"agent_features": [], "agent_guest_info": []}
    bare = rows(sim, "machine_status", filter="machine eq %s" % status_of(sim, 2)["machine"], fields="running,agent_guest_info")[0]
    assert bare == {"running": True, "agent_guest_info": []}  # running, no agent: a list too
    off = status_of(sim, 3)  # stopped since the world was loaded: it shows a run before that
    assert (off["running"], off["running_cores"], off["running_ram"]) == (False, 4, 4096) and 0 < off["started"] < running["started"]


def test_a_running_guest_agent_reports_the_recorded_keys(sim):
    _status_rows(sim)
    info = status_of(sim, 1)["agent_guest_info"]
    assert isinstance(info, dict) and info["hostname"] == "agent" and isinstance(info["osinfo"], dict)
    nic = rows(sim, "machine_nics", filter="machine eq %s" % status_of(sim, 1)["machine"], fields="macaddress,ipaddress")[0]
    assert [(entry["hardware-address"], [address["ip-address"] for address in entry["ip-addresses"]]) for entry in info["network"]] == [
        (nic["macaddress"], [nic["ipaddress"]])]


def test_status_rows_cleared_is_the_old_zeroes_and_objects(sim):
    _status_rows(sim, status_rows="cleared")
    assert act(sim, 1, "kill").status_code == 201
    stopped = wait_for(lambda: status_of(sim, 1), lambda row: row["status"] == "stopped")
    assert (stopped["running_cores"], stopped["running_ram"], stopped["agent_guest_info"]) == (0, 0, {})
    assert status_of(sim, 2)["agent_guest_info"] == {}
    assert (status_of(sim, 3)["running_cores"], status_of(sim, 3)["running_ram"]) == (0, 0)


def test_capacity_counts_only_machines_that_are_on_whatever_stopped_rows_show(sim):
    sim.load({"speed": 100, "timings": {"shutdown": 1}, "capacity": {"ram": 4096}, "nodes": [{"name": "n1"}],
              "vms": [{"key": 1, "name": "a", "power": "running", "ram": 3072}, {"key": 2, "name": "b", "ram": 3072}]})
    assert act(sim, 2, "poweron").status_code == 201
    assert _info(sim, 2) == NO_RESOURCES  # no room while `a` runs
    assert act(sim, 1, "poweroff").status_code == 201
    wait_for(lambda: status_of(sim, 1), lambda row: row["status"] == "stopped")
    assert status_of(sim, 1)["running_ram"] == 3072  # the stopped row still shows its RAM ...
    assert ok_json(sim.api("GET", "/_sim/capacity", auth=None))["nodes"][0]["ram_used"] == 0  # ... and uses none
    assert act(sim, 2, "poweron").status_code == 201
    assert status_of(sim, 2)["running"] is True


# ---------------------------------------------------------------- error wording and the token cookie


def test_the_recorded_error_wording(sim):
    sim.load({"speed": 100, "vms": [{"key": 1, "name": "a"}]})
    for auth in (None, ("admin", "wrong"), ("nobody", "x")):
        response = sim.api("GET", "/api/v4/vms", auth=auth)
        assert (response.status_code, response.json()) == (401, {"err": "Login required"})
    for headers in ({"x-yottabyte-token": "nope"}, {"Authorization": "Bearer nope"}, {"Cookie": "token=nope"}):
        response = sim.api("GET", "/api/v4/vms", auth=None, headers=headers)
        assert (response.status_code, response.json()) == (401, {"err": "Login required"})
    for method, path, words in (
        ("GET", "/api/v4/vms/77", "Resource '/v4/vms/77' not found during get"),
        ("PUT", "/api/v4/machine_status/77", "Resource '/v4/machine_status/77' not found during put"),
        ("DELETE", "/api/v4/machine_snapshots/77", "Resource '/v4/machine_snapshots/77' not found during delete"),
        ("DELETE", "/api/v4/tags/77", "Resource '/v4/tags/77' not found during delete"),
        ("GET", "/api/v4/no_such_table", "Table not found during get"),
        ("POST", "/api/v4/no_such_table", "Table not found during post"),
    ):
        response = sim.api(method, path, json={} if method != "GET" else None)
        assert (response.status_code, response.json()) == (404, {"err": words}), (method, path)


def test_a_session_token_is_accepted_as_a_cookie(sim):
    sim.load({"speed": 100, "vms": [{"key": 1, "name": "a"}]})
    token = ok_json(sim.api("POST", "/api/sys/tokens", json={"login": "admin", "password": "admin"}, auth=None), 201)["$key"]
    sim.clear_requests()
    response = sim.api("GET", "/api/v4/vms", auth=None, headers={"Cookie": "theme=dark; token=%s" % token}, params={"fields": "name"})
    assert ok_json(response) == [{"name": "a"}]
    assert act_as_cookie(sim, token).status_code == 201
    assert [(entry["user"], entry["status"]) for entry in sim.requests()] == [("admin", 200), ("admin", 201)]


def act_as_cookie(sim, token):
    return sim.api("POST", "/api/v4/vm_actions", auth=None, headers={"Cookie": "token=%s" % token}, json={"vm": 1, "action": "poweron"})


# ---------------------------------------------------------------- a guest with no OS


def _no_os(sim, **guest):
    sim.load({"speed": 100, "timings": {"shutdown": 1, "reboot": 1, "boot": 1, "kill": 1}, "vms": [
        {"key": 1, "name": "empty", "power": "running", "guest_agent": True, "guest": dict(guest, os="none")},
        {"key": 2, "name": "normal", "power": "running", "guest_agent": True}]})


def test_a_guest_with_no_os_accepts_a_poweroff_that_never_completes(sim):
    _no_os(sim)
    assert status_of(sim, 1)["agent_version"] == ""  # nothing boots, so no agent answers
    assert act(sim, 1, "poweroff").status_code == 201
    assert act(sim, 2, "poweroff").status_code == 201
    wait_for(lambda: status_of(sim, 2), lambda row: row["status"] == "stopped")  # the normal guest's shutdown is over ...
    row = status_of(sim, 1)
    assert (row["status"], row["running"]) == ("stopping", True)  # ... the empty one shows the request, for ever
    assert act(sim, 1, "kill").status_code == 201  # a kill works
    wait_for(lambda: status_of(sim, 1), lambda row: row["status"] == "stopped")


def test_a_guest_with_no_os_and_pending_status_running_shows_nothing(sim):
    _no_os(sim, acpi_pending_status="running")
    assert act(sim, 1, "poweroff").status_code == 201
    assert act(sim, 2, "poweroff").status_code == 201
    wait_for(lambda: status_of(sim, 2), lambda row: row["status"] == "stopped")
    assert status_of(sim, 1)["status"] == "running"


def test_a_guest_with_no_os_accepts_a_graceful_reset_that_never_happens_and_a_hard_one_that_does(sim):
    _no_os(sim)
    empty, normal = status_of(sim, 1), status_of(sim, 2)
    assert act(sim, 1, "reset", graceful=True).status_code == 201
    assert act(sim, 2, "reset", graceful=True).status_code == 201
    wait_for(lambda: status_of(sim, 2), lambda row: row["started"] > normal["started"] and row["agent_version"] != "")
    assert status_of(sim, 1) == empty  # the graceful reset left no trace
    sim.load({"speed": 100, "switches": {"reboot_actions": ["reset_graceful", "guestreset", "guestreboot"]},
              "vms": [{"key": 1, "name": "empty", "power": "running", "guest_agent": True, "guest": {"os": "none"}}]})
    for spelling in ("guestreset", "guestreboot"):  # through the agent: there is none to ask
        assert act(sim, 1, spelling).status_code == 422
    before = status_of(sim, 1)
    assert act(sim, 1, "reset").status_code == 201  # the hard reset works
    assert status_of(sim, 1)["started"] > before["started"]
