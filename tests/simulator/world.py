"""The simulated VergeOS system: its tables, users, keys, tokens and machines.

A World is built from one validated scenario and replaced whole when another
is loaded. Every read and write holds `lock` and first calls `advance(now)`,
which applies the power transitions and snapshot expiries that fell due.
`version` counts the changes (transitions applied, writes); encoded answers
to reads are cached per version in `responses`.

Keys come from different ranges per table (VMs from 1, machines from 100,
machine_status rows from 5000, machine_snapshots from 800) so a client that
confuses a VM key with a machine or status key fails here as it would on a
real system, where nothing promises they are equal.

The world also holds the switches (README.md, "Switches") that change how it
is read: keys served as strings, shuffled `$key` sorts, late snapshots, the
graceful-reboot spellings it accepts, failed logins and lockouts (logins.py).
"""

import random
import re
import secrets
import threading
import uuid
from dataclasses import dataclass

import cache
import power
import query
import scenario as scenarios
from capacity import Capacity
from logins import LOCKED, LOGIN_REQUIRED, Logins
from ports import PortSet
from wire import ApiError, missing


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

KEY_STARTS = {"vms": 1, "machines": 100, "machine_status": 5000, "machine_snapshots": 800}
# Stable timestamps make generated worlds identical from run to run.
EPOCH = 1735689600  # 2025-01-01T00:00:00Z
DEFAULT_SNAPSHOT_LIFETIME = 72 * 3600


@dataclass(frozen=True)
class Principal:
    """Who sent a request: a name for the log and a role for permissions."""

    name: str
    role: str


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


class TableView:
    """What the query language sees of one table: column getters and column groups."""

    def __init__(self, world, table):
        self.world = world
        self.table = table

    def getter(self, path):
        return self.world.getter(self.table, path)

    def projector(self, path):
        return self.world.projector(self.table, path)

    def columns(self, group):
        spec = TABLES[self.table]
        return spec.summary if group == "summary" else spec.columns


TABLE_INDEX = {name: index for index, name in enumerate(TABLES)}


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


