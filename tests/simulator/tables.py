"""The tables room: the rows of every table, their keys, and how the query language sees and serves them.

What a table holds (TABLES: columns, references, the short default set) is
fixed here; the other rooms insert and remove rows, this room answers the
questions of a read: a column's getter through references, keys served as
numeric strings (switch `key_type`), the random order of an ignored `$key`
sort (switch `sort_key`), the rows a filter can match. Keys come from
different ranges per table (KEY_STARTS) so a client that confuses a VM key
with a machine or status key fails here as it would on a real system, where
nothing promises they are equal.
"""

import random
from dataclasses import dataclass

import query


@dataclass(frozen=True)
class TableSpec:
    columns: tuple
    refs: dict  # reference column -> referenced table
    summary: tuple


STATUS_COLUMNS = (
    "$key", "machine", "running", "powerstate", "status", "status_info", "state", "node", "migrated_node",
    "migration_destination", "started", "local_time", "last_update", "running_cores", "running_ram", "migratable",
    "agent_version", "agent_features", "agent_guest_info",
)
VM_COLUMNS = (
    "$key", "name", "description", "enabled", "cpu_cores", "ram", "os_family", "guest_agent", "uefi", "secure_boot",
    "machine_type", "cloudinit_datasource", "created", "modified", "is_snapshot", "uuid", "machine", "running",
)
SNAPSHOT_COLUMNS = (
    "$key", "name", "description", "created", "expires", "expires_type", "quiesced", "created_manually", "machine",
    "snap_machine", "snapshot_period",
)

TABLES = {
    "system": TableSpec(("$key", "name", "cloud_name", "yb_version", "os_version", "uuid"), {}, ("$key", "name", "yb_version")),
    "clusters": TableSpec(("$key", "name", "description", "enabled", "created"), {}, ("$key", "name")),
    "nodes": TableSpec(("$key", "name", "description", "cluster", "running", "maintenance", "physical", "cores", "ram", "vm_ram",
                        "ipaddress"),
                       {"cluster": "clusters"}, ("$key", "name", "cluster", "running")),
    "vms": TableSpec(VM_COLUMNS, {"machine": "machines"}, ("$key", "name", "machine", "is_snapshot")),
    "machines": TableSpec(("$key", "name", "type", "cluster", "status", "preferred_node", "ha_group", "created"),
                          {"cluster": "clusters", "status": "machine_status", "preferred_node": "nodes"},
                          ("$key", "name", "type", "cluster", "status")),
    "machine_status": TableSpec(STATUS_COLUMNS, {"machine": "machines", "node": "nodes", "migrated_node": "nodes",
                                                 "migration_destination": "nodes"},
                                ("$key", "machine", "running", "status", "state", "node")),
    "machine_nics": TableSpec(("$key", "name", "description", "machine", "interface", "macaddress", "ipaddress", "vnet",
                               "enabled", "status", "orderid"),
                              {"machine": "machines", "status": "machine_nic_status"}, ("$key", "name", "machine", "macaddress")),
    "machine_nic_status": TableSpec(("$key", "parent_nic", "status", "state", "speed", "last_update"),
                                    {"parent_nic": "machine_nics"}, ("$key", "parent_nic", "status")),
    "machine_snapshots": TableSpec(SNAPSHOT_COLUMNS, {"machine": "machines", "snap_machine": "machines"},
                                   ("$key", "name", "machine", "created", "expires")),
    "tag_categories": TableSpec(("$key", "name", "description", "taggable_vms", "single_tag_selection", "created", "modified"),
                                {}, ("$key", "name")),
    "tags": TableSpec(("$key", "name", "description", "category", "created", "modified"), {"category": "tag_categories"},
                      ("$key", "name", "category")),
    "tag_members": TableSpec(("$key", "tag", "member"), {"tag": "tags"}, ("$key", "tag", "member")),
}
TABLE_INDEX = {name: index for index, name in enumerate(TABLES)}

KEY_STARTS = {"vms": 1, "machines": 100, "machine_status": 5000, "machine_snapshots": 800}
# Stable timestamps make generated worlds identical from run to run.
EPOCH = 1735689600  # 2025-01-01T00:00:00Z


class KeyAllocator:
    """Hands out increasing keys from a start, skipping keys already taken."""

    def __init__(self, start, taken=()):
        self.next_key = start
        self.taken = set(taken)

    def allocate(self, avoid=()):
        while self.next_key in self.taken or self.next_key in avoid:
            self.next_key += 1
        self.taken.add(self.next_key)
        return self.next_key


def as_key(value):
    """Return value as a row key when it is an int or a numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def key_valued(table, path):
    """Return whether a column path ends in a key: `$key` or a reference column (switch `key_type`)."""
    for position, column in enumerate(path):
        spec = TABLES[table]
        if position == len(path) - 1:
            return column == "$key" or column in spec.refs
        table = spec.refs.get(column)
        if table is None:
            return False
    return False


def as_text(value):
    """Return an int key as the numeric string a system that stringifies keys sends (null and the rest unchanged)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class TableView:
    """What the query language sees of one table: column getters and column groups."""

    def __init__(self, store, table):
        self.store = store
        self.table = table

    def getter(self, path):
        return self.store.getter(self.table, path)

    def projector(self, path):
        return self.store.projector(self.table, path)

    def columns(self, group):
        spec = TABLES[self.table]
        return spec.summary if group == "summary" else spec.columns


