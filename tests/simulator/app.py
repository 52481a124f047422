"""The simulator application: one dispatch point, the current world and the request log.

The HTTP layer turns every request into a Request and hands it to
Simulator.handle; nothing else routes. Fault injection (rates of 429/5xx,
latency, dropped connections per route and method) belongs in handle, before
the API is consulted.
"""

import collections
import json
import threading
import time

import api
import control
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

    def record(self, request, response, principal, when):
        entry = {
            "time": when, "method": request.method, "path": request.path, "query": request.raw_query,
            "body": loggable_body(request.body), "status": response.status,
            "user": principal.name if principal else None,
        }
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
        self.world = World(start_definition, default_speed, time.time())

    def load(self, definition):
        """Replace the whole world by one built from a validated scenario."""
        self.world = World(definition, self.default_speed, time.time())

    def reset(self):
        self.load(self.start_definition)

    def handle(self, request):
        """Answer one request: the single dispatch point for every route."""
        if request.path == "/_sim" or request.path.startswith("/_sim/"):
            return control.handle(self, request)
        when = time.time()
        response, principal = api.handle(self.world, request, when)
        self.log.record(request, response, principal, when)
        return response
