"""The test-support surface under /_sim: scenario, reset, request log, health, faults, failed logins.

No credentials, not logged, never faulted, never rate-limited. Frozen in README.md.
"""

import time

import scenario as scenarios
from wire import ApiError, Response, error_response
from world import as_key

FAULTS_PATH = "/_sim/faults"
LOGINS_PATH = "/_sim/logins"


def _summary(sim):
    world = sim.world
    return {"status": "ok", "speed": world.power.speed, "tables": world.counts(), "rate_limit": sim.rate_limit.setting}


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
    except scenarios.ScenarioError as error:
        raise ApiError(400, "Invalid scenario: %s" % error) from error
    sim.load(definition)
    return Response(200, _summary(sim))


def _reset(sim, _request):
    sim.reset()
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
        return Response(200, world.logins.listing(max(world.clock, time.time())))


def _reset_logins(sim, _request):
    world = sim.world
    with world.lock:
        return Response(200, {"cleared": world.logins.reset()})


def _reset_login(sim, name):
    """DELETE /_sim/logins/<user>: unlock one user and forget its counts."""
    world = sim.world
    with world.lock:
        if not world.logins.reset(name):
            raise ApiError(404, "no failed login of %s is recorded" % name)
        return Response(200, world.logins.listing(max(world.clock, time.time())))


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
}


def handle(sim, request):
    """Answer a /_sim request."""
    path = request.path.rstrip("/")
    route = ROUTES.get((request.method, path))
    try:
        parent, _slash, last = path.rpartition("/")
        if route is None and parent == LOGINS_PATH and request.method == "DELETE":
            return _reset_login(sim, last)
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
