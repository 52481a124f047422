"""Many clients at once: actions on one VM race as the decision table says, reads stay consistent, lists scale."""

import random
import threading
import time

import pytest
import requests

from sim_helpers import at_once, rows, status_of

ACTIONS = "/api/v4/vm_actions"
AUTH = ("admin", "admin")
SLOW = {"boot": 1000, "shutdown": 1000, "kill": 1000, "reboot": 1000}  # ten seconds at the fixture's speed 100: nothing completes
LIST_FIELDS = ("$key,name,machine,machine#status#running as running,machine#status#status as status,"
               "machine#status#node#name as node_name,machine#cluster#name as cluster_name")


def _action(sim, key, action):
    """Return a call that sends one action on its own connection and returns the status code."""
    def call():
        return requests.post(sim.url + ACTIONS, json={"vm": key, "action": action}, auth=AUTH, verify=sim.ca, timeout=30).status_code
    return call


def _list(sim, **params):
    def call():
        response = requests.get(sim.url + "/api/v4/vms", params=dict({"fields": LIST_FIELDS, "filter": "is_snapshot eq false"}, **params),
                                auth=AUTH, verify=sim.ca, timeout=60)
        assert response.status_code == 200
        return response.content, response.json()
    return call


def _posts(sim):
    return [entry for entry in sim.requests() if entry["path"] == ACTIONS]


def _row_consistent(row):
    """Whether one list row's traversed power columns agree with each other."""
    return (row["node_name"] is not None) == row["running"] and (row["status"] == "stopped") == (not row["running"])


# ---------------------------------------------------------------- races on one VM


def test_simultaneous_poweroffs_one_acts_the_others_see_it(sim):
    """Shutdown takes no time: the first poweroff stops the VM, every later one finds it stopped (redundant: 422)."""
    sim.load({"switches": {"redundant_action": 422}, "vms": [{"key": 1, "name": "target", "power": "running", "timings": {"shutdown": 0}}]})
    sim.clear_requests()
    answers = at_once([_action(sim, 1, "poweroff")] * 20)
    assert sorted(answers) == [201] + [422] * 19
    assert [entry["status"] for entry in _posts(sim)] == [201] + [422] * 19  # the log lists them in the order they took effect
    assert status_of(sim, 1)["status"] == "stopped"


def test_two_poweroffs_of_a_slow_guest_both_find_it_stopping(sim):
    sim.load({"timings": SLOW, "vms": [{"key": 1, "name": "target", "power": "running"}]})
    before = status_of(sim, 1)
    assert at_once([_action(sim, 1, "poweroff")] * 2) == [201, 201]
    after = status_of(sim, 1)
    assert after["status"] == "stopping" and after["last_update"] >= before["last_update"]


def test_simultaneous_poweron_starts_once(sim):
    """Booting takes no time: one poweron starts the VM, the others find it running (redundant: 409)."""
    sim.load({"switches": {"redundant_action": 409}, "vms": [{"key": 1, "name": "target", "timings": {"boot": 0}}]})
    answers = at_once([_action(sim, 1, "poweron")] * 16)
    assert sorted(answers) == [201] + [409] * 15
    assert status_of(sim, 1)["status"] == "running"


def _model(redundant):
    """The decision table of README.md as (phase, action) -> (answer, next phase), durations too long to complete."""
    return {
        ("stopped", "poweron"): (201, "starting"), ("stopped", "poweroff"): (redundant, "stopped"),
        ("stopped", "kill"): (redundant, "stopped"), ("stopped", "reset"): (422, "stopped"),
        ("starting", "poweron"): (201, "starting"), ("starting", "poweroff"): (409, "starting"),
        ("starting", "kill"): (201, "stopping"), ("starting", "reset"): (409, "starting"),
        ("running", "poweron"): (redundant, "running"), ("running", "poweroff"): (201, "stopping"),
        ("running", "kill"): (201, "stopping"), ("running", "reset"): (201, "running"),
        ("stopping", "poweron"): (409, "stopping"), ("stopping", "poweroff"): (201, "stopping"),
        ("stopping", "kill"): (201, "stopping"), ("stopping", "reset"): (409, "stopping"),
    }


@pytest.mark.parametrize("power", ["running", "stopped"])
@pytest.mark.parametrize("redundant", [201, 422])
def test_racing_actions_follow_the_decision_table_in_the_order_they_took_effect(sim, power, redundant):
    sim.load({"timings": SLOW, "switches": {"redundant_action": redundant}, "vms": [{"key": 1, "name": "target", "power": power}]})
    sim.clear_requests()
    mix = ["poweron", "poweroff", "kill", "reset"] * 2 + random.Random(power + str(redundant)).choices(["poweron", "poweroff"], k=16)
    answers = at_once([_action(sim, 1, action) for action in mix])
    phase, model, checked = power, _model(redundant), 0
    for entry in _posts(sim):
        expected, phase = model[(phase, entry["body"]["action"])]
        assert entry["status"] == expected, "%s in phase %s" % (entry["body"]["action"], phase)
        checked += 1
    assert checked == len(mix)
    assert sorted(answers) == sorted(entry["status"] for entry in _posts(sim))
    assert status_of(sim, 1)["status"] == phase  # nothing completes during the test: the phase is the status