def _as_text(value):
    """Return an int key as the numeric string a system that stringifies keys sends (null and the rest unchanged)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _major_version(text):
    match = re.match(r"\s*(\d+)", text or "")
    return int(match.group(1)) if match else None


def _nic_address(ordinal):
    """Return (MAC, IP) of the default NIC of the VM with this ordinal."""
    mac = "52:54:00:%02x:%02x:%02x" % ((ordinal >> 16) & 255, (ordinal >> 8) & 255, ordinal & 255)
    ip = "10.%d.%d.%d" % ((ordinal // 62500) % 256, (ordinal // 250) % 250, ordinal % 250 + 2)
    return mac, ip


class World:
    """One simulated VergeOS system."""

    def __init__(self, definition, default_speed, now):
        self.lock = threading.RLock()
        self.definition = definition
        self.switches = switches = scenarios.switches_of(definition)
        self.seed = scenarios.seed_of(definition)
        self.version = 0
        self.clock = 0.0
        self.responses = cache.ResponseCache()
        speed = definition.get("speed", default_speed)
        self.capacity = Capacity(self, scenarios.capacity_of(definition))
        self.power = power.PowerModel(speed, no_resources=switches["no_resources"], queue_timeout=switches["queue_timeout"],
                                      graceful_honoured=switches["graceful"] == "honoured", capacity=self.capacity.active)
        self.logins = Logins(switches["lockout_after"], switches["lockout_seconds"] / speed)
        # Switches read on the request path, as plain attributes: at their defaults they cost one comparison.
        self.key_type = switches["key_type"]
        self.duplicate_status = switches["duplicate_name"]
        self.taggable_enforced = switches["taggable_vms"] == "enforced"
        self.error_body = switches["error_body"]
        self.sort_key = switches["sort_key"]
        self.member_bw = switches["member_bw"]
        self.short_default_fields = switches["default_fields"] == "short"
        self.snapshot_delay = switches["snapshot_visible_after"] / speed
        self.reboot_actions = tuple(switches["reboot_actions"])
        self.actions = power.ACTIONS + tuple(name for name in power.GUEST_REBOOT_ACTIONS if name in self.reboot_actions)
        self._key_salt = random.Random("%s/key_type" % self.seed).getrandbits(32)
        self._shuffles = 0
        self._last_shuffle = {}  # table -> the order of row keys the last ignored `$key` sort served
        self._staged_snapshots = {}  # key -> (due, row, snapshot machine): taken, not readable yet
        self.tables = {name: {} for name in TABLES}
        self.machines = {}
        self.tokens = {}
        self.users = {user["name"]: user for user in scenarios.users_of(definition)}
        self.api_keys = {entry["key"]: Principal(entry.get("user", "apikey"), entry.get("role", "admin"))
                         for entry in definition.get("api_keys", [])}
        self._placements = 0
        self._port_entries = []  # (machine, `port` of its spec) of the VMs with a reachable port
        self._build(definition, now)
        # Bound and listening only once the world is installed (app.py: open(); close() when it is replaced).
        self.ports = PortSet(self, self._port_entries)

    # ------------------------------------------------------------ building

    def _insert(self, table, row):
        self.tables[table][row["$key"]] = row
        return row

    def _build(self, definition, now):
        system = scenarios.system_of(definition)
        self._insert("system", {"$key": 1, "uuid": str(uuid.UUID(int=1)), **system})
        major = _major_version(system["yb_version"])
        # pm, pt and et came with VergeOS 26.0: an older system refuses them as unknown operators.
        self.old_filter_grammar = major is not None and major < 26
        clusters = self._build_named("clusters", scenarios.clusters_of(definition), self._cluster_row)
        first_cluster = next(iter(clusters.values()))
        self._build_named("nodes", scenarios.nodes_of(definition),
                          lambda key, node: self._node_row(key, node, clusters.get(node.get("cluster"), first_cluster)))
        taggable = scenarios.taggable_categories(definition)
        categories = self._build_named("tag_categories", definition.get("tag_categories", []),
                                       lambda key, category: self._category_row(key, dict(category, taggable_vms=category["name"] in taggable)))
        self._tag_keys = self._build_named("tags", definition.get("tags", []),
                                           lambda key, tag: self._tag_row(key, tag, categories[tag["category"]]))
        self._cluster_keys = clusters
        self._node_keys = {row["name"]: key for key, row in self.tables["nodes"].items()}
        self._allocators = {
            "vms": KeyAllocator(KEY_STARTS["vms"], [vm["key"] for vm in definition.get("vms", []) if "key" in vm]),
            "machines": KeyAllocator(KEY_STARTS["machines"]),
            "machine_status": KeyAllocator(KEY_STARTS["machine_status"]),
            "machine_snapshots": KeyAllocator(KEY_STARTS["machine_snapshots"]),
            "machine_nics": KeyAllocator(1),
            "machine_nic_status": KeyAllocator(1),
            "tag_members": KeyAllocator(1),
        }
        vms_by_name = {}
        running = []  # with the capacity model, (machine, spec, ordinal) of the VMs running at load
        for ordinal, spec in enumerate(scenarios.vm_specs(definition)):
            machine = self._add_vm(spec, ordinal, now)
            vms_by_name.setdefault(spec["name"], machine)
            if spec.get("key"):
                vms_by_name[spec["key"]] = machine
            if spec.get("power") == "running":
                if self.capacity.active:
                    running.append((machine, spec, ordinal))
                else:
                    self._boot_at_load(machine, spec, ordinal, now)
        # Those given a node first, then the others on the first node with room.
        for machine, spec, ordinal in sorted(running, key=lambda entry: "node" not in entry[1]):
            self._boot_at_load(machine, spec, ordinal, now)
        self.capacity.loaded()
        for snapshot in definition.get("snapshots", []):
            self.take_snapshot(vms_by_name[snapshot["vm"]], snapshot, now)

    def _build_named(self, table, items, make_row):
        """Insert one row per item (explicit keys kept, others allocated); return name -> key."""
        allocator = KeyAllocator(1, [item["key"] for item in items if "key" in item])
        keys = {}
        for item in items:
            key = item.get("key") or allocator.allocate()
            self._insert(table, make_row(key, item))
            keys[item["name"]] = key
        return keys

    @staticmethod
    def _cluster_row(key, cluster):
        return {"$key": key, "name": cluster["name"], "description": cluster.get("description", ""), "enabled": True, "created": EPOCH}

    def _node_row(self, key, node, cluster_key):
        own = scenarios.node_capacity(self.definition, node)
        return {"$key": key, "name": node["name"], "description": "", "cluster": cluster_key, "running": node.get("running", True),
                "maintenance": node.get("maintenance", False), "physical": True, "cores": own["cores"], "ram": own["ram"],
                "vm_ram": own["ram"] - own["ram_reserve"], "ipaddress": "192.168.10.%d" % (key % 250 + 1)}

    @staticmethod
    def _category_row(key, category):
        return {"$key": key, "name": category["name"], "description": category.get("description", ""),
                "taggable_vms": category.get("taggable_vms", False), "single_tag_selection": category.get("single_tag_selection", False),
                "created": EPOCH, "modified": EPOCH}

    @staticmethod
    def _tag_row(key, tag, category_key):
        return {"$key": key, "name": tag["name"], "description": tag.get("description", ""), "category": category_key,
                "created": EPOCH, "modified": EPOCH}

    def _add_vm(self, spec, ordinal, now):
        """Create the rows of one VM (vm, machine, status, NICs, tag members); return its Machine."""
        vm_key = spec.get("key") or self._allocators["vms"].allocate()
        # A VM's three keys always differ, as nothing on a real system makes them equal.
        machine_key = self._allocators["machines"].allocate(avoid=(vm_key,))
        status_key = self._allocators["machine_status"].allocate(avoid=(vm_key, machine_key))
        cluster = self._cluster_keys.get(spec.get("cluster"), next(iter(self._cluster_keys.values())))
        created = EPOCH + ordinal * 60
        vm = self._insert("vms", {
            "$key": vm_key, "name": spec["name"], "description": spec.get("description", ""), "enabled": spec.get("enabled", True),
            "cpu_cores": spec.get("cpu_cores", 1), "ram": spec.get("ram", 1024), "os_family": spec.get("os_family", "linux"),
            "guest_agent": spec.get("guest_agent", False), "uefi": spec.get("uefi", False), "secure_boot": spec.get("secure_boot", False),
            "machine_type": spec.get("machine_type", "pc-q35-9.0"), "cloudinit_datasource": "none", "created": created,
            "modified": created, "is_snapshot": spec.get("is_snapshot", False), "uuid": str(uuid.UUID(int=(0x5EED << 64) | vm_key)),
            "machine": machine_key, "running": None,
        })
        self._insert("machines", {"$key": machine_key, "name": spec["name"], "type": "vm", "cluster": cluster, "status": status_key,
                                  "preferred_node": None, "ha_group": None, "created": created})
        row = self._insert("machine_status", {"$key": status_key, "machine": machine_key, "started": 0})
        timings = spec["timings"]
        guest = power.Guest(timings["boot"], timings["shutdown"], timings["kill"], timings["reboot"], vm["guest_agent"],
                            acpi_delay=timings.get("acpi_delay", 0.0), agent_delay=timings.get("agent_delay", 0.0),
                            **spec.get("guest", {}))
        redundant = spec.get("switches", {}).get("redundant_action", self.switches["redundant_action"])
        machine = power.Machine(machine_key, vm, row, [], [], cluster, guest, redundant_answer=redundant,
                                status_rows=self.switches["status_rows"])
        if not vm["is_snapshot"]:
            for index, nic in enumerate(spec.get("nics") or [{}]):
                mac, ip = _nic_address(ordinal + 256 * index)
                if index == 0 and "port" in spec:
                    ip = spec["port"].get("host", scenarios.DEFAULT_PORT_HOST)  # where the controller reaches its port
                self._add_nic(machine, index, nic, (mac, ip))
            if "port" in spec:
                self._port_entries.append((machine, spec["port"]))
        self.machines[machine_key] = machine
        power.set_stopped(machine, now)
        if machine.status_rows == "recorded" and not vm["is_snapshot"] and spec.get("power") != "running":
            # A stopped VM shows its last run, as recorded stopped rows do (a snapshot VM never ran).
            row.update(started=int(now) - 86400 - 3600 * (ordinal % 48), running_cores=vm["cpu_cores"], running_ram=vm["ram"])
        for tag in spec.get("tags", []):
            key = self._allocators["tag_members"].allocate()
            self._insert("tag_members", {"$key": key, "tag": self._tag_keys[tag], "member": "vms/%d" % vm_key})
        return machine

    def _boot_at_load(self, machine, spec, ordinal, now):
        if self.capacity.active:
            where = "scenario.vms[%d]" % ordinal if ordinal < len(self.definition.get("vms", [])) else "scenario.generate"
            node = self.capacity.place_at_load(machine, self._node_keys.get(spec.get("node")), where)
        else:
            node = self._node_keys.get(spec.get("node")) or self.pick_node(machine, None)
        started = now - 3600 * (ordinal % 48 + 1)
        power.set_started(machine, node, "running", started)
        power.set_guest_up(machine, started)

    def _add_nic(self, machine, index, nic, default_address):
        nic_key = self._allocators["machine_nics"].allocate()
        status_key = self._allocators["machine_nic_status"].allocate()
        mac, ip = default_address
        row = self._insert("machine_nics", {
            "$key": nic_key, "name": nic.get("name", "nic_%d" % index), "description": "", "machine": machine.key,
            "interface": nic.get("interface", "virtio"), "macaddress": nic.get("macaddress", mac),
            "ipaddress": nic.get("ipaddress", ip), "vnet": nic.get("vnet", 1), "enabled": nic.get("enabled", True),
            "status": status_key, "orderid": index,
        })
        machine.nics.append(row)
        machine.nic_status.append(self._insert("machine_nic_status", {"$key": status_key, "parent_nic": nic_key, "status": "down",
                                                                      "state": "offline", "speed": 10000, "last_update": 0}))

    # ------------------------------------------------------------ reading

    def tick(self, now):
        """Return the time a request is handled at: never earlier than one handled before it (call under lock)."""
        self.clock = max(self.clock, now)
        return self.clock

    def touch(self):
        """Record that something may have changed: cached answers are stale from here on."""
        self.version += 1

    def advance(self, now):
        """Apply every transition and snapshot expiry due by now, and show the snapshots whose time has come."""
        changed = self.power.advance(now)
        if self._staged_snapshots:
            for key, (due, row, _machine) in list(self._staged_snapshots.items()):
                if due <= now:
                    del self._staged_snapshots[key]
                    self._insert("machine_snapshots", row)
                    changed += 1
        expired = [row for row in self.tables["machine_snapshots"].values() if 0 < row["expires"] <= now]
        for row in expired:
            self.delete_snapshot(row["$key"])
        if changed or expired:
            self.touch()

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
        rows = self.tables[target]

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
            return lambda row: _as_text(getter(row))
        index = TABLE_INDEX[table]
        return lambda row: _as_text(getter(row)) if self.stringified(index, row["$key"]) else getter(row)

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
            return _as_text(key)
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

    def view(self, table):
        return TableView(self, table)

    def candidate_rows(self, table, condition):
        """Return the rows a filter can match: looked up by key when it pins keys (the polling case), else all."""
        rows = self.tables[table]
        keys = query.equality_keys(condition, "$key")
        if keys is not None:
            return [rows[key] for key in keys if key in rows]
        if table == "machine_status":
            machine_keys = query.equality_keys(condition, "machine")
            if machine_keys is not None:
                return [self.machines[key].row for key in machine_keys if key in self.machines]
        return list(rows.values())

    # ------------------------------------------------------------ identities

    def login(self, name, password):
        """Return a new session token for valid credentials, else None."""
        user = self.users.get(name)
        if user is None or user["password"] != password:
            return None
        token = secrets.token_hex(20)
        self.tokens[token] = name
        return token

    def check_password(self, name, password, now):
        """Return the principal of a user logging in with a password, or raise ApiError(401) (counted; locks: logins.py)."""
        if self.logins.locked(name, now):
            if not self._password_matches(name, password):
                self.logins.failure(name, now)
            raise ApiError(401, LOCKED)
        principal = self.user_principal(name, password)
        if principal is None:
            self.logins.failure(name, now)
            raise ApiError(401, LOGIN_REQUIRED)
        self.logins.success(name)
        return principal

    def _password_matches(self, name, password):
        user = self.users.get(name)
        return user is not None and user["password"] == password

    def user_principal(self, name, password):
        user = self.users.get(name)
        if user is None or user["password"] != password:
            return None
        return Principal(name, user.get("role", "admin"))

    def token_principal(self, token):
        name = self.tokens.get(token)
        return None if name is None else Principal(name, self.users[name].get("role", "admin"))

    # ------------------------------------------------------------ power

    def pick_node(self, machine, preferred):
        """Return the node a VM starts on, or None.

        With the capacity model: capacity.py (the preferred node if it fits there, else the first with room).
        Without: the preferred one if it exists, else the next of its cluster's running nodes in turn.
        """
        preferred_key = as_key(preferred)
        if self.capacity.active:
            return self.capacity.place(machine, preferred_key)
        if preferred_key in self.tables["nodes"]:
            return preferred_key
        nodes = [row for row in self.tables["nodes"].values() if row["running"] and not row["maintenance"]]
        candidates = [row["$key"] for row in nodes if row["cluster"] == machine.cluster]
        candidates = candidates or [row["$key"] for row in nodes]
        if not candidates:
            return None
        self._placements += 1
        return candidates[(self._placements - 1) % len(candidates)]

    def vm_action(self, body, now):
        """Carry out POST vm_actions or raise ApiError."""
        action = body.get("action")
        if action is None:
            raise ApiError(422, "field 'action' is required")
        if action not in self.actions:
            raise ApiError(422, "value '%s' is not in list for field 'action'" % action)
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise ApiError(422, "field 'params' must be an object")
        if action == "reset" and params.get("graceful") and "reset_graceful" not in self.reboot_actions:
            raise ApiError(422, "field 'graceful' is not supported for action 'reset'")
        machine = self._machine_of_vm(body.get("vm"))
        if machine.vm["is_snapshot"]:
            raise ApiError(422, "cannot %s a snapshot" % action)
        if action == "poweron":
            self.capacity.poweron_coming()  # holds armed for this moment take their RAM now (the race of a test)
        self.power.act(machine, action, params, now, pick_node=lambda preferred: self.pick_node(machine, preferred))

    def _machine_of_vm(self, value):
        if value is None:
            raise ApiError(422, "field 'vm' is required")
        key = as_key(value)
        if key is None:
            raise ApiError(422, "field 'vm' must be a VM key")
        vm = self.tables["vms"].get(key)
        if vm is None:
            raise ApiError(404, "vm %s does not exist" % key)
        return self.machines[vm["machine"]]

    def write_status(self, key, changes, now):
        """Carry out PUT machine_status/<key> or raise ApiError."""
        row = self.tables["machine_status"].get(key)
        if row is None:
            raise missing("machine_status", key, "put")
        machine = self.machines[row["machine"]]
        power.write_status(self.power, machine, changes, now, node_exists=lambda node: as_key(node) in self.tables["nodes"],
                           pick_node=lambda preferred: self.pick_node(machine, preferred))

    # ------------------------------------------------------------ snapshots

    def create_snapshot(self, body, now):
        """Carry out POST machine_snapshots; return the new row's key or raise ApiError."""
        key = as_key(body.get("machine"))
        if key is None:
            raise ApiError(422, "field 'machine' is required and must be a machine key")
        machine = self.machines.get(key)
        if machine is None:
            raise ApiError(404, "machine %s does not exist" % key)
        if machine.vm["is_snapshot"]:
            raise ApiError(422, "cannot snapshot a snapshot")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(422, "field 'name' is required")
        expires = body.get("expires", int(now) + DEFAULT_SNAPSHOT_LIFETIME)
        if isinstance(expires, bool) or not isinstance(expires, int) or expires < 0:
            raise ApiError(422, "field 'expires' must be a unix time or 0")
        quiesce = body.get("quiesce", False)
        if quiesce and not machine.row["agent_version"]:
            raise ApiError(422, "cannot quiesce: the guest agent is not answering")
        spec = {"name": name, "description": body.get("description", ""), "expires": expires,
                "created_manually": bool(body.get("created_manually", False)), "quiesced": bool(quiesce)}
        return self.take_snapshot(machine, spec, now, delay=self.snapshot_delay)

    def take_snapshot(self, machine, spec, now, delay=0.0):
        """Add a machine_snapshots row and its snapshot VM (is_snapshot, never running); return the row key.

        delay: world seconds before the row can be read (it can be deleted at once).
        """
        source = machine.vm
        snapshot_vm = {key: source[key] for key in ("cpu_cores", "ram", "os_family", "guest_agent", "uefi", "secure_boot", "machine_type")}
        snapshot_vm.update(name=spec["name"], description=spec.get("description", ""), is_snapshot=True,
                           cluster=self.tables["clusters"][machine.cluster]["name"], timings=scenarios.DEFAULT_TIMINGS)
        snap_machine = self._add_vm(snapshot_vm, len(self.tables["vms"]), now)
        key = self._allocators["machine_snapshots"].allocate()
        expires = spec.get("expires", 0)
        row = {
            "$key": key, "name": spec["name"], "description": spec.get("description", ""), "created": int(now),
            "expires": expires, "expires_type": "date" if expires else "never", "quiesced": spec.get("quiesced", False),
            "created_manually": spec.get("created_manually", True), "machine": machine.key, "snap_machine": snap_machine.key,
            "snapshot_period": None,
        }
        if delay > 0:
            # Switch snapshot_visible_after: taken now, readable only later.
            self._staged_snapshots[key] = (now + delay, row, snap_machine)
        else:
            self._insert("machine_snapshots", row)
        return key

    def delete_snapshot(self, key):
        """Remove a machine_snapshots row (readable or not yet) and its snapshot VM, or raise ApiError(404)."""
        staged = self._staged_snapshots.pop(key, None)
        row = staged[1] if staged is not None else self.tables["machine_snapshots"].pop(key, None)
        if row is None:
            raise missing("machine_snapshots", key, "delete")
        machine = self.machines.pop(row["snap_machine"], None)
        if machine is not None:
            self.power.cancel(machine)
            self.tables["vms"].pop(machine.vm["$key"], None)
            self.tables["machines"].pop(machine.key, None)
            self.tables["machine_status"].pop(machine.row["$key"], None)

    # ------------------------------------------------------------ tags (writable, as VergeOS's are)

    def _next_key(self, table):
        return max(self.tables[table], default=0) + 1

    @staticmethod
    def _text(body, field, required=True):
        value = body.get(field, None if required else "")
        if not isinstance(value, str) or (required and not value):
            raise ApiError(422, "field '%s' is required and must be a non-empty string" % field)
        return value

    IN_USE = "This name is already in use"
    NOT_PERMITTED = "Operation not permitted"

    def _in_use(self, old_message):
        """Return the refusal of a name (or tag and member) in use: 422 in VergeOS's words, or (switch duplicate_name) the old 409."""
        if self.duplicate_status == 422:
            return ApiError(422, self.IN_USE)
        return ApiError(409, old_message)

    @staticmethod
    def _flag(body, field):
        """Return a boolean field of a body (absent: None), or raise 422."""
        value = body.get(field)
        if value is not None and not isinstance(value, bool):
            raise ApiError(422, "field '%s' must be true or false" % field)
        return value

    def create_tag_category(self, body, now):
        """Carry out POST tag_categories; return the new key (a name in use: switch duplicate_name)."""
        name = self._text(body, "name")
        if any(row["name"] == name for row in self.tables["tag_categories"].values()):
            raise self._in_use("a tag category named %s exists" % name)
        fields = {"name": name, "description": self._text(body, "description", required=False)}
        for flag in ("taggable_vms", "single_tag_selection"):
            fields[flag] = bool(self._flag(body, flag))
        key = self._next_key("tag_categories")
        row = self._category_row(key, fields)
        row["created"] = row["modified"] = int(now)
        self._insert("tag_categories", row)
        return key

    def update_tag_category(self, key, body, now):
        """Carry out PUT tag_categories/<key>: name, description, taggable_vms, single_tag_selection (any of them)."""
        row = self.tables["tag_categories"].get(key)
        if row is None:
            raise missing("tag_categories", key, "put")
        changes = {field: self._text(body, field, required=field == "name") for field in ("name", "description") if field in body}
        for flag in ("taggable_vms", "single_tag_selection"):
            if body.get(flag) is not None:
                changes[flag] = self._flag(body, flag)
        name = changes.get("name")
        if name is not None and any(other["name"] == name and other_key != key for other_key, other in self.tables["tag_categories"].items()):
            raise self._in_use("a tag category named %s exists" % name)
        row.update(changes, modified=int(now))

    def create_tag(self, body, now):
        """Carry out POST tags; return the new key (422 for an unknown category; a name in use in it: switch duplicate_name)."""
        name = self._text(body, "name")
        category = as_key(body.get("category"))
        if category not in self.tables["tag_categories"]:
            raise ApiError(422, "field 'category' must be the key of a tag category")
        if any(row["name"] == name and row["category"] == category for row in self.tables["tags"].values()):
            raise self._in_use("a tag named %s exists in that category" % name)
        key = self._next_key("tags")
        row = self._tag_row(key, {"name": name, "description": self._text(body, "description", required=False)}, category)
        row["created"] = row["modified"] = int(now)
        self._insert("tags", row)
        return key

    def update_tag(self, key, body, now):
        """Carry out PUT tags/<key>: its name and description may change (404 for no such tag)."""
        row = self.tables["tags"].get(key)
        if row is None:
            raise missing("tags", key, "put")
        changes = {field: self._text(body, field, required=field == "name") for field in ("name", "description") if field in body}
        row.update(changes, modified=int(now))

    def delete_tag(self, key):
        """Carry out DELETE tags/<key>, its members with it (404 for no such tag)."""
        if self.tables["tags"].pop(key, None) is None:
            raise missing("tags", key, "delete")
        for member_key in [member for member, row in self.tables["tag_members"].items() if row["tag"] == key]:
            del self.tables["tag_members"][member_key]

    def create_tag_member(self, body):
        """Carry out POST tag_members (member "vms/<VM key>"); return the new key.

        422 for a bad tag or member; 422 Operation not permitted when the tag's category cannot tag VMs (switch
        taggable_vms); the same tag and member again: switch duplicate_name.
        """
        tag = as_key(body.get("tag"))
        if tag not in self.tables["tags"]:
            raise ApiError(422, "field 'tag' must be the key of a tag")
        member = body.get("member")
        vm_key = as_key(member[len("vms/"):]) if isinstance(member, str) and member.startswith("vms/") else None
        if vm_key not in self.tables["vms"]:
            raise ApiError(422, "field 'member' must be vms/<key of a VM>")
        category = self.tables["tag_categories"].get(self.tables["tags"][tag]["category"])
        if self.taggable_enforced and not (category or {}).get("taggable_vms"):
            raise ApiError(422, self.NOT_PERMITTED)
        member = "vms/%d" % vm_key
        if any(row["tag"] == tag and row["member"] == member for row in self.tables["tag_members"].values()):
            raise self._in_use("%s already carries that tag" % member)
        key = self._allocators["tag_members"].allocate()
        self._insert("tag_members", {"$key": key, "tag": tag, "member": member})
        return key

    def delete_tag_member(self, key):
        if self.tables["tag_members"].pop(key, None) is None:
            raise missing("tag_members", key, "delete")

    def counts(self):
        """Return the number of rows per table."""
        return {name: len(rows) for name, rows in self.tables.items()}
