"""The API rate limit: a token bucket per user, dropped connections or 429, scenario and command line."""

import os
import subprocess
import sys
import time

import jsonschema
import pytest
import requests

import ratelimit
from sim_helpers import act, at_once, ok_json, scenario_schema

SERVER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "simulator", "server.py")
SYSTEM = "/api/v4/system"
ACTIONS = "/api/v4/vm_actions"
ADMIN = ("admin", "admin")
OPS = ("ops", "ops")
WORLD = {
    "users": [{"name": "admin", "password": "admin"}, {"name": "ops", "password": "ops"}],
    "api_keys": [{"key": "k-automation", "user": "automation"}, {"key": "k-admin", "user": "admin"}],
    "vms": [{"key": 1, "name": "off"}, {"key": 2, "name": "on", "power": "running"}],
}
# A slow refill: the bucket gains one token in 10 s, so "at once" needs no timing margin.
SLOW = 0.1


@pytest.fixture
def rl(sim_faults):
    """The shared simulator; the test loads its own rate limit, and the start-up world comes back afterwards."""
    yield sim_faults
    sim_faults.reset()


def limited(sim, mode="drop", rate=SLOW, burst=5, **extra):
    """Load WORLD with a rate limit; return the setting as /_sim/health shows it."""
    setting = dict({"rate": rate, "burst": burst, "mode": mode}, **extra)
    summary = sim.load(dict(WORLD, rate_limit=setting))
    sim.clear_requests()
    return summary["rate_limit"]


def get(sim, path=SYSTEM, auth=ADMIN, **kwargs):
    return sim.api("GET", path, auth=auth, **kwargs)


def drain(sim, count, auth=ADMIN):
    """Send count requests that must all be admitted."""
    for _turn in range(count):
        assert get(sim, auth=auth).status_code == 200


def dropped(call):
    """Return whether the request got no answer at all (the connection closed)."""
    try:
        call()
    except requests.exceptions.ConnectionError:
        return True
    return False


def health(sim):
    return ok_json(sim.api("GET", "/_sim/health", auth=None))


# ---------------------------------------------------------------- the bucket itself (fake clock)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_bucket_refills_at_rate_up_to_burst():
    clock = Clock()
    limit = ratelimit.RateLimit(clock)
    limit.configure({"rate": 2.0, "burst": 3, "mode": "drop", "retry_after": 1})
    assert [limit.admit("a") for _turn in range(3)] == [None] * 3
    assert limit.admit("a") is not None
    clock.now += 0.49  # 0.98 of a token
    assert limit.admit("a") is not None
    clock.now += 0.02
    assert limit.admit("a") is None
    assert limit.admit("a") is not None
    clock.now += 60  # a long pause fills the bucket, never beyond burst
    assert [limit.admit("a") for _turn in range(4)].count(None) == 3
    assert limit.admit("b") is None  # another user, another bucket


def test_bucket_without_setting_admits_everything_and_configure_refills():
    limit = ratelimit.RateLimit(Clock())
    assert all(limit.admit("a") is None for _turn in range(100))
    limit.configure({"rate": 1.0, "burst": 1, "mode": "429", "retry_after": 4})
    assert limit.admit("a") is None
    setting, answer = limit.admit("a")
    assert setting["mode"] == "429"
    assert (answer.status, answer.body, answer.headers) == (429, {"err": ratelimit.MESSAGE}, {"Retry-After": "4"})
    limit.configure(limit.setting)
    assert limit.admit("a") is None


# ---------------------------------------------------------------- burst, then refusal


def test_burst_then_dropped_connection(rl):
    assert limited(rl) == {"rate": SLOW, "burst": 5, "mode": "drop", "retry_after": 1}
    drain(rl, 5)
    assert dropped(lambda: get(rl))
    assert dropped(lambda: get(rl))  # a refusal takes no token and gives none back


