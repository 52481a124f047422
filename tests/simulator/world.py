"""The simulated VergeOS system: one World per loaded scenario, composed of rooms.

A World is built from one validated scenario and replaced whole when another
is loaded. It holds what every room shares: the lock, the clock and the
version. Every read and write holds `lock`, takes its time from tick() and
first calls advance(now), which applies the power transitions and snapshot
changes that fell due. `version` counts the changes (transitions applied,
writes); encoded answers to reads are cached per version in `responses`.

The rooms (README.md, "Code map"), each a module of its own:

- `store` (tables.py): the rows of every table, their keys, and how reads see
  them (switches `key_type`, `sort_key`, `member_bw`, `default_fields`);
- `auth` (auth.py): users, API keys, session tokens, failed logins (logins.py);
- `fleet` (fleet.py): clusters, nodes, VMs and machines, power actions and
  status writes, through `power` (power.py) and `capacity` (capacity.py);
- `snapshots` (snapshots.py): snapshots, their snapshot VMs, late visibility, expiry;
- `tags` (tags.py): tag categories, tags and members;
- `ports` (ports.py): the VMs' reachable ports and their health answers.

`tables` and `machines` are the store's dictionaries, read directly by the
HTTP layer and the capacity model.
"""

import re
import threading
import uuid

import cache
import power
import scenario as scenarios
from auth import Identities
from capacity import Capacity
from fleet import Fleet
from ports import PortSet
from snapshots import Snapshots
from tables import TableStore
from tags import Tags


def _major_version(text):
    match = re.match(r"\s*(\d+)", text or "")
    return int(match.group(1)) if match else None


class World:
    """One simulated VergeOS system: the lock, the clock, the version and the rooms."""

    def __init__(self, definition, default_speed, now):
        self.lock = threading.RLock()
        self.definition = definition
        self.switches = switches = scenarios.switches_of(definition)
        self.version = 0
        self.clock = 0.0
        self.responses = cache.ResponseCache()
        speed = definition.get("speed", default_speed)
        self.error_body = switches["error_body"]  # read on every request: one comparison at its default
        self.store = TableStore(switches, scenarios.seed_of(definition))
        self.tables = self.store.rows
        self.machines = self.store.machines
        self.auth = Identities(definition, switches, speed)
        self.capacity = Capacity(self, scenarios.capacity_of(definition))
        self.power = power.PowerModel(speed, no_resources=switches["no_resources"], queue_timeout=switches["queue_timeout"],
                                      graceful_honoured=switches["graceful"] == "honoured", capacity=self.capacity.active)
        self.tags = Tags(self.store, switches)
        self.fleet = Fleet(self.store, self.tags, self.capacity, self.power, switches)
        self.snapshots = Snapshots(self.store, self.fleet, switches["snapshot_visible_after"] / speed)
        self._build(definition, now)
        # Bound and listening only once the world is installed (app.py: open(); close() when it is replaced).
        self.ports = PortSet(self, self.fleet.port_entries)

    def _build(self, definition, now):
        system = scenarios.system_of(definition)
        self.store.insert("system", {"$key": 1, "uuid": str(uuid.UUID(int=1)), **system})
        major = _major_version(system["yb_version"])
        # pm, pt and et came with VergeOS 26.0: an older system refuses them as unknown operators.
        self.store.old_filter_grammar = major is not None and major < 26
        self.fleet.load_platform(definition)
        self.tags.load(definition.get("tag_categories", []), definition.get("tags", []), scenarios.taggable_categories(definition))
        vms = self.fleet.load_vms(definition, now)
        for snapshot in definition.get("snapshots", []):
            self.snapshots.take(vms[snapshot["vm"]], snapshot, now)

    # ------------------------------------------------------------ the clock

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
        if self.snapshots.advance(now) or changed:
            self.touch()
