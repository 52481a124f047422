"""Health answers of the VMs' ports: HTTP status per VM, what a restart leaves a guest as, runtime control, the health log."""

import http.client
import socket

import pytest

from sim_helpers import act, ok_json, status_of, wait_for

# At the fixture's speed 100, 10 scenario seconds are 0.1 s.
QUICK = {"boot": 10, "shutdown": 10, "kill": 10, "reboot": 10}


def _ports(sim):
    return {entry["vm"]: (entry["host"], entry["port"]) for entry in ok_json(sim.api("GET", "/_sim/ports", auth=None))["ports"]}


def _http(address, method="GET", path="/healthz", timeout=5.0):
    """Send one HTTP request as a health gate does; return (status, headers, body), None when refused."""
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    except ConnectionRefusedError:
        return None
    finally:
        connection.close()


def _line(address):
    """Connect as a plain port check that waits for the banner; return the line, None when refused."""
    try:
        with socket.create_connection(address, timeout=5) as connection:
            return connection.recv(200).decode("utf-8")
    except ConnectionRefusedError:
        return None


def _log(sim):
    return ok_json(sim.api("GET", "/_sim/health-log", auth=None))


def _clear_log(sim):
    return ok_json(sim.api("DELETE", "/_sim/health-log", auth=None))


def _set_health(sim, status=200, **body):
    return ok_json(sim.api("POST", "/_sim/health", auth=None, json=body), status)


def _vm(name, key, **guest):
    return {"name": name, "key": key, "power": "running", "guest_agent": True, "port": {}, "guest": guest}


def _back_up(sim, key, address):
    """Wait until the guest is up again after a restart: its agent answers (the port listens from the same moment)."""
    wait_for(lambda: status_of(sim, key), lambda row: row["status"] == "running" and row["agent_version"] != "")
    return address


@pytest.fixture
def health(sim):
    """The shared simulator with an empty health log (other tests' port checks are logged too)."""
    _clear_log(sim)
    yield sim
    _clear_log(sim)


def test_http_answers_the_health_status_and_a_plain_check_still_gets_the_line(health):
    sim = health
    sim.load({"timings": QUICK, "vms": [_vm("web", 1), _vm("teapot", 2, health_status=418)]})
    ports = _ports(sim)
    status, headers, body = _http(ports["web"])
    assert (status, body) == (200, b"vergeos-sim web up\n")
    assert headers["Content-Type"] == "text/plain" and headers["Content-Length"] == str(len(body))
    assert headers["Connection"] == "close"
    assert _http(ports["teapot"])[0] == 418
    status, headers, body = _http(ports["teapot"], method="HEAD")
    assert (status, body, headers["Content-Length"]) == (418, b"", str(len(b"vergeos-sim teapot up\n")))
    assert _line(ports["web"]) == "vergeos-sim web up\r\n"  # sends nothing: the one line, as before
    with socket.create_connection(ports["web"], timeout=5):
        pass  # a port check that closes at once (wait_for without search_regex)
    with socket.create_connection(ports["web"], timeout=5) as connection:
        connection.sendall(b"hello\r\n")  # not HTTP: the line too
        assert connection.recv(200) == b"vergeos-sim web up\r\n"
    answered = [(entry["vm"], entry["kind"], entry["status"], entry.get("method")) for entry in _log(sim)]
    # tcp entries are logged at the time their connection was accepted, so the log lists them in that order
    assert sorted(answered, key=str) == sorted([
        ("web", "http", 200, "GET"), ("teapot", "http", 418, "GET"), ("teapot", "http", 418, "HEAD"),
        ("web", "tcp", "up", None), ("web", "tcp", "up", None), ("web", "tcp", "up", None)], key=str)