def test_burst_then_429_with_retry_after(rl):
    limited(rl, mode="429", burst=3, retry_after=7)
    drain(rl, 3)
    response = get(rl)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"err": "Too many requests: API rate limit exceeded"}


def test_429_default_retry_after_is_one_second(rl):
    assert limited(rl, mode="429", burst=1)["retry_after"] == 1
    drain(rl, 1)
    assert get(rl).headers["Retry-After"] == "1"


def test_burst_defaults_to_the_rate_rounded_up(rl):
    rl.load(dict(WORLD, rate_limit={"rate": 2.5}))
    assert health(rl)["rate_limit"] == {"rate": 2.5, "burst": 3, "mode": "drop", "retry_after": 1}
    rl.load(dict(WORLD, rate_limit={"rate": 0.2}))
    assert health(rl)["rate_limit"]["burst"] == 1


def admitted_until_refused(sim, limit=50):
    """Send requests until one is refused (429); return (how many were admitted, seconds from the first to the refusal)."""
    started = time.monotonic()
    for admitted in range(limit):
        status = get(sim).status_code
        if status == 429:
            return admitted, time.monotonic() - started
        assert status == 200
    raise AssertionError("no refusal in %d requests" % limit)


def test_refill_over_real_time(rl):
    """Counted, not timed: a slow machine admits more (tokens refill meanwhile), never fewer or more than the tokens earned."""
    rate, burst = 2, 2
    limited(rl, mode="429", rate=rate, burst=burst)
    admitted, seconds = admitted_until_refused(rl)
    # the full bucket, plus what refilled while they were sent (at `rate` a second of wall time, not the world's speed)
    assert burst <= admitted <= burst + rate * seconds
    time.sleep(2.0)  # 4 tokens' worth: the bucket is full again, and holds no more than 2
    admitted, seconds = admitted_until_refused(rl)
    assert burst <= admitted <= burst + rate * seconds
    refused = [entry for entry in rl.requests() if "fault" in entry]
    assert [(entry["status"], entry["fault"]["rate_limit"]) for entry in refused] == [(429, "429")] * 2


def test_every_authenticated_request_counts_whatever_its_answer(rl):
    limited(rl, mode="429", burst=3)
    assert get(rl, "/api/v4/no_such_table").status_code == 404
    assert get(rl, "/api/v4/vms", params={"filter": "name like 'x'"}).status_code == 422
    assert rl.api("POST", ACTIONS, auth=OPS, json={"vm": 1, "action": "poweron"}).status_code == 201
    drain(rl, 1)
    assert get(rl).status_code == 429
    assert get(rl, auth=OPS).status_code == 200  # ops spent one of its own


# ---------------------------------------------------------------- who is charged


def test_users_have_independent_buckets(rl):
    limited(rl, burst=3)
    drain(rl, 3, auth=ADMIN)
    assert dropped(lambda: get(rl, auth=ADMIN))
    drain(rl, 3, auth=OPS)
    assert dropped(lambda: get(rl, auth=OPS))
    bearer = {"Authorization": "Bearer k-automation"}
    for _turn in range(3):
        assert get(rl, auth=None, headers=bearer).status_code == 200
    assert dropped(lambda: get(rl, auth=None, headers=bearer))


def test_basic_token_login_and_api_key_of_one_user_share_a_bucket(rl):
    limited(rl, mode="429", burst=5)
    drain(rl, 1)
    assert get(rl, auth=None, headers={"Authorization": "Bearer k-admin"}).status_code == 200
    login = rl.api("POST", "/api/sys/tokens", auth=None, json={"login": "admin", "password": "admin"})
    token = ok_json(login, 201)["$key"]
    session = {"x-yottabyte-token": token}
    for _turn in range(2):
        assert get(rl, auth=None, headers=session).status_code == 200
    assert get(rl, auth=None, headers=session).status_code == 429
    refused_login = rl.api("POST", "/api/sys/tokens", auth=None, json={"login": "admin", "password": "admin"})
    assert refused_login.status_code == 429
    assert [entry["user"] for entry in rl.requests()] == ["admin"] * 7


