"""The test-support surface under /_sim: scenario, reset, request log, health.

No credentials, not logged. Frozen in README.md.
"""

import scenario as scenarios
from wire import ApiError, Response, error_response


def _summary(sim):
    world = sim.world
    return {"status": "ok", "speed": world.power.speed, "tables": world.counts()}


def _load(sim, request):
    definition = request.json()
    try:
        scenarios.validate(definition)
    except scenarios.ScenarioError as error:
        raise ApiError(400, "Invalid scenario: %s" % error) from error
    sim.load(definition)
    return Response(200, _summary(sim))


def _reset(sim, _request):
    sim.reset()
    return Response(200, _summary(sim))


ROUTES = {
    ("GET", "/_sim/health"): lambda sim, request: Response(200, _summary(sim)),
    ("GET", "/_sim/scenario"): lambda sim, request: Response(200, sim.world.definition),
    ("POST", "/_sim/scenario"): _load,
    ("POST", "/_sim/reset"): _reset,
    ("GET", "/_sim/requests"): lambda sim, request: Response(200, sim.log.entries()),
    ("DELETE", "/_sim/requests"): lambda sim, request: Response(200, {"cleared": sim.log.clear()}),
}


def handle(sim, request):
    """Answer a /_sim request."""
    path = request.path.rstrip("/")
    route = ROUTES.get((request.method, path))
    try:
        if route is None:
            known = any(route_path == path for _method, route_path in ROUTES)
            raise ApiError(405 if known else 404, "%s %s is not a simulator route" % (request.method, path))
        return route(sim, request)
    except ApiError as error:
        return error_response(error)