def test_poweron_racing_poweroff_on_a_running_vm(sim):
    """Either the poweron came first (redundant) and the poweroff acts, or the poweroff acted and the poweron meets stopping (409)."""
    for _attempt in range(6):
        sim.load({"timings": SLOW, "switches": {"redundant_action": 422}, "vms": [{"key": 1, "name": "target", "power": "running"}]})
        answers = tuple(at_once([_action(sim, 1, "poweron"), _action(sim, 1, "poweroff")]))
        assert answers in ((422, 201), (409, 201))
        assert status_of(sim, 1)["status"] == "stopping"


# ---------------------------------------------------------------- many readers while things change


def test_reads_stay_consistent_while_writers_move_vms(sim):
    sim.load({"speed": 200, "timings": {"boot": 10, "shutdown": 10, "kill": 5, "reboot": 10}, "generate": {"count": 40, "running_ratio": 0.5}})
    keys = [row["$key"] for row in rows(sim, "vms", fields="$key")]
    stop = threading.Event()
    problems, answers = [], []

    def writer(key):
        with requests.Session() as session:
            for step in range(12):
                action = ("poweron", "poweroff", "kill", "poweron")[step % 4]
                session.post(sim.url + ACTIONS, json={"vm": key, "action": action}, auth=AUTH, verify=sim.ca, timeout=30)
                time.sleep(0.02)

    def reader():
        with requests.Session() as session:
            while not stop.is_set():
                found = session.get(sim.url + "/api/v4/vms", params={"fields": LIST_FIELDS}, auth=AUTH, verify=sim.ca, timeout=30).json()
                statuses = session.get(sim.url + "/api/v4/machine_status", params={"fields": "running,powerstate,status,state,node"},
                                       auth=AUTH, verify=sim.ca, timeout=30).json()
                answers.append(len(found))
                problems.extend(row for row in found if not _row_consistent(row))
                problems.extend(row for row in statuses if row["running"] != row["powerstate"] or (row["node"] is not None) != row["running"]
                                or (row["state"] == "online") != row["running"])
    writers = [threading.Thread(target=writer, args=(key,)) for key in keys[:10]]
    readers = [threading.Thread(target=reader) for _index in range(8)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert problems == []
    assert len(answers) >= 8 and set(answers) == {40}


def test_a_read_after_a_write_never_gets_a_stale_cached_answer(sim):
    sim.load({"timings": SLOW, "vms": [{"key": 1, "name": "target"}]})
    params = {"fields": "machine#status#status as status"}
    for action, wanted in (("poweron", "starting"), ("kill", "stopping")):
        assert rows(sim, "vms", **params) != [{"status": wanted}]
        assert rows(sim, "vms", **params) == rows(sim, "vms", **params)  # served twice from the same world version
        assert _action(sim, 1, action)() == 201
        assert rows(sim, "vms", **params) == [{"status": wanted}]


def test_a_transition_that_falls_due_is_seen_by_the_next_read(sim):
    sim.load({"vms": [{"key": 1, "name": "target", "timings": {"boot": 20}}]})
    params = {"fields": "machine#status#status as status"}
    _action(sim, 1, "poweron")()
    assert rows(sim, "vms", **params) == [{"status": "starting"}]
    time.sleep(0.3)
    assert rows(sim, "vms", **params) == [{"status": "running"}]


# ---------------------------------------------------------------- scale (figures belong to tests/bench)


def test_two_thousand_vms_listed_by_many_clients_at_once(sim):
    sim.load({"generate": {"count": 2000, "running_ratio": 0.4}})
    results = at_once([_list(sim)] * 12)
    bodies = {content for content, _found in results}
    assert len(bodies) == 1  # nothing changed in between: every client got the same answer
    found = results[0][1]
    assert len(found) == 2000 and all(_row_consistent(row) for row in found)
    assert sum(row["running"] for row in found) == 800
    moved = [row for row in found if not row["running"]][:25]
    for row in moved:
        assert _action(sim, row["$key"], "poweron")() == 201
    for _content, found in at_once([_list(sim)] * 12):
        assert len(found) == 2000 and all(_row_consistent(row) for row in found)
        assert sum(row["running"] for row in found) == 825