def test_failed_authentication_is_not_counted(rl):
    limited(rl, mode="429", burst=2)
    for credentials in ({"auth": ("admin", "wrong")}, {"auth": ("nobody", "x")}, {"auth": None},
                        {"auth": None, "headers": {"Authorization": "Bearer nope"}},
                        {"auth": None, "headers": {"x-yottabyte-token": "nope"}}):
        for _turn in range(3):
            assert get(rl, **credentials).status_code == 401
    for _turn in range(3):
        bad_login = rl.api("POST", "/api/sys/tokens", auth=None, json={"login": "admin", "password": "wrong"})
        assert bad_login.status_code == 401
    drain(rl, 2)  # admin's bucket is still full
    assert get(rl).status_code == 429
    unauthenticated = [entry for entry in rl.requests() if entry["status"] == 401]
    assert len(unauthenticated) == 18
    assert all(entry["user"] is None and "fault" not in entry for entry in unauthenticated)


def test_sim_requests_are_never_limited_nor_counted(rl):
    limited(rl, burst=2)
    for _turn in range(10):
        assert rl.api("GET", "/_sim/health", auth=None).status_code == 200
        assert rl.api("GET", "/_sim/requests", auth=("admin", "admin")).status_code == 200
    drain(rl, 2)
    assert dropped(lambda: get(rl))
    for _turn in range(5):
        assert rl.api("GET", "/_sim/faults", auth=("admin", "admin")).status_code == 200


def test_concurrent_requests_admit_exactly_the_burst(rl):
    limited(rl, mode="429", burst=5)

    def one():
        return requests.get(rl.url + SYSTEM, auth=ADMIN, verify=rl.ca, timeout=30).status_code
    statuses = at_once([one] * 12)
    assert sorted(statuses) == [200] * 5 + [429] * 7
    assert sorted(entry["status"] for entry in rl.requests()) == [200] * 5 + [429] * 7


# ---------------------------------------------------------------- refused requests are not carried out


def test_dropped_power_action_is_not_carried_out(rl):
    limited(rl, burst=1)
    drain(rl, 1)
    assert dropped(lambda: act(rl, 1, "poweron"))
    assert dropped(lambda: act(rl, 2, "kill"))
    statuses = ok_json(rl.api("GET", "/api/v4/machine_status", auth=OPS, params={"fields": "status"}))
    assert sorted(row["status"] for row in statuses) == ["running", "stopped"]


def test_refused_snapshot_and_login_leave_nothing_behind(rl):
    limited(rl, mode="429", burst=2)
    machine = ok_json(rl.api("GET", "/api/v4/vms/1", auth=OPS, params={"fields": "machine"}))["machine"]
    snapshots_before = len(ok_json(rl.api("GET", "/api/v4/machine_snapshots", auth=OPS)))
    drain(rl, 2)
    assert rl.api("POST", "/api/v4/machine_snapshots", json={"machine": machine, "name": "s"}).status_code == 429
    bearer = {"Authorization": "Bearer k-automation"}
    assert len(ok_json(rl.api("GET", "/api/v4/machine_snapshots", auth=None, headers=bearer))) == snapshots_before
    assert rl.api("POST", "/api/sys/tokens", auth=None, json={"login": "admin", "password": "admin"}).status_code == 429


# ---------------------------------------------------------------- the request log


def test_log_entries_of_refused_requests(rl):
    limited(rl, burst=1)
    drain(rl, 1)
    assert dropped(lambda: act(rl, 1, "poweron"))
    admitted, refused = rl.requests()
    assert "fault" not in admitted and admitted["status"] == 200
    assert (refused["method"], refused["path"], refused["body"]) == ("POST", ACTIONS, {"vm": 1, "action": "poweron"})
    assert (refused["status"], refused["user"]) == (None, "admin")
    assert refused["fault"] == {"ids": [], "kind": "rate_limit", "delay": 0, "applied": False, "api_status": None,
                                "rate_limit": "drop"}
    limited(rl, mode="429", burst=1)
    drain(rl, 1, auth=OPS)
    assert get(rl, auth=OPS).status_code == 429
    refused = rl.requests()[-1]
    assert (refused["status"], refused["user"]) == (429, "ops")
    assert refused["fault"] == {"ids": [], "kind": "rate_limit", "delay": 0, "applied": False, "api_status": None,
                                "rate_limit": "429"}