class TableStore:
    """The rows of one world's tables and the read-side switches (`key_type`, `sort_key`, `member_bw`, `default_fields`)."""

    def __init__(self, switches, seed):
        self.rows = {name: {} for name in TABLES}  # table -> key -> row
        self.machines = {}  # machine key -> power.Machine (the fleet room's; read by machine_status lookups)
        # Switches read on the request path, as plain attributes: at their defaults they cost one comparison.
        self.key_type = switches["key_type"]
        self.sort_key = switches["sort_key"]
        self.member_bw = switches["member_bw"]
        self.short_default_fields = switches["default_fields"] == "short"
        self.old_filter_grammar = False  # a system older than VergeOS 26.0 refuses pm, pt and et (set at load)
        self.seed = seed
        self._key_salt = random.Random("%s/key_type" % seed).getrandbits(32)
        self._shuffles = 0
        self._last_shuffle = {}  # table -> the order of row keys the last ignored `$key` sort served

    def insert(self, table, row):
        self.rows[table][row["$key"]] = row
        return row

    def build_named(self, table, items, make_row):
        """Insert one row per item (explicit keys kept, others allocated from 1); return name -> key."""
        allocator = KeyAllocator(1, [item["key"] for item in items if "key" in item])
        keys = {}
        for item in items:
            key = item.get("key") or allocator.allocate()
            self.insert(table, make_row(key, item))
            keys[item["name"]] = key
        return keys

    def next_key(self, table):
        return max(self.rows[table], default=0) + 1

    def counts(self):
        """Return the number of rows per table."""
        return {name: len(rows) for name, rows in self.rows.items()}

    def view(self, table):
        return TableView(self, table)

    def getter(self, table, path):
        """Return a function row -> value for a column path (references followed), or None if the path names no column."""
        spec = TABLES[table]
        head = path[0]
        if head not in spec.columns:
            return None
        if len(path) == 1:
            return lambda row: row.get(head)
        target = spec.refs.get(head)
        rest = self.getter(target, path[1:]) if target else None
        if rest is None:
            return None
        rows = self.rows[target]

        def follow(row):
            referenced = rows.get(row.get(head))
            return None if referenced is None else rest(referenced)
        return follow

    def projector(self, table, path):
        """Return the getter a projection uses: the stored value, or (switch key_type) keys served as strings."""
        getter = self.getter(table, path)
        if getter is None or self.key_type in ("int", "receipts") or not key_valued(table, path):
            return getter
        if self.key_type == "string":
            return lambda row: as_text(getter(row))
        index = TABLE_INDEX[table]
        return lambda row: as_text(getter(row)) if self.stringified(index, row["$key"]) else getter(row)

    def stringified(self, table_index, key):
        """Return whether (key_type mixed) the row `key` of a table carries its keys as strings: a seeded half of them."""
        if not isinstance(key, int):
            return False
        mixed = (key * 0x9E3779B1 + table_index * 0x85EBCA77 + self._key_salt) & 0xFFFFFFFF
        mixed ^= mixed >> 15
        mixed = (mixed * 0x2C1B3C6D) & 0xFFFFFFFF
        mixed ^= mixed >> 12
        return bool(mixed & 1)

    def served_key(self, table, key):
        """Return a new row's key as a receipt carries it (switch key_type: a numeric string as recorded, unless int or mixed)."""
        if self.key_type in ("string", "receipts") or (self.key_type == "mixed" and self.stringified(TABLE_INDEX.get(table, 0), key)):
            return as_text(key)
        return key

    def shuffled(self, table):
        """Return a function that puts rows in this request's random order (an ignored `$key` sort).

        The order depends on the world's seed and on how many such requests
        came before; it never repeats the order served last for the table.
        """
        self._shuffles += 1
        dice = random.Random("%s/sort/%d" % (self.seed, self._shuffles))

        def order(rows):
            rows = list(rows)
            dice.shuffle(rows)
            keys = tuple(row["$key"] for row in rows)
            if len(rows) > 1 and keys == self._last_shuffle.get(table):
                rows = rows[1:] + rows[:1]
                keys = keys[1:] + keys[:1]
            self._last_shuffle[table] = keys
            return rows
        return order

    def candidate_rows(self, table, condition):
        """Return the rows a filter can match; the caller still applies the whole filter to them.

        Looked up by key when the filter pins keys (the polling case); when it
        pins another column (`name eq 'a' or name eq 'b' ...`, the look-up by
        names, possibly and-ed with more), the rows whose value can equal one
        of those literals, in table order; else all.
        """
        rows = self.rows[table]
        keys = query.equality_keys(condition, "$key")
        if keys is not None:
            return [rows[key] for key in keys if key in rows]
        if table == "machine_status":
            machine_keys = query.equality_keys(condition, "machine")
            if machine_keys is not None:
                return [self.machines[key].row for key in machine_keys if key in self.machines]
        pin = query.pinned_values(condition)
        if pin is None or pin[0] not in TABLES[table].columns:  # nothing pinned, or an unknown column: the filter answers 422 later
            return list(rows.values())
        column, match = pin[0], query.equal_to_any(pin[1])
        return [row for row in rows.values() if match(row.get(column))]  # row.get: the getter of a plain column
