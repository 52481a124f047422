"""The request log under /_sim/requests: what it keeps and what it never keeps."""

import base64
import json

from sim_helpers import ok_json


def _log(sim):
    return ok_json(sim.api("GET", "/_sim/requests", auth=None))


def test_log_entries_describe_each_api_request(world):
    world.api("GET", "/api/v4/vms", params={"fields": "$key,name", "filter": "name eq 'vm-001'"})
    world.api("POST", "/api/v4/vm_actions", json={"vm": 1, "action": "poweron"})
    entries = _log(world)
    assert [(entry["method"], entry["path"], entry["status"], entry["user"]) for entry in entries] == [
        ("GET", "/api/v4/vms", 200, "admin"), ("POST", "/api/v4/vm_actions", 201, "admin")]
    assert entries[0]["query"] == {"fields": "$key,name", "filter": "name eq 'vm-001'"}
    assert entries[0]["body"] is None
    assert entries[1]["body"] == {"vm": 1, "action": "poweron"}
    assert entries[0]["time"] <= entries[1]["time"]


PASSWORD = "Unmistakable-Pa55word"
API_KEY = "unmistakable-api-key"


def test_secrets_are_never_logged(sim):
    sim.load({"users": [{"name": "ops", "password": PASSWORD}], "api_keys": [{"key": API_KEY, "user": "robot"}]})
    sim.clear_requests()
    token = sim.api("POST", "/api/sys/tokens", auth=None, json={"login": "ops", "password": PASSWORD}).json()["$key"]
    sim.api("GET", "/api/v4/system", auth=None, headers={"x-yottabyte-token": token})
    sim.api("GET", "/api/v4/system", auth=None, headers={"Authorization": "Bearer " + API_KEY})
    sim.api("GET", "/api/v4/system", auth=("ops", PASSWORD))
    sim.api("GET", "/api/v4/system", auth=("ops", "wrong-" + PASSWORD))
    entries = _log(sim)
    assert entries[0]["body"] == {"login": "ops", "password": "********"}
    assert [(entry["status"], entry["user"]) for entry in entries] == [
        (201, "ops"), (200, "ops"), (200, "robot"), (200, "ops"), (401, None)]
    text = json.dumps(entries)
    for secret in (token, API_KEY, PASSWORD, base64.b64encode(("ops:" + PASSWORD).encode()).decode()):
        assert secret not in text
    assert "authorization" not in text.lower() and "yottabyte" not in text


def test_repeated_parameters_and_bad_bodies(world):
    world.api("GET", "/api/v4/vms?fields=name&fields=$key")
    world.api("POST", "/api/v4/vm_actions", data="not json")
    entries = _log(world)
    assert entries[0]["query"] == {"fields": ["name", "$key"]}
    assert entries[1]["status"] == 400 and "not json" not in json.dumps(entries[1])


def test_sim_routes_are_not_logged_and_clearing_counts(world):
    world.api("GET", "/api/v4/vms")
    world.api("GET", "/_sim/health", auth=None)
    assert len(_log(world)) == 1
    assert ok_json(world.api("DELETE", "/_sim/requests", auth=None)) == {"cleared": 1}
    assert _log(world) == []
