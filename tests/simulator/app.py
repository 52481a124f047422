"""The simulator application: one dispatch point, the current world, the rate limit and the request log.

The HTTP layer turns every request into a Request and hands it to
Simulator.handle; nothing else routes. Installed faults (faults.py) are
consulted there, before the API: a fault decides whether the API sees the
request at all, and what the client gets back. The rate limit (ratelimit.py)
is the API's own first step: it needs the request's user, so it is consulted
inside api.handle, after authentication and before anything is carried out.
"""

import collections
import dataclasses
import json
import threading
import time

import api
import control
import scenario as scenarios
from faults import FaultSet
from ports import HealthLog
from ratelimit import RateLimit
from world import World

LOG_LIMIT = 100_000
REDACTED = "********"
SECRET_FIELDS = ("password",)


def redacted(value):
    """Return a JSON value with secret fields (at any depth) replaced."""
    if isinstance(value, dict):
        return {name: REDACTED if name in SECRET_FIELDS else redacted(item) for name, item in value.items()}
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return value


def parsed_body(body):
    """Return a request body as parsed JSON, or None when it is empty or not JSON."""
    try:
        return json.loads(body) if body and body.strip() else None
    except ValueError:
        return None


def loggable_body(body):
    """Return what the log keeps of a request body: parsed JSON with secrets redacted, or None."""
    if not body.strip():
        return None
    try:
        return redacted(json.loads(body))
    except ValueError:
        return {"unparsed": "(%d bytes, not JSON)" % len(body)}


class RequestLog:
    """The last LOG_LIMIT API requests, without credentials."""

    def __init__(self, limit=LOG_LIMIT):
        self._entries = collections.deque(maxlen=limit)
        self._lock = threading.Lock()

    def record(self, request, response, principal, when, *, fault=None, status=None):
        """Log one request; a faulted one also says what was done to it and what status the client got."""
        entry = {
            "time": when, "method": request.method, "path": request.path, "query": request.raw_query,
            "body": loggable_body(request.body), "status": response.status if fault is None else status,
            "user": principal.name if principal else None,
        }
        if fault is not None:
            entry["fault"] = fault
        with self._lock:
            self._entries.append(entry)

    def entries(self):
        with self._lock:
            return list(self._entries)

    def clear(self):
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
        return count


def rate_limit_log(setting, decision=None):
    """Return the request log's `fault` of a request the rate limit refused (decision: the faults that fired too)."""
    entry = decision.log(None) if decision is not None else {"ids": [], "kind": "rate_limit", "delay": 0}
    return dict(entry, applied=False, api_status=None, rate_limit=setting["mode"])


class Simulator:
    """The current world, the world to return to on reset, the rate limit and the request log."""

    def __init__(self, start_definition, default_speed, rate_limit=None):
        self.start_definition = start_definition
        self.default_speed = default_speed
        self.start_rate_limit = rate_limit  # the command line's; a scenario's own `rate_limit` wins
        self.log = RequestLog()
        self.health_log = HealthLog()  # every world's port answers (ports.py), beside the request log
        self.faults = FaultSet()
        self.rate_limit = RateLimit()
        self.world = None
        self.load(start_definition)

    def load(self, definition):
        """Replace the whole world by one built from a validated scenario; its rate limit starts with full buckets.

        ScenarioError, and the current world kept, when the new one cannot be
        built (running VMs that do not fit the nodes) or a port of its VMs
        cannot be bound. The old world's ports are closed before the new
        world's are bound (a scenario reloaded keeps its fixed ports).
        """
        world = World(definition, self.default_speed, time.time())
        world.ports.log = self.health_log
        old = self.world
        if old is not None:
            old.ports.close()
        try:
            world.ports.open()
        except OSError as error:
            if old is not None:
                try:
                    old.ports.open()
                except OSError:
                    pass  # its ports stay closed; GET /_sim/ports shows them so
            raise scenarios.ScenarioError("a port cannot be bound: %s" % (error.strerror or error)) from error
        self.rate_limit.configure(scenarios.rate_limit_of(definition, self.start_rate_limit))
        self.world = world

    def close(self):
        """Close what the current world holds outside the process's memory: its ports and their thread."""
        self.world.ports.close()

    def reset(self):
        """Back to the start-up world and rate limit (buckets full), without faults."""
        self.faults.clear()
        self.load(self.start_definition)

    def handle(self, request):
        """Answer one request: the single dispatch point for every route."""
        if request.path == "/_sim" or request.path.startswith("/_sim/"):
            return control.handle(self, request)
        decision = self.faults.decide(request.method, request.path, parsed_body(request.body) if self.faults.wants_body() else None)
        if decision is None:
            return self._api(request, None)
        return self._faulted(request, decision)

    def _api(self, request, decision):
        """Hand a request to the API with the rate limit as its admission check, and log it; return the API's answer.

        `decision`: the faults that fired on a request the API sees (None: none); its log entry says so.
        """
        refused = []

        def check(principal):
            verdict = self.rate_limit.admit(principal.name)
            if verdict is None:
                return None
            refused.append(verdict[0])
            return verdict[1]

        def record(answer, principal, when):
            if refused:
                status = decision.sent_status(answer) if decision is not None else answer.status or None
                self.log.record(request, answer, principal, when, fault=rate_limit_log(refused[0], decision), status=status)
            elif decision is not None:
                self.log.record(request, answer, principal, when, fault=decision.log(answer), status=decision.sent_status(answer))
            else:
                self.log.record(request, answer, principal, when)
        world = self.world
        version = world.version
        response, _principal = api.handle(world, request, record=record, check=check)
        if world.version != version:
            world.ports.settle()  # the answer goes out once the VMs' ports agree with it (no-op without ports)
        return response

    def _faulted(self, request, decision):
        """Answer a request some faults fired on: wait, carry it out or not, then mangle the answer."""
        if decision.delay:
            time.sleep(decision.delay)
        if not decision.applied:
            # A lost request never reaches the server: no user is known and no rate limit is charged.
            self.log.record(request, None, None, time.time(), fault=decision.log(None), status=decision.sent_status(None))
            return decision.answer(None)
        if decision.kind == "unfiltered":
            # What a proxy or a broken API that drops the query's filter does: the API answers as if none was given.
            request = dataclasses.replace(request, query={name: value for name, value in request.query.items() if name != "filter"})
        return decision.answer(self._api(request, decision))
