"""The snapshots room: machine_snapshots rows, their snapshot VMs, late visibility and expiry.

A snapshot adds a `machine_snapshots` row and a snapshot VM (a `vms` row with
`is_snapshot`, its own stopped machine: the fleet room adds it). With the
switch `snapshot_visible_after` a new row is staged: its key is answered at
once, the row is readable only later. advance() shows the staged rows whose
time has come and removes the expired ones.
"""

import scenario as scenarios
from tables import KEY_STARTS, KeyAllocator, as_key
from wire import ApiError, missing

DEFAULT_SNAPSHOT_LIFETIME = 72 * 3600


class Snapshots:
    """The snapshots of one world (rows in the tables room, snapshot VMs in the fleet room)."""

    def __init__(self, store, fleet, visible_after):
        self.store = store
        self.rows = store.rows
        self.fleet = fleet
        self.delay = visible_after  # world seconds a new snapshot stays unreadable (switch snapshot_visible_after)
        self._keys = KeyAllocator(KEY_STARTS["machine_snapshots"])
        self._staged = {}  # key -> (due, row, snapshot machine): taken, not readable yet

    def create(self, body, now):
        """Carry out POST machine_snapshots; return the new row's key or raise ApiError."""
        key = as_key(body.get("machine"))
        if key is None:
            raise ApiError(422, "field 'machine' is required and must be a machine key")
        machine = self.fleet.machines.get(key)
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
        return self.take(machine, spec, now, delay=self.delay)

    def take(self, machine, spec, now, delay=0.0):
        """Add a machine_snapshots row and its snapshot VM (is_snapshot, never running); return the row key.

        delay: world seconds before the row can be read (it can be deleted at once).
        """
        source = machine.vm
        snapshot_vm = {key: source[key] for key in ("cpu_cores", "ram", "os_family", "guest_agent", "uefi", "secure_boot", "machine_type")}
        snapshot_vm.update(name=spec["name"], description=spec.get("description", ""), is_snapshot=True,
                           cluster=self.rows["clusters"][machine.cluster]["name"], timings=scenarios.DEFAULT_TIMINGS)
        snap_machine = self.fleet.add_vm(snapshot_vm, len(self.rows["vms"]), now)
        key = self._keys.allocate()
        expires = spec.get("expires", 0)
        row = {
            "$key": key, "name": spec["name"], "description": spec.get("description", ""), "created": int(now),
            "expires": expires, "expires_type": "date" if expires else "never", "quiesced": spec.get("quiesced", False),
            "created_manually": spec.get("created_manually", True), "machine": machine.key, "snap_machine": snap_machine.key,
            "snapshot_period": None,
        }
        if delay > 0:
            # Switch snapshot_visible_after: taken now, readable only later.
            self._staged[key] = (now + delay, row, snap_machine)
        else:
            self.store.insert("machine_snapshots", row)
        return key

    def delete(self, key):
        """Remove a machine_snapshots row (readable or not yet) and its snapshot VM, or raise ApiError(404)."""
        staged = self._staged.pop(key, None)
        row = staged[1] if staged is not None else self.rows["machine_snapshots"].pop(key, None)
        if row is None:
            raise missing("machine_snapshots", key, "delete")
        self.fleet.remove_vm(row["snap_machine"])

    def advance(self, now):
        """Show the staged snapshots whose time has come, remove the expired ones; return whether anything changed."""
        changed = False
        if self._staged:
            for key, (due, row, _machine) in list(self._staged.items()):
                if due <= now:
                    del self._staged[key]
                    self.store.insert("machine_snapshots", row)
                    changed = True
        expired = [row for row in self.rows["machine_snapshots"].values() if 0 < row["expires"] <= now]
        for row in expired:
            self.delete(row["$key"])
        return changed or bool(expired)
