"""Switches for the unsettled answers of vergeos-api.md: redundant actions, filters on traversed fields."""

import jsonschema
import pytest

from sim_helpers import act, ok_json, rows, scenario_schema, status_of

VMS = [
    {"key": 1, "name": "on", "power": "running", "timings": {"shutdown": 1000}},
    {"key": 2, "name": "off"},
]
REDUNDANT = [(1, "poweron"), (2, "poweroff"), (2, "kill")]
STATUS_FIELDS = "machine#status#status as status,machine#status#running as running"


def _load(sim, switches=None, vms=None):
    scenario = {"vms": vms or VMS}
    if switches is not None:
        scenario["switches"] = switches
    sim.load(scenario)


def test_redundant_actions_default_to_a_silent_201(sim):
    _load(sim)
    for key, action in REDUNDANT:
        response = act(sim, key, action)
        assert (response.status_code, response.content) == (201, b"")


@pytest.mark.parametrize("answer", [201, 409, 422])
def test_redundant_action_answer_is_a_switch(sim, answer):
    _load(sim, {"redundant_action": answer})
    before = [status_of(sim, key) for key in (1, 2)]
    for key, action in REDUNDANT:
        response = act(sim, key, action)
        assert response.status_code == answer
        if answer == 201:
            assert response.content == b""
        else:
            assert response.json()["err"] == "cannot %s the VM: it is already %s" % (action, "running" if key == 1 else "stopped")
    assert [status_of(sim, key) for key in (1, 2)] == before  # nothing changed either way


@pytest.mark.parametrize("answer", [409, 422])
def test_switch_leaves_actions_in_flight_and_real_actions_alone(sim, answer):
    _load(sim, {"redundant_action": answer})
    assert act(sim, 1, "poweroff").status_code == 201
    assert act(sim, 1, "poweroff").status_code == 201  # already heading there: not redundant, the stopping no-op
    assert act(sim, 1, "poweron").status_code == 409  # a transition in flight, whatever the switch
    assert act(sim, 2, "reset").status_code == 422
    assert act(sim, 2, "poweron").status_code == 201
    assert act(sim, 2, "poweron").status_code == 201  # starting: heading there


def test_a_vm_overrides_the_scenario_switch(sim):
    vms = [dict(VMS[0], switches={"redundant_action": 409}), VMS[1], {"key": 3, "name": "lenient", "switches": {"redundant_action": 201}}]
    _load(sim, {"redundant_action": 422}, vms)
    assert act(sim, 1, "poweron").status_code == 409
    assert act(sim, 2, "poweroff").status_code == 422
    assert act(sim, 3, "kill").status_code == 201


def test_generated_vms_follow_the_scenario_switch(sim):
    sim.load({"switches": {"redundant_action": 409}, "generate": {"count": 2, "running_ratio": 0.5}})
    states = rows(sim, "vms", fields="$key," + STATUS_FIELDS)
    for vm in states:
        response = act(sim, vm["$key"], "poweron" if vm["running"] else "kill")
        assert response.status_code == 409


TRAVERSED = "machine#status#status eq 'running'"


def test_filters_on_traversed_fields_work_by_default(sim):
    _load(sim)
    assert [row["name"] for row in rows(sim, "vms", filter=TRAVERSED, fields="name")] == ["on"]


@pytest.mark.parametrize("filter_text", [TRAVERSED, "name eq 'on' and machine#status#running eq true", "(machine#cluster#name eq 'cluster1')"])
def test_filters_on_traversed_fields_can_be_refused(sim, filter_text):
    _load(sim, {"traversed_filters": "reject"})
    response = sim.api("GET", "/api/v4/vms", params={"filter": filter_text, "fields": "name"})
    assert response.status_code == 422
    assert response.json() == {"err": "Invalid argument"}


def test_refusing_traversed_filters_leaves_fields_sort_and_plain_filters_alone(sim):
    _load(sim, {"traversed_filters": "reject"})
    found = rows(sim, "vms", filter="is_snapshot eq false", fields="name," + STATUS_FIELDS, sort="-machine#status#status")
    assert found == [{"name": "off", "status": "stopped", "running": False}, {"name": "on", "status": "running", "running": True}]
    machine = ok_json(sim.api("GET", "/api/v4/vms/1", params={"fields": "machine"}))["machine"]
    assert len(rows(sim, "machine_status", filter="machine eq %d" % machine)) == 1


def test_switches_round_trip_and_are_validated(world):
    scenario = {"switches": {"redundant_action": 409, "traversed_filters": "reject"},
                "vms": [{"name": "a", "switches": {"redundant_action": 422}}]}
    jsonschema.validate(scenario, scenario_schema())
    world.load(scenario)
    assert ok_json(world.api("GET", "/_sim/scenario", auth=None)) == scenario
    for bad, where in (({"switches": {"redundant_action": 200}}, "scenario.switches.redundant_action"),
                       ({"switches": {"traversed_filters": "sometimes"}}, "scenario.switches.traversed_filters"),
                       ({"vms": [{"name": "a", "switches": {"traversed_filters": "reject"}}]}, "unknown field 'traversed_filters'")):
        response = world.api("POST", "/_sim/scenario", auth=None, json=bad)
        assert response.status_code == 400 and where in response.json()["err"]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, scenario_schema())
