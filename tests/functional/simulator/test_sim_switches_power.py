"""Second round of switches, write side: reboot spellings, graceful ignored, queued starts, late snapshots."""

import time

import pytest

from sim_helpers import act, ok_json, rows, status_of, wait_for

# Three running VMs with an answering agent (1, 4, 5), one running without (2), one stopped with an agent (3).
AGENT_VMS = (1, 4, 5)
VMS = [
    {"key": 1, "name": "agent-1", "power": "running", "guest_agent": True},
    {"key": 2, "name": "no-agent", "power": "running"},
    {"key": 3, "name": "off", "guest_agent": True},
    {"key": 4, "name": "agent-4", "power": "running", "guest_agent": True},
    {"key": 5, "name": "agent-5", "power": "running", "guest_agent": True},
]
# Long enough (at the suite's speed 100) that a reboot in progress is seen before it ends.
SLOW = {"boot": 1000, "reboot": 1000}
SPELLINGS = ("reset_graceful", "guestreset", "guestreboot")


def _load(sim, vms=None, timings=None, **switches):
    sim.load({"switches": switches, "timings": timings or SLOW, "vms": vms or VMS})


def _reboot(sim, key, spelling):
    """Ask for a graceful reboot in one of the spellings clients use."""
    if spelling == "reset_graceful":
        return act(sim, key, "reset", graceful=True)
    return act(sim, key, spelling)


def _guest_rebooting(sim, key, before):
    """Check the VM is in a guest reboot: still running, `started` unchanged, its agent away for now."""
    row = status_of(sim, key)
    assert (row["status"], row["running"], row["started"], row["agent_version"]) == ("running", True, before["started"], "")


# ---------------------------------------------------------------- reboot spellings


def test_reboot_actions_default_accepts_only_reset_with_graceful(sim):
    _load(sim)
    before = status_of(sim, 1)
    assert _reboot(sim, 1, "reset_graceful").status_code == 201
    _guest_rebooting(sim, 1, before)
    for spelling in ("guestreset", "guestreboot"):
        response = act(sim, 4, spelling)
        assert (response.status_code, response.json()) == (422, {"err": "value '%s' is not in list for field 'action'" % spelling})


@pytest.mark.parametrize("accepted", [["guestreset"], ["guestreboot"], ["reset_graceful", "guestreset", "guestreboot"], []])
def test_reboot_actions_accept_exactly_the_listed_spellings(sim, accepted):
    _load(sim, reboot_actions=accepted)
    for key, spelling in zip(AGENT_VMS, SPELLINGS, strict=True):
        before = status_of(sim, key)
        response = _reboot(sim, key, spelling)
        if spelling in accepted:
            assert response.status_code == 201
            _guest_rebooting(sim, key, before)
        else:
            assert response.status_code == 422
            assert status_of(sim, key) == before  # refused: nothing happened
    assert act(sim, 2, "reset_graceful").status_code == 422  # the switch's name for a spelling, not an action
    hard = status_of(sim, 2)
    assert act(sim, 2, "reset").status_code == 201  # a hard reset is always there
    assert status_of(sim, 2)["started"] > hard["started"]


def test_reset_graceful_left_out_refuses_the_graceful_flag(sim):
    _load(sim, reboot_actions=["guestreboot"])
    response = act(sim, 1, "reset", graceful=True)
    assert (response.status_code, response.json()) == (422, {"err": "field 'graceful' is not supported for action 'reset'"})
    assert act(sim, 1, "reset", graceful=False).status_code == 201  # graceful false: the plain hard reset


@pytest.mark.parametrize("spelling", ["guestreset", "guestreboot"])
def test_guest_reboot_spellings_need_an_answering_agent(sim, spelling):
    _load(sim, reboot_actions=list(SPELLINGS))
    response = act(sim, 2, spelling)
    assert (response.status_code, response.json()) == (422, {"err": "cannot %s the VM: the guest agent is not answering" % spelling})
    assert act(sim, 3, spelling).status_code == 422  # stopped: not running
    assert act(sim, 1, spelling).status_code == 201
    assert act(sim, 1, spelling).status_code == 422  # rebooting: its agent is away until the guest is back
    assert act(sim, 3, "poweron").status_code == 201
    assert act(sim, 3, spelling).status_code == 409  # starting


def test_graceful_honoured_reboots_the_guest(sim):
    _load(sim, graceful="honoured")
    before = status_of(sim, 1)
    assert act(sim, 1, "reset", graceful=True).status_code == 201
    _guest_rebooting(sim, 1, before)


def test_graceful_ignored_makes_reset_graceful_a_hard_reset(sim):
    _load(sim, graceful="ignored", reboot_actions=list(SPELLINGS))
    before = status_of(sim, 1)
    assert act(sim, 1, "reset", graceful=True).status_code == 201
    after = status_of(sim, 1)
    assert after["started"] > before["started"]  # a hard reset: the machine started again
    assert (after["status"], after["running"], after["agent_version"]) == ("running", True, "")
    guest = status_of(sim, 4)
    assert act(sim, 4, "guestreset").status_code == 201  # through the agent: still a guest reboot
    _guest_rebooting(sim, 4, guest)


# ---------------------------------------------------------------- no_resources

QUEUE_VMS = [
    {"key": 1, "name": "big", "guest": {"start": "no_resources"}},
    {"key": 2, "name": "huge", "guest": {"start": "no_resources"}},
    {"key": 3, "name": "small-1", "power": "running"},
    {"key": 4, "name": "small-2", "power": "running"},
]
QUICK = {"boot": 5, "kill": 1}


def _queued(sim, key):
    row = status_of(sim, key)
    assert (row["status"], row["running"], row["powerstate"], row["node"], row["state"]) == (
        "waitingforresources", False, False, None, "offline")
    return row


