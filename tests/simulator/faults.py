"""Fault injection: what proxies, overloaded systems and lossy networks do to API requests.

Faults are installed through /_sim/faults (control.py) and consulted by
app.Simulator.handle before a request reaches the API. Each fault matches
requests by method and path and fires on a seeded share of them: whether the
n-th request a fault sees is hit depends only on (seed, fault id, n), so the
same seed, the same faults and the same request sequence give the same faults.
README.md ("Fault injection") is the reference for every field.
"""

import http
import random
import re
import threading
from dataclasses import dataclass, field

import scenario as scenarios
from wire import ApiError, Response, payload_of

KINDS = ("error", "drop", "delay", "html", "truncate")
ANSWERING_KINDS = ("error", "html")  # kinds that answer with a status of their own
RETRY_AFTER_STATUSES = (429, 503)
DEFAULT_STATUS = {"error": 503, "html": 502}
HTML_PAGE = ("<!DOCTYPE html>\n<html><head><title>{code} {reason}</title></head>\n"
             "<body><h1>{code} {reason}</h1><hr><p>nginx</p></body></html>\n")


def reason(status):
    """Return the standard reason phrase of a status code."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@dataclass
class Fault:
    """One installed fault: what it matches, what it does, and how often it matched and fired."""

    id: int
    spec: dict
    method: str
    path: str
    pattern: object
    kind: str
    rate: float
    count: int
    statuses: tuple
    delay: float
    applied: bool
    body: dict = None  # fields the request's JSON body must carry with these values (e.g. one VM's actions)
    matched: int = 0
    fired: int = 0

    def matches(self, method, path, body=None):
        if self.method not in ("*", method.upper()):
            return False
        if self.body is not None and not (isinstance(body, dict) and all(body.get(key) == value for key, value in self.body.items())):
            return False
        if self.pattern is not None:
            return self.pattern.fullmatch(path) is not None
        if self.path is None or self.path == "/":
            return True
        return path == self.path or path.startswith(self.path + "/")

    def spent(self):
        return self.count is not None and self.fired >= self.count

    def view(self):
        """Return the fault as GET /_sim/faults lists it."""
        remaining = None if self.count is None else self.count - self.fired
        return dict(self.spec, id=self.id, matched=self.matched, fired=self.fired, remaining=remaining)


@dataclass
class Decision:
    """What the faults that fired do to one request."""

    ids: list = field(default_factory=list)
    delay: float = 0.0
    fault: Fault = None  # the fault that decides the answer; None when only delays fired
    status: int = None  # the status an error or html fault answers with

    @property
    def kind(self):
        return self.fault.kind if self.fault else "delay"

    @property
    def applied(self):
        """Whether the API carries the request out (a lost answer) or never sees it (a lost request)."""
        return self.fault is None or self.fault.kind in ("truncate", "unfiltered") or self.fault.applied

    def sent_status(self, api_response):
        """Return the status the client receives (None when the connection is dropped)."""
        if self.kind == "drop":
            return None
        if self.kind in ANSWERING_KINDS:
            return self.status
        if api_response.cut == "drop":  # the server itself closed the connection (rate limit)
            return None
        return api_response.status

    def log(self, api_response):
        """Return the request log's description of what was done to the request."""
        return {"ids": list(self.ids), "kind": self.kind, "delay": self.delay, "applied": self.applied,
                "api_status": api_response.status if api_response is not None else None}

    def answer(self, api_response):
        """Return what the client gets, given the API's own answer (None when it never saw the request)."""
        kind = self.kind
        if kind in ("delay", "unfiltered") or (kind == "truncate" and api_response.cut == "drop"):
            return api_response  # nothing to cut from a connection the server closed (rate limit)
        if kind == "drop":
            return Response(0, cut="drop")
        if kind == "truncate":
            payload = payload_of(api_response)
            if self.fault.spec.get("cut", "connection") == "body":
                return Response(api_response.status, headers=api_response.headers, payload=payload[:len(payload) // 2],
                                content_type=api_response.content_type)
            return Response(api_response.status, headers=api_response.headers, payload=payload,
                            content_type=api_response.content_type, cut="truncate")
        headers = {}
        retry_after = self.fault.spec.get("retry_after")
        if retry_after is not None and self.status in RETRY_AFTER_STATUSES:
            headers["Retry-After"] = str(retry_after)
        if kind == "html":
            page = HTML_PAGE.format(code=self.status, reason=reason(self.status)).encode("utf-8")
            return Response(self.status, headers=headers, payload=page, content_type="text/html; charset=utf-8")
        return Response(self.status, {"err": self.fault.spec.get("message", reason(self.status))}, headers=headers)


def _invalid(message):
    return ApiError(400, "Invalid fault: %s" % message)


def _only_for(spec, name, kinds, where):
    if name in spec and spec["kind"] not in kinds:
        raise _invalid("%s.%s: only for kind %s" % (where, name, " or ".join(kinds)))


def _check_spec(spec, where):
    """Raise ApiError(400) for combinations the schema cannot express."""
    if "path" in spec and "path_pattern" in spec:
        raise _invalid("%s: give path or path_pattern, not both" % where)
    if "path" in spec and not spec["path"].startswith("/"):
        raise _invalid("%s.path: must start with '/'" % where)
    for name, kinds in (("status", ANSWERING_KINDS), ("retry_after", ANSWERING_KINDS), ("message", ("error",)),
                        ("applied", ("error", "drop", "html")), ("cut", ("truncate",))):
        _only_for(spec, name, kinds, where)
    statuses = _statuses(spec)
    if spec["kind"] in ANSWERING_KINDS and not statuses:
        raise _invalid("%s.status: an empty list" % where)
    if "retry_after" in spec and not set(statuses) & set(RETRY_AFTER_STATUSES):
        raise _invalid("%s.retry_after: only sent with 429 or 503" % where)
    if spec["kind"] == "delay" and not spec.get("delay"):
        raise _invalid("%s.delay: a delay fault needs a delay of more than 0" % where)


def _statuses(spec):
    if spec["kind"] not in ANSWERING_KINDS:
        return ()
    status = spec.get("status", DEFAULT_STATUS[spec["kind"]])
    return tuple(status) if isinstance(status, list) else (status,)


def _compile(pattern, where):
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as error:
        raise _invalid("%s.path_pattern: %s" % (where, error)) from error


class FaultSet:
    """The installed faults and their seed; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.seed = 0
        self._faults = []
        self._next_id = 1

    def add(self, body):
        """Install the faults of a POST /_sim/faults body (see fault_request in the schema); ApiError(400) if invalid."""
        root = scenarios.load_schema()
        request = body if "faults" in body or ("seed" in body and "kind" not in body) else {"faults": [body]}
        try:
            scenarios.validate_value(request, root["$defs"]["fault_request"], root, "body")
        except scenarios.ScenarioError as error:
            raise _invalid(str(error)) from error
        specs = request.get("faults", [])
        patterns = []
        for index, spec in enumerate(specs):
            where = "body.faults[%d]" % index
            _check_spec(spec, where)
            patterns.append(_compile(spec.get("path_pattern"), where))
        with self._lock:
            if "seed" in request:
                self.seed = request["seed"]
            for spec, pattern in zip(specs, patterns, strict=True):
                path = spec.get("path")
                self._faults.append(Fault(
                    id=self._next_id, spec=spec, method=spec.get("method", "*").upper(),
                    path=(path.rstrip("/") or "/") if path else None, pattern=pattern, kind=spec["kind"],
                    rate=spec.get("rate", 1), count=spec.get("count"), statuses=_statuses(spec),
                    delay=spec.get("delay", 0), applied=spec.get("applied", False), body=spec.get("body")))
                self._next_id += 1

    def wants_body(self):
        """Whether any installed fault matches on the request body (only then is it parsed before the API)."""
        return any(fault.body is not None for fault in self._faults)

    def listing(self):
        with self._lock:
            return {"seed": self.seed, "faults": [fault.view() for fault in self._faults]}

    def clear(self):
        """Remove every fault; ids start from 1 again and the seed is 0 again. Return how many were removed."""
        with self._lock:
            count = len(self._faults)
            self._faults = []
            self._next_id = 1
            self.seed = 0
        return count

    def remove(self, fault_id):
        """Remove one fault; return whether it existed."""
        with self._lock:
            kept = [fault for fault in self._faults if fault.id != fault_id]
            removed = len(kept) != len(self._faults)
            self._faults = kept
        return removed

    def decide(self, method, path, body=None):
        """Return the Decision for a request (``body``: its parsed JSON body, or None), or None when no fault fires.

        Faults are consulted in the order they were installed. Every matching
        fault that fires adds its delay; the first one of another kind than
        `delay` decides the answer, and the faults after it are not consulted.
        """
        if not self._faults:
            return None
        decision = Decision()
        with self._lock:
            for fault in self._faults:
                if fault.spent() or not fault.matches(method, path, body):
                    continue
                dice = random.Random("%d/%d/%d" % (self.seed, fault.id, fault.matched))
                fault.matched += 1
                if dice.random() >= fault.rate:
                    continue
                fault.fired += 1
                decision.ids.append(fault.id)
                decision.delay += fault.delay
                if fault.kind != "delay":
                    decision.fault = fault
                    decision.status = dice.choice(fault.statuses) if fault.statuses else None
                    break
        return decision if decision.ids else None
