"""Small helpers shared by the simulator's tests (imported as a sibling module)."""

import json
import os
import threading
import time

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "simulator", "scenario.schema.json")

STATUS_FIELDS = ",".join((
    "$key", "machine", "running", "powerstate", "status", "state", "node", "started", "last_update",
    "running_cores", "running_ram", "migratable", "agent_version", "agent_guest_info",
))


def ok_json(response, status=200):
    """Return the JSON body of a response after checking its status."""
    assert response.status_code == status, "%s %s -> %s %s" % (
        response.request.method, response.request.url, response.status_code, response.text)
    return response.json()


def rows(sim, table, **params):
    return ok_json(sim.api("GET", "/api/v4/" + table, params=params))


def names(sim, filter_text, table="vms"):
    """Return the sorted names of the rows a filter selects."""
    return sorted(row["name"] for row in rows(sim, table, filter=filter_text, fields="name"))


def vm_keys(sim):
    """Return name -> VM key for the current world (names assumed unique)."""
    return {row["name"]: row["$key"] for row in rows(sim, "vms", fields="$key,name")}


def status_of(sim, vm_key):
    """Return the machine_status row of a VM, found the documented way (vm -> machine -> status row)."""
    machine = ok_json(sim.api("GET", "/api/v4/vms/%s" % vm_key, params={"fields": "machine"}))["machine"]
    found = rows(sim, "machine_status", filter="machine eq %s" % machine, fields=STATUS_FIELDS)  # an int or (key_type) a numeric string
    assert len(found) == 1
    return found[0]


def act(sim, vm_key, action, **params):
    body = {"vm": vm_key, "action": action}
    if params:
        body["params"] = params
    return sim.api("POST", "/api/v4/vm_actions", json=body)


def wait_for(fetch, predicate, timeout=5.0, interval=0.01):
    """Poll fetch() until predicate(value) holds; return that value (fail with the last one seen)."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not predicate(value):
        assert time.monotonic() < deadline, "condition not reached; last value: %r" % (value,)
        time.sleep(interval)
        value = fetch()
    return value


def assert_consistent(row, status_rows="recorded"):
    """Check that every machine_status column agrees with `running` and `status` (status_rows: the switch of that name).

    A stopped row keeps its last run's cores and RAM as recorded (`cleared`: 0), and a machine without an
    answering agent shows `agent_guest_info: []` (`cleared`: `{}`).
    """
    assert row["powerstate"] == row["running"]
    if row["running"]:
        assert row["state"] == "online"
        assert row["node"] is not None
        assert row["running_cores"] > 0 and row["running_ram"] > 0
    else:
        assert row["status"] == "stopped"
        assert row["state"] == "offline"
        assert row["node"] is None
        if status_rows == "cleared":
            assert row["running_cores"] == 0 and row["running_ram"] == 0
    if not row["running"] or row["status"] == "starting":
        assert row["agent_version"] == "" and row["agent_guest_info"] == ([] if status_rows == "recorded" else {})


def scenario_schema():
    """Return the scenario JSON schema file's content."""
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


def at_once(calls):
    """Run the calls (functions of no argument) in threads released together; return their results in order.

    An exception in a call is returned as its result, so a test can look at every outcome.
    """
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index):
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as error:  # noqa: BLE001  pylint: disable=broad-exception-caught
            results[index] = error
    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