def _info(sim, key):
    return ok_json(sim.api("GET", "/api/v4/vms/%d" % key, params={"fields": "machine#status#status_info as info"}))["info"]


def test_no_resources_refuse_answers_507_at_once(sim):
    _load(sim, QUEUE_VMS, QUICK, no_resources="refuse")
    response = act(sim, 1, "poweron")
    assert (response.status_code, response.json()) == (507, {"err": "Insufficient cluster resources to start VM"})
    assert status_of(sim, 1)["status"] == "stopped"


def test_no_resources_queue_waits_until_a_running_vm_stops(sim):
    _load(sim, QUEUE_VMS, QUICK, no_resources="queue")
    assert act(sim, 1, "poweron").status_code == 201
    _queued(sim, 1)
    assert "resources" in _info(sim, 1)
    assert act(sim, 1, "poweron").status_code == 201  # already flagged: nothing new
    assert act(sim, 1, "reset").status_code == 422  # not running
    time.sleep(0.1)
    _queued(sim, 1)  # nothing stopped: it still waits
    assert act(sim, 3, "kill").status_code == 201
    started = wait_for(lambda: status_of(sim, 1), lambda row: row["running"])
    assert started["status"] in ("starting", "running") and started["node"] is not None
    assert wait_for(lambda: status_of(sim, 1), lambda row: row["status"] == "running")["running"]


def test_no_resources_queue_starts_the_oldest_request_first_and_one_per_stop(sim):
    _load(sim, QUEUE_VMS, QUICK, no_resources="queue")
    assert act(sim, 2, "poweron").status_code == 201
    assert act(sim, 1, "poweron").status_code == 201
    status_key = status_of(sim, 3)["$key"]
    stopped = {"running": False, "status": "stopped", "state": "offline", "migratable": True}
    assert sim.api("PUT", "/api/v4/machine_status/%d" % status_key, json=stopped).status_code == 200  # the reset stops one too
    assert status_of(sim, 2)["running"]
    _queued(sim, 1)
    assert act(sim, 4, "kill").status_code == 201
    wait_for(lambda: status_of(sim, 1), lambda row: row["running"])


def test_no_resources_queue_gives_up_after_the_timeout(sim):
    _load(sim, QUEUE_VMS, QUICK, no_resources="queue", queue_timeout=20)
    assert act(sim, 1, "poweron").status_code == 201
    _queued(sim, 1)
    row = wait_for(lambda: status_of(sim, 1), lambda current: current["status"] != "waitingforresources")
    assert (row["status"], row["running"]) == ("stopped", False)
    assert "resources" in _info(sim, 1)
    assert act(sim, 3, "kill").status_code == 201
    time.sleep(0.1)
    assert status_of(sim, 1)["status"] == "stopped"  # it gave up: a stop later does not start it


@pytest.mark.parametrize("action", ["poweroff", "kill"])
def test_no_resources_queue_is_withdrawn_by_poweroff_or_kill(sim, action):
    _load(sim, QUEUE_VMS, QUICK, no_resources="queue")
    assert act(sim, 1, "poweron").status_code == 201
    assert act(sim, 1, action).status_code == 201
    row = status_of(sim, 1)
    assert (row["status"], row["running"]) == ("stopped", False)
    assert act(sim, 3, "kill").status_code == 201
    time.sleep(0.1)
    assert status_of(sim, 1)["status"] == "stopped"


# ---------------------------------------------------------------- snapshot_visible_after


def _snapshots(sim, machine):
    return [row["name"] for row in rows(sim, "machine_snapshots", filter="machine eq %d" % machine, fields="name")]


def _take(sim, machine, name):
    body = {"machine": machine, "name": name, "expires": 0, "created_manually": True, "quiesce": False}
    return ok_json(sim.api("POST", "/api/v4/machine_snapshots", json=body), 201)["$key"]


def _machine(sim, key):
    return ok_json(sim.api("GET", "/api/v4/vms/%d" % key, params={"fields": "machine"}))["machine"]


def test_snapshot_visible_after_zero_lists_a_snapshot_at_once(sim):
    _load(sim, snapshot_visible_after=0)
    machine = _machine(sim, 1)
    key = _take(sim, machine, "now")
    assert _snapshots(sim, machine) == ["now"]
    assert ok_json(sim.api("GET", "/api/v4/machine_snapshots/%s" % key, params={"fields": "name"})) == {"name": "now"}


def test_snapshot_visible_after_lists_a_snapshot_only_later(sim):
    _load(sim, snapshot_visible_after=30)  # 0.3 s at speed 100
    machine = _machine(sim, 1)
    posted = time.monotonic()
    key = _take(sim, machine, "late")
    assert _snapshots(sim, machine) == []
    assert sim.api("GET", "/api/v4/machine_snapshots/%s" % key).status_code == 404
    wait_for(lambda: _snapshots(sim, machine), lambda names: names == ["late"], timeout=5)
    assert time.monotonic() - posted >= 0.25
    assert ok_json(sim.api("GET", "/api/v4/machine_snapshots/%s" % key, params={"fields": "name"})) == {"name": "late"}


def test_a_snapshot_not_yet_listed_can_be_deleted(sim):
    _load(sim, snapshot_visible_after=30)
    machine = _machine(sim, 1)
    key = _take(sim, machine, "gone")
    assert sim.api("DELETE", "/api/v4/machine_snapshots/%s" % key).status_code == 200
    time.sleep(0.4)
    assert _snapshots(sim, machine) == []
    assert rows(sim, "vms", filter="is_snapshot eq true", fields="name") == []  # its snapshot VM went with it
