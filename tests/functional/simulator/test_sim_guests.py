"""Guests that misbehave, per VM: ignoring ACPI, slow to honour it, stuck after kill, failing to start, no resources, reboots."""

import time

import jsonschema
import pytest

from sim_helpers import act, assert_consistent, ok_json, rows, scenario_schema, status_of, wait_for

# At the fixture's speed 100, 10 scenario seconds are 0.1 s.
QUICK = {"boot": 10, "shutdown": 10, "kill": 10, "reboot": 10}
TROUBLESHOOTING_RESET = {"running": False, "migratable": True, "status": "stopped", "state": "offline"}


def _world(sim, *vms, **sections):
    sim.load(dict(sections, timings=QUICK, vms=[dict(vm, key=index + 1) for index, vm in enumerate(vms)]))
    return sim


def _running(name, **guest):
    return {"name": name, "power": "running", "guest_agent": True, "guest": guest}


def _settle(sim, key, wanted, timeout=5.0):
    return wait_for(lambda: status_of(sim, key), lambda row: row["status"] == wanted, timeout)


def _reset_status(sim, key):
    response = sim.api("PUT", "/api/v4/machine_status/%d" % status_of(sim, key)["$key"], json=TROUBLESHOOTING_RESET)
    assert response.status_code == 200


# ---------------------------------------------------------------- ACPI


def test_guest_ignoring_acpi_sits_in_stopping_until_killed(sim):
    _world(sim, _running("deaf", acpi="ignore"))
    assert act(sim, 1, "poweroff").status_code == 201
    time.sleep(0.3)  # three times the shutdown
    row = status_of(sim, 1)
    assert (row["status"], row["running"]) == ("stopping", True)
    assert row["agent_version"] != ""  # the guest is alive; it just ignores the button
    assert_consistent(row)
    assert act(sim, 1, "poweroff").status_code == 201  # already heading there
    assert act(sim, 1, "poweron").status_code == 409
    assert status_of(sim, 1)["status"] == "stopping"
    assert act(sim, 1, "kill").status_code == 201
    assert_consistent(_settle(sim, 1, "stopped"))


def test_guest_ignoring_acpi_can_keep_showing_running(sim):
    _world(sim, _running("deaf", acpi="ignore", acpi_pending_status="running"))
    before = status_of(sim, 1)
    assert act(sim, 1, "poweroff").status_code == 201
    time.sleep(0.3)
    assert status_of(sim, 1) == before  # nothing at all shows the request
    assert act(sim, 1, "poweroff").status_code == 201  # a running VM: pressing the button again is accepted
    assert act(sim, 1, "kill").status_code == 201
    assert _settle(sim, 1, "stopped")["running"] is False


def test_guest_slow_to_honour_acpi_stops_after_the_extra_delay(sim):
    sim.load({"timings": dict(QUICK, acpi_delay=50), "vms": [dict(_running("slow"), key=1), dict(_running("quick"), key=2)]})
    started = time.monotonic()
    assert act(sim, 1, "poweroff").status_code == 201
    assert act(sim, 2, "poweroff").status_code == 201
    assert status_of(sim, 1)["status"] == "stopping"  # the default: the request shows at once
    _settle(sim, 2, "stopped")
    if time.monotonic() - started < 0.45:
        assert status_of(sim, 1)["status"] == "stopping"  # 0.1 s of shutdown is long over, the guest has not reacted yet
    _settle(sim, 1, "stopped")
    assert time.monotonic() - started >= 0.6  # acpi_delay 0.5 s, then shutdown 0.1 s


def _statuses(sim):
    """Return name -> status of every VM, read in one request (one moment of the world)."""
    found = rows(sim, "machine_status", fields="machine#name as name,status")
    return {row["name"]: row["status"] for row in found}