# ---------------------------------------------------------------- with faults


def test_a_lost_request_is_not_charged(rl):
    limited(rl, burst=2)
    rl.add_faults({"kind": "error", "status": 503, "path": SYSTEM, "count": 2}, {"kind": "drop", "path": SYSTEM, "count": 1})
    assert get(rl).status_code == 503
    assert get(rl).status_code == 503
    assert dropped(lambda: get(rl))
    drain(rl, 2)  # the server never saw the three: the bucket is full
    assert dropped(lambda: get(rl))
    faulted = rl.requests()[:3]
    assert all(entry["user"] is None and "rate_limit" not in entry["fault"] for entry in faulted)


def test_a_fault_on_a_refused_request_acts_on_the_refusal(rl):
    limited(rl, mode="429", burst=1)
    drain(rl, 1)
    rl.add_faults({"kind": "error", "status": 502, "path": SYSTEM, "applied": True, "count": 1},
                  {"kind": "delay", "delay": 0.05, "path": SYSTEM, "count": 1})
    assert get(rl).status_code == 502  # a proxy's answer replaces the server's refusal
    assert get(rl).status_code == 429  # a delayed request still meets the limit
    proxied, delayed = rl.requests()[1:]
    assert (proxied["status"], proxied["user"]) == (502, "admin")
    assert proxied["fault"] == {"ids": [1], "kind": "error", "delay": 0, "applied": False, "api_status": None,
                                "rate_limit": "429"}
    assert (delayed["status"], delayed["user"]) == (429, "admin")
    assert delayed["fault"] == {"ids": [2], "kind": "delay", "delay": 0.05, "applied": False, "api_status": None,
                                "rate_limit": "429"}


def test_a_truncate_fault_keeps_a_dropped_refusal_dropped(rl):
    limited(rl, burst=1)
    drain(rl, 1)
    rl.add_faults({"kind": "truncate", "path": SYSTEM})
    assert dropped(lambda: get(rl))
    entry = rl.requests()[-1]
    assert entry["status"] is None
    assert entry["fault"] == {"ids": [1], "kind": "truncate", "delay": 0, "applied": False, "api_status": None,
                              "rate_limit": "drop"}


# ---------------------------------------------------------------- scenario, reset, command line


def test_reset_returns_to_the_start_up_setting(rl):
    limited(rl, burst=1)
    assert health(rl)["rate_limit"]["burst"] == 1
    assert ok_json(rl.api("POST", "/_sim/reset", auth=None))["rate_limit"] is None
    for _turn in range(20):
        assert get(rl).status_code == 200


def test_a_scenario_without_rate_limit_drops_the_previous_one(rl):
    limited(rl, burst=1)
    assert rl.load(WORLD)["rate_limit"] is None
    drain(rl, 10)


def test_command_line_setting_scenarios_and_reset(simulator_factory):
    handle = simulator_factory("--rate-limit", "0.5:5")
    assert health(handle)["rate_limit"] == {"rate": 0.5, "burst": 5, "mode": "drop", "retry_after": 1}
    drain(handle, 5)
    assert dropped(lambda: get(handle))
    handle.load({"vms": [{"name": "a"}]})  # no rate_limit: the command line's, buckets full again
    drain(handle, 5)
    assert dropped(lambda: get(handle))
    handle.load({"rate_limit": {"rate": SLOW, "burst": 2, "mode": "429"}})  # the scenario's wins
    drain(handle, 2)
    assert get(handle).status_code == 429
    assert handle.load({"rate_limit": None})["rate_limit"] is None  # null: no limit at all
    drain(handle, 8)
    assert health(handle)["rate_limit"] is None
    handle.reset()
    assert health(handle)["rate_limit"]["burst"] == 5
    drain(handle, 5)
    assert dropped(lambda: get(handle))


