"""The tables room (tables.py), in this process: rows, keys, references, and how reads see and serve them."""

import pytest

import query
from room_helpers import switches, world_of
from tables import TABLES, KeyAllocator, TableStore, as_key, key_valued


def _store(**changes):
    store = TableStore(switches(**changes), 3)
    store.build_named("clusters", [{"name": "c1"}, {"name": "c9", "key": 9}], lambda key, item: {"$key": key, "name": item["name"]})
    store.insert("nodes", {"$key": 4, "name": "n4", "cluster": 9})
    return store


def test_keys_are_allocated_around_those_taken():
    allocator = KeyAllocator(1, [2])
    assert [allocator.allocate(), allocator.allocate(avoid=(3,)), allocator.allocate()] == [1, 4, 5]
    assert [as_key(5), as_key(" 7 "), as_key("x"), as_key(True), as_key(None)] == [5, 7, None, None, None]


def test_named_rows_keep_their_keys_and_counts_follow():
    store = _store()
    assert sorted(store.rows["clusters"]) == [1, 9]
    assert store.next_key("clusters") == 10
    assert store.counts()["clusters"] == 2 and store.counts()["vms"] == 0 and set(store.counts()) == set(TABLES)


def test_getters_follow_references_and_miss_unknown_columns():
    store = _store()
    node = store.rows["nodes"][4]
    assert store.getter("nodes", ("cluster", "name"))(node) == "c9"
    assert store.getter("nodes", ("nope",)) is None and store.getter("nodes", ("name", "x")) is None
    store.insert("nodes", {"$key": 5, "name": "n5", "cluster": 77})
    assert store.getter("nodes", ("cluster", "name"))(store.rows["nodes"][5]) is None  # through a dangling reference


@pytest.mark.parametrize("key_type, projected, receipt", [
    ("receipts", 9, "9"), ("int", 9, 9), ("string", "9", "9"),
])
def test_keys_are_served_as_the_switch_says(key_type, projected, receipt):
    store = _store(key_type=key_type)
    node = store.rows["nodes"][4]
    assert store.projector("nodes", ("cluster",))(node) == projected
    assert store.projector("nodes", ("name",))(node) == "n4"  # never a name
    assert store.served_key("tags", 9) == receipt
    assert key_valued("nodes", ("cluster",)) and key_valued("nodes", ("cluster", "$key")) and not key_valued("nodes", ("name",))


def test_mixed_keys_stringify_a_stable_half():
    store = _store(key_type="mixed")
    for key in range(1, 41):
        store.insert("tags", {"$key": key, "name": "t%d" % key, "category": key})
    project = store.projector("tags", ("category",))
    served = [project(row) for row in store.rows["tags"].values()]
    assert 5 < sum(isinstance(value, str) for value in served) < 35
    assert served == [project(row) for row in store.rows["tags"].values()]  # the same way on every read


def test_an_ignored_key_sort_never_repeats_the_last_order():
    store = _store()
    rows = [{"$key": 1}, {"$key": 2}]
    orders = [tuple(row["$key"] for row in store.shuffled("clusters")(rows)) for _turn in range(6)]
    assert all(one != two for one, two in zip(orders, orders[1:], strict=False))
    again = _store()  # the same seed, the same requests: the same orders
    assert orders == [tuple(row["$key"] for row in again.shuffled("clusters")(rows)) for _turn in range(6)]


def test_candidate_rows_use_keys_when_a_filter_pins_them():
    world = world_of({"vms": [{"name": "a"}, {"name": "b"}]})
    store = world.store
    vm = store.rows["vms"][2]
    by_key = store.candidate_rows("vms", query.parse_query({"filter": "$key eq 2"}).condition)
    assert by_key == [vm]
    status = store.candidate_rows("machine_status", query.parse_query({"filter": "machine eq %d" % vm["machine"]}).condition)
    assert [row["machine"] for row in status] == [vm["machine"]]
    by_name = store.candidate_rows("vms", query.parse_query({"filter": "name eq 'b' or name eq 'B'"}).condition)
    assert by_name == [store.rows["vms"][2]]  # the rows whose name can equal one of the literals
    assert len(store.candidate_rows("vms", query.parse_query({"filter": "name ne 'b'"}).condition)) == 2  # all, filtered later
    assert len(store.candidate_rows("vms", query.parse_query({"filter": "nope eq 'b'"}).condition)) == 2  # the filter answers 422
    assert store.view("vms").columns("summary") == TABLES["vms"].summary
