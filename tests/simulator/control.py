"""The test-support surface under /_sim: scenario, reset, request log, health, faults, failed logins, capacity, ports,
the guests' health answers and their log.

No credentials, not logged, never faulted, never rate-limited. Frozen in README.md.
"""

import time

import power
import scenario as scenarios
from wire import ApiError, Response, error_response
from tables import as_key

FAULTS_PATH = "/_sim/faults"
LOGINS_PATH = "/_sim/logins"
HOLDS_PATH = "/_sim/capacity/holds"


def _summary(sim):
    world = sim.world
    return {"status": "ok", "speed": world.power.speed, "tables": world.store.counts(), "rate_limit": sim.rate_limit.setting}


def _load(sim, request):
    """POST /_sim/scenario: the body's scenario, or (?name=NAME, empty body) a named one."""
    name = request.query.get("name")
    try:
        if name is not None:
            if request.body.strip():
                raise scenarios.ScenarioError("give either ?name or a scenario body, not both")
            definition = scenarios.named(name)
        else:
            definition = scenarios.validate(request.json())
        sim.load(definition)
    except scenarios.ScenarioError as error:
        raise ApiError(400, "Invalid scenario: %s" % error) from error
    return Response(200, _summary(sim))


def _reset(sim, _request):
    try:
        sim.reset()
    except scenarios.ScenarioError as error:
        raise ApiError(500, "Cannot reset: %s" % error) from error
    return Response(200, _summary(sim))


def _add_faults(sim, request):
    sim.faults.add(request.json())
    return Response(200, sim.faults.listing())


def _remove_fault(sim, fault_text):
    """DELETE /_sim/faults/<id>."""
    fault_id = as_key(fault_text)
    if fault_id is None or not sim.faults.remove(fault_id):
        raise ApiError(404, "fault %s does not exist" % fault_text)
    return Response(200, sim.faults.listing())


def _logins(sim, _request):
    world = sim.world
    with world.lock:
        return Response(200, world.auth.logins.listing(max(world.clock, time.time())))


def _reset_logins(sim, _request):
    world = sim.world
    with world.lock:
        return Response(200, {"cleared": world.auth.logins.reset()})


def _reset_login(sim, name):
    """DELETE /_sim/logins/<user>: unlock one user and forget its counts."""
    world = sim.world
    with world.lock:
        if not world.auth.logins.reset(name):
            raise ApiError(404, "no failed login of %s is recorded" % name)
        return Response(200, world.auth.logins.listing(max(world.clock, time.time())))


def _capacity(sim, _request):
    world = sim.world
    with world.lock:
        world.advance(world.tick(time.time()))
        return Response(200, world.capacity.report())


def _holds(sim, _request):
    world = sim.world
    with world.lock:
        return Response(200, {"holds": world.capacity.report()["holds"]})


def _changed_capacity(sim, change):
    """Apply a change of the holds under the world lock; freed capacity starts queued VMs. Return change's result."""
    world = sim.world
    with world.lock:
        now = world.tick(time.time())
        world.advance(now)
        result = change(world.capacity)
        if world.capacity.active:
            world.power.released(now)
        world.touch()
    world.ports.settle()
    return result


def _add_holds(sim, request):
    """POST /_sim/capacity/holds: take RAM and cores on a node (or every node) behind the API's back."""
    body = request.json()
    root = scenarios.load_schema()
    try:
        scenarios.validate_value(body, root["$defs"]["hold"], root, "body")
    except scenarios.ScenarioError as error:
        raise ApiError(400, "Invalid hold: %s" % error) from error
    if "ram" in body and "leave_ram" in body:
        raise ApiError(400, "Invalid hold: give ram or leave_ram, not both")
    if not any(name in body for name in ("ram", "cores", "leave_ram")):
        raise ApiError(400, "Invalid hold: give ram, leave_ram or cores")
    return Response(200, {"holds": _changed_capacity(sim, lambda capacity: capacity.add_holds(body))})


def _clear_holds(sim, _request):
    return Response(200, {"cleared": _changed_capacity(sim, lambda capacity: capacity.clear_holds())})


def _remove_hold(sim, hold_text):
    """DELETE /_sim/capacity/holds/<id>."""
    hold_id = as_key(hold_text)
    if hold_id is None or not _changed_capacity(sim, lambda capacity: capacity.remove_hold(hold_id)):
        raise ApiError(404, "hold %s does not exist" % hold_text)
    return _holds(sim, None)


def _ports(sim, _request):
    world = sim.world
    world.ports.settle()
    return Response(200, {"ports": world.ports.listing()})


HEALTH_FIELDS = ("vm", "health_status", "unhealthy_status", "after_restart", "condition")


def _health_settings(machine):
    guest = machine.guest
    return {"vm": machine.vm["name"], "vm_key": machine.vm["$key"], "health_status": guest.health_status,
            "unhealthy_status": guest.unhealthy_status, "after_restart": guest.after_restart, "condition": machine.condition,
            "restarts": machine.restarts}