def test_slow_guest_can_show_running_until_it_reacts_and_a_second_poweroff_does_not_restart_the_wait(sim):
    """Ordered, not timed: the twin's wait starts between slow's two poweroffs, so slow must stop no later than the twin.

    Had the second poweroff restarted slow's wait, slow would stop after the twin (its wait starting later):
    the first read that shows the twin stopped would still show slow running. A slow machine can only make
    that read later (and so miss the defect), never make a correct simulator fail.
    """
    guest = {"acpi_pending_status": "running"}
    sim.load({"timings": dict(QUICK, acpi_delay=150, shutdown=0),
              "vms": [dict(_running("slow", **guest), key=1), dict(_running("twin", **guest), key=2)]})
    assert act(sim, 1, "poweroff").status_code == 201
    time.sleep(0.2)
    assert act(sim, 2, "poweroff").status_code == 201
    time.sleep(0.2)
    before = _statuses(sim)
    assert act(sim, 1, "poweroff").status_code == 201  # a running VM: pressing the button again is accepted
    seen = [before]

    def read():
        seen.append(_statuses(sim))
        return seen[-1]
    wait_for(read, lambda statuses: statuses["twin"] == "stopped", timeout=10)
    assert before == {"slow": "running", "twin": "running"}  # nothing shows the request (the second poweroff hit a waiting guest)
    assert seen[-1]["slow"] == "stopped"  # it stopped no later than the twin
    assert {statuses["slow"] for statuses in seen} <= {"running", "stopped"}  # running until the guest reacts, then stopped
    requests = [(entry["body"]["vm"], entry["status"]) for entry in sim.requests() if entry["path"] == "/api/v4/vm_actions"]
    assert requests[-3:] == [(1, 201), (2, 201), (1, 201)]


# ---------------------------------------------------------------- kill


def test_vm_stuck_after_kill_needs_the_status_reset(sim):
    _world(sim, _running("stuck", stuck_after_kill=True))
    assert act(sim, 1, "kill").status_code == 201
    time.sleep(0.3)  # three times the kill time
    row = status_of(sim, 1)
    assert (row["status"], row["running"], row["powerstate"]) == ("stopping", True, True)
    assert row["node"] is not None and row["agent_version"] == ""
    assert act(sim, 1, "kill").status_code == 201
    assert act(sim, 1, "poweroff").status_code == 201
    assert act(sim, 1, "poweron").status_code == 409
    assert act(sim, 1, "reset").status_code == 409
    time.sleep(0.2)
    assert status_of(sim, 1)["status"] == "stopping"
    _reset_status(sim, 1)
    assert_consistent(status_of(sim, 1))
    assert act(sim, 1, "poweron").status_code == 201
    assert _settle(sim, 1, "running")["running"] is True


def test_kill_of_a_guest_that_ignored_acpi_still_stops_it(sim):
    _world(sim, _running("deaf", acpi="ignore"), _running("deaf-and-stuck", acpi="ignore", stuck_after_kill=True))
    for key in (1, 2):
        act(sim, key, "poweroff")
        assert act(sim, key, "kill").status_code == 201
    _settle(sim, 1, "stopped")
    time.sleep(0.2)
    assert status_of(sim, 2)["status"] == "stopping"


# ---------------------------------------------------------------- start


def test_vm_that_fails_to_start_ends_in_error(sim):
    _world(sim, {"name": "broken", "guest": {"start": "error"}})
    assert act(sim, 1, "poweron").status_code == 201
    starting = status_of(sim, 1)
    assert (starting["status"], starting["running"]) == ("starting", True)
    row = _settle(sim, 1, "error")
    assert (row["running"], row["powerstate"], row["state"], row["node"]) == (False, False, "error", None)
    assert (row["running_cores"], row["agent_version"]) == (1, "")  # a stopped row keeps the failed run's cores (recorded)
    info = rows(sim, "machine_status", filter="$key eq %d" % row["$key"], fields="status_info")[0]["status_info"]
    assert "failed to start" in info
    vm = ok_json(sim.api("GET", "/api/v4/vms/1", params={"fields": "machine#status#status as status,machine#status#running as running"}))
    assert vm == {"status": "error", "running": False}
    assert act(sim, 1, "poweroff").status_code == 201  # not running: nothing to stop
    assert act(sim, 1, "reset").status_code == 422
    assert act(sim, 1, "poweron").status_code == 201  # a retry is accepted, and fails again
    _settle(sim, 1, "error")
    _reset_status(sim, 1)
    assert status_of(sim, 1)["status"] == "stopped"


