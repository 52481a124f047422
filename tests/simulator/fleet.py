"""The fleet room: clusters, nodes, VMs and their machines, and the power actions the API sends them.

It builds the rows of every VM (vm, machine, machine_status, NICs, the
scenario's tags through the tags room), places the VMs running at load, picks
the node a VM starts on (capacity.py when the capacity model is on), and
carries out `POST vm_actions` and `PUT machine_status` through the power model
(power.py: the state machine, the guests, the health a restart leaves). The
VMs with a reachable `port` are listed for ports.py.
"""

import uuid

import power
import scenario as scenarios
from tables import EPOCH, KEY_STARTS, KeyAllocator, as_key
from wire import ApiError, missing


def cluster_row(key, cluster):
    return {"$key": key, "name": cluster["name"], "description": cluster.get("description", ""), "enabled": True, "created": EPOCH}


def node_row(definition, key, node, cluster_key):
    own = scenarios.node_capacity(definition, node)
    return {"$key": key, "name": node["name"], "description": "", "cluster": cluster_key, "running": node.get("running", True),
            "maintenance": node.get("maintenance", False), "physical": True, "cores": own["cores"], "ram": own["ram"],
            "vm_ram": own["ram"] - own["ram_reserve"], "ipaddress": "192.168.10.%d" % (key % 250 + 1)}


