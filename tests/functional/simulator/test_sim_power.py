"""Power actions and machine_status: asynchronous, consistent, lazily advanced."""

import time

import pytest

from sim_helpers import act, assert_consistent, ok_json, rows, status_of, wait_for

SLOW = {"boot": 100, "shutdown": 100, "reboot": 100}  # one second each at the fixture's speed 100
WORLD = {
    "nodes": [{"name": "node1", "key": 1}, {"name": "node2", "key": 2}],
    "vms": [
        {"key": 1, "name": "on", "power": "running", "guest_agent": True, "cpu_cores": 2, "ram": 2048},
        {"key": 2, "name": "off", "guest_agent": True, "cpu_cores": 4, "ram": 4096},
        {"key": 3, "name": "slow-off", "timings": SLOW},
        {"key": 4, "name": "slow-on", "power": "running", "guest_agent": True, "timings": SLOW},
        {"key": 5, "name": "snap", "is_snapshot": True},
    ],
}


@pytest.fixture
def pw(sim):
    sim.load(WORLD)
    return sim


def _status(sim, key):
    return status_of(sim, key)["status"]


def _settle(sim, key, wanted, timeout=5.0):
    """Wait until the VM shows the wanted status, checking every sample for consistency."""
    def fetch():
        row = status_of(sim, key)
        assert_consistent(row)
        return row
    return wait_for(fetch, lambda row: row["status"] == wanted, timeout)


def test_poweron_goes_through_starting_to_running(pw):
    before = time.time()
    response = act(pw, 3, "poweron")
    assert response.status_code == 201 and response.content == b""
    starting = status_of(pw, 3)
    assert starting["status"] == "starting" and starting["running"] is True
    assert starting["node"] in (1, 2) and starting["agent_version"] == ""
    assert starting["started"] >= int(before)
    assert_consistent(starting)
    running = _settle(pw, 3, "running")
    assert running["started"] == starting["started"]
    assert running["agent_version"] == ""  # this guest has no agent


def test_poweron_fills_runtime_columns_and_agent(pw):
    assert act(pw, 2, "poweron").status_code == 201
    row = _settle(pw, 2, "running")
    assert (row["running_cores"], row["running_ram"]) == (4, 4096)
    assert row["agent_version"] and row["agent_guest_info"]["hostname"] == "off"
    vm = ok_json(pw.api("GET", "/api/v4/vms/2", params={
        "fields": "machine#status#running as running,machine#status#status as status,machine#status#node#name as node_name"}))
    assert vm == {"running": True, "status": "running", "node_name": "node%d" % row["node"]}


def test_preferred_node_is_honoured(pw):
    for preferred in (2, 1):
        act(pw, 2, "kill")
        _settle(pw, 2, "stopped")
        assert act(pw, 2, "poweron", preferred_node=preferred).status_code == 201
        assert status_of(pw, 2)["node"] == preferred


def test_unknown_preferred_node_falls_back(pw):
    assert act(pw, 2, "poweron", preferred_node=999).status_code == 201
    assert status_of(pw, 2)["node"] in (1, 2)


def test_poweroff_goes_through_stopping_to_stopped(pw):
    assert act(pw, 4, "poweroff").status_code == 201
    stopping = status_of(pw, 4)
    assert stopping["status"] == "stopping" and stopping["running"] is True
    assert_consistent(stopping)
    stopped = _settle(pw, 4, "stopped")
    assert stopped["last_update"] >= stopping["last_update"]


def test_kill_stops_quickly_and_the_agent_goes_at_once(pw):
    assert act(pw, 1, "kill").status_code == 201
    assert status_of(pw, 1)["agent_version"] == ""
    _settle(pw, 1, "stopped", timeout=2)


def test_kill_overrides_a_slow_shutdown(sim):
    """Ordered, not timed: `half` starts a half-second shutdown after `slow` was killed, during slow's one-second one.

    A kill that overrides the shutdown stops slow first (kill time 0.03 s); one that waited for the shutdown
    would stop it after half (0.2 s + 0.5 s < 1 s). A slow machine can only hide the defect, never fail a
    correct simulator: half's shutdown always begins after the kill.
    """
    sim.load({"vms": [{"key": 1, "name": "slow", "power": "running", "guest_agent": True, "timings": SLOW},
                      {"key": 2, "name": "half", "power": "running", "timings": dict(SLOW, shutdown=50)}]})
    assert act(sim, 1, "poweroff").status_code == 201
    assert _status(sim, 1) == "stopping"
    time.sleep(0.2)
    assert act(sim, 1, "kill").status_code == 201
    assert act(sim, 2, "poweroff").status_code == 201
    seen = []

    def read():
        seen.append({row["name"]: row["status"] for row in rows(sim, "machine_status", fields="machine#name as name,status")})
        return seen[-1]
    wait_for(read, lambda statuses: statuses["half"] == "stopped")
    assert seen[-1]["slow"] == "stopped"


def test_hard_reset_restarts(pw):
    before = status_of(pw, 1)
    assert act(pw, 1, "reset").status_code == 201
    after = status_of(pw, 1)
    assert after["started"] > before["started"]
    assert after["status"] == "running" and after["node"] == before["node"]
    back = wait_for(lambda: status_of(pw, 1), lambda row: row["agent_version"] != "")
    assert back["started"] == after["started"]


