"""The query language over HTTPS: fields, filter, sort, limit and offset."""

import pytest

from sim_helpers import names, ok_json, rows

WORLD = {
    "tag_categories": [{"name": "env"}],
    "tags": [{"name": "prod", "category": "env"}],
    "vms": [
        {"key": 1, "name": "alpha", "cpu_cores": 1, "ram": 1024, "power": "running", "description": "first", "tags": ["prod"]},
        {"key": 2, "name": "beta", "cpu_cores": 2, "ram": 2048, "description": "Second VM"},
        {"key": 3, "name": "Gamma", "cpu_cores": 4, "ram": 4096, "power": "running"},
        {"key": 4, "name": "web-01", "cpu_cores": 2},
        {"key": 5, "name": "web-02", "cpu_cores": 8, "power": "running"},
        {"key": 6, "name": "o'brien"},
        {"key": 7, "name": "back\\slash"},
        {"key": 8, "name": "brace{x}"},
        {"key": 9, "name": "brace"},
        {"key": 20, "name": "dup"},
        {"key": 21, "name": "dup"},
        {"key": 30, "name": "snap", "is_snapshot": True},
    ],
}
ALL_NAMES = sorted(vm["name"] for vm in WORLD["vms"])
RUNNING = ["Gamma", "alpha", "web-02"]


def without(*excluded):
    """Return the sorted names of every VM but the excluded ones (duplicates kept)."""
    return [name for name in ALL_NAMES if name not in excluded]


@pytest.fixture
def qw(sim):
    sim.load(WORLD)
    return sim


def _status(sim, params, table="vms"):
    return sim.api("GET", "/api/v4/" + table, params=params).status_code


# ---------------------------------------------------------------- filter


@pytest.mark.parametrize("expression, expected", [
    ("name eq 'alpha'", ["alpha"]),
    ("cpu_cores ne 1", ["Gamma", "beta", "web-01", "web-02"]),
    ("cpu_cores gt 2", ["Gamma", "web-02"]),
    ("cpu_cores ge 4", ["Gamma", "web-02"]),
    ("ram lt 2048", without("beta", "Gamma")),
    ("ram le 2048", without("Gamma")),
    ("name gt 'web-01'", ["web-02"]),
    ("name bw 'web'", ["web-01", "web-02"]),
    ("name ew '01'", ["web-01"]),
    ("description cs 'VM'", ["beta"]),
    ("description cs 'vm'", []),
    ("description ct 'vm'", ["beta"]),
    ("name rx '^web-[0-9]+$'", ["web-01", "web-02"]),
    ("name rx '^[[:upper:]]'", ["Gamma"]),
    ("name rx 'a$'", ["Gamma", "alpha", "beta"]),
    ("is_snapshot eq true", ["snap"]),
    ("running eq null", ALL_NAMES),
    ("$key eq 5", ["web-02"]),
    ("$key eq '5'", ["web-02"]),
    ("cpu_cores eq 1.0", without("beta", "Gamma", "web-01", "web-02")),
])
def test_each_operator(qw, expression, expected):
    assert names(qw, expression) == expected


def test_pcre_shorthand_in_rx_silently_matches_nothing(qw):
    assert names(qw, "name rx 'web-\\d+'") == []
    assert names(qw, "name rx '(?i)ALPHA'") == []


def test_empty_rx_matches_everything(qw):
    assert names(qw, "name rx ''") == ALL_NAMES


@pytest.mark.parametrize("literal, expected", [
    ("'o\\'brien'", ["o'brien"]),
    ("'back\\\\slash'", ["back\\slash"]),
    ("'brace\\{x}'", ["brace{x}"]),
    # An unescaped, balanced {...} is consumed: the query names another VM.
    ("'brace{x}'", ["brace"]),
])
def test_quoting_and_escapes(qw, literal, expected):
    assert names(qw, "name eq " + literal) == expected


def test_and_or_bind_left_to_right(qw):
    # (alpha or beta) and cpu_cores eq 2: precedence of 'and' would also keep alpha.
    assert names(qw, "name eq 'alpha' or name eq 'beta' and cpu_cores eq 2") == ["beta"]