def _health_machine(world, ref):
    """Return the machine of a VM named by its name or $key (not a snapshot), or raise 404 (400 for an ambiguous name)."""
    key = as_key(ref)
    vms = [vm for vm in world.tables["vms"].values() if not vm["is_snapshot"]
           and (vm["$key"] == key if key is not None else vm["name"] == ref)]
    if not vms:
        raise ApiError(404, "vm %s does not exist" % ref)
    if len(vms) > 1:
        raise ApiError(400, "Invalid health: %d VMs are named %s: give the $key" % (len(vms), ref))
    return world.machines[vms[0]["machine"]]


def _status_field(body, field, nullable):
    value = body[field]
    if value is None and nullable:
        return 200
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ApiError(400, "Invalid health: %s must be an HTTP status (100-599)%s" % (field, " or null" if nullable else ""))
    return value


def _set_health(sim, request):
    """POST /_sim/health: change a VM's health answers at runtime; answer its health settings."""
    body = request.json()
    unknown = sorted(set(body) - set(HEALTH_FIELDS))
    if unknown:
        raise ApiError(400, "Invalid health: unknown field %s" % unknown[0])
    if "vm" not in body:
        raise ApiError(400, "Invalid health: vm is required (a name or a $key)")
    for field, allowed in (("after_restart", power.CONDITIONS), ("condition", power.CONDITIONS)):
        if field in body and body[field] not in allowed:
            raise ApiError(400, "Invalid health: %s must be one of %s" % (field, ", ".join(allowed)))
    world = sim.world
    with world.lock:
        now = world.tick(time.time())
        world.advance(now)
        machine = _health_machine(world, body["vm"])
        guest = machine.guest
        changes = {field: _status_field(body, field, field == "health_status")
                   for field in ("health_status", "unhealthy_status") if field in body}
        guest.health_status = changes.get("health_status", guest.health_status)
        guest.unhealthy_status = changes.get("unhealthy_status", guest.unhealthy_status)
        guest.after_restart = body.get("after_restart", guest.after_restart)
        if "condition" in body:
            power.set_condition(machine, body["condition"], now)
        world.touch()
        settings = _health_settings(machine)
    world.ports.settle()
    return Response(200, settings)


def _health_log(sim, _request):
    return Response(200, sim.health_log.entries())


ROUTES = {
    ("GET", "/_sim/health"): lambda sim, request: Response(200, _summary(sim)),
    ("GET", "/_sim/scenario"): lambda sim, request: Response(200, sim.world.definition),
    ("POST", "/_sim/scenario"): _load,
    ("POST", "/_sim/reset"): _reset,
    ("GET", "/_sim/requests"): lambda sim, request: Response(200, sim.log.entries()),
    ("DELETE", "/_sim/requests"): lambda sim, request: Response(200, {"cleared": sim.log.clear()}),
    ("GET", FAULTS_PATH): lambda sim, request: Response(200, sim.faults.listing()),
    ("POST", FAULTS_PATH): _add_faults,
    ("DELETE", FAULTS_PATH): lambda sim, request: Response(200, {"cleared": sim.faults.clear()}),
    ("GET", LOGINS_PATH): _logins,
    ("DELETE", LOGINS_PATH): _reset_logins,
    ("GET", "/_sim/capacity"): _capacity,
    ("GET", HOLDS_PATH): _holds,
    ("POST", HOLDS_PATH): _add_holds,
    ("DELETE", HOLDS_PATH): _clear_holds,
    ("GET", "/_sim/ports"): _ports,
    ("POST", "/_sim/health"): _set_health,
    ("GET", "/_sim/health-log"): _health_log,
    ("DELETE", "/_sim/health-log"): lambda sim, request: Response(200, {"cleared": sim.health_log.clear()}),
}


def handle(sim, request):
    """Answer a /_sim request."""
    path = request.path.rstrip("/")
    route = ROUTES.get((request.method, path))
    try:
        parent, _slash, last = path.rpartition("/")
        if route is None and parent == LOGINS_PATH and request.method == "DELETE":
            return _reset_login(sim, last)
        if route is None and parent == HOLDS_PATH:
            if request.method != "DELETE":
                raise ApiError(405, "%s %s is not a simulator route" % (request.method, path))
            return _remove_hold(sim, last)
        if route is None and parent == FAULTS_PATH:
            if request.method != "DELETE":
                raise ApiError(405, "%s %s is not a simulator route" % (request.method, path))
            return _remove_fault(sim, last)
        if route is None:
            known = any(route_path == path for _method, route_path in ROUTES)
            raise ApiError(405 if known else 404, "%s %s is not a simulator route" % (request.method, path))
        return route(sim, request)
    except ApiError as error:
        return error_response(error)
