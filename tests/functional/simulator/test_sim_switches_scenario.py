"""The switches in the scenario: validation, the named scenario `switches` bundling the adverse values, README and schema agree."""

import json
import os
import re

import jsonschema
import pytest

from sim_helpers import ok_json, rows, scenario_schema

SIMULATOR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "simulator")
BUNDLE_PATH = os.path.join(SIMULATOR, "scenarios", "switches.json")
# Switches that tune another one rather than pick a behaviour: the bundle may keep their default.
PARAMETERS = {"reboot_actions", "queue_timeout", "lockout_seconds"}
# Switches whose recorded default is already the adverse value (the old one is the lenient): the bundle keeps it.
ADVERSE_DEFAULTS = {"taggable_vms": "enforced", "status_rows": "recorded"}
DEFAULTS = {
    "redundant_action": 201, "traversed_filters": "work", "reboot_actions": ["reset_graceful"], "graceful": "honoured",
    "sort_key": "work", "member_bw": "work", "key_type": "receipts", "error_body": "text", "no_resources": "ignore",
    "queue_timeout": 300, "snapshot_visible_after": 0, "default_fields": "all", "lockout_after": 0, "lockout_seconds": 0,
    "duplicate_name": 422, "taggable_vms": "enforced", "status_rows": "recorded",
}


def _bundle():
    with open(BUNDLE_PATH, encoding="utf-8") as handle:
        return json.load(handle)


def _switch_names_in_readme():
    with open(os.path.join(SIMULATOR, "README.md"), encoding="utf-8") as handle:
        section = handle.read().split("### Switches", 1)[1].split("\n### ", 1)[0]
    table = section.split("\n| switch |", 1)[1].split("\n\n", 1)[0]  # the first table: one row per switch
    return [match.group(1) for match in re.finditer(r"^\| `([a-z_]+)` \|", table, re.M)]


def test_schema_readme_bundle_and_defaults_name_the_same_switches():
    schema = scenario_schema()["$defs"]["switches"]["properties"]
    assert set(schema) == set(DEFAULTS) == set(_switch_names_in_readme()) == set(_bundle()["switches"])
    assert {name: entry["default"] for name, entry in schema.items()} == DEFAULTS


def test_the_bundle_sets_every_behaviour_switch_away_from_its_default():
    switches = _bundle()["switches"]
    assert [name for name in DEFAULTS if name not in PARAMETERS and name not in ADVERSE_DEFAULTS and switches[name] == DEFAULTS[name]] == []
    assert {name: switches[name] for name in ADVERSE_DEFAULTS} == ADVERSE_DEFAULTS
    jsonschema.validate(_bundle(), scenario_schema())


def test_a_named_scenario_loads_by_name(sim):
    summary = ok_json(sim.api("POST", "/_sim/scenario", auth=None, params={"name": "switches"}))
    assert summary["tables"]["vms"] == 1 + 10 + 1
    assert ok_json(sim.api("GET", "/_sim/scenario", auth=None)) == _bundle()
    response = sim.api("GET", "/api/v4/vms", params={"sort": "$key", "fields": "$key"})
    assert response.status_code == 200 and len(response.json()) == 12
    whole = ok_json(sim.api("GET", "/api/v4/vms/1"))  # the short default set, keys of either type
    assert (sorted(whole), str(whole["$key"]), whole["name"]) == (["$key", "is_snapshot", "machine", "name"], "1", "vm-001")


@pytest.mark.parametrize("params, body, message", [
    ({"name": "nothing-like-it"}, None, "no scenario named 'nothing-like-it'"),
    ({"name": "../scenario.schema"}, None, "no scenario named"),
    ({"name": "switches"}, {"vms": []}, "either ?name or a scenario body"),
])
def test_unknown_named_scenarios_are_400_and_leave_the_world_alone(world, params, body, message):
    before = rows(world, "vms", fields="name")
    response = world.api("POST", "/_sim/scenario", auth=None, params=params, json=body)
    assert response.status_code == 400 and message in response.json()["err"]
    assert rows(world, "vms", fields="name") == before


def test_the_server_starts_with_a_named_scenario(simulator_factory):
    handle = simulator_factory("--scenario", "switches")
    assert ok_json(handle.api("GET", "/_sim/scenario", auth=None)) == _bundle()


INVALID = [
    ({"seed": "x"}, "scenario.seed"),
    ({"switches": {"reboot_actions": ["reboot"]}}, "scenario.switches.reboot_actions[0]"),
    ({"switches": {"reboot_actions": ["guestreset", "guestreset"]}}, "scenario.switches.reboot_actions: duplicate items"),
    ({"switches": {"reboot_actions": "guestreset"}}, "scenario.switches.reboot_actions"),
    ({"switches": {"graceful": "sometimes"}}, "scenario.switches.graceful"),
    ({"switches": {"sort_key": "random"}}, "scenario.switches.sort_key"),
    ({"switches": {"member_bw": "ignore"}}, "scenario.switches.member_bw"),
    ({"switches": {"key_type": "float"}}, "scenario.switches.key_type"),
    ({"switches": {"error_body": "html"}}, "scenario.switches.error_body"),
    ({"switches": {"no_resources": "wait"}}, "scenario.switches.no_resources"),
    ({"switches": {"queue_timeout": -1}}, "scenario.switches.queue_timeout"),
    ({"switches": {"snapshot_visible_after": -0.5}}, "scenario.switches.snapshot_visible_after"),
    ({"switches": {"default_fields": "most"}}, "scenario.switches.default_fields"),
    ({"switches": {"lockout_after": 1.5}}, "scenario.switches.lockout_after"),
    ({"switches": {"lockout_after": -1}}, "scenario.switches.lockout_after"),
    ({"switches": {"lockout_seconds": -1}}, "scenario.switches.lockout_seconds"),
    ({"switches": {"duplicate_name": 400}}, "scenario.switches.duplicate_name"),
    ({"switches": {"taggable_vms": "maybe"}}, "scenario.switches.taggable_vms"),
    ({"switches": {"status_rows": "zeroed"}}, "scenario.switches.status_rows"),
    ({"tag_categories": [{"name": "c", "taggable_vms": "yes"}]}, "scenario.tag_categories[0].taggable_vms"),
    ({"vms": [{"name": "a", "guest": {"os": "dos"}}]}, "scenario.vms[0].guest.os"),
    ({"vms": [{"name": "a", "switches": {"sort_key": "reject"}}]}, "unknown field 'sort_key'"),
]


@pytest.mark.parametrize("scenario, where", INVALID)
def test_bad_switch_values_are_refused_by_server_and_schema(world, scenario, where):
    response = world.api("POST", "/_sim/scenario", auth=None, json=scenario)
    assert response.status_code == 400 and where in response.json()["err"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scenario, scenario_schema())


def test_every_switch_value_is_accepted_by_server_and_schema(sim):
    validator = jsonschema.Draft202012Validator(scenario_schema())
    for name, entry in scenario_schema()["$defs"]["switches"]["properties"].items():
        values = entry.get("enum") or {"reboot_actions": [[], ["guestreset", "reset_graceful"]]}.get(name, [0, 2])
        for value in values:
            scenario = {"seed": 5, "switches": {name: value}}
            validator.validate(scenario)
            sim.load(scenario)
