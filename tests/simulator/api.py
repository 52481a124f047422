"""The VergeOS REST API: authentication, table reads, power actions, status writes, snapshots.

Every request is answered under the world lock, so state changes and reads
never interleave; a read's rows are copied under it and encoded after it is
released (cache.py), so many clients reading large lists do not queue behind
one another's JSON encoding. An admission check (the rate limit, given by
app.py) sees every request whose principal is known, before it is carried out.
"""

import base64
import binascii
import time
from http.cookies import CookieError, SimpleCookie

import cache
import query
from logins import LOCKED, LOGIN_REQUIRED
from wire import ApiError, Response, error_response, missing, reshaped
from tables import TABLES, as_key

# Routes that change something: (table, with a key in the path) -> method.
WRITES = {
    ("vm_actions", False): ("POST",),
    ("machine_snapshots", False): ("POST",),
    ("machine_snapshots", True): ("DELETE",),
    ("machine_status", True): ("PUT",),
    ("tag_categories", False): ("POST",),
    ("tag_categories", True): ("PUT",),
    ("tags", False): ("POST",),
    ("tags", True): ("PUT", "DELETE"),
    ("tag_members", False): ("POST",),
    ("tag_members", True): ("DELETE",),
}
ACTION_TABLES = ("vm_actions",)


def receipt(api, table, key, row):
    """Return the body VergeOS answers a create with (api: 'v4' or 'sys')."""
    return {"location": "/%s/%s/%s" % (api, table, key), "dbpath": "%s/%s" % (table, key), "$row": row, "$key": key}


# ---------------------------------------------------------------- authentication


def _basic_principal(world, credentials, now):
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ApiError(401, LOGIN_REQUIRED) from error
    name, separator, password = decoded.partition(":")
    if not separator:
        raise ApiError(401, LOGIN_REQUIRED)
    return world.auth.check_password(name, password, now)


def _unlocked(world, principal, now):
    """Return the principal of a token or API key unless its user is locked out (then ApiError 401)."""
    if world.auth.logins.locked(principal.name, now):
        raise ApiError(401, LOCKED)
    return principal


def _cookie_token(headers):
    """Return the session token of a `Cookie: token=T` header, or None."""
    text = headers.get("Cookie")
    if not text:
        return None
    cookie = SimpleCookie()
    try:
        cookie.load(text)
    except CookieError:
        return None
    morsel = cookie.get("token")
    return morsel.value if morsel is not None else None


