"""The simulator application: one dispatch point, the current world and the request log.

The HTTP layer turns every request into a Request and hands it to
Simulator.handle; nothing else routes. Installed faults (faults.py) are
consulted there, before the API: a fault decides whether the API sees the
request at all, and what the client gets back.
"""

import collections
import dataclasses
import json
import threading
import time

import api
import control
from faults import FaultSet
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


class Simulator:
    """The current world, the world to return to on reset, and the request log."""

    def __init__(self, start_definition, default_speed):
        self.start_definition = start_definition
        self.default_speed = default_speed
        self.log = RequestLog()
        self.faults = FaultSet()
        self.world = World(start_definition, default_speed, time.time())

    def load(self, definition):
        """Replace the whole world by one built from a validated scenario."""
        self.world = World(definition, self.default_speed, time.time())

    def reset(self):
        """Back to the start-up world, without faults."""
        self.faults.clear()
        self.load(self.start_definition)

    def handle(self, request):
        """Answer one request: the single dispatch point for every route."""
        if request.path == "/_sim" or request.path.startswith("/_sim/"):
            return control.handle(self, request)
        decision = self.faults.decide(request.method, request.path)
        if decision is None:
            response, _principal = api.handle(self.world, request, record=lambda answer, principal, when: self.log.record(
                request, answer, principal, when))
            return response
        return self._faulted(request, decision)

    def _faulted(self, request, decision):
        """Answer a request some faults fired on: wait, carry it out or not, then mangle the answer."""
        if decision.delay:
            time.sleep(decision.delay)
        if not decision.applied:
            self.log.record(request, None, None, time.time(), fault=decision.log(None), status=decision.sent_status(None))
            return decision.answer(None)

        def record(answer, principal, when):
            self.log.record(request, answer, principal, when, fault=decision.log(answer), status=decision.sent_status(answer))
        if decision.kind == "unfiltered":
            # What a proxy or a broken API that drops the query's filter does: the API answers as if none was given.
            request = dataclasses.replace(request, query={name: value for name, value in request.query.items() if name != "filter"})
        response, _principal = api.handle(self.world, request, record=record)
        return decision.answer(response)
