"""Power: the machine_status state machine, advanced lazily from timestamps.

Each machine carries at most one pending transition (what happens next and
when). Due transitions are kept in a heap and applied whenever the world is
read or written, so an idle world of 10,000 VMs costs nothing.

The answer to every (current phase, action) pair is one row of a decision
table: a step to take, a silent no-op (None), or a refusal. Behaviours that
are unsettled on real systems are alternative tables (PLANS, one per answer
to a redundant action) or Guest fields read by the steps, not new branches.
"""

import collections
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
# Graceful-reboot spellings other clients send (switch `reboot_actions`): reboots through the guest agent.
GUEST_REBOOT_ACTIONS = ("guestreset", "guestreboot")
STARTING_STATUSES = ("initializing", "starting", "waitingforresources")
# Statuses of a machine that is not on: no node, no cores, no agent.
OFF_STATUSES = ("stopped", "hibernated")
AGENT_VERSION = "qemu-guest-agent 8.2.2"
AGENT_FEATURES = ["guest-info", "guest-shutdown", "guest-fsfreeze"]
OS_NAMES = {"linux": "Linux", "windows": "Microsoft Windows", "freebsd": "FreeBSD"}
# A guest's health (README.md, "Health answers"): healthy, unhealthy (HTTP answers unhealthy_status), down (never
# up again: no agent, no port) or hang (HTTP never answers). A restart sets it to the guest's `after_restart`.
CONDITIONS = ("healthy", "unhealthy", "down", "hang")

CONFLICT = (409, "cannot {action} the VM while it is {status}")
NOT_RUNNING = (422, "cannot {action} the VM: it is not running")
# The target state is already reached: unsettled on real systems (see REDUNDANT_ANSWERS).
REDUNDANT = (("running", "poweron"), ("stopped", "poweroff"), ("stopped", "kill"))
REDUNDANT_ANSWERS = (201, 409, 422)
REDUNDANT_MESSAGE = "cannot {action} the VM: it is already {phase}"
INSUFFICIENT_RESOURCES = "Insufficient cluster resources to start VM"
FAILED_TO_START = "failed to start: the hypervisor could not start the machine"
NO_AGENT = (422, "cannot {action} the VM: the guest agent is not answering")
QUEUED_INFO = "Insufficient cluster resources: the VM will start when resources free up"
QUEUE_TIMED_OUT = "Gave up waiting for resources to start the VM"

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
    # A poweron queued for resources (switch no_resources: queue): poweroff and kill withdraw it.
    ("queued", "poweron"): None, ("queued", "poweroff"): "withdraw",
    ("queued", "kill"): "withdraw", ("queued", "reset"): NOT_RUNNING,
}
for _spelling in GUEST_REBOOT_ACTIONS:
    PLAN.update({("stopped", _spelling): NOT_RUNNING, ("starting", _spelling): CONFLICT, ("running", _spelling): "guest_reboot",
                 ("stopping", _spelling): CONFLICT, ("queued", _spelling): NOT_RUNNING})


def _plan_for(redundant_answer):
    """Return the decision table whose redundant actions answer redundant_answer (201: the silent no-op of PLAN)."""
    if redundant_answer == 201:
        return PLAN
    return {**PLAN, **{pair: (redundant_answer, REDUNDANT_MESSAGE) for pair in REDUNDANT}}


# Redundant-action answer -> decision table.
PLANS = {answer: _plan_for(answer) for answer in REDUNDANT_ANSWERS}


@dataclass
class Guest:
    """How one VM's guest OS (and the platform's handling of it) behaves.

    Durations are in seconds before division by the world's speed. The other
    fields are the scenario's per-VM `guest` section (README.md, "Guest
    behaviour"); their defaults are a well-behaved guest.
    """

    boot: float
    shutdown: float
    kill: float
    reboot: float
    agent: bool
    acpi_delay: float = 0.0  # before the guest reacts to an ACPI shutdown
    acpi: str = "honour"  # or "ignore": the guest never reacts to ACPI
    acpi_pending_status: str = "stopping"  # what machine_status shows until the guest reacts: "stopping" or "running"
    stuck_after_kill: bool = False  # a kill leaves the machine in stopping until PUT machine_status
    start: str = "ok"  # "error": ends in status error after booting; "no_resources": poweron is refused
    no_resources_status: int = 507
    graceful_reboot: str = "updates_started"  # or "invisible": nothing in machine_status shows it
    agent_delay: float = 0.0  # between the status `running` (boot or reboot done) and the guest being up (agent answering)
    os: str = "installed"  # or "none": no OS boots, so no agent, no port, and ACPI and graceful resets go unanswered
    health_status: int = 200  # what the port's HTTP health answer says while the guest is healthy
    after_restart: str = "healthy"  # or "unhealthy", "down", "hang": what a restart leaves the guest as (CONDITIONS)
    unhealthy_status: int = 503  # the HTTP health answer of an unhealthy guest

    @property
    def deaf(self):
        """Return whether nothing in the guest reacts to ACPI (it ignores it, or there is no OS to hear it)."""
        return self.acpi == "ignore" or self.os == "none"


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
    redundant_answer: int = 201  # picks the decision table in PLANS
    waiting: object = None  # the queue ticket of a poweron waiting for resources, else None
    ready: bool = False  # the guest is up: booted and past its agent delay (its agent answers, its port listens)
    status_rows: str = "recorded"  # switch status_rows: what a stopped row keeps ("recorded") or zeroes ("cleared")
    condition: str = "healthy"  # the guest's health (CONDITIONS); a restart sets it to guest.after_restart
    has_run: bool = False  # started since the world was loaded (or running at load): a later start is a restart
    restarts: int = 0  # restarts the API performed since the world was loaded