def authenticate(world, headers, now=0.0):
    """Return who sent the request (session token as a header or a cookie, Basic or Bearer), or raise ApiError(401)."""
    token = headers.get("x-yottabyte-token") or _cookie_token(headers)
    if token:
        principal = world.auth.token_principal(token.strip())
        if principal is None:
            raise ApiError(401, LOGIN_REQUIRED)
        return _unlocked(world, principal, now)
    scheme, _space, credentials = (headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() == "basic":
        return _basic_principal(world, credentials.strip(), now)
    if scheme.lower() == "bearer":
        entry = world.auth.api_keys.get(credentials.strip())
        if entry is None:
            raise ApiError(401, LOGIN_REQUIRED)
        return _unlocked(world, entry, now)
    raise ApiError(401, LOGIN_REQUIRED)


class Refused(Exception):
    """An admission check refused the request: it is answered with `response` and not carried out."""

    def __init__(self, response, principal):
        super().__init__(response.status)
        self.response = response
        self.principal = principal


def admit(check, principal):
    """Ask the admission check about an authenticated request; raise Refused when it says no."""
    answer = check(principal) if check is not None else None
    if answer is not None:
        raise Refused(answer, principal)


# ---------------------------------------------------------------- session tokens


def login(world, request, check=None, now=0.0):
    """Return (principal, response) for POST /api/sys/tokens; the admission check sees the user before a token exists."""
    body = request.json()
    name, password = str(body.get("login", "")), str(body.get("password", ""))
    principal = world.auth.check_password(name, password, now)
    admit(check, principal)
    token = world.auth.login(name, password)
    return world.auth.token_principal(token), Response(201, receipt("sys", "tokens", token, len(world.auth.tokens)))


def logout(world, principal, token):
    owner = world.auth.tokens.get(token)
    if owner is None:
        raise ApiError(404, "Resource '/sys/tokens/%s' not found during delete" % token)
    if owner != principal.name and principal.role != "admin":
        raise ApiError(403, "Permission denied")
    del world.auth.tokens[token]
    return Response(200)


# ---------------------------------------------------------------- tables


def _check_filter(world, table, condition):
    """Raise QueryError for what this system's switches refuse in a filter (nothing at the defaults)."""
    if condition is None:
        return
    if table == "tag_members" and world.store.member_bw == "reject":
        if any(item.path == ("member",) and item.operator not in query.EQUALITY_OPERATORS for item in query.comparisons(condition)):
            raise query.QueryError("only eq and ne work on member")
    if world.store.old_filter_grammar:
        if any(item.operator in query.UNSPECIFIED_OPERATORS for item in query.comparisons(condition)):
            raise query.QueryError("operator unknown before VergeOS 26.0")


def read_rows(world, table, request):
    params = query.parse_query(request.query)
    _check_filter(world, table, params.condition)
    base_order = None
    if world.store.sort_key != "work" and query.sorts_on_key(params):
        if world.store.sort_key == "reject":
            raise query.QueryError("sort on $key is refused")
        # Ignored: the `$key` sort keys are dropped and the rows come in a random order (other sort keys still apply).
        params = query.without_key_sort(params)
        base_order = world.store.shuffled(table)
    traversal = world.switches["traversed_filters"] == "work"
    return query.select(world.store.candidate_rows(table, params.condition), params, world.store.view(table), traversal, base_order)


def read_row(world, table, key_text, request):
    row = world.tables[table].get(as_key(key_text))
    if row is None:
        raise missing(table, key_text, "get")
    fields = request.query.get("fields")
    if fields is not None:
        entries = query.parse_fields(fields)
    else:
        entries = ("summary",) if world.store.short_default_fields else ("most",)
    return query.project(row, query.expand_fields(entries, world.store.view(table)))


def _shuffled_read(world, key_text, request):
    """Return whether a read's answer is a fresh random order (an ignored `$key` sort): never cached."""
    return world.store.sort_key == "ignore" and key_text is None and "$key" in request.query.get("sort", "")


def _read(world, table, key_text, request):
    """Return the answer to a GET: cached bytes of this world version, or rows copied now and encoded later."""
    if _shuffled_read(world, key_text, request):
        return Response(200, read_rows(world, table, request))
    key = (table, key_text, tuple(sorted(request.query.items())))
    entry, owner = world.responses.claim(world.version, key)
    if not owner:
        return Response(200, cache.Deferred(world.responses, entry, False))
    rows = None
    try:
        rows = read_rows(world, table, request) if key_text is None else read_row(world, table, key_text, request)
    finally:
        if rows is None:  # an error answer: nothing to cache
            world.responses.forget(key, entry)
    # Projected rows are fresh dicts and the nested values are replaced, never changed in place: safe to encode unlocked.
    return Response(200, cache.Deferred(world.responses, entry, True, rows))


def finish(response, error_shape="text"):
    """Return the response with a deferred read body encoded (call without the world lock)."""
    if not isinstance(response.body, cache.Deferred):
        return response
    payload = response.body.payload()
    if payload is None:
        return error_response(ApiError(500, "Internal server error"), error_shape)
    return Response(response.status, payload=payload)


def _write_tags(world, table, key_text, request, now):
    """POST, PUT and DELETE of tag_categories, tags and tag_members (what the maintenance record uses)."""
    body = request.json() if request.method != "DELETE" else {}
    if key_text is None:
        create = {"tag_categories": world.tags.create_category, "tags": world.tags.create_tag,
                  "tag_members": lambda fields, _now: world.tags.create_member(fields)}[table]
        key = create(body, now)
        return Response(201, receipt("v4", table, world.store.served_key(table, key), key))
    key = as_key(key_text)
    if key is None or key not in world.tables[table]:
        raise missing(table, key_text, request.method)
    if request.method == "PUT":
        update = world.tags.update_category if table == "tag_categories" else world.tags.update_tag
        update(key, body, now)
    elif table == "tags":
        world.tags.delete_tag(key)
    else:
        world.tags.delete_member(key)
    return Response(200)


def _write(world, table, key_text, request, now):
    if table in ("tag_categories", "tags", "tag_members"):
        return _write_tags(world, table, key_text, request, now)
    body = request.json()
    if table == "vm_actions":
        world.fleet.vm_action(body, now)
        return Response(201)
    if table == "machine_status":
        key = as_key(key_text)
        if key is None:
            raise missing(table, key_text, request.method)
        world.fleet.write_status(key, body, now)
        return Response(200)
    if key_text is None:
        key = world.snapshots.create(body, now)
        return Response(201, receipt("v4", table, world.store.served_key(table, key), key))
    key = as_key(key_text)
    if key is None:
        raise missing(table, key_text, request.method)
    world.snapshots.delete(key)  # 404 when there is no such snapshot, readable or not yet
    return Response(200)


def _table_route(world, principal, request, parts, now):
    table = parts[0]
    key_text = parts[1] if len(parts) == 2 else None
    if len(parts) > 2:
        raise ApiError(404, "API not found: /v4/%s" % "/".join(parts))
    if table not in TABLES and table not in ACTION_TABLES:
        raise ApiError(404, "Table not found during %s" % request.method.lower())
    if request.method == "GET" and table in TABLES:
        return _read(world, table, key_text, request)
    if request.method not in WRITES.get((table, key_text is not None), ()):
        raise ApiError(405, "%s is not permitted on /v4/%s" % (request.method, "/".join(parts)))
    if principal.role != "admin":
        raise ApiError(403, "Permission denied")
    return _write(world, table, key_text, request, now)


def _route(world, request, now, check):
    """Return (response, principal) for an /api request; raises ApiError or Refused."""
    parts = [part for part in request.path.split("/") if part]
    if parts[:3] == ["api", "sys", "tokens"] and len(parts) == 3 and request.method == "POST":
        principal, response = login(world, request, check, now)
        return response, principal
    principal = authenticate(world, request.headers, now)
    admit(check, principal)
    try:
        if parts[:3] == ["api", "sys", "tokens"] and len(parts) == 4 and request.method == "DELETE":
            return logout(world, principal, parts[3]), principal
        if parts[:2] != ["api", "v4"] or len(parts) < 3:
            raise ApiError(404, "API not found: %s" % request.path)
        return _table_route(world, principal, request, parts[2:], now), principal
    except query.QueryError:
        # The user is known: a refused request is logged under its user, like an accepted one.
        raise Refused(error_response(ApiError(422, query.INVALID)), principal) from None
    except ApiError as error:
        raise Refused(error_response(error), principal) from None


def handle(world, request, now=None, record=None, check=None):
    """Answer an /api request; return (response, principal or None).

    The request is handled at `now` (default: the time the lock was taken),
    never earlier than a request handled before it. record(response,
    principal, when), when given, is called under the lock, so the request
    log lists requests in the order they took effect. check(principal), when
    given, is asked once the request's user is known (credentials valid) and
    before anything is carried out: None lets it through, a Response is the
    answer instead.
    """
    principal = None
    with world.lock:
        now = world.tick(time.time() if now is None else now)
        world.advance(now)
        try:
            response, principal = _route(world, request, now, check)
        except Refused as refusal:
            response, principal = refusal.response, refusal.principal
        except query.QueryError:
            response = error_response(ApiError(422, query.INVALID))
        except ApiError as error:
            response = error_response(error)
        if request.method != "GET":
            world.touch()
        if world.error_body != "text":
            response = reshaped(response, world.error_body)
        if record is not None:
            record(response, principal, now)
    return finish(response, world.error_body), principal