@pytest.mark.parametrize("restart", [
    pytest.param([("poweroff", {}), ("poweron", {})], id="power-cycle"),
    pytest.param([("kill", {}), ("poweron", {})], id="kill-poweron"),
    pytest.param([("reset", {})], id="reset"),
    pytest.param([("reset", {"graceful": True})], id="guest-reboot"),
])
def test_a_guest_comes_back_unhealthy_after_any_restart(health, restart):
    sim = health
    sim.load({"timings": QUICK, "vms": [_vm("web", 1, after_restart="unhealthy"),
                                        dict(_vm("late", 2, after_restart="unhealthy"), power="stopped")]})
    ports = _ports(sim)
    assert _http(ports["web"])[0] == 200  # healthy until restarted
    for action, params in restart:
        if action == "poweron":
            wait_for(lambda: status_of(sim, 1), lambda row: row["status"] == "stopped")
        assert act(sim, 1, action, **params).status_code == 201
    _back_up(sim, 1, ports["web"])
    status, _headers, body = _http(ports["web"])
    assert (status, body) == (503, b"vergeos-sim web up\n")
    assert _line(ports["web"]) == "vergeos-sim web up\r\n"  # its port listens: a port check passes
    # a VM stopped at load and powered on is started, not restarted
    assert act(sim, 2, "poweron").status_code == 201
    _back_up(sim, 2, ports["late"])
    assert _http(ports["late"])[0] == 200
    settings = _set_health(sim, vm="web")  # no change: the answer shows the settings
    assert (settings["condition"], settings["restarts"], settings["unhealthy_status"]) == ("unhealthy", 1, 503)
    assert _set_health(sim, vm="late")["restarts"] == 0


def test_unhealthy_status_is_the_scenarios(health):
    sim = health
    sim.load({"timings": QUICK, "vms": [_vm("web", 1, after_restart="unhealthy", unhealthy_status=500, health_status=204)]})
    address = _ports(sim)["web"]
    assert _http(address)[0] == 204
    assert act(sim, 1, "reset").status_code == 201
    _back_up(sim, 1, address)
    assert _http(address)[0] == 500


def test_a_hanging_guest_accepts_and_never_answers(health):
    sim = health
    sim.load({"timings": QUICK, "vms": [_vm("web", 1, after_restart="hang")]})
    address = _ports(sim)["web"]
    assert act(sim, 1, "reset").status_code == 201
    _back_up(sim, 1, address)
    assert _line(address) == "vergeos-sim web up\r\n"  # the port check still succeeds
    with pytest.raises(TimeoutError):
        _http(address, timeout=0.5)  # accepted, then nothing until the client gives up
    assert [(entry["kind"], entry["status"]) for entry in _log(sim)] == [("tcp", "up"), ("http", "hang")]


def test_a_down_guest_never_comes_back(health):
    sim = health
    sim.load({"timings": QUICK, "vms": [_vm("web", 1, after_restart="down"), _vm("twin", 2)]})
    ports = _ports(sim)
    assert act(sim, 1, "reset").status_code == 201
    assert act(sim, 2, "reset").status_code == 201  # the same timings: back at the same moment
    _back_up(sim, 2, ports["twin"])
    assert _http(ports["twin"])[0] == 200
    row = status_of(sim, 1)
    assert (row["running"], row["status"], row["agent_version"]) == (True, "running", "")  # the machine runs, no guest
    assert _http(ports["web"]) is None and _line(ports["web"]) is None  # refused
    assert act(sim, 1, "poweroff").status_code == 201  # a power cycle does not bring it back either
    wait_for(lambda: status_of(sim, 1), lambda row: row["status"] == "stopped")
    assert act(sim, 1, "poweron").status_code == 201
    assert act(sim, 2, "poweroff").status_code == 201
    wait_for(lambda: status_of(sim, 2), lambda row: row["status"] == "stopped")
    assert act(sim, 2, "poweron").status_code == 201
    _back_up(sim, 2, ports["twin"])
    assert status_of(sim, 1)["agent_version"] == "" and _line(ports["web"]) is None
    assert ok_json(sim.api("GET", "/_sim/ports", auth=None))["ports"][0]["open"] is False