def phase(machine):
    """Return where the machine is in its power cycle: stopped, queued, starting, running or stopping."""
    status = machine.row["status"]
    if machine.waiting is not None:
        return "queued"
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
    family = machine.vm["os_family"]
    return {"hostname": machine.vm["name"], "osinfo": {"id": family, "name": OS_NAMES.get(family, family)}, "network": interfaces}


def _set_nics(machine, up, now):
    for row in machine.nic_status:
        row.update(status="up" if up else "down", state="online" if up else "offline", last_update=int(now))


def _clear_agent(machine):
    """The guest is no longer up: its agent stops answering (and its port, if it has one, closes).

    The guest info of a machine without an agent is `[]` as recorded, `{}` with the switch status_rows: cleared.
    """
    machine.ready = False
    machine.row.update(agent_version="", agent_features=[], agent_guest_info=[] if machine.status_rows == "recorded" else {})


def is_up(machine):
    """Return whether the guest is up: on, status running, past its boot and agent delay (not rebooting, not shutting down)."""
    row = machine.row
    return machine.ready and row["running"] and row["status"] == "running"


def set_stopped(machine, now):
    """Make every column say the machine is off.

    As recorded, `started`, `running_cores` and `running_ram` keep the last run's values (switch
    status_rows: cleared zeroes the cores and RAM); `running`, `node` and `status` say it is off.
    """
    row = machine.row
    row.update(running=False, powerstate=False, status="stopped", status_info="", state="offline", node=None,
               migrated_node=None, migration_destination=None, migratable=True, local_time=0, last_update=int(now))
    if machine.status_rows != "recorded":
        row.update(running_cores=0, running_ram=0)
    _clear_agent(machine)
    _set_nics(machine, False, now)


def set_started(machine, node, status, now):
    """Make every column say the machine was just started on node (the guest still booting)."""
    row = machine.row
    row.update(running=True, powerstate=True, status=status, status_info="", state="online", node=node,
               started=int(now), running_cores=machine.vm["cpu_cores"], running_ram=machine.vm["ram"],
               last_update=int(now))
    machine.has_run = True
    _clear_agent(machine)
    _set_nics(machine, True, now)


def set_failed(machine, now):
    """Make every column say the machine failed to start: off, status and state error."""
    set_stopped(machine, now)
    machine.row.update(status="error", state="error", status_info=FAILED_TO_START)


def set_booted(machine, now):
    """Make the columns say the machine is running while its guest is not up yet (no agent: the agent delay)."""
    machine.row.update(status="running", last_update=int(now))


def set_guest_up(machine, now):
    """Make the columns say the guest OS is up (the agent answers when the guest has one)."""
    row = machine.row
    row.update(status="running", last_update=int(now))
    if machine.guest.os == "none" or machine.condition == "down":
        return  # nothing boots (or the guest never came back from a restart): the machine runs, no guest is up
    machine.ready = True
    if machine.guest.agent:
        row.update(agent_version=AGENT_VERSION, agent_features=list(AGENT_FEATURES), agent_guest_info=guest_info(machine))


def restarted(machine):
    """The API restarted the machine (a power cycle, a reset, a guest reboot): its guest comes back as after_restart says."""
    machine.restarts += 1
    machine.condition = machine.guest.after_restart


def set_condition(machine, condition, now):
    """Put the guest in a health condition now (POST /_sim/health): `down` takes it down, leaving `down` may bring it up."""
    was_down = machine.condition == "down"
    machine.condition = condition
    if condition == "down":
        _clear_agent(machine)
    elif was_down and machine.pending is None and machine.row["running"] and machine.row["status"] == "running":
        set_guest_up(machine, now)


