"""Power: the machine_status state machine, advanced lazily from timestamps.

Each machine carries at most one pending transition (what happens next and
when). Due transitions are kept in a heap and applied whenever the world is
read or written, so an idle world of 10,000 VMs costs nothing.

The answer to every (current phase, action) pair is one row of PLAN: a step
to take, a silent no-op (None), or a refusal. Behaviours that are unsettled
on real systems become alternative tables or Guest fields, not new branches.
"""

import heapq
import itertools
from dataclasses import dataclass

from wire import ApiError

STATUSES = (
    "initializing", "starting", "running", "stopping", "unresponsive", "stopped", "hibernated",
    "hibernating", "initmigrate", "startmigrate", "migrating", "migratecomplete", "importing",
    "maintenance", "leavingmaintenance", "unlicensed", "needsrefresh", "needsrestart",
    "waitingforresources", "error", "driversreloading",
)
STATES = ("online", "offline", "warning", "error")
ACTIONS = ("poweron", "poweroff", "kill", "reset")
STARTING_STATUSES = ("initializing", "starting", "waitingforresources")
# Statuses of a machine that is not on: no node, no cores, no agent.
OFF_STATUSES = ("stopped", "hibernated")
AGENT_VERSION = "qemu-guest-agent 8.2.2"
AGENT_FEATURES = ["guest-info", "guest-shutdown", "guest-fsfreeze"]

CONFLICT = (409, "cannot {action} the VM while it is {status}")
NOT_RUNNING = (422, "cannot {action} the VM: it is not running")

# (phase, action) -> step name, None for an accepted no-op, or (code, message) for a refusal.
# Chosen for unsettled cases: a redundant action is a silent 201; an action against a
# transition in flight is a 409, except kill, which overrides anything.
PLAN = {
    ("stopped", "poweron"): "start", ("starting", "poweron"): None,
    ("running", "poweron"): None, ("stopping", "poweron"): CONFLICT,
    ("stopped", "poweroff"): None, ("starting", "poweroff"): CONFLICT,
    ("running", "poweroff"): "shutdown", ("stopping", "poweroff"): None,
    ("stopped", "kill"): None, ("starting", "kill"): "kill",
    ("running", "kill"): "kill", ("stopping", "kill"): "kill",
    ("stopped", "reset"): NOT_RUNNING, ("starting", "reset"): CONFLICT,
    ("running", "reset"): "reset", ("stopping", "reset"): CONFLICT,
}


@dataclass
class Guest:
    """How one VM's guest OS behaves.

    Durations are in seconds before division by the world's speed. Per-VM
    misbehaviour (ignoring ACPI, stuck after kill, failing to start) belongs
    here as further fields read by the steps below.
    """

    boot: float
    shutdown: float
    kill: float
    reboot: float
    agent: bool


@dataclass
class Pending:
    due: float
    event: str
    sequence: int


@dataclass(eq=False)
class Machine:
    """One VM's machine at runtime: the rows it owns, its guest and its pending transition."""

    key: int
    vm: dict
    row: dict  # the machine_status row
    nics: list
    nic_status: list
    cluster: object
    guest: Guest
    pending: object = None


def phase(machine):
    """Return where the machine is in its power cycle: stopped, starting, running or stopping."""
    status = machine.row["status"]
    if status in STARTING_STATUSES:
        return "starting"
    if status == "stopping":
        return "stopping"
    return "running" if machine.row["running"] else "stopped"


def guest_info(machine):
    """Return what the guest agent reports about the guest."""
    interfaces = [
        {"name": "eth%d" % index, "hardware-address": nic["macaddress"],
         "ip-addresses": [{"ip-address": nic["ipaddress"], "ip-address-type": "ipv4", "prefix": 24}] if nic["ipaddress"] else []}
        for index, nic in enumerate(machine.nics)
    ]
    return {"hostname": machine.vm["name"], "os": {"id": machine.vm["os_family"]}, "network": interfaces}


def _set_nics(machine, up, now):
    for row in machine.nic_status:
        row.update(status="up" if up else "down", state="online" if up else "offline", last_update=int(now))


def _clear_agent(row):
    row.update(agent_version="", agent_features=[], agent_guest_info={})


def set_stopped(machine, now):
    """Make every column say the machine is off."""
    row = machine.row
    row.update(running=False, powerstate=False, status="stopped", status_info="", state="offline", node=None,
               migrated_node=None, migration_destination=None, migratable=True, running_cores=0, running_ram=0,
               local_time=0, last_update=int(now))
    _clear_agent(row)
    _set_nics(machine, False, now)


def set_started(machine, node, status, now):
    """Make every column say the machine was just started on node (the guest still booting)."""
    row = machine.row
    row.update(running=True, powerstate=True, status=status, status_info="", state="online", node=node,
               started=int(now), running_cores=machine.vm["cpu_cores"], running_ram=machine.vm["ram"],
               last_update=int(now))
    _clear_agent(row)
    _set_nics(machine, True, now)


def set_guest_up(machine, now):
    """Make the columns say the guest OS is up (the agent answers when the guest has one)."""
    row = machine.row
    row.update(status="running", last_update=int(now))
    if machine.guest.agent:
        row.update(agent_version=AGENT_VERSION, agent_features=list(AGENT_FEATURES), agent_guest_info=guest_info(machine))


