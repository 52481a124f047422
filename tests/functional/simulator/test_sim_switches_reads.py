"""Second round of switches, read side: sort on $key, bw on member, key types, error bodies, default fields, 26.0 operators."""

import pytest

from sim_helpers import ok_json, rows

VMS = [{"key": key, "name": "vm-%02d" % key, "guest_agent": key % 2 == 0, "power": "running" if key % 3 == 0 else "stopped",
        "tags": ["prod"] if key % 2 else []} for key in range(1, 13)]
BASE = {"tag_categories": [{"name": "env"}], "tags": [{"name": "prod", "category": "env"}], "vms": VMS}
KEYS = list(range(1, 13))
INVALID = {"err": "Invalid argument"}


def _load(sim, seed=None, **switches):
    scenario = dict(BASE, switches=switches)
    if seed is not None:
        scenario["seed"] = seed
    sim.load(scenario)


def _keys(sim, **params):
    return [row["$key"] for row in rows(sim, "vms", fields="$key", **params)]


def _refused(sim, table="vms", **params):
    response = sim.api("GET", "/api/v4/" + table, params=params)
    assert (response.status_code, response.json()) == (422, INVALID), response.text


# ---------------------------------------------------------------- sort_key


def test_sort_key_work_sorts_on_key_both_ways(sim):
    _load(sim, sort_key="work")
    assert _keys(sim, sort="$key") == KEYS
    assert _keys(sim, sort="-$key") == KEYS[::-1]
    assert _keys(sim, sort="+$key", limit=4, offset=4) == [5, 6, 7, 8]


def test_sort_key_reject_refuses_every_sort_naming_the_key_and_only_those(sim):
    _load(sim, sort_key="reject")
    for sort in ("$key", "-$key", "+$key", "name,$key"):
        _refused(sim, sort=sort, fields="$key")
    assert [row["name"] for row in rows(sim, "vms", sort="-name", fields="name")][:2] == ["vm-12", "vm-11"]
    assert _keys(sim) == KEYS  # no sort: rows in key order, as always


def test_sort_key_ignore_serves_a_new_random_order_every_time(sim):
    _load(sim, seed=7, sort_key="ignore")
    orders = [_keys(sim, sort="$key") for _request in range(6)]
    assert all(sorted(order) == KEYS for order in orders)  # every row, once
    assert all(earlier != later for earlier, later in zip(orders, orders[1:], strict=False))  # never the same order twice running
    assert KEYS not in orders and KEYS[::-1] not in orders


def test_sort_key_ignore_breaks_paging_on_the_key(sim):
    _load(sim, seed=7, sort_key="ignore")
    pages = [_keys(sim, sort="$key", limit=4, offset=offset) for offset in (0, 4, 8)]
    seen = [key for page in pages for key in page]
    assert len(seen) == 12 and sorted(seen) != KEYS  # rows skipped and repeated: a pager trusting the order loses rows


def test_sort_key_ignore_is_repeatable_with_the_seed(sim):
    _load(sim, seed=7, sort_key="ignore")
    first = [_keys(sim, sort="-$key") for _request in range(3)]
    _load(sim, seed=7, sort_key="ignore")
    assert [_keys(sim, sort="-$key") for _request in range(3)] == first
    _load(sim, seed=8, sort_key="ignore")
    assert [_keys(sim, sort="-$key") for _request in range(3)] != first


def test_sort_key_ignore_leaves_other_sorts_working(sim):
    _load(sim, seed=7, sort_key="ignore")
    names = [row["name"] for row in rows(sim, "vms", sort="-name", fields="name")]
    assert names == sorted(names, reverse=True)
    assert _keys(sim, sort="-name", limit=3) == [12, 11, 10]
    assert _keys(sim, sort="-name,$key", limit=3) == [12, 11, 10]  # the key is dropped, the name still sorts
    assert _keys(sim, limit=3, offset=3) == [4, 5, 6]  # no sort: key order


# ---------------------------------------------------------------- member_bw


def _members(sim, filter_text):
    return sorted(row["member"] for row in rows(sim, "tag_members", filter=filter_text, fields="member"))


def test_member_bw_work(sim):
    _load(sim, member_bw="work")
    assert _members(sim, "member bw 'vms/'") == sorted("vms/%d" % key for key in KEYS if key % 2)


