"""Look-ups by many values (query.py, tables.py), in this process: the fast paths answer what row-by-row evaluation answers.

A filter such as `is_snapshot eq false and (name eq 'a' or name eq 'b' ...)`
(the collection's look-up by names) is served from candidate rows and one set
lookup per row (tables.candidate_rows, query.equal_to_any); these tests hold
it to a reference that walks the condition tree node by node, as the
simulator always did.
"""

import itertools

import pytest

import api
import query
from room_helpers import world_of

NAMES = ["web-%02d" % number for number in range(1, 41)]
WORLD = {
    "vms": [{"name": name, "cpu_cores": 1 + number % 4, "power": "running" if number % 2 else "stopped"}
            for number, name in enumerate(NAMES)]
    + [{"name": "Web-01"}, {"name": "o'brien"}, {"name": "42"}, {"name": "web-07"}, {"name": "brace{x}"}],
    "snapshots": [{"vm": "web-03", "name": "web-02"}],  # a snapshot VM that shares a VM's name
}


class _Request:
    def __init__(self, params):
        self.query = params


def _world():
    world = world_of(WORLD)
    rows = list(world.tables["vms"].values())
    # Values a scenario cannot give a name, but a filter must still judge as before.
    rows[10]["name"], rows[11]["name"], rows[12]["name"], rows[13]["name"] = 42, None, True, 7.5
    return world


def _reference(node, getter_of, row):
    """The condition evaluated node by node, strictly as written: what the simulator did before the fast paths."""
    if isinstance(node, query.Junction):
        left = _reference(node.left, getter_of, row)
        if node.conjunction == "and":
            return left and _reference(node.right, getter_of, row)
        return left or _reference(node.right, getter_of, row)
    if node.operator in query.UNSPECIFIED_OPERATORS:
        return False
    return query.compare(node.operator, getter_of(node.path)(row), node.literal)


def _expected(world, params):
    parsed = query.parse_query(params)
    view = world.store.view("vms")
    rows = [row for row in world.tables["vms"].values() if _reference(parsed.condition, view.getter, row)]
    return query.select(rows, query.Query(parsed.fields, None, parsed.sort, parsed.limit, parsed.offset), view)


def _literal(name):
    """A name as a quoted filter literal, escaped as the collection escapes it."""
    return "'%s'" % name.replace("\\", "\\\\").replace("'", "\\'").replace("{", "\\{")


def _names_filter(names, base="is_snapshot eq false"):
    terms = " or ".join("name eq %s" % _literal(name) for name in names)
    return "%s and (%s)" % (base, terms) if base else terms


FIELDS = "$key,name,is_snapshot,cpu_cores,machine#status#status as status"
MANY = NAMES[:35] + ["WEB-04", "web-01", "o'brien", "no-such-vm", "brace{x}", "web-02", "web-07"]
FILTERS = [
    _names_filter(MANY),  # the collection's look-up: a case-differing name, a missing one, a quote, a brace, duplicates
    _names_filter(MANY, base="cpu_cores ge 2"),
    _names_filter(MANY, base="") + " and cpu_cores lt 3",  # left to right: (a or b ... ) and c
    "cpu_cores eq 2 and " + _names_filter(MANY, base="is_snapshot eq false"),
    _names_filter(["42", "web-05", "web-06"], base=""),  # the number 42 and the string '42' both match '42'
    "name eq 42 or name eq 7.5 or name eq null or name eq true or name eq 'web-09'",
    "name eq 'web-01' or cpu_cores eq 3 or name eq 'web-02' or name pm 'x' or name eq 'Web-01'",
    "(name eq 'web-01' or (name eq 'web-02' or name eq 'web-03')) or name eq 'web-04' and cpu_cores eq 2",
    "name eq 'web-01' or name eq 'web-02' and is_snapshot eq true",
    "$key eq '3' or $key eq 4 or $key eq 4.0 or $key eq 'x'",
    "machine#status#status eq 'running' or machine#status#status eq 'stopped' and name eq 'web-05' or name eq 'web-06'",
    "name eq 'web-01' or name ne 'web-01'",
    "name eq 'web-01' and name eq 'web-01' and (name eq 'web-01' or name eq 'web-02')",
    "is_snapshot eq true or is_snapshot eq false and name eq 'web-10' or name eq 'web-11'",
]