class PowerModel:
    """Transitions of every machine, scaled by one speed factor."""

    def __init__(self, speed):
        self.speed = speed
        self._queue = []
        self._sequence = itertools.count()

    def _schedule(self, machine, event, seconds, now):
        due = now + seconds / self.speed
        pending = Pending(due, event, next(self._sequence))
        machine.pending = pending
        heapq.heappush(self._queue, (due, pending.sequence, machine))

    def advance(self, now):
        """Apply every transition that is due by now."""
        while self._queue and self._queue[0][0] <= now:
            due, sequence, machine = heapq.heappop(self._queue)
            pending = machine.pending
            if pending is None or pending.sequence != sequence:
                continue  # superseded by a later action
            machine.pending = None
            self._complete(machine, pending.event, due)

    @staticmethod
    def _complete(machine, event, when):
        if event == "halted":
            set_stopped(machine, when)
        elif event == "rebooted":
            machine.row["started"] = int(when)
            set_guest_up(machine, when)
        else:  # booted
            set_guest_up(machine, when)

    def act(self, machine, action, params, now, *, pick_node):
        """Carry out a power action (already validated) or raise ApiError."""
        current = phase(machine)
        step = PLAN[(current, action)]
        if isinstance(step, tuple):
            code, template = step
            raise ApiError(code, template.format(action=action, status=machine.row["status"]))
        if step == "start":
            self._start(machine, pick_node(params.get("preferred_node")), now)
        elif step == "shutdown":
            machine.row.update(status="stopping", last_update=int(now))
            self._schedule(machine, "halted", machine.guest.shutdown, now)
        elif step == "kill":
            self._kill(machine, now)
        elif step == "reset":
            self._reset(machine, bool(params.get("graceful")), now)

    def _start(self, machine, node, now):
        if node is None:
            raise ApiError(507, "Insufficient cluster resources to start VM")
        set_started(machine, node, "starting", now)
        self._schedule(machine, "booted", machine.guest.boot, now)

    def _kill(self, machine, now):
        pending = machine.pending
        seconds = machine.guest.kill
        if pending is not None and pending.event == "halted":
            # A shutdown already nearer its end than a kill would be keeps its time.
            seconds = min(seconds, max(0.0, (pending.due - now) * self.speed))
        # The guest stops at once; only the machine takes a moment to go away.
        _clear_agent(machine.row)
        machine.row.update(status="stopping", last_update=int(now))
        self._schedule(machine, "halted", seconds, now)

    def _reset(self, machine, graceful, now):
        _clear_agent(machine.row)
        machine.row["last_update"] = int(now)
        if graceful:
            # The guest reboots itself: the machine keeps running; the agent is gone until it is back.
            self._schedule(machine, "rebooted", machine.guest.reboot, now)
        else:
            machine.row["started"] = int(now)
            self._schedule(machine, "booted", machine.guest.boot, now)

    @staticmethod
    def cancel(machine):
        """Forget the machine's pending transition (its heap entry is skipped when it falls due)."""
        machine.pending = None


# ---------------------------------------------------------------- machine_status writes

WRITABLE_COLUMNS = ("running", "powerstate", "status", "status_info", "state", "node", "migratable",
                    "migrated_node", "migration_destination", "local_time")
_BOOLEAN_COLUMNS = ("running", "powerstate", "migratable")
_NODE_COLUMNS = ("node", "migrated_node", "migration_destination")


def _not_in_list(value, column):
    return ApiError(422, "value '%s' is not in list for field '%s'" % (value, column))


def _check_types(changes, node_exists):
    for column, value in changes.items():
        if column not in WRITABLE_COLUMNS:
            raise ApiError(422, "field '%s' cannot be written" % column)
        if column in _BOOLEAN_COLUMNS and not isinstance(value, bool):
            raise ApiError(422, "field '%s' must be true or false" % column)
        if column in _NODE_COLUMNS and value is not None and not node_exists(value):
            raise ApiError(422, "field '%s': node %r does not exist" % (column, value))
    if "status" in changes and changes["status"] not in STATUSES:
        raise _not_in_list(changes["status"], "status")
    if "state" in changes and changes["state"] not in STATES:
        raise _not_in_list(changes["state"], "state")


def wants_on(machine, changes):
    """Return whether a status write leaves the machine on: status decides, else running/powerstate."""
    if "status" in changes:
        return changes["status"] not in OFF_STATUSES
    for column in ("running", "powerstate"):
        if column in changes:
            return changes[column]
    return machine.row["running"]


def _check_consistency(changes, on):
    for column in ("running", "powerstate"):
        if column in changes and changes[column] != on:
            raise ApiError(422, "field '%s' must be %s with this status" % (column, "true" if on else "false"))
    if "state" in changes and (changes["state"] == "offline") == on:
        raise ApiError(422, "field 'state' cannot be '%s' with this status" % changes["state"])
    if not on and changes.get("node") is not None:
        raise ApiError(422, "field 'node' must be null for a machine that is off")


def write_status(model, machine, changes, now, *, node_exists, pick_node):
    """Apply a PUT to a machine_status row, keeping every column consistent.

    This is the troubleshooting-guide reset: it tells the platform what the
    machine is, cancelling whatever transition was pending.
    """
    _check_types(changes, node_exists)
    on = wants_on(machine, changes)
    _check_consistency(changes, on)
    was_on = machine.row["running"]
    node = (changes.get("node") or pick_node(None)) if on and not was_on else None
    if on and not was_on and node is None:
        raise ApiError(507, "Insufficient cluster resources to start VM")
    model.cancel(machine)
    if not on:
        set_stopped(machine, now)
        machine.row["status"] = changes.get("status", "stopped")
    else:
        status = changes.get("status", machine.row["status"] if was_on else "running")
        if not was_on:
            set_started(machine, node, status, now)
        machine.row["status"] = status
        if status == "running":
            set_guest_up(machine, now)
    free = {column: value for column, value in changes.items() if column not in ("running", "powerstate", "status")}
    machine.row.update(free, last_update=int(now))