def test_member_bw_reject_refuses_prefix_and_substring_operators_on_member(sim):
    _load(sim, member_bw="reject")
    for expression in ("member bw 'vms/'", "member ew '/1'", "member ct 'vms'", "member cs 'vms'", "member rx '^vms/'",
                       "tag eq 1 and member bw 'vms/'"):
        _refused(sim, "tag_members", filter=expression)
    assert _members(sim, "member eq 'vms/3'") == ["vms/3"]
    assert _members(sim, "member eq 'vms/3' or member eq 'vms/5'") == ["vms/3", "vms/5"]
    assert len(_members(sim, "member ne 'vms/3'")) == 5
    assert len(_members(sim, "tag eq 1")) == 6
    assert len(rows(sim, "vms", filter="name bw 'vm-'", fields="$key")) == 12  # bw elsewhere still works


# ---------------------------------------------------------------- key_type

KEY_FIELDS = "$key,name,cpu_cores,machine,machine#status as status_key,machine#status#node as node,machine#cluster as cluster"


def _snapshot(sim, machine):
    body = {"machine": machine, "name": "s", "expires": 0, "created_manually": True, "quiesce": False}
    return ok_json(sim.api("POST", "/api/v4/machine_snapshots", json=body), 201)


def test_key_type_int_serves_ints(sim):
    _load(sim, key_type="int")
    vm = rows(sim, "vms", filter="$key eq 3", fields=KEY_FIELDS)[0]
    assert all(isinstance(vm[name], int) for name in ("$key", "machine", "status_key", "node", "cluster"))
    assert isinstance(_snapshot(sim, vm["machine"])["$key"], int)


def test_key_type_string_serves_keys_and_references_as_numeric_strings(sim):
    _load(sim, key_type="string")
    listed = rows(sim, "vms", fields=KEY_FIELDS)
    assert [row["$key"] for row in listed] == [str(key) for key in KEYS]
    running = listed[2]  # vm-03 runs
    assert all(isinstance(running[name], str) and running[name].isdigit() for name in ("machine", "status_key", "node", "cluster"))
    assert (running["name"], running["cpu_cores"]) == ("vm-03", 1)  # names and counts are not keys
    assert listed[0]["node"] is None  # a stopped VM has no node: null stays null
    whole = ok_json(sim.api("GET", "/api/v4/vms/3"))
    assert (whole["$key"], whole["machine"], whole["ram"], whole["is_snapshot"]) == ("3", running["machine"], 1024, False)
    assert ok_json(sim.api("GET", "/api/v4/vms/3", params={"fields": "machine#status#node#name as node_name"})) == {
        "node_name": "node1"}
    # Filters and sorts see numbers: `$key eq 5` matches, keys sort numerically, string keys come back as they were given.
    assert _keys(sim, filter="$key eq 5") == ["5"]
    assert _keys(sim, filter="$key ge 10", sort="-$key") == ["12", "11", "10"]
    status = rows(sim, "machine_status", filter="machine eq %s" % running["machine"], fields="$key,machine,node")[0]
    assert status == {"$key": running["status_key"], "machine": running["machine"], "node": running["node"]}
    assert [row["tag"] for row in rows(sim, "tag_members", filter="member eq 'vms/3'", fields="tag,member")] == ["1"]
    receipt = _snapshot(sim, running["machine"])
    assert isinstance(receipt["$key"], str) and receipt["dbpath"] == "machine_snapshots/%s" % receipt["$key"]
    assert isinstance(ok_json(sim.api("POST", "/api/v4/tags", json={"name": "t", "category": "1"}), 201)["$key"], str)
    assert sim.api("POST", "/api/v4/vm_actions", json={"vm": "3", "action": "kill"}).status_code == 201
    assert sim.api("DELETE", "/api/v4/machine_snapshots/%s" % receipt["$key"]).status_code == 200


def test_key_type_mixed_strings_a_seeded_half_of_the_rows(sim):
    _load(sim, seed=3, key_type="mixed")
    listed = rows(sim, "vms", fields=KEY_FIELDS)
    kinds = [type(row["$key"]) for row in listed]
    assert set(kinds) == {int, str}
    for row in listed:  # one row carries all its keys the same way
        assert {type(row[name]) for name in ("$key", "machine", "status_key", "cluster")} == {type(row["$key"])}
    assert rows(sim, "vms", fields=KEY_FIELDS) == listed  # a row keeps its type from request to request
    assert [type(row["$key"]) for row in rows(sim, "vms", filter="$key le 12", fields="$key")] == kinds
    _load(sim, seed=3, key_type="mixed")
    assert [type(row["$key"]) for row in rows(sim, "vms", fields="$key")] == kinds
    _load(sim, seed=4, key_type="mixed")
    assert [type(row["$key"]) for row in rows(sim, "vms", fields="$key")] != kinds