@pytest.mark.parametrize("text", FILTERS)
def test_many_term_lookups_answer_what_row_by_row_evaluation_answers(text):
    world = _world()
    for extra in ({}, {"sort": "-name"}, {"limit": "3", "offset": "1"}, {"fields": ","}):
        params = dict({"fields": FIELDS, "filter": text}, **extra)
        assert api.read_rows(world, "vms", _Request(params)) == _expected(world, params)


def test_the_name_lookup_reads_only_candidate_rows_and_finds_the_right_ones():
    world = _world()
    few = ["web-01", "WEB-04", "o'brien", "no-such-vm", "web-02", "web-07"]
    candidates = world.store.candidate_rows("vms", query.parse_query({"filter": _names_filter(few)}).condition)
    # The rows named one of them, in table order (the snapshot VM web-02 too: is_snapshot is judged later).
    assert [row["$key"] for row in candidates] == [row["$key"] for row in world.tables["vms"].values() if row["name"] in few]
    answer = api.read_rows(world, "vms", _Request({"fields": "$key,name", "filter": _names_filter(few)}))
    # eq is case-sensitive, the missing name matches nothing, the snapshot VM named web-02 is left out, both web-07 come.
    assert sorted(row["name"] for row in answer) == ["o'brien", "web-01", "web-02", "web-07", "web-07"]
    assert answer == _expected(world, {"fields": "$key,name", "filter": _names_filter(few)})


def test_unknown_or_refused_columns_in_a_long_chain_still_answer_422():
    world = _world()
    for text in (_names_filter(NAMES) + " or nope eq 'x'", _names_filter(NAMES, base="") + " or nope eq 1 or nope eq 2"):
        with pytest.raises(query.QueryError):
            api.read_rows(world, "vms", _Request({"filter": text}))
    world.switches["traversed_filters"] = "reject"
    with pytest.raises(query.QueryError):
        api.read_rows(world, "vms", _Request({"filter": _names_filter(NAMES, base="") + " or machine#name eq 'a' or machine#name eq 'b'"}))


VALUES = ["a", "A", "", "42", "42.0", "7.5", "true", "null", 42, 42.0, 0, 7.5, True, False, None, ["a"], {"a": 1}]
LITERALS = ["a", "A", "", "42", "42.0", "7.5", "true", 42, 42.0, 0, -1, 7.5, True, False, None]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_equal_to_any_is_eq_against_each_literal(size):
    for literals in itertools.combinations(LITERALS, size):
        match = query.equal_to_any(literals)
        for value in VALUES:
            assert match(value) == any(query.compare("eq", value, literal) for literal in literals), (value, literals)


def test_pinned_values_name_the_column_every_match_has():
    def pinned(text):
        return query.pinned_values(query.parse_query({"filter": text}).condition)
    assert pinned("name eq 'a' or name eq 'b'") == ("name", ["a", "b"])
    assert pinned("is_snapshot eq false and (name eq 'a' or name eq 'b')") == ("name", ["a", "b"])
    assert pinned("is_snapshot eq false and cpu_cores gt 1") == ("is_snapshot", [False])
    assert pinned("name eq 'a' or cpu_cores eq 1") is None
    assert pinned("name eq 'a' or name eq 'b' and cpu_cores eq 1") == ("name", ["a", "b"])
    assert pinned("cpu_cores eq 1 and name eq 'a' or name eq 'b'") is None  # (c and a) or b: b need not have c
    assert pinned("machine#name eq 'a'") is None and pinned("name ne 'a'") is None and pinned("") is None
