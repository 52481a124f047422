"""The auth room (auth.py), in this process: passwords, API keys, session tokens, failed logins."""

import pytest

from auth import Identities, Principal
from logins import LOCKED, LOGIN_REQUIRED
from room_helpers import switches
from wire import ApiError

DEFINITION = {"users": [{"name": "admin", "password": "pw"}, {"name": "viewer", "password": "v", "role": "readonly"}],
              "api_keys": [{"key": "k1", "user": "automation"}, {"key": "k2", "role": "readonly"}]}


def _identities(**changes):
    return Identities(DEFINITION, switches(**changes), 2)


def test_a_password_names_a_principal_and_a_login_gives_a_token():
    auth = _identities()
    assert auth.check_password("viewer", "v", 0) == Principal("viewer", "readonly")
    token = auth.login("admin", "pw")
    assert auth.token_principal(token) == Principal("admin", "admin")
    assert auth.login("admin", "bad") is None and auth.token_principal("nope") is None
    assert auth.api_keys == {"k1": Principal("automation", "admin"), "k2": Principal("apikey", "readonly")}


def test_failed_logins_are_counted_and_lock_after_the_switch():
    auth = _identities(lockout_after=2, lockout_seconds=10)
    for _turn in range(2):
        with pytest.raises(ApiError) as refused:
            auth.check_password("admin", "bad", 100)
        assert refused.value.message == LOGIN_REQUIRED
    with pytest.raises(ApiError) as locked:
        auth.check_password("admin", "pw", 101)  # the right password, locked all the same
    assert (locked.value.code, locked.value.message) == (401, LOCKED)
    assert auth.logins.listing(101)["users"]["admin"] == {"failed": 2, "consecutive": 2, "locked": True}
    assert auth.check_password("admin", "pw", 106) == Principal("admin", "admin")  # 10 s at speed 2 are 5 s


def test_a_good_login_ends_the_run_of_failures():
    auth = _identities(lockout_after=2)
    with pytest.raises(ApiError):
        auth.check_password("admin", "bad", 0)
    auth.check_password("admin", "pw", 0)
    with pytest.raises(ApiError):
        auth.check_password("admin", "bad", 0)
    assert auth.check_password("admin", "pw", 0).name == "admin"