def test_graceful_reset_is_a_guest_reboot(pw):
    before = status_of(pw, 4)
    assert act(pw, 4, "reset", graceful=True).status_code == 201
    during = status_of(pw, 4)
    assert during["status"] == "running" and during["started"] == before["started"]
    assert during["agent_version"] == ""  # the guest is rebooting
    after = wait_for(lambda: status_of(pw, 4), lambda row: row["agent_version"] != "")
    assert after["started"] > before["started"] and after["status"] == "running"


def test_redundant_actions_answer_201_and_change_nothing(pw):
    running = status_of(pw, 1)
    assert act(pw, 1, "poweron").status_code == 201
    assert status_of(pw, 1) == running
    stopped = status_of(pw, 2)
    for action in ("poweroff", "kill"):
        assert act(pw, 2, action).status_code == 201
    assert status_of(pw, 2) == stopped


def test_actions_against_a_transition_in_flight(pw):
    act(pw, 4, "poweroff")
    conflict = act(pw, 4, "poweron")
    assert conflict.status_code == 409 and "stopping" in conflict.json()["err"]
    assert act(pw, 4, "reset").status_code == 409
    assert act(pw, 4, "poweroff").status_code == 201  # already heading there
    act(pw, 3, "poweron")
    assert act(pw, 3, "poweroff").status_code == 409
    assert act(pw, 3, "poweron").status_code == 201
    assert _status(pw, 3) == "starting"


def test_reset_of_a_stopped_vm_is_refused(pw):
    response = act(pw, 2, "reset")
    assert response.status_code == 422 and "err" in response.json()


def test_vm_may_be_a_numeric_string(pw):
    assert act(pw, "2", "poweron").status_code == 201
    assert status_of(pw, 2)["running"] is True


@pytest.mark.parametrize("body, code, message", [
    ({"vm": 1, "action": "bogus"}, 422, "value 'bogus' is not in list for field 'action'"),
    ({"vm": 999, "action": "poweron"}, 404, None),
    ({"vm": 5, "action": "poweron"}, 422, None),
    ({"action": "poweron"}, 422, None),
    ({"vm": "abc", "action": "poweron"}, 422, None),
    ({"vm": 1, "action": "poweron", "params": [1]}, 422, None),
])
def test_invalid_actions(pw, body, code, message):
    response = pw.api("POST", "/api/v4/vm_actions", json=body)
    assert response.status_code == code
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["err"]
    assert error and (message is None or error == message)


def test_bad_json_body_is_400(pw):
    response = pw.api("POST", "/api/v4/vm_actions", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "err" in response.json()


def test_chunked_bodies_keep_the_connection_usable(pw):
    def body():
        yield b'{"vm": 2, '
        yield b'"action": "poweron"}'
    assert pw.api("POST", "/api/v4/vm_actions", data=body(), headers={"Content-Type": "application/json"}).status_code == 201
    assert status_of(pw, 2)["running"] is True


def test_vm_actions_is_write_only(pw):
    assert pw.api("GET", "/api/v4/vm_actions").status_code == 405


def test_the_vms_running_column_stays_null(pw):
    act(pw, 2, "poweron")
    _settle(pw, 2, "running")
    assert {row["running"] for row in rows(pw, "vms", fields="running")} == {None}


# ---------------------------------------------------------------- PUT machine_status


TROUBLESHOOTING_RESET = {"running": False, "migratable": True, "status": "stopped", "state": "offline"}


def test_status_reset_marks_a_vm_stopped_and_cancels_its_transition(pw):
    act(pw, 3, "poweron")
    key = status_of(pw, 3)["$key"]
    response = pw.api("PUT", "/api/v4/machine_status/%d" % key, json=TROUBLESHOOTING_RESET)
    assert response.status_code == 200
    row = status_of(pw, 3)
    assert row["status"] == "stopped" and row["migratable"] is True
    assert_consistent(row)
    time.sleep(1.2)  # the boot would have finished by now
    assert _status(pw, 3) == "stopped"


def test_status_write_to_running_assigns_a_node(pw):
    key = status_of(pw, 2)["$key"]
    assert pw.api("PUT", "/api/v4/machine_status/%d" % key, json={"status": "running"}).status_code == 200
    row = status_of(pw, 2)
    assert row["running"] is True and row["node"] in (1, 2)
    assert_consistent(row)


@pytest.mark.parametrize("body, message", [
    ({"status": "bogus"}, "value 'bogus' is not in list for field 'status'"),
    ({"state": "sideways"}, "value 'sideways' is not in list for field 'state'"),
    ({"running": True, "status": "stopped"}, None),
    ({"status": "stopped", "state": "online"}, None),
    ({"running_cores": 3}, None),
    ({"running": "no"}, None),
    ({"status": "running", "node": 99}, None),
])
def test_inconsistent_status_writes_are_refused(pw, body, message):
    key = status_of(pw, 1)["$key"]
    before = status_of(pw, 1)
    response = pw.api("PUT", "/api/v4/machine_status/%d" % key, json=body)
    assert response.status_code == 422
    assert message is None or response.json()["err"] == message
    assert status_of(pw, 1) == before


def test_status_write_to_a_missing_row_is_404(pw):
    assert pw.api("PUT", "/api/v4/machine_status/1", json=TROUBLESHOOTING_RESET).status_code == 404
