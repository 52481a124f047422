"""Capacity: what the nodes hold, what running machines and holds use of it, and where a VM starts.

Off unless the scenario gives node capacities (a top-level `capacity` section,
or `ram`, `cores` or `ram_reserve` on a node): then a node offers its RAM less
its platform reserve (the `vm_ram` column) and, with `core_overcommit`, its
cores times that ratio; every machine that is on (`running` true, from
`starting` to the end of `stopping`) uses its `running_ram` and
`running_cores` on its `node`; holds (test support, `/_sim/capacity/holds`)
take RAM and cores that no API read shows. A VM starts on its preferred node
when it fits there, else on the first node of its cluster (node key order)
with room; with no room anywhere the poweron is refused or queued (power.py).

Off, placement is what it always was: the preferred node if it exists, else
the cluster's running nodes in turn; holds are refused (409).
"""

import itertools
from dataclasses import dataclass

import scenario as scenarios
from wire import ApiError


@dataclass
class Hold:
    """RAM and cores taken on a node behind the API's back (the race of a test); armed ones wait for the next poweron."""

    id: int
    node: int
    ram: int = 0
    cores: int = 0
    leave_ram: object = None  # instead of ram: take all but this much of the node's free RAM, when it takes effect
    on: str = "now"  # or "poweron": armed until just before the next poweron request is decided
    armed: bool = False  # not in effect yet

    def listing(self, world):
        return {"id": self.id, "node": world.tables["nodes"][self.node]["name"], "node_key": self.node, "ram": self.ram,
                "cores": self.cores, "leave_ram": self.leave_ram, "on": self.on, "active": not self.armed}


