"""Fixtures that run the VergeOS simulator as a real HTTPS server process.

`sim` (session scope, one per pytest-xdist worker) starts
tests/simulator/server.py (through tests/simulator/launcher.py) and yields a
handle with:

- `.url` ("https://127.0.0.1:PORT"), `.host` ("127.0.0.1:PORT"), `.ca` (CA file path);
- `.api(method, path, **kw)`: a requests call with verify=CA and Basic admin/admin
  unless `auth=` is given (`auth=None` sends no credentials);
- `.load(scenario_dict)`, `.reset()` (default world back, request log and faults cleared),
  `.requests()` (the request log), `.clear_requests()`;
- `.add_faults(*faults, seed=None)`, `.faults()`, `.clear_faults()` (POST/GET/DELETE /_sim/faults).

`world` (function scope) resets the default world before the test and yields `sim`.
`simulator_factory` (function scope) starts extra simulators with given command-line
options and stops them after the test.
`sim_faults` (function scope) yields `sim` and removes every fault after the test,
so a failing fault test cannot leave faults behind for the next one.

The files in LONGEST_FIRST run first: with `--dist loadfile` a worker takes a whole
file at a time in collection order, and a long file taken last keeps one worker
busy while the others sit idle.
"""

import contextlib
import itertools

import pytest
import requests

import launcher  # tests/simulator, on sys.path through tests/functional/pytest.ini

REQUEST_TIMEOUT = 30
_DEFAULT_AUTH = object()
# The files that take longest (seconds on 2 cores, from make test's JUnit XML: CONTRIBUTING.md, "Where make test's time
# goes"), longest first. A file left off only starts later; the order of the tests inside a file never changes.
LONGEST_FIRST = ("roles/test_maintenance_relaunch.py", "reliability/test_switches.py", "reliability/test_throttled.py",
                 "reliability/test_round_trip_schedules.py", "roles/test_rolling_restart.py", "roles/test_safe_startup.py",
                 "inventory/test_inventory_sources.py", "roles/test_maintenance_record.py")


def pytest_collection_modifyitems(items):
    """Put the tests of the files in LONGEST_FIRST first, in that order; every other test keeps its place after them."""
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


class SimulatorHandle:
    """A running simulator process and helpers to talk to it."""

    def __init__(self, simulator):
        self.simulator = simulator
        self.process = simulator.process
        self.url = simulator.url
        self.host = simulator.host
        self.ca = simulator.ca
        self.session = requests.Session()

    def api(self, method, path, auth=_DEFAULT_AUTH, **kwargs):
        """Send one request; verify= is passed every time because REQUESTS_CA_BUNDLE overrides session.verify."""
        kwargs.setdefault("verify", self.ca)
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return self.session.request(method, self.url + path, auth=("admin", "admin") if auth is _DEFAULT_AUTH else auth, **kwargs)

    def _control(self, method, path, **kwargs):
        response = self.api(method, path, auth=None, **kwargs)
        assert response.status_code == 200, "%s %s: %s %s" % (method, path, response.status_code, response.text)
        return response.json()

    def load(self, scenario):
        """Replace the world with a scenario (fails the test if it does not validate); return the world's summary."""
        return self._control("POST", "/_sim/scenario", json=scenario)

    def reset(self):
        """Reload the default world and clear the request log; return the world's summary."""
        summary = self._control("POST", "/_sim/reset")
        self.clear_requests()
        return summary

    def requests(self):
        return self._control("GET", "/_sim/requests")

    def clear_requests(self):
        return self._control("DELETE", "/_sim/requests")

    def output(self):
        """Return what the server printed after its start-up lines (stdout and stderr)."""
        return self.simulator.output()

    def add_faults(self, *faults, seed=None):
        """Install faults (dicts as README.md describes them), optionally reseeding; return the listing."""
        body = {"faults": list(faults)}
        if seed is not None:
            body["seed"] = seed
        return self._control("POST", "/_sim/faults", json=body)

    def faults(self):
        return self._control("GET", "/_sim/faults")

    def clear_faults(self):
        return self._control("DELETE", "/_sim/faults")


def start(stack, state_dir, options):
    """Start a simulator whose lifetime is the ExitStack's; fail the test with its output if it cannot start."""
    try:
        simulator = stack.enter_context(launcher.start_simulator(list(options), str(state_dir)))
    except RuntimeError as error:
        pytest.fail(str(error))
    handle = SimulatorHandle(simulator)
    stack.callback(handle.session.close)
    return handle


@pytest.fixture(scope="session")
def sim(tmp_path_factory):
    with contextlib.ExitStack() as stack:
        yield start(stack, tmp_path_factory.mktemp("simulator"), ["--speed", "100"])


@pytest.fixture
def world(sim):
    sim.reset()
    return sim


@pytest.fixture
def sim_faults(sim):
    sim.clear_faults()
    yield sim
    sim.clear_faults()


@pytest.fixture
def simulator_factory(tmp_path):
    numbers = itertools.count()
    with contextlib.ExitStack() as stack:
        def start_one(*options):
            state_dir = tmp_path / ("simulator-%d" % next(numbers))
            state_dir.mkdir()
            return start(stack, state_dir, options)
        yield start_one