def nic_address(ordinal):
    """Return (MAC, IP) of the default NIC of the VM with this ordinal."""
    mac = "52:54:00:%02x:%02x:%02x" % ((ordinal >> 16) & 255, (ordinal >> 8) & 255, ordinal & 255)
    ip = "10.%d.%d.%d" % ((ordinal // 62500) % 256, (ordinal // 250) % 250, ordinal % 250 + 2)
    return mac, ip


class Fleet:
    """Clusters, nodes, VMs and machines of one world (rows in the tables room, Machines in `machines`)."""

    def __init__(self, store, tags, capacity, power_model, switches):
        self.store = store
        self.rows = store.rows
        self.machines = store.machines  # machine key -> power.Machine
        self.tags = tags
        self.capacity = capacity
        self.power = power_model
        self.switches = switches
        self.reboot_actions = tuple(switches["reboot_actions"])
        self.actions = power.ACTIONS + tuple(name for name in power.GUEST_REBOOT_ACTIONS if name in self.reboot_actions)
        self.port_entries = []  # (machine, `port` of its spec) of the VMs with a reachable port
        self._placements = 0
        self._cluster_keys = {}
        self._node_keys = {}
        self._keys = {
            "vms": KeyAllocator(KEY_STARTS["vms"]),
            "machines": KeyAllocator(KEY_STARTS["machines"]),
            "machine_status": KeyAllocator(KEY_STARTS["machine_status"]),
            "machine_nics": KeyAllocator(1),
            "machine_nic_status": KeyAllocator(1),
        }

    # ------------------------------------------------------------ building

    def load_platform(self, definition):
        """Insert the scenario's clusters and nodes."""
        clusters = self.store.build_named("clusters", scenarios.clusters_of(definition), cluster_row)
        first_cluster = next(iter(clusters.values()))
        self.store.build_named("nodes", scenarios.nodes_of(definition),
                               lambda key, node: node_row(definition, key, node, clusters.get(node.get("cluster"), first_cluster)))
        self._cluster_keys = clusters
        self._node_keys = {row["name"]: key for key, row in self.rows["nodes"].items()}

    def load_vms(self, definition, now):
        """Add the scenario's VMs (its own and generated ones) and start those running at load; return name and key -> Machine."""
        self._keys["vms"] = KeyAllocator(KEY_STARTS["vms"], [vm["key"] for vm in definition.get("vms", []) if "key" in vm])
        by_name = {}
        running = []  # with the capacity model, (machine, spec, ordinal) of the VMs running at load
        for ordinal, spec in enumerate(scenarios.vm_specs(definition)):
            machine = self.add_vm(spec, ordinal, now)
            by_name.setdefault(spec["name"], machine)
            if spec.get("key"):
                by_name[spec["key"]] = machine
            if spec.get("power") == "running":
                if self.capacity.active:
                    running.append((machine, spec, ordinal))
                else:
                    self._boot_at_load(machine, spec, ordinal, now, None)
        # Those given a node first, then the others on the first node with room.
        vm_count = len(definition.get("vms", []))
        for machine, spec, ordinal in sorted(running, key=lambda entry: "node" not in entry[1]):
            self._boot_at_load(machine, spec, ordinal, now, "scenario.vms[%d]" % ordinal if ordinal < vm_count else "scenario.generate")
        self.capacity.loaded()
        return by_name

    def add_vm(self, spec, ordinal, now):
        """Create the rows of one VM (vm, machine, status, NICs, tag members); return its Machine."""
        vm_key = spec.get("key") or self._keys["vms"].allocate()
        # A VM's three keys always differ, as nothing on a real system makes them equal.
        machine_key = self._keys["machines"].allocate(avoid=(vm_key,))
        status_key = self._keys["machine_status"].allocate(avoid=(vm_key, machine_key))
        cluster = self._cluster_keys.get(spec.get("cluster"), next(iter(self._cluster_keys.values())))
        created = EPOCH + ordinal * 60
        vm = self.store.insert("vms", {
            "$key": vm_key, "name": spec["name"], "description": spec.get("description", ""), "enabled": spec.get("enabled", True),
            "cpu_cores": spec.get("cpu_cores", 1), "ram": spec.get("ram", 1024), "os_family": spec.get("os_family", "linux"),
            "guest_agent": spec.get("guest_agent", False), "uefi": spec.get("uefi", False), "secure_boot": spec.get("secure_boot", False),
            "machine_type": spec.get("machine_type", "pc-q35-9.0"), "cloudinit_datasource": "none", "created": created,
            "modified": created, "is_snapshot": spec.get("is_snapshot", False), "uuid": str(uuid.UUID(int=(0x5EED << 64) | vm_key)),
            "machine": machine_key, "running": None,
        })
        self.store.insert("machines", {"$key": machine_key, "name": spec["name"], "type": "vm", "cluster": cluster, "status": status_key,
                                       "preferred_node": None, "ha_group": None, "created": created})
        row = self.store.insert("machine_status", {"$key": status_key, "machine": machine_key, "started": 0})
        timings = spec["timings"]
        guest = power.Guest(timings["boot"], timings["shutdown"], timings["kill"], timings["reboot"], vm["guest_agent"],
                            acpi_delay=timings.get("acpi_delay", 0.0), agent_delay=timings.get("agent_delay", 0.0),
                            **spec.get("guest", {}))
        redundant = spec.get("switches", {}).get("redundant_action", self.switches["redundant_action"])
        machine = power.Machine(machine_key, vm, row, [], [], cluster, guest, redundant_answer=redundant,
                                status_rows=self.switches["status_rows"])
        if not vm["is_snapshot"]:
            for index, nic in enumerate(spec.get("nics") or [{}]):
                mac, ip = nic_address(ordinal + 256 * index)
                if index == 0 and "port" in spec:
                    ip = spec["port"].get("host", scenarios.DEFAULT_PORT_HOST)  # where the controller reaches its port
                self._add_nic(machine, index, nic, (mac, ip))
            if "port" in spec:
                self.port_entries.append((machine, spec["port"]))
        self.machines[machine_key] = machine
        power.set_stopped(machine, now)
        if machine.status_rows == "recorded" and not vm["is_snapshot"] and spec.get("power") != "running":
            # A stopped VM shows its last run, as recorded stopped rows do (a snapshot VM never ran).
            row.update(started=int(now) - 86400 - 3600 * (ordinal % 48), running_cores=vm["cpu_cores"], running_ram=vm["ram"])
        for tag in spec.get("tags", []):
            self.tags.tag_at_load(vm_key, tag)
        return machine

    def remove_vm(self, machine_key):
        """Remove a VM without NICs (a snapshot VM) and its machine, cancelling whatever it had pending."""
        machine = self.machines.pop(machine_key, None)
        if machine is not None:
            self.power.cancel(machine)
            self.rows["vms"].pop(machine.vm["$key"], None)
            self.rows["machines"].pop(machine.key, None)
            self.rows["machine_status"].pop(machine.row["$key"], None)

    def _boot_at_load(self, machine, spec, ordinal, now, where):
        """Start a VM running at load (where: its place in the scenario, for the capacity model's refusal)."""
        if self.capacity.active:
            node = self.capacity.place_at_load(machine, self._node_keys.get(spec.get("node")), where)
        else:
            node = self._node_keys.get(spec.get("node")) or self.pick_node(machine, None)
        started = now - 3600 * (ordinal % 48 + 1)
        power.set_started(machine, node, "running", started)
        power.set_guest_up(machine, started)

    def _add_nic(self, machine, index, nic, default_address):
        nic_key = self._keys["machine_nics"].allocate()
        status_key = self._keys["machine_nic_status"].allocate()
        mac, ip = default_address
        row = self.store.insert("machine_nics", {
            "$key": nic_key, "name": nic.get("name", "nic_%d" % index), "description": "", "machine": machine.key,
            "interface": nic.get("interface", "virtio"), "macaddress": nic.get("macaddress", mac),
            "ipaddress": nic.get("ipaddress", ip), "vnet": nic.get("vnet", 1), "enabled": nic.get("enabled", True),
            "status": status_key, "orderid": index,
        })
        machine.nics.append(row)
        machine.nic_status.append(self.store.insert("machine_nic_status", {"$key": status_key, "parent_nic": nic_key, "status": "down",
                                                                           "state": "offline", "speed": 10000, "last_update": 0}))

    # ------------------------------------------------------------ power

    def pick_node(self, machine, preferred):
        """Return the node a VM starts on, or None.

        With the capacity model: capacity.py (the preferred node if it fits there, else the first with room).
        Without: the preferred one if it exists, else the next of its cluster's running nodes in turn.
        """
        preferred_key = as_key(preferred)
        if self.capacity.active:
            return self.capacity.place(machine, preferred_key)
        if preferred_key in self.rows["nodes"]:
            return preferred_key
        nodes = [row for row in self.rows["nodes"].values() if row["running"] and not row["maintenance"]]
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
        machine = self.machine_of_vm(body.get("vm"))
        if machine.vm["is_snapshot"]:
            raise ApiError(422, "cannot %s a snapshot" % action)
        if action == "poweron":
            self.capacity.poweron_coming()  # holds armed for this moment take their RAM now (the race of a test)
        self.power.act(machine, action, params, now, pick_node=lambda preferred: self.pick_node(machine, preferred))

    def machine_of_vm(self, value):
        """Return the Machine of a VM key (an int or a numeric string) of a request body, or raise ApiError."""
        if value is None:
            raise ApiError(422, "field 'vm' is required")
        key = as_key(value)
        if key is None:
            raise ApiError(422, "field 'vm' must be a VM key")
        vm = self.rows["vms"].get(key)
        if vm is None:
            raise ApiError(404, "vm %s does not exist" % key)
        return self.machines[vm["machine"]]

    def write_status(self, key, changes, now):
        """Carry out PUT machine_status/<key> or raise ApiError."""
        row = self.rows["machine_status"].get(key)
        if row is None:
            raise missing("machine_status", key, "put")
        machine = self.machines[row["machine"]]
        power.write_status(self.power, machine, changes, now, node_exists=lambda node: as_key(node) in self.rows["nodes"],
                           pick_node=lambda preferred: self.pick_node(machine, preferred))