class Capacity:
    """The capacity model of one world (world.py builds it; `active` False leaves placement as it always was)."""

    def __init__(self, world, setting):
        self.world = world
        self.active = setting is not None
        setting = setting or scenarios.capacity_of({"capacity": {}})
        self.core_overcommit = setting["core_overcommit"]
        self.preferred_mode = setting["preferred_node"]
        self.holds = {}
        self._hold_ids = itertools.count(1)
        self._load_usage = None  # while the world is built: usage() kept up to date placement by placement

    # ------------------------------------------------------------ what is used

    def usage(self):
        """Return node key -> [ram, cores, machines] used by the machines that are on (from their status rows)."""
        used = {key: [0, 0, 0] for key in self.world.tables["nodes"]}
        for machine in self.world.machines.values():
            row = machine.row
            if row["running"] and row["node"] in used:
                entry = used[row["node"]]
                entry[0] += row["running_ram"] or 0
                entry[1] += row["running_cores"] or 0
                entry[2] += 1
        return used

    def held(self, node_key):
        """Return (ram, cores) the active holds take on a node."""
        ram = cores = 0
        for hold in self.holds.values():
            if hold.node == node_key and not hold.armed:
                ram += hold.ram
                cores += hold.cores
        return ram, cores

    def free(self, node, used):
        """Return (free RAM in MB, free cores or None when cores are not limited) of a node row."""
        ram_used, cores_used, _count = used[node["$key"]]
        ram_held, cores_held = self.held(node["$key"])
        ram_free = node["vm_ram"] - ram_used - ram_held
        if self.core_overcommit is None:
            return ram_free, None
        return ram_free, node["cores"] * self.core_overcommit - cores_used - cores_held

    # ------------------------------------------------------------ placement

    @staticmethod
    def usable(node):
        return node["running"] and not node["maintenance"]

    def _fits(self, machine, node, used):
        ram_free, cores_free = self.free(node, used)
        return ram_free >= machine.vm["ram"] and (cores_free is None or cores_free >= machine.vm["cpu_cores"])

    def candidates(self, machine):
        """Return the nodes a VM may start on, in key order: its cluster's usable ones, else (none at all) any usable one."""
        nodes = [node for _key, node in sorted(self.world.tables["nodes"].items()) if self.usable(node)]
        return [node for node in nodes if node["cluster"] == machine.cluster] or nodes

    def place(self, machine, preferred_key):
        """Return the key of the node the VM starts on, or None when it fits on none (or, strict, not on its preferred one)."""
        used = self.usage()
        preferred = self.world.tables["nodes"].get(preferred_key)
        if preferred is not None:
            if self.usable(preferred) and self._fits(machine, preferred, used):
                return preferred_key
            if self.preferred_mode == "strict":
                return None
        for node in self.candidates(machine):
            if self._fits(machine, node, used):
                return node["$key"]
        return None

    def place_at_load(self, machine, node_key, where):
        """Return the node a running VM of the scenario is on: its own `node` if it fits there, else the first with room.

        Raises ScenarioError when it fits nowhere: a scenario whose running VMs do not fit is refused.
        Nothing else changes while a world is built, so the usage is reckoned once and then added to.
        """
        if self._load_usage is None:
            self._load_usage = self.usage()
        used = self._load_usage
        node_key = self._place_at_load(machine, node_key, where, used)
        entry = used[node_key]
        entry[0] += machine.vm["ram"]
        entry[1] += machine.vm["cpu_cores"]
        entry[2] += 1
        return node_key

    def loaded(self):
        """The world is built: usage is reckoned afresh from the status rows from now on."""
        self._load_usage = None

    def _place_at_load(self, machine, node_key, where, used):
        vm = machine.vm
        if node_key is not None:
            node = self.world.tables["nodes"][node_key]
            if not self.usable(node):
                raise scenarios.ScenarioError("%s.node: node %r is not running or is in maintenance" % (where, node["name"]))
            if not self._fits(machine, node, used):
                raise scenarios.ScenarioError("%s: %r (%d MB, %d cores) does not fit on node %r (%s)" % (
                    where, vm["name"], vm["ram"], vm["cpu_cores"], node["name"], self._room(node, used)))
            return node_key
        for node in self.candidates(machine):
            if self._fits(machine, node, used):
                return node["$key"]
        raise scenarios.ScenarioError("%s: the running VM %r (%d MB, %d cores) fits on no node" % (
            where, vm["name"], vm["ram"], vm["cpu_cores"]))

    def _room(self, node, used):
        ram_free, cores_free = self.free(node, used)
        return "%d MB free" % ram_free + ("" if cores_free is None else ", %s cores free" % _number(cores_free))

    # ------------------------------------------------------------ holds (test support)

    def add_holds(self, body):
        """Install the holds of a POST /_sim/capacity/holds body (validated); return their listings. ApiError when refused."""
        if not self.active:
            raise ApiError(409, "the capacity model is off: the scenario gives no node capacity (capacity, or ram/cores/ram_reserve on a node)")
        nodes = self.world.tables["nodes"]
        if "node" in body:
            key = _node_key(self.world, body["node"])
            if key is None:
                raise ApiError(404, "node %s does not exist" % body["node"])
            keys = [key]
        else:
            keys = sorted(nodes)
        on = body.get("on", "now")
        added = []
        for key in keys:
            hold = Hold(next(self._hold_ids), key, body.get("ram", 0), body.get("cores", 0), body.get("leave_ram"), on, on == "poweron")
            if not hold.armed:
                self._take(hold)
            self.holds[hold.id] = hold
            added.append(hold)
        return [hold.listing(self.world) for hold in added]

    def _take(self, hold):
        """Make a hold take effect: a leave_ram hold takes what is free then, less what it leaves."""
        hold.armed = False
        if hold.leave_ram is not None:
            node = self.world.tables["nodes"][hold.node]
            ram_free, _cores = self.free(node, self.usage())
            hold.ram = max(0, ram_free - hold.leave_ram)

    def poweron_coming(self):
        """A poweron is about to be decided: the armed holds take effect now."""
        for hold in self.holds.values():
            if hold.armed:
                self._take(hold)

    def remove_hold(self, hold_id):
        """Remove one hold; return whether it existed."""
        return self.holds.pop(hold_id, None) is not None

    def clear_holds(self):
        count = len(self.holds)
        self.holds.clear()
        return count

    # ------------------------------------------------------------ report

    def report(self):
        """Return GET /_sim/capacity: the model's setting, every node's capacity and use, and the holds."""
        used = self.usage()
        clusters = self.world.tables["clusters"]
        nodes = []
        for key, node in sorted(self.world.tables["nodes"].items()):
            ram_used, cores_used, count = used[key]
            ram_held, cores_held = self.held(key)
            ram_free, cores_free = self.free(node, used)
            nodes.append({
                "key": key, "name": node["name"], "cluster": clusters[node["cluster"]]["name"], "running": node["running"],
                "maintenance": node["maintenance"], "ram": node["ram"], "ram_reserve": node["ram"] - node["vm_ram"],
                "vm_ram": node["vm_ram"], "cores": node["cores"], "ram_used": ram_used, "cores_used": cores_used,
                "ram_held": ram_held, "cores_held": cores_held, "ram_free": ram_free,
                "cores_limit": None if self.core_overcommit is None else _number(node["cores"] * self.core_overcommit),
                "cores_free": None if cores_free is None else _number(cores_free), "machines": count,
            })
        return {"active": self.active, "core_overcommit": self.core_overcommit, "preferred_node": self.preferred_mode,
                "nodes": nodes, "holds": [hold.listing(self.world) for hold in self.holds.values()]}


def _number(value):
    """Return a whole float as an int (cores times a ratio), anything else unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _node_key(world, value):
    """Return the key of the node named or keyed by value, or None."""
    nodes = world.tables["nodes"]
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value in nodes else None
    for key, node in nodes.items():
        if node["name"] == value:
            return key
    if isinstance(value, str) and value.strip().isdigit() and int(value) in nodes:
        return int(value)
    return None
