"""Fixtures for the conformance suite.

The suite proves the simulator's fidelity by running the vendor's own SDK,
pyvergeos, unchanged against it, over HTTPS with the certificate verified,
and by checking the vendor documentation's JSON examples against its answers.

The ``sim`` (session) and ``world`` (function) fixtures come from
tests/functional/conftest.py.
"""

import time

import pytest
import requests

import pyvergeos

ADMIN = ("admin", "admin")


class Raw:
    """Plain HTTP calls to the simulator, independent of the SDK.

    Verification uses the simulator's CA, passed explicitly per request (an
    explicit ``verify`` argument wins over REQUESTS_CA_BUNDLE; a session's
    ``verify`` attribute does not).
    """

    def __init__(self, sim):
        self.sim = sim
        self.base = sim.url.rstrip("/")

    def call(self, method, path, *, params=None, body=None, auth=ADMIN, headers=None):
        """Send one request; ``path`` is relative to /api/v4 unless it starts with /api/."""
        url = self.base + (path if path.startswith("/api/") else "/api/v4/" + path.lstrip("/"))
        hdrs = {"Accept": "application/json"}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        return requests.request(
            method, url, params=params, json=body, auth=auth, headers=hdrs, verify=self.sim.ca, timeout=15,
        )

    def get(self, path, **params):
        """GET and return the decoded JSON; fail on anything but 200."""
        resp = self.call("GET", path, params=params or None)
        assert resp.status_code == 200, "GET %s %r -> %s %s" % (path, params, resp.status_code, resp.text[:300])
        return resp.json()

    def vms(self):
        """Every real VM (not snapshots) joined with its machine_status row, by machine key.

        Built from two plain-column queries, with no traversal, so that it can
        serve as an independent reference for what the SDK reports.
        """
        vms = self.get("vms", filter="is_snapshot eq false", fields="$key,name,machine,is_snapshot,cpu_cores,ram")
        status = self.get("machine_status", fields="$key,machine,running,status,node")
        by_machine = {row["machine"]: row for row in status}
        out = []
        for vm in vms:
            row = dict(vm)
            row["ms"] = by_machine.get(vm["machine"])
            out.append(row)
        return out

    def vm_where(self, running):
        """A VM whose machine_status says running (True) or stopped (False)."""
        for vm in self.vms():
            ms = vm["ms"]
            if ms is None:
                continue
            if running and ms["running"] and ms["status"] == "running":
                return vm
            if not running and not ms["running"] and ms["status"] == "stopped":
                return vm
        pytest.fail("the default world has no %s VM" % ("running" if running else "stopped"))
        return None  # not reached


def _wait_until(predicate, timeout=10.0, interval=0.05):
    """Poll ``predicate`` until it returns a truthy value; return it, or the last falsy one."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


@pytest.fixture
def wait_until():
    """Bounded polling: ``wait_until(predicate, timeout=10.0, interval=0.05)``."""
    return _wait_until


@pytest.fixture
def raw(sim, world):
    """Raw HTTP helper on a freshly reset default world."""
    return Raw(sim)


@pytest.fixture
def trust_sim_ca(sim, monkeypatch):
    """Make requests verify against the simulator's CA.

    This machine exports REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, and requests then
    ignores ``session.verify``; pointing the bundle at the simulator's CA is
    what makes the SDK's default verification (verify_ssl=True) really apply.
    """
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sim.ca)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def make_client(sim, trust_sim_ca):
    """Factory for SDK clients; every client made is disconnected at teardown."""
    made = []

    def factory(**kwargs):
        if "token" not in kwargs:
            kwargs.setdefault("username", ADMIN[0])
            kwargs.setdefault("password", ADMIN[1])
        # No transparent retries: a 5xx from the simulator must surface as the
        # SDK's APIError at once instead of a 6 s backoff and a RetryError.
        kwargs.setdefault("retry_status_codes", frozenset())
        client = pyvergeos.VergeClient(host=sim.host, timeout=15, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.disconnect()


@pytest.fixture
def client(world, make_client):
    """An SDK client logged in with Basic auth, on a freshly reset default world."""
    return make_client()