def test_parentheses_group(qw):
    assert names(qw, "name eq 'alpha' or (name eq 'beta' and cpu_cores eq 2)") == ["alpha", "beta"]
    assert names(qw, "(is_snapshot eq false) and (name bw 'web')") == ["web-01", "web-02"]


def test_traversed_filter(qw):
    assert names(qw, "machine#status#status eq 'running'") == RUNNING
    assert names(qw, "machine#status#node eq null and is_snapshot eq false") == without(*RUNNING, "snap")


@pytest.mark.parametrize("expression", [
    "name like 'web%'",
    "name in ('alpha','beta')",
    "name eq",
    "name 'alpha'",
    "(name eq 'alpha'",
    "name eq 'alpha')",
    "name eq 'unterminated",
    "name eq bare",
    "name eq 'a{b'",
    "name eq 'alpha' xor name eq 'beta'",
    "nosuchcolumn eq 1",
    "name rx '[unclosed'",
])
def test_invalid_filters_answer_422(qw, expression):
    response = qw.api("GET", "/api/v4/vms", params={"filter": expression})
    assert response.status_code == 422
    assert response.json() == {"err": "Invalid argument"}


def test_filter_on_reference_key_and_encoded_key(qw):
    machine = ok_json(qw.api("GET", "/api/v4/vms/3", params={"fields": "machine"}))["machine"]
    found = rows(qw, "machine_status", filter="machine eq %d" % machine, fields="machine,status")
    assert found == [{"machine": machine, "status": "running"}]
    # $key URL-encoded by hand, as some clients send it.
    response = qw.api("GET", "/api/v4/vms?filter=%24key%20eq%201&fields=%24key,name")
    assert ok_json(response) == [{"$key": 1, "name": "alpha"}]


@pytest.mark.parametrize("expression, expected", [
    ("$key eq 1 or $key eq 2 and name eq 'beta'", ["beta"]),
    ("$key eq 1 and $key eq 2", []),
    ("($key eq 1 or $key eq 999) and is_snapshot eq false", ["alpha"]),
    ("$key eq 1 or name eq 'beta'", ["alpha", "beta"]),
    ("is_snapshot eq true and ($key eq 30 or $key eq 1)", ["snap"]),
])
def test_key_chains_keep_left_to_right_semantics(qw, expression, expected):
    assert names(qw, expression) == expected


def test_machine_chains_on_machine_status(qw):
    machines = [ok_json(qw.api("GET", "/api/v4/vms/%d" % key, params={"fields": "machine"}))["machine"] for key in (1, 2)]
    chain = " or ".join("machine eq %d" % machine for machine in machines + [1])
    found = rows(qw, "machine_status", filter=chain, fields="machine,status", sort="machine")
    assert found == [{"machine": machines[0], "status": "running"}, {"machine": machines[1], "status": "stopped"}]


def test_tag_members_with_traversals(qw):
    found = rows(qw, "tag_members", filter="member bw 'vms/'", fields="tag,member,tag#name as tag_name,tag#category#name as category_name")
    assert [(row["member"], row["tag_name"], row["category_name"]) for row in found] == [("vms/1", "prod", "env")]


# ---------------------------------------------------------------- fields


def test_explicit_fields_and_aliases(qw):
    row = ok_json(qw.api("GET", "/api/v4/vms/1", params={
        "fields": "$key,name,machine#status#running as running,machine#status#status as status,"
                  "machine#status#node#name as node_name,machine#cluster#name as cluster_name"}))
    assert set(row) == {"$key", "name", "running", "status", "node_name", "cluster_name"}
    assert row["running"] is True and row["status"] == "running"
    assert row["node_name"].startswith("node") and row["cluster_name"] == "cluster1"


def test_traversal_through_null_reference_is_null(qw):
    row = ok_json(qw.api("GET", "/api/v4/vms/2", params={"fields": "machine#status#node#name as node_name,machine#status#node"}))
    assert row == {"node_name": None, "machine#status#node": None}