def health_answer(machine):
    """Return what the port's HTTP health check gets now: a status code, or None for no answer at all (hang)."""
    if machine.condition == "hang":
        return None
    if machine.condition == "unhealthy":
        return machine.guest.unhealthy_status
    return machine.guest.health_status


def set_waiting(machine, now):
    """Make the columns say the machine is off and flagged to start when resources free up."""
    machine.row.update(status="waitingforresources", status_info=QUEUED_INFO, last_update=int(now))


class PowerModel:
    """Transitions of every machine, scaled by one speed factor.

    no_resources ("ignore", "refuse" or "queue"), queue_timeout (seconds, 0: none) and
    graceful_honoured are the world's switches for a start without resources
    and for `reset` with params.graceful. capacity: whether the nodes have a
    capacity (capacity.py), so that a poweron finding no node with room is
    refused or queued like a guest without resources, and a stop may start
    every queued VM that then fits.
    """

    def __init__(self, speed, *, no_resources="ignore", queue_timeout=0.0, graceful_honoured=True, capacity=False):
        self.speed = speed
        self.no_resources = no_resources
        self.queue_timeout = queue_timeout
        self.graceful_honoured = graceful_honoured
        self.capacity = capacity
        self._queue = []
        self._sequence = itertools.count()
        self._waiting = collections.deque()  # (machine, ticket, pick_node) of queued poweron requests, oldest first

    def _schedule(self, machine, event, seconds, now):
        due = now + seconds / self.speed
        pending = Pending(due, event, next(self._sequence))
        machine.pending = pending
        heapq.heappush(self._queue, (due, pending.sequence, machine))

    def next_due(self):
        """Return when the earliest scheduled transition falls due (maybe one superseded since), or None."""
        return self._queue[0][0] if self._queue else None

    def advance(self, now):
        """Apply every transition that is due by now; return how many were applied."""
        applied = 0
        while self._queue and self._queue[0][0] <= now:
            due, sequence, machine = heapq.heappop(self._queue)
            pending = machine.pending
            if pending is None or pending.sequence != sequence:
                continue  # superseded by a later action
            machine.pending = None
            self._complete(machine, pending.event, due)
            applied += 1
        return applied

    def _complete(self, machine, event, when):
        if event == "halted":
            set_stopped(machine, when)
            self.released(when)
        elif event == "gave_up":
            machine.waiting = None
            set_stopped(machine, when)
            machine.row["status_info"] = QUEUE_TIMED_OUT
        elif event == "acpi":
            # The slow guest finally reacts to the ACPI request and shuts down.
            machine.row.update(status="stopping", last_update=int(when))
            self._schedule(machine, "halted", machine.guest.shutdown, when)
        elif event == "failed":
            set_failed(machine, when)
            self.released(when)
        elif event == "rebooted":
            machine.row["started"] = int(when)
            self._guest_back(machine, when)
        elif event == "agent":
            set_guest_up(machine, when)
        else:  # booted
            self._guest_back(machine, when)

    def _guest_back(self, machine, when):
        """The boot (or reboot) is done: the guest is up now, or after its agent delay (status running meanwhile)."""
        if machine.guest.agent_delay > 0:
            set_booted(machine, when)
            self._schedule(machine, "agent", machine.guest.agent_delay, when)
        else:
            set_guest_up(machine, when)

    def act(self, machine, action, params, now, *, pick_node):
        """Carry out a power action (already validated) or raise ApiError."""
        current = phase(machine)
        step = PLANS[machine.redundant_answer][(current, action)]
        if isinstance(step, tuple):
            code, template = step
            raise ApiError(code, template.format(action=action, status=machine.row["status"], phase=current))
        if step == "start":
            preferred = params.get("preferred_node")
            if machine.guest.start == "no_resources":
                self._without_resources(machine, lambda: pick_node(preferred), now)
                return
            node = pick_node(preferred)
            if node is None and (self.capacity or self.no_resources == "ignore"):
                # No node has room for it (or, ignored, no node at all): see _without_resources.
                self._without_resources(machine, lambda: pick_node(preferred), now)
                return
            self._start(machine, node, now)
        elif step == "shutdown":
            self._shutdown(machine, now)
        elif step == "kill":
            self._kill(machine, now)
        elif step == "reset":
            self._reset(machine, bool(params.get("graceful")) and self.graceful_honoured, now)
        elif step == "guest_reboot":
            if not machine.row["agent_version"]:
                code, template = NO_AGENT
                raise ApiError(code, template.format(action=action))
            self._reset(machine, True, now)
        elif step == "withdraw":
            self.cancel(machine)
            set_stopped(machine, now)

    def _without_resources(self, machine, pick_node, now):
        """A poweron finds no resources: accepted and left undone (ignore), refused (refuse), or queued (queue)."""
        if self.no_resources == "ignore":
            # As recorded: no error reaches the client and the VM stays off; the status_info text is the simulator's own.
            set_stopped(machine, now)
            machine.row["status_info"] = INSUFFICIENT_RESOURCES
            return
        if self.no_resources != "queue":
            raise ApiError(machine.guest.no_resources_status, INSUFFICIENT_RESOURCES)
        self._enqueue(machine, pick_node, now)

    def _enqueue(self, machine, pick_node, now):
        """Accept a poweron without resources: the machine waits (off) until a running one stops, or gives up."""
        ticket = next(self._sequence)
        machine.waiting = ticket
        set_waiting(machine, now)
        self._waiting.append((machine, ticket, pick_node))
        if self.queue_timeout > 0:
            self._schedule(machine, "gave_up", self.queue_timeout, now)

    def released(self, now):
        """Resources were freed (a running machine stopped, a hold went): queued poweron requests start, oldest first.

        Without a capacity model one starts per stop. With one, every request
        that now fits starts, in order, up to the first that does not (it keeps
        its place); a guest whose `start` is `no_resources` still takes one stop.
        """
        while self._waiting:
            machine, ticket, pick_node = self._waiting[0]
            if machine.waiting != ticket:
                self._waiting.popleft()
                continue  # withdrawn, timed out or reset meanwhile
            node = pick_node()
            if node is None:
                return
            self._waiting.popleft()
            self.cancel(machine)
            self._start(machine, node, now)
            if not self.capacity or machine.guest.start == "no_resources":
                return

    def _start(self, machine, node, now):
        if node is None:
            raise ApiError(507, INSUFFICIENT_RESOURCES)
        if machine.has_run:
            restarted(machine)  # off, then on again: a power cycle
        set_started(machine, node, "starting", now)
        self._schedule(machine, "failed" if machine.guest.start == "error" else "booted", machine.guest.boot, now)

    def _shutdown(self, machine, now):
        guest = machine.guest
        pending = machine.pending
        if pending is not None and pending.event in ("acpi", "halted"):
            return  # the guest already has the request; pressing the button again changes nothing
        if not guest.deaf and guest.acpi_delay <= 0:
            machine.row.update(status="stopping", last_update=int(now))
            self._schedule(machine, "halted", guest.shutdown, now)
            return
        if guest.acpi_pending_status == "stopping":
            # The platform shows the request in flight; whatever the guest was doing no longer shows.
            self.cancel(machine)
            machine.row.update(status="stopping", last_update=int(now))
        if not guest.deaf:
            self._schedule(machine, "acpi", guest.acpi_delay, now)

    def _kill(self, machine, now):
        pending = machine.pending
        seconds = machine.guest.kill
        if pending is not None and pending.event == "halted":
            # A shutdown already nearer its end than a kill would be keeps its time.
            seconds = min(seconds, max(0.0, (pending.due - now) * self.speed))
        # The guest stops at once; only the machine takes a moment to go away.
        _clear_agent(machine)
        machine.row.update(status="stopping", last_update=int(now))
        if machine.guest.stuck_after_kill:
            self.cancel(machine)  # it stays there until the machine_status reset
        else:
            self._schedule(machine, "halted", seconds, now)

    def _reset(self, machine, graceful, now):
        if graceful and machine.guest.os == "none":
            return  # no OS to ask: accepted, and it never happens
        restarted(machine)
        if graceful and machine.guest.graceful_reboot == "invisible":
            if machine.condition == "down":
                _clear_agent(machine)  # it rebooted unseen and never came back
            return  # the guest reboots; nothing the platform exposes shows it
        _clear_agent(machine)
        machine.row["last_update"] = int(now)
        if graceful:
            # The guest reboots itself: the machine keeps running; the agent is gone until it is back.
            self._schedule(machine, "rebooted", machine.guest.reboot, now)
        else:
            machine.row["started"] = int(now)
            self._schedule(machine, "booted", machine.guest.boot, now)

    @staticmethod
    def cancel(machine):
        """Forget the machine's pending transition and queued poweron (their entries are skipped when met)."""
        machine.pending = None
        machine.waiting = None


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
        raise ApiError(507, INSUFFICIENT_RESOURCES)
    model.cancel(machine)
    if not on:
        set_stopped(machine, now)
        machine.row["status"] = changes.get("status", "stopped")
        if was_on:
            model.released(now)
    else:
        status = changes.get("status", machine.row["status"] if was_on else "running")
        if not was_on:
            set_started(machine, node, status, now)
        machine.row["status"] = status
        if status == "running":
            set_guest_up(machine, now)
    free = {column: value for column, value in changes.items() if column not in ("running", "powerstate", "status")}
    machine.row.update(free, last_update=int(now))