def test_runtime_control_changes_a_vms_health(health):
    sim = health
    sim.load({"timings": QUICK, "vms": [_vm("web", 1), _vm("db", 2)]})
    ports = _ports(sim)
    settings = _set_health(sim, vm="web", health_status=500)
    assert settings == {"vm": "web", "vm_key": 1, "health_status": 500, "unhealthy_status": 503, "after_restart": "healthy",
                        "condition": "healthy", "restarts": 0}
    assert _http(ports["web"])[0] == 500 and _http(ports["db"])[0] == 200  # at once, for that VM only
    assert _set_health(sim, vm="web", health_status=None)["health_status"] == 200  # null: the default again
    assert _http(ports["web"])[0] == 200
    assert _set_health(sim, vm=2, after_restart="unhealthy", unhealthy_status=502)["after_restart"] == "unhealthy"
    assert _http(ports["db"])[0] == 200  # only a restart applies it
    assert act(sim, 2, "reset").status_code == 201
    _back_up(sim, 2, ports["db"])
    assert _http(ports["db"])[0] == 502
    assert _set_health(sim, vm="db", condition="healthy")["condition"] == "healthy"
    assert _http(ports["db"])[0] == 200
    _set_health(sim, vm="web", condition="down")  # the guest goes down now
    assert status_of(sim, 1)["agent_version"] == "" and _line(ports["web"]) is None
    _set_health(sim, vm="web", condition="hang")  # and comes back, hanging
    with pytest.raises(TimeoutError):
        _http(ports["web"], timeout=0.5)
    _set_health(sim, vm="web", condition="healthy")
    assert _http(ports["web"])[0] == 200 and status_of(sim, 1)["agent_version"] != ""


@pytest.mark.parametrize("body, status", [
    ({"vm": "nope"}, 404),
    ({"vm": 99}, 404),
    ({}, 400),
    ({"vm": "web", "health_status": 700}, 400),
    ({"vm": "web", "health_status": "200"}, 400),
    ({"vm": "web", "unhealthy_status": None}, 400),
    ({"vm": "web", "after_restart": "sick"}, 400),
    ({"vm": "web", "condition": "sick"}, 400),
    ({"vm": "web", "colour": "red"}, 400),
    ({"vm": "twin"}, 400),
])
def test_runtime_control_refuses_what_it_cannot_do(sim, body, status):
    sim.load({"vms": [_vm("web", 1), _vm("twin", 2), _vm("twin", 3)]})
    assert "err" in _set_health(sim, status, **body)
    assert _set_health(sim, vm="web")["health_status"] == 200  # nothing changed


def test_the_log_orders_health_answers_against_restart_requests(health):
    sim = health
    sim.load({"timings": QUICK, "vms": [_vm("a", 1), _vm("b", 2, after_restart="unhealthy")]})
    ports = _ports(sim)
    _clear_log(sim)
    sim.clear_requests()
    assert _http(ports["a"])[0] == 200
    _line(ports["a"])
    assert act(sim, 2, "reset").status_code == 201
    _back_up(sim, 2, ports["b"])
    assert _http(ports["b"])[0] == 503
    assert act(sim, 1, "reset").status_code == 201
    restarts = [entry for entry in sim.requests() if entry["path"] == "/api/v4/vm_actions"]
    log = _log(sim)
    assert [(entry["vm"], entry["kind"], entry["status"]) for entry in log] == [
        ("a", "http", 200), ("a", "tcp", "up"), ("b", "http", 503)]
    assert [entry["body"]["vm"] for entry in restarts] == [2, 1]
    # one clock: a's checks, then b's restart, then b's answer, then a's restart
    times = [log[0]["time"], log[1]["time"], restarts[0]["time"], log[2]["time"], restarts[1]["time"]]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(entry["wall"] <= entry["time"] for entry in log)
    assert {"vm_key", "wall", "path", "method"} <= set(log[0])
    assert _clear_log(sim) == {"cleared": 3}
    assert _log(sim) == []