def test_reference_column_returns_the_key(qw):
    vm = ok_json(qw.api("GET", "/api/v4/vms/1", params={"fields": "machine"}))
    machine = ok_json(qw.api("GET", "/api/v4/machines/%d" % vm["machine"], params={"fields": "$key,name,status,cluster"}))
    assert machine["$key"] == vm["machine"] and machine["name"] == "alpha"
    assert isinstance(machine["status"], int) and isinstance(machine["cluster"], int)


def test_unknown_columns_are_left_out(qw):
    row = ok_json(qw.api("GET", "/api/v4/vms/1", params={"fields": "name,nosuch,machine#nosuch as x,name#deeper"}))
    assert row == {"name": "alpha"}


def test_all_is_the_tables_own_columns(qw):
    row = ok_json(qw.api("GET", "/api/v4/vms/1", params={"fields": "all"}))
    assert {"$key", "name", "description", "enabled", "cpu_cores", "ram", "os_family", "guest_agent", "uefi", "machine_type",
            "created", "modified", "is_snapshot", "uuid", "machine", "running"} <= set(row)
    assert not any("#" in name for name in row)
    assert row["running"] is None


def test_groups_most_summary_and_default(qw):
    most = ok_json(qw.api("GET", "/api/v4/machine_status", params={"fields": "most", "limit": 1}))[0]
    summary = ok_json(qw.api("GET", "/api/v4/machine_status", params={"fields": "summary", "limit": 1}))[0]
    default = ok_json(qw.api("GET", "/api/v4/machine_status", params={"limit": 1}))[0]
    assert set(summary) < set(most) and "status" in summary
    assert default == most
    mixed = ok_json(qw.api("GET", "/api/v4/vms/1", params={"fields": "summary,machine#status#status as status"}))
    assert mixed["status"] == "running" and "name" in mixed


def test_projection_of_no_column_answers_the_count(qw):
    assert ok_json(qw.api("GET", "/api/v4/vms", params={"fields": ",", "filter": "is_snapshot eq false"})) == [{"$count": 11}]


def test_nic_status_traversal(qw):
    found = rows(qw, "machine_nics", fields="machine,macaddress,ipaddress,status#status as status")
    by_status = {row["status"] for row in found}
    assert by_status == {"up", "down"}
    assert all(row["macaddress"] and row["ipaddress"] for row in found)


# ---------------------------------------------------------------- sort and paging


def _keys(sim, **params):
    return [row["$key"] for row in rows(sim, "vms", fields="$key", **params)]


def test_sort_ascending_descending_and_bare(qw):
    ascending = [row["name"] for row in rows(qw, "vms", fields="name", sort="+name")]
    assert ascending == sorted(ascending)
    assert [row["name"] for row in rows(qw, "vms", fields="name", sort="name")] == ascending
    assert [row["name"] for row in rows(qw, "vms", fields="name", sort="-name")] == ascending[::-1]


def test_sort_ties_broken_by_key_both_ways(qw):
    assert _keys(qw, sort="-cpu_cores") == [5, 3, 2, 4, 1, 6, 7, 8, 9, 20, 21, 30]
    assert _keys(qw, sort="+cpu_cores") == [1, 6, 7, 8, 9, 20, 21, 30, 2, 4, 3, 5]
    # The two VMs named 'dup' keep key order in a descending sort too.
    assert _keys(qw, sort="-name") == [5, 4, 30, 6, 20, 21, 8, 9, 2, 7, 1, 3]


def test_sort_on_traversed_field(qw):
    found = rows(qw, "vms", fields="name", sort="-machine#status#running,name", filter="is_snapshot eq false")
    assert [row["name"] for row in found][:3] == RUNNING


def test_paging_covers_every_row_once(qw):
    everything = _keys(qw, sort="name")
    pages = [_keys(qw, sort="name", limit=5, offset=offset) for offset in range(0, len(everything) + 5, 5)]
    assert [key for page in pages for key in page] == everything
    assert all(len(page) <= 5 for page in pages) and pages[-1] == []


def test_limit_zero_or_absent_is_everything(qw):
    assert len(_keys(qw, limit=0)) == len(_keys(qw)) == len(WORLD["vms"])


@pytest.mark.parametrize("params", [{"limit": "x"}, {"offset": "-1"}, {"limit": "1.5"}])
def test_bad_paging_answers_422(qw, params):
    assert _status(qw, params) == 422
