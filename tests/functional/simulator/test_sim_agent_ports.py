"""Agent timing (timings.agent_delay) and reachable ports: a real TCP listener per VM, open only while its guest is up."""

import json
import os
import socket
import time

import pytest

from sim_helpers import act, ok_json, rows, status_of, vm_keys, wait_for

# At the fixture's speed 100, 10 scenario seconds are 0.1 s.
QUICK = {"boot": 10, "shutdown": 10, "kill": 10, "reboot": 10}


def _connect(host, port):
    """Connect as a port check does; return the line the listener sends, or None when the connection is refused."""
    try:
        with socket.create_connection((host, port), timeout=2) as connection:
            return connection.recv(200).decode("utf-8")
    except ConnectionRefusedError:
        return None


def _ports(sim):
    return {entry["vm"]: entry for entry in ok_json(sim.api("GET", "/_sim/ports", auth=None))["ports"]}


def _settle(sim, key, predicate, timeout=5.0):
    return wait_for(lambda: status_of(sim, key), predicate, timeout)


def _up(row):
    return row["status"] == "running" and row["agent_version"] != ""


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------- agent delay


def test_agent_delay_keeps_the_agent_silent_after_running(sim):
    sim.load({"timings": dict(QUICK, agent_delay=30), "vms": [
        {"name": "slow", "key": 1, "guest_agent": True},
        {"name": "quick", "key": 2, "guest_agent": True, "timings": dict(QUICK, agent_delay=0)}]})
    started = time.monotonic()
    assert act(sim, 1, "poweron").status_code == 201
    assert act(sim, 2, "poweron").status_code == 201
    quick = _settle(sim, 2, lambda row: row["status"] == "running")
    assert quick["agent_version"] != ""  # no delay: the agent answers with `running`, as always
    slow = _settle(sim, 1, lambda row: row["status"] == "running")
    if time.monotonic() - started < 0.35:
        assert (slow["running"], slow["agent_version"], slow["agent_guest_info"]) == (True, "", [])
    slow = _settle(sim, 1, _up)
    assert time.monotonic() - started >= 0.4  # boot 0.1 s, then the agent 0.3 s later
    assert slow["agent_guest_info"]["hostname"] == "slow"


def test_agent_delay_follows_a_hard_reset_and_a_guest_reboot(sim):
    sim.load({"timings": dict(QUICK, agent_delay=30),
              "vms": [{"name": "vm", "key": 1, "guest_agent": True, "power": "running"}]})
    assert _up(status_of(sim, 1))  # running at load: up at once
    for params in ({}, {"graceful": True}):
        before = time.monotonic()
        assert act(sim, 1, "reset", **params).status_code == 201
        assert status_of(sim, 1)["agent_version"] == ""
        _settle(sim, 1, _up)
        assert time.monotonic() - before >= 0.4  # boot (or reboot) 0.1 s + agent 0.3 s


def test_guest_reboot_needs_the_agent_even_in_the_agent_delay(sim):
    sim.load({"timings": dict(QUICK, agent_delay=200), "switches": {"reboot_actions": ["guestreset"]},
              "vms": [{"name": "vm", "key": 1, "guest_agent": True}]})
    assert act(sim, 1, "poweron").status_code == 201
    _settle(sim, 1, lambda row: row["status"] == "running")
    response = act(sim, 1, "guestreset")
    assert response.status_code == 422 and "agent is not answering" in response.json()["err"]


# ---------------------------------------------------------------- ports


def test_a_port_listens_only_while_the_guest_is_up(sim):
    sim.load({"timings": dict(QUICK, agent_delay=20, shutdown=50), "vms": [
        {"name": "db", "key": 1, "guest_agent": True, "port": {"host": "127.0.0.1", "port": 0}},
        {"name": "plain", "key": 2}]})
    entry = _ports(sim)["db"]
    host, port = entry["host"], entry["port"]
    assert (host, entry["open"], entry["vm_key"], entry["error"]) == ("127.0.0.1", False, 1, None) and port > 0
    nics = rows(sim, "machine_nics", fields="machine#name as vm,ipaddress")
    assert [nic["ipaddress"] for nic in nics if nic["vm"] == "db"] == ["127.0.0.1"]  # where a port check goes
    assert _connect(host, port) is None  # stopped
    assert act(sim, 1, "poweron").status_code == 201
    assert _connect(host, port) is None  # starting
    while True:
        answer = _connect(host, port)  # first: a port found open means the read after it shows the guest up
        row = status_of(sim, 1)
        if _up(row):
            break
        assert answer is None, row  # booting, or running in the agent delay
    assert _connect(host, port) == "vergeos-sim db up\r\n"
    assert _ports(sim)["db"]["open"] is True
    assert act(sim, 1, "poweroff").status_code == 201
    assert _connect(host, port) is None  # shutting down: closed by the time the answer came
    wait_for(lambda: status_of(sim, 1), lambda row: row["status"] == "stopped")
    assert _connect(host, port) is None
    assert act(sim, 1, "poweron").status_code == 201
    wait_for(lambda: _connect(host, port), lambda answer: answer is not None)
    assert _ports(sim)["db"]["port"] == port  # the same port for the world's life
    assert act(sim, 1, "kill").status_code == 201
    assert _connect(host, port) is None


def test_a_port_opens_without_an_agent_too_and_is_open_for_a_vm_running_at_load(sim):
    sim.load({"timings": QUICK, "vms": [
        {"name": "web", "key": 1, "power": "running", "port": {"host": "127.0.0.3"}},
        {"name": "noagent", "key": 2, "port": {}}]})
    ports = _ports(sim)
    assert _connect("127.0.0.3", ports["web"]["port"]) == "vergeos-sim web up\r\n"
    assert act(sim, 2, "poweron").status_code == 201
    wait_for(lambda: _connect("127.0.0.1", ports["noagent"]["port"]), lambda answer: answer == "vergeos-sim noagent up\r\n")
    assert status_of(sim, 2)["agent_version"] == ""


