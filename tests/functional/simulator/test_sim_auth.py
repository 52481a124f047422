"""Authentication (Basic, Bearer API key, session token) and the read-only role."""

import base64

import pytest

from sim_helpers import ok_json

WORLD = {
    "users": [{"name": "admin", "password": "s3cret!", "role": "admin"},
              {"name": "viewer", "password": "look", "role": "readonly"}],
    "api_keys": [{"key": "admin-key", "role": "admin", "user": "automation"},
                 {"key": "viewer-key", "role": "readonly"}],
    "vms": [{"key": 1, "name": "web01"}],
}
SYSTEM = "/api/v4/system?fields=$key,yb_version,os_version,cloud_name"
POWERON = {"vm": 1, "action": "poweron"}


@pytest.fixture
def aw(sim):
    sim.load(WORLD)
    return sim


def _bearer(key):
    return {"Authorization": "Bearer " + key}


def _login(sim, name, password):
    return sim.api("POST", "/api/sys/tokens", auth=None, json={"login": name, "password": password})


def test_basic_auth(aw):
    system = ok_json(aw.api("GET", SYSTEM, auth=("admin", "s3cret!")))
    assert system[0]["yb_version"] and system[0]["$key"] == 1


@pytest.mark.parametrize("auth, headers", [
    (None, {}),
    (("admin", "wrong"), {}),
    (("nobody", "s3cret!"), {}),
    (None, {"Authorization": "Basic !!!notbase64"}),
    (None, {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}),
    (None, {"Authorization": "Bearer wrong-key"}),
    (None, {"Authorization": "Negotiate abc"}),
    (None, {"x-yottabyte-token": "not-a-token"}),
])
def test_bad_or_missing_credentials_are_401(aw, auth, headers):
    response = aw.api("GET", SYSTEM, auth=auth, headers=headers)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["err"]


def test_bearer_api_key(aw):
    assert ok_json(aw.api("GET", "/api/v4/vms", auth=None, headers=_bearer("admin-key")))[0]["name"] == "web01"
    assert aw.api("POST", "/api/v4/vm_actions", auth=None, headers=_bearer("admin-key"), json=POWERON).status_code == 201


def test_session_token_lifecycle(aw):
    response = _login(aw, "admin", "s3cret!")
    assert response.status_code == 201
    token = response.json()["$key"]
    assert isinstance(token, str) and len(token) >= 32
    headers = {"x-yottabyte-token": token}
    assert ok_json(aw.api("GET", SYSTEM, auth=None, headers=headers))
    assert aw.api("POST", "/api/v4/vm_actions", auth=None, headers=headers, json=POWERON).status_code == 201
    assert aw.api("DELETE", "/api/sys/tokens/" + token, auth=None, headers=headers).status_code == 200
    assert aw.api("GET", SYSTEM, auth=None, headers=headers).status_code == 401


def test_token_login_is_not_under_v4(aw):
    assert aw.api("POST", "/api/v4/tokens", auth=None, json={"login": "admin", "password": "s3cret!"}).status_code == 401


@pytest.mark.parametrize("body", [{"login": "admin", "password": "nope"}, {"login": "ghost", "password": "x"}, {}])
def test_token_login_with_bad_credentials_is_401(aw, body):
    response = aw.api("POST", "/api/sys/tokens", auth=None, json=body)
    assert response.status_code == 401 and response.json()["err"]


def test_logout_of_an_unknown_token_is_404(aw):
    assert aw.api("DELETE", "/api/sys/tokens/feedface", auth=("admin", "s3cret!")).status_code == 404


def test_a_readonly_user_cannot_end_someone_elses_session(aw):
    token = _login(aw, "admin", "s3cret!").json()["$key"]
    assert aw.api("DELETE", "/api/sys/tokens/" + token, auth=("viewer", "look")).status_code == 403
    assert aw.api("GET", SYSTEM, auth=None, headers={"x-yottabyte-token": token}).status_code == 200


@pytest.mark.parametrize("credentials", [{"auth": ("viewer", "look")}, {"auth": None, "headers": _bearer("viewer-key")}])
def test_readonly_reads_but_cannot_write(aw, credentials):
    assert ok_json(aw.api("GET", "/api/v4/machine_status", **credentials))
    status_key = ok_json(aw.api("GET", "/api/v4/machine_status", **credentials))[0]["$key"]
    writes = [
        ("POST", "/api/v4/vm_actions", POWERON),
        ("PUT", "/api/v4/machine_status/%d" % status_key, {"status": "stopped"}),
        ("POST", "/api/v4/machine_snapshots", {"machine": 100, "name": "x", "expires": 0}),
        ("DELETE", "/api/v4/machine_snapshots/800", None),
    ]
    for method, path, body in writes:
        response = aw.api(method, path, json=body, **credentials)
        assert (response.status_code, response.json()) == (403, {"err": "Permission denied"}), (method, path)


def test_readonly_user_may_log_in_and_read_with_a_token(aw):
    token = _login(aw, "viewer", "look").json()["$key"]
    headers = {"x-yottabyte-token": token}
    assert aw.api("GET", SYSTEM, auth=None, headers=headers).status_code == 200
    assert aw.api("POST", "/api/v4/vm_actions", auth=None, headers=headers, json=POWERON).status_code == 403


def test_default_world_has_admin_admin_and_a_known_api_key(world):
    assert world.api("GET", SYSTEM).status_code == 200
    assert world.api("GET", SYSTEM, auth=None, headers=_bearer("vergeos-sim-admin-key")).status_code == 200


def test_loading_a_world_ends_old_sessions(aw):
    token = _login(aw, "admin", "s3cret!").json()["$key"]
    aw.load(WORLD)
    assert aw.api("GET", SYSTEM, auth=None, headers={"x-yottabyte-token": token}).status_code == 401


def test_sim_routes_need_no_credentials(aw):
    assert aw.api("GET", "/_sim/health", auth=None).status_code == 200