# ---------------------------------------------------------------- error_body


@pytest.mark.parametrize("shape, body", [
    ("text", {"err": "vm 99 does not exist"}),
    ("flag", {"err": True, "message": "vm 99 does not exist"}),
    ("nested", {"err": {"message": "vm 99 does not exist"}}),
])
def test_error_body_shapes(sim, shape, body):
    _load(sim, error_body=shape)
    response = sim.api("POST", "/api/v4/vm_actions", json={"vm": 99, "action": "poweron"})
    assert (response.status_code, response.json()) == (404, body)
    message = {"text": lambda text: {"err": text}, "flag": lambda text: {"err": True, "message": text},
               "nested": lambda text: {"err": {"message": text}}}[shape]
    for method, path, kwargs, code, text in (
            ("GET", "/api/v4/vms", {"params": {"filter": "name like 'x'"}}, 422, "Invalid argument"),
            ("GET", "/api/v4/vms", {"auth": ("admin", "wrong")}, 401, "Login required"),
            ("GET", "/api/v4/nowhere", {}, 404, "Table not found during get"),
            ("GET", "/api/v4/vms/99", {}, 404, "Resource '/v4/vms/99' not found during get"),
            ("POST", "/api/v4/vms", {"json": {}}, 405, "POST is not permitted on /v4/vms")):
        answer = sim.api(method, path, **kwargs)
        assert (answer.status_code, answer.json()) == (code, message(text))
    assert ok_json(sim.api("GET", "/api/v4/vms/1", params={"fields": "name"})) == {"name": "vm-01"}  # answers that are no errors stay


def test_error_body_shapes_the_rate_limit_refusal_too(sim):
    sim.load(dict(BASE, switches={"error_body": "nested"}, rate_limit={"rate": 0.01, "burst": 1, "mode": "429"}))
    assert sim.api("GET", "/api/v4/system").status_code == 200
    refused = sim.api("GET", "/api/v4/system")
    assert (refused.status_code, refused.json()) == (429, {"err": {"message": "Too many requests: API rate limit exceeded"}})
    assert refused.headers["Retry-After"] == "1"


# ---------------------------------------------------------------- default_fields

VM_ALL = ["$key", "name", "description", "enabled", "cpu_cores", "ram", "os_family", "guest_agent", "uefi", "secure_boot",
          "machine_type", "cloudinit_datasource", "created", "modified", "is_snapshot", "uuid", "machine", "running"]


def test_default_fields_all(sim):
    _load(sim, default_fields="all")
    assert list(ok_json(sim.api("GET", "/api/v4/vms/1"))) == VM_ALL


def test_default_fields_short_gives_a_by_key_read_the_short_set(sim):
    _load(sim, default_fields="short")
    assert ok_json(sim.api("GET", "/api/v4/vms/1")) == {"$key": 1, "name": "vm-01", "machine": 100, "is_snapshot": False}
    status_key = ok_json(sim.api("GET", "/api/v4/vms/3", params={"fields": "machine#status as status"}))["status"]
    assert list(ok_json(sim.api("GET", "/api/v4/machine_status/%d" % status_key))) == [
        "$key", "machine", "running", "status", "state", "node"]
    assert list(ok_json(sim.api("GET", "/api/v4/vms/1", params={"fields": "all"}))) == VM_ALL  # asked for: every column
    assert ok_json(sim.api("GET", "/api/v4/vms/1", params={"fields": "ram"})) == {"ram": 1024}
    assert list(rows(sim, "vms", filter="$key eq 1")[0]) == VM_ALL  # listings are not affected


# ---------------------------------------------------------------- 26.0 operators


@pytest.mark.parametrize("operator", ["pm", "pt", "et"])
def test_operators_of_26_are_accepted_and_match_nothing(sim, operator):
    _load(sim)
    assert rows(sim, "vms", filter="name %s 'vm-01'" % operator, fields="name") == []
    assert rows(sim, "vms", filter="name eq 'vm-02' or name %s 'vm'" % operator, fields="name") == [{"name": "vm-02"}]
    assert len(rows(sim, "vms", filter="(name %s 'x') or $key gt 0" % operator, fields="name")) == 12


def test_operators_of_26_are_unknown_to_an_older_system(sim):
    sim.load(dict(BASE, system={"yb_version": "4.13.2"}))
    for operator in ("pm", "pt", "et", "zz"):
        _refused(sim, filter="name %s 'vm-01'" % operator)
    assert rows(sim, "vms", filter="name rx '^vm-01$'", fields="name") == [{"name": "vm-01"}]