def test_fixed_ports_on_several_loopback_addresses(sim):
    port = _free_port()
    scenario = {"timings": QUICK, "vms": [
        {"name": "db1", "key": 1, "power": "running", "port": {"host": "127.0.0.11", "port": port}},
        {"name": "db2", "key": 2, "power": "running", "port": {"host": "127.0.0.12", "port": port}}]}
    sim.load(scenario)
    assert _connect("127.0.0.11", port) == "vergeos-sim db1 up\r\n"
    assert _connect("127.0.0.12", port) == "vergeos-sim db2 up\r\n"
    sim.load(scenario)  # reloaded: the same ports again
    assert _connect("127.0.0.12", port) == "vergeos-sim db2 up\r\n"


def test_reload_and_reset_close_the_ports(sim):
    sim.load({"timings": QUICK, "vms": [{"name": "web", "key": 1, "power": "running", "port": {}}]})
    port = _ports(sim)["web"]["port"]
    assert _connect("127.0.0.1", port) is not None
    sim.load({"vms": [{"name": "other", "key": 1}]})
    assert _connect("127.0.0.1", port) is None and _ports(sim) == {}
    sim.load({"timings": QUICK, "vms": [{"name": "web", "key": 1, "power": "running", "port": {}}]})
    port = _ports(sim)["web"]["port"]
    assert _connect("127.0.0.1", port) is not None
    sim.reset()
    assert _connect("127.0.0.1", port) is None and _ports(sim) == {}


def test_a_port_in_use_is_400_and_the_world_is_kept(sim):
    sim.load({"timings": QUICK, "vms": [{"name": "keep", "key": 1, "power": "running", "port": {}}]})
    kept = _ports(sim)["keep"]["port"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        response = sim.api("POST", "/_sim/scenario", auth=None, json={
            "vms": [{"name": "clash", "key": 1, "power": "running", "port": {"port": taken.getsockname()[1]}}]})
    assert response.status_code == 400 and "a port cannot be bound" in response.json()["err"]
    assert vm_keys(sim) == {"keep": 1}
    assert _connect("127.0.0.1", kept) == "vergeos-sim keep up\r\n"  # the kept world's port is back


@pytest.mark.parametrize("port, where", [
    ({"host": "10.0.0.1"}, "scenario.vms[0].port.host: '10.0.0.1' is not an IPv4 loopback address"),
    ({"host": "::1"}, "is not an IPv4 loopback address"),
    ({"host": "localhost"}, "scenario.vms[0].port.host: 'localhost' is not an IP address"),
    ({"port": 70000}, "scenario.vms[0].port.port"),
    ({"colour": 1}, "unknown field 'colour'"),
])
def test_bad_ports_are_400(sim, port, where):
    response = sim.api("POST", "/_sim/scenario", auth=None, json={"vms": [{"name": "a", "port": port}]})
    assert response.status_code == 400 and where in response.json()["err"], response.text


def test_two_vms_on_one_fixed_port_and_a_snapshot_with_a_port_are_400(sim):
    for vms, message in (
            ([{"name": "a", "port": {"port": 4000}}, {"name": "b", "port": {"host": "127.0.0.1", "port": 4000}}],
             "scenario.vms[1].port: 127.0.0.1:4000 is the port of another VM too"),
            ([{"name": "s", "is_snapshot": True, "port": {}}], "a snapshot VM never runs")):
        response = sim.api("POST", "/_sim/scenario", auth=None, json={"vms": vms})
        assert response.status_code == 400 and message in response.json()["err"], response.text


# ---------------------------------------------------------------- no leak, clean stop


def _process_usage(pid):
    return len(os.listdir("/proc/%d/task" % pid)), len(os.listdir("/proc/%d/fd" % pid))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads and descriptors through /proc")
def test_loads_leak_no_thread_and_no_socket(simulator_factory):
    handle = simulator_factory("--speed", "100")
    scenario = {"timings": QUICK, "vms": [{"name": "vm%d" % index, "power": "running", "port": {}} for index in range(5)]}
    handle.load(scenario)
    assert len(ok_json(handle.api("GET", "/_sim/ports", auth=None))["ports"]) == 5
    first = _process_usage(handle.process.pid)
    for _round in range(5):
        handle.load({"vms": [{"name": "none"}]})
        handle.load(scenario)
        handle.reset()
        handle.load(scenario)
    assert _process_usage(handle.process.pid) == first
    handle.reset()
    threads, descriptors = _process_usage(handle.process.pid)
    assert (threads, descriptors) == (first[0] - 1, first[1] - 5 - 2)  # no port thread, no listener, no wake-up pair


def test_the_server_closes_its_ports_when_it_stops(simulator_factory, tmp_path):
    path = tmp_path / "ports.json"
    path.write_text(json.dumps({"vms": [{"name": "web", "power": "running", "port": {}}]}), encoding="utf-8")
    handle = simulator_factory("--scenario", str(path))
    port = ok_json(handle.api("GET", "/_sim/ports", auth=None))["ports"][0]["port"]
    assert _connect("127.0.0.1", port) == "vergeos-sim web up\r\n"
    handle.process.terminate()
    assert handle.process.wait(10) == 0
    assert _connect("127.0.0.1", port) is None
    assert not [line for line in handle.output() if "Traceback" in line or "Error" in line]