def test_command_line_mode_and_retry_after(simulator_factory):
    handle = simulator_factory("--rate-limit", "0.1:2", "--rate-limit-mode", "429", "--rate-limit-retry-after", "3", "--http")
    drain(handle, 2)
    response = get(handle)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "3")


@pytest.mark.parametrize("options, message", [
    (["--rate-limit", "0"], "--rate-limit.rate: 0.0 must be more than 0"),
    (["--rate-limit=-1:5"], "--rate-limit.rate: -1.0 must be more than 0"),
    (["--rate-limit", "5:0"], "--rate-limit.burst: 0 is less than 1"),
    (["--rate-limit", "5:1.5"], "expected RATE[:BURST]"),
    (["--rate-limit", "fast"], "expected RATE[:BURST]"),
    (["--rate-limit", "inf"], "finite"),
    (["--rate-limit", "5", "--rate-limit-mode", "slow"], "invalid choice"),
    (["--rate-limit-mode", "429"], "need --rate-limit"),
    (["--rate-limit", "5", "--rate-limit-retry-after", "2"], "only with mode '429'"),
])
def test_bad_command_line_exits_2(options, message):
    result = subprocess.run([sys.executable, SERVER, "--http"] + options, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert message in result.stderr


# ---------------------------------------------------------------- validation


INVALID = [
    ({"rate": 0}, "scenario.rate_limit.rate: 0 must be more than 0", True),
    ({"rate": -2, "burst": 1}, "scenario.rate_limit.rate", True),
    ({"rate": "5"}, "scenario.rate_limit.rate: expected number", True),
    ({"rate": 5, "burst": 0}, "scenario.rate_limit.burst: 0 is less than 1", True),
    ({"rate": 5, "burst": 2.5}, "scenario.rate_limit.burst: expected integer", True),
    ({"rate": 5, "mode": "sometimes"}, "scenario.rate_limit.mode: 'sometimes' is not one of 'drop', '429'", True),
    ({"rate": 5, "mode": 429}, "scenario.rate_limit.mode", True),
    ({"burst": 5}, "scenario.rate_limit: missing required field 'rate'", True),
    ({"rate": 5, "per": "user"}, "scenario.rate_limit: unknown field 'per'", True),
    ({"rate": 5, "mode": "429", "retry_after": -1}, "scenario.rate_limit.retry_after: -1 is less than 0", True),
    ({"rate": 5, "retry_after": 2}, "scenario.rate_limit.retry_after: only with mode '429'", False),
    (50, "scenario.rate_limit: expected object or null", True),
]


@pytest.mark.parametrize("rate_limit, message, structural", INVALID)
def test_bad_rate_limits_are_400_and_change_nothing(rl, rate_limit, message, structural):
    limited(rl, burst=2)
    before = health(rl)
    response = rl.api("POST", "/_sim/scenario", auth=None, json=dict(WORLD, rate_limit=rate_limit))
    assert response.status_code == 400
    assert message in response.json()["err"]
    assert health(rl) == before
    scenario = dict(WORLD, rate_limit=rate_limit)
    if structural:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(scenario, scenario_schema())
    else:
        jsonschema.validate(scenario, scenario_schema())


def test_valid_rate_limits_round_trip(rl):
    for rate_limit in ({"rate": 50, "burst": 50, "mode": "drop"}, {"rate": 0.5, "mode": "429", "retry_after": 0}, None):
        scenario = dict(WORLD, rate_limit=rate_limit)
        jsonschema.validate(scenario, scenario_schema())
        rl.load(scenario)
        assert ok_json(rl.api("GET", "/_sim/scenario", auth=None)) == scenario
