"""Failed logins are counted (GET /_sim/logins) and, with the switch lockout_after, lock the account."""

import time

import pytest

from sim_helpers import ok_json

USERS = [{"name": "admin", "password": "admin"}, {"name": "ops", "password": "ops-pw"}]
LOCKED = "Account is locked: too many failed login attempts"
BAD = "Login required"


def _load(sim, **switches):
    sim.load({"users": USERS, "api_keys": [{"key": "ops-key", "user": "ops"}], "switches": switches, "vms": [{"name": "a"}]})


def _get(sim, auth=("ops", "ops-pw"), headers=None):
    return sim.api("GET", "/api/v4/system", auth=auth, headers=headers or {})


def _login(sim, password):
    return sim.api("POST", "/api/sys/tokens", auth=None, json={"login": "ops", "password": password})


def _logins(sim):
    return ok_json(sim.api("GET", "/_sim/logins", auth=None))


def _answer(response):
    return response.status_code, response.json()["err"]


def test_lockout_after_zero_never_locks_but_counts_every_failed_login(sim):
    _load(sim, lockout_after=0)
    for _attempt in range(8):
        assert _answer(_get(sim, auth=("ops", "wrong"))) == (401, BAD)
    assert _answer(_login(sim, "wrong")) == (401, BAD)
    assert _get(sim).status_code == 200
    assert _logins(sim) == {"failed": 9, "refused": 0, "lockout_after": 0,
                            "users": {"ops": {"failed": 9, "consecutive": 0, "locked": False}}}


def test_lockout_after_n_consecutive_failures_locks_the_user_everywhere(sim):
    _load(sim, lockout_after=3)
    token = ok_json(_login(sim, "ops-pw"), 201)["$key"]
    for _attempt in range(2):
        assert _get(sim, auth=("ops", "wrong")).status_code == 401
    assert _get(sim).status_code == 200  # a good login in between: the count starts again
    assert _logins(sim)["users"]["ops"] == {"failed": 2, "consecutive": 0, "locked": False}
    for _attempt in range(2):
        assert _answer(_get(sim, auth=("ops", "wrong"))) == (401, BAD)
    assert _answer(_login(sim, "wrong")) == (401, BAD)  # the third in a row: locked from here on
    assert _answer(_get(sim)) == (401, LOCKED)  # even with the right password
    assert _answer(_login(sim, "ops-pw")) == (401, LOCKED)
    assert _answer(_get(sim, auth=None, headers={"x-yottabyte-token": token})) == (401, LOCKED)
    assert _answer(_get(sim, auth=None, headers={"Authorization": "Bearer ops-key"})) == (401, LOCKED)
    assert _get(sim, auth=("admin", "admin")).status_code == 200  # another user is not affected
    counts = _logins(sim)
    assert counts["users"]["ops"] == {"failed": 5, "consecutive": 3, "locked": True}
    assert (counts["failed"], counts["refused"], counts["lockout_after"]) == (5, 4, 3)
    assert ok_json(sim.api("DELETE", "/_sim/logins", auth=None)) == {"cleared": 1}
    assert _get(sim).status_code == 200
    assert _logins(sim) == {"failed": 0, "refused": 0, "lockout_after": 3, "users": {}}


def test_a_lockout_ends_after_lockout_seconds(sim):
    _load(sim, lockout_after=1, lockout_seconds=30)  # 0.3 s at speed 100
    assert _answer(_get(sim, auth=("ops", "wrong"))) == (401, BAD)
    assert _answer(_get(sim)) == (401, LOCKED)
    time.sleep(0.4)
    assert _get(sim).status_code == 200
    assert _logins(sim)["users"]["ops"]["locked"] is False


def test_one_user_can_be_unlocked_and_unknown_users_are_404(sim):
    _load(sim, lockout_after=1)
    assert _get(sim, auth=("ops", "wrong")).status_code == 401
    assert _get(sim, auth=("admin", "wrong")).status_code == 401
    listing = ok_json(sim.api("DELETE", "/_sim/logins/ops", auth=None))
    assert list(listing["users"]) == ["admin"] and listing["failed"] == 2
    assert _get(sim).status_code == 200
    assert _answer(_get(sim, auth=("admin", "admin"))) == (401, LOCKED)
    assert sim.api("DELETE", "/_sim/logins/nobody", auth=None).status_code == 404
    assert sim.api("PUT", "/_sim/logins", auth=None).status_code == 405


@pytest.mark.parametrize("reload", ["scenario", "reset"])
def test_loading_a_world_forgets_failed_logins_and_lockouts(sim, reload):
    _load(sim, lockout_after=1)
    assert _get(sim, auth=("admin", "wrong")).status_code == 401
    if reload == "scenario":
        _load(sim, lockout_after=1)
    else:
        sim.reset()
    assert _logins(sim)["failed"] == 0
    assert _get(sim, auth=("admin", "admin")).status_code == 200