@pytest.mark.parametrize("guest, code", [({"start": "no_resources"}, 507), ({"start": "no_resources", "no_resources_status": 503}, 503)])
def test_start_refused_for_insufficient_resources(sim, guest, code):
    _world(sim, {"name": "big", "guest": guest}, {"name": "small"}, switches={"no_resources": "refuse"})
    before = status_of(sim, 1)
    response = act(sim, 1, "poweron")
    assert response.status_code == code
    assert response.json() == {"err": "Insufficient cluster resources to start VM"}
    assert status_of(sim, 1) == before
    assert act(sim, 2, "poweron").status_code == 201  # only that VM is refused


# ---------------------------------------------------------------- reboot


def test_invisible_graceful_reboot_changes_nothing(sim):
    _world(sim, _running("quiet", graceful_reboot="invisible"))
    before = status_of(sim, 1)
    assert act(sim, 1, "reset", graceful=True).status_code == 201
    assert status_of(sim, 1) == before
    time.sleep(0.2)  # twice the reboot time
    assert status_of(sim, 1) == before


def test_visible_graceful_reboot_updates_started(sim):
    _world(sim, _running("chatty", graceful_reboot="updates_started"))
    before = status_of(sim, 1)
    assert act(sim, 1, "reset", graceful=True).status_code == 201
    assert status_of(sim, 1)["agent_version"] == ""
    after = wait_for(lambda: status_of(sim, 1), lambda row: row["agent_version"] != "")
    assert after["started"] > before["started"] and after["status"] == "running"


def test_hard_reset_of_an_invisible_rebooter_still_updates_started(sim):
    _world(sim, _running("quiet", graceful_reboot="invisible"))
    before = status_of(sim, 1)
    assert act(sim, 1, "reset").status_code == 201
    assert status_of(sim, 1)["started"] > before["started"]


# ---------------------------------------------------------------- scenario


def test_scenario_level_guest_applies_to_generated_vms_and_a_vm_overrides_it(sim):
    sim.load({"timings": QUICK, "guest": {"acpi": "ignore"}, "vms": [dict(_running("well", acpi="honour"), key=1)],
              "generate": {"count": 2, "running_ratio": 1}})
    keys = {row["name"]: row["$key"] for row in rows(sim, "vms", fields="$key,name")}
    for key in keys.values():
        assert act(sim, key, "poweroff").status_code == 201
    _settle(sim, keys["well"], "stopped")
    time.sleep(0.1)
    assert [status_of(sim, keys[name])["status"] for name in ("vm-001", "vm-002")] == ["stopping", "stopping"]
    assert ok_json(sim.api("GET", "/_sim/scenario", auth=None))["guest"] == {"acpi": "ignore"}


INVALID_GUESTS = [
    ({"guest": {"acpi": "maybe"}}, "scenario.guest.acpi"),
    ({"vms": [{"name": "a", "guest": {"start": "never"}}]}, "scenario.vms[0].guest.start"),
    ({"vms": [{"name": "a", "guest": {"stuck_after_kill": "yes"}}]}, "scenario.vms[0].guest.stuck_after_kill"),
    ({"vms": [{"name": "a", "guest": {"no_resources_status": 200}}]}, "scenario.vms[0].guest.no_resources_status"),
    ({"vms": [{"name": "a", "guest": {"graceful_reboot": "loud"}}]}, "scenario.vms[0].guest.graceful_reboot"),
    ({"vms": [{"name": "a", "guest": {"hangs": True}}]}, "unknown field 'hangs'"),
    ({"timings": {"acpi_delay": -1}}, "scenario.timings.acpi_delay"),
]


@pytest.mark.parametrize("scenario, message", INVALID_GUESTS)
def test_invalid_guest_sections_are_refused_by_server_and_schema(world, scenario, message):
    response = world.api("POST", "/_sim/scenario", auth=None, json=scenario)
    assert response.status_code == 400 and message in response.json()["err"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scenario, scenario_schema())


def test_schema_accepts_every_guest_field(sim):
    scenario = {
        "guest": {"acpi": "ignore", "acpi_pending_status": "running"},
        "timings": {"acpi_delay": 5},
        "vms": [{"name": "a", "guest": {"acpi": "honour", "acpi_pending_status": "stopping", "stuck_after_kill": True, "start": "no_resources",
                                        "no_resources_status": 409, "graceful_reboot": "invisible"}, "timings": {"acpi_delay": 1}}],
    }
    jsonschema.validate(scenario, scenario_schema())
    assert sim.load(scenario)["tables"]["vms"] == 1
