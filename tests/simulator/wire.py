"""Requests and answers as the application sees them, and the one error type.

The HTTP layer builds a Request, the application answers a Response; an
ApiError raised anywhere becomes the answer {"err": message} with its code
(or another shape of that body: switch `error_body`).
"""

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote


class ApiError(Exception):
    """Answered as HTTP `code` with the body {"err": message}."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Headers:
    """A request's header fields by name, whatever its case; of a repeated field, the first (as email.message.Message.get)."""

    __slots__ = ("_fields",)

    def __init__(self, fields=()):
        self._fields = {}
        for name, value in fields:
            self._fields.setdefault(name.lower(), value)

    def get(self, name, default=None):
        return self._fields.get(name.lower(), default)

    def __getitem__(self, name):
        return self._fields.get(name.lower())

    def __contains__(self, name):
        return name.lower() in self._fields


@dataclass
class Request:
    method: str
    path: str
    query: dict  # name -> last value, as the API reads parameters
    raw_query: dict  # name -> value, or list of values when repeated, as the log shows them
    headers: object  # case-insensitive mapping with get() (Headers)
    body: bytes = b""

    def json(self):
        """Return the parsed JSON body ({} when empty); ApiError 400 when it is not a JSON object."""
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except ValueError as error:
            raise ApiError(400, "Invalid JSON body: %s" % error) from error
        if not isinstance(value, dict):
            raise ApiError(400, "Invalid JSON body: expected an object")
        return value


@dataclass
class Response:
    """An answer. The HTTP layer sends `payload` when set, else `body` encoded as JSON.

    `cut` is how a fault mangles the answer on the wire: None (sent whole), "drop"
    (the connection is closed without a word) or "truncate" (the connection is closed
    half-way through a body whose full length was announced).
    """

    status: int
    body: object = None  # JSON value; None sends an empty body
    headers: dict = field(default_factory=dict)  # extra headers, e.g. Retry-After
    payload: bytes = None  # the body already encoded
    content_type: str = "application/json"
    cut: str = None


def encode(body):
    """Return the bytes of a JSON body as the platform sends it (compact); empty for None."""
    return b"" if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")


def payload_of(response):
    """Return the bytes a response carries."""
    return response.payload if response.payload is not None else encode(response.body)


def error_body(message, shape="text"):
    """Return an error body in one of the shapes VergeOS clients meet (switch `error_body`)."""
    if shape == "flag":
        return {"err": True, "message": message}
    if shape == "nested":
        return {"err": {"message": message}}
    return {"err": message}


def reshaped(response, shape):
    """Return an error answer whose {"err": text} body is given another shape (anything else unchanged)."""
    body = response.body
    if shape == "text" or response.status < 400 or not isinstance(body, dict) or not isinstance(body.get("err"), str):
        return response
    return Response(response.status, error_body(body["err"], shape), dict(response.headers), content_type=response.content_type,
                    cut=response.cut)


def missing(table, key, method):
    """Return the error of a request for a row that is not there, in VergeOS's recorded words."""
    return ApiError(404, "Resource '/v4/%s/%s' not found during %s" % (table, key, method.lower()))


def error_response(error, shape="text"):
    """Return the answer to an ApiError."""
    return Response(error.code, error_body(error.message, shape))


def make_request(method, target, headers, body):
    """Return a Request from the request line's target ('/path?query'), headers and body bytes."""
    path, _mark, query_string = target.partition("?")
    parsed = parse_qs(query_string, keep_blank_values=True)
    return Request(
        method=method,
        path=unquote(path),
        query={name: values[-1] for name, values in parsed.items()},
        raw_query={name: values[0] if len(values) == 1 else values for name, values in parsed.items()},
        headers=headers,
        body=body,
    )
