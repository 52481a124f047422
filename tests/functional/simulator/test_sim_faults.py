"""Fault injection through /_sim/faults: error rates, latency, dropped connections, HTML and truncated answers."""

import http.client
import json
import ssl
import time

import pytest
import requests

from sim_helpers import ok_json, status_of

VMS = "/api/v4/vms"
ACTIONS = "/api/v4/vm_actions"
WORLD = {"vms": [{"key": 1, "name": "off"}, {"key": 2, "name": "on", "power": "running"}]}


@pytest.fixture
def fs(sim_faults):
    sim_faults.load(WORLD)
    sim_faults.clear_requests()
    return sim_faults


def _get(sim, path=VMS, **kwargs):
    return sim.api("GET", path, **kwargs)


def _poweron(sim, key=1):
    return sim.api("POST", ACTIONS, json={"vm": key, "action": "poweron"})


def _log(sim):
    return sim.requests()


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("status, retry_after", [(429, 7), (500, None), (502, None), (503, 30), (504, None)])
def test_error_answers_carry_an_err_body_and_retry_after(fs, status, retry_after):
    fault = {"kind": "error", "status": status, "path": VMS}
    if retry_after is not None:
        fault["retry_after"] = retry_after
    fs.add_faults(fault)
    response = _get(fs)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert isinstance(response.json()["err"], str) and response.json()["err"]
    assert response.headers.get("Retry-After") == (None if retry_after is None else str(retry_after))
    entry = _log(fs)[-1]
    assert entry["status"] == status and entry["user"] is None
    assert entry["fault"] == {"ids": [1], "kind": "error", "delay": 0, "applied": False, "api_status": None}


def test_error_message_and_default_status(fs):
    fs.add_faults({"kind": "error", "path": VMS, "message": "upstream overloaded"})
    response = _get(fs)
    assert (response.status_code, response.json()) == (503, {"err": "upstream overloaded"})


def test_a_write_refused_by_a_fault_is_not_applied(fs):
    fs.add_faults({"kind": "error", "status": 502, "method": "POST", "path": ACTIONS})
    assert _poweron(fs).status_code == 502
    assert status_of(fs, 1)["status"] == "stopped"


def test_a_write_can_be_applied_before_the_error_answer(fs):
    fs.add_faults({"kind": "error", "status": 502, "method": "POST", "path": ACTIONS, "applied": True, "count": 1})
    assert _poweron(fs).status_code == 502
    assert status_of(fs, 1)["status"] == "starting"  # the answer was lost, not the request
    entry = [entry for entry in _log(fs) if entry["path"] == ACTIONS][0]
    assert (entry["status"], entry["user"]) == (502, "admin")
    assert entry["fault"] == {"ids": [1], "kind": "error", "delay": 0, "applied": True, "api_status": 201}


# ---------------------------------------------------------------- matching


def test_path_matches_itself_and_below_only(fs):
    fs.add_faults({"kind": "error", "status": 500, "method": "get", "path": VMS + "/"})
    assert _get(fs).status_code == 500
    assert _get(fs, VMS + "/1").status_code == 500
    assert _get(fs, "/api/v4/machine_status").status_code == 200
    assert _poweron(fs).status_code == 201  # another method
    fs.clear_faults()
    fs.add_faults({"kind": "error", "status": 500, "path": "/api/v4/vm"})
    assert _get(fs).status_code == 200  # /api/v4/vm is not a path segment of /api/v4/vms


def test_path_pattern_must_match_the_whole_path(fs):
    fs.add_faults({"kind": "error", "status": 500, "path_pattern": r"/api/v4/vms/\d+"})
    assert _get(fs, VMS + "/2").status_code == 500
    assert _get(fs).status_code == 200
    assert _get(fs, VMS + "/2", params={"fields": "name"}).status_code == 500  # the query string is not part of the path


def test_no_path_matches_every_api_request_but_never_the_sim_routes(fs):
    fs.add_faults({"kind": "error", "status": 503})
    assert _get(fs, "/api/v4/system").status_code == 503
    assert fs.api("POST", "/api/sys/tokens", auth=None, json={"login": "admin", "password": "admin"}).status_code == 503
    assert fs.api("GET", "/_sim/health", auth=None).status_code == 200
    assert fs.faults()["faults"][0]["fired"] == 2


def test_count_limits_how_often_a_fault_fires(fs):
    fs.add_faults({"kind": "error", "status": 500, "path": VMS, "count": 2})
    assert [_get(fs).status_code for _attempt in range(4)] == [500, 500, 200, 200]
    listed = fs.faults()["faults"][0]
    assert (listed["matched"], listed["fired"], listed["remaining"]) == (2, 2, 0)


def test_the_first_fault_that_fires_decides_and_delays_add_up(fs):
    fs.add_faults({"kind": "delay", "delay": 0.1, "path": VMS}, {"kind": "error", "status": 500, "path": VMS},
                  {"kind": "error", "status": 502, "path": VMS})
    started = time.monotonic()
    assert _get(fs).status_code == 500
    assert time.monotonic() - started >= 0.1
    assert [fault["matched"] for fault in fs.faults()["faults"]] == [1, 1, 0]
    assert _log(fs)[-1]["fault"]["ids"] == [1, 2]


# ---------------------------------------------------------------- seeds and rates


def _pattern(sim, seed, count=40):
    sim.clear_faults()
    sim.add_faults({"kind": "error", "status": [500, 502, 503], "rate": 0.5, "path": VMS}, seed=seed)
    return [_get(sim, params={"fields": "$key"}).status_code for _attempt in range(count)]


def test_same_seed_same_faults(fs):
    first = _pattern(fs, 1234)
    assert 5 < sum(status != 200 for status in first) < 35  # about half, and the statuses vary
    assert {500, 502, 503} & set(first) and len(set(first) - {200}) > 1
    assert _pattern(fs, 1234) == first
    assert _pattern(fs, 4321) != first


def test_rate_zero_never_fires_and_rate_one_always(fs):
    fs.add_faults({"kind": "error", "status": 500, "path": VMS, "rate": 0}, {"kind": "error", "status": 502, "path": VMS, "rate": 1})
    assert {_get(fs).status_code for _attempt in range(5)} == {502}
    assert [fault["fired"] for fault in fs.faults()["faults"]] == [0, 5]


def test_seed_survives_until_the_faults_are_cleared(fs):
    assert fs.add_faults(seed=99)["seed"] == 99
    fs.add_faults({"kind": "delay", "delay": 0.01})
    assert fs.faults()["seed"] == 99
    assert fs.clear_faults() == {"cleared": 1}
    assert fs.faults() == {"seed": 0, "faults": []}


# ---------------------------------------------------------------- latency


def test_delay_slows_the_answer_and_is_logged(fs):
    fs.add_faults({"kind": "delay", "delay": 0.3, "path": VMS})
    started = time.monotonic()
    response = _get(fs)
    assert response.status_code == 200 and len(response.json()) == 2
    assert time.monotonic() - started >= 0.3
    entry = _log(fs)[-1]
    assert entry["status"] == 200 and entry["user"] == "admin"
    assert entry["fault"] == {"ids": [1], "kind": "delay", "delay": 0.3, "applied": True, "api_status": 200}


def test_a_client_timeout_during_a_delay_still_lets_the_write_happen(fs):
    fs.add_faults({"kind": "delay", "delay": 0.5, "method": "POST", "path": ACTIONS})
    with pytest.raises(requests.exceptions.ReadTimeout):
        fs.api("POST", ACTIONS, json={"vm": 1, "action": "poweron"}, timeout=0.1)
    time.sleep(0.6)
    assert status_of(fs, 1)["status"] in ("starting", "running")


# ---------------------------------------------------------------- dropped connections


def test_dropped_get_closes_the_connection_without_an_answer(fs):
    fs.add_faults({"kind": "drop", "path": VMS, "count": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        _get(fs)
    assert _get(fs).status_code == 200  # the next connection is fine
    entry = _log(fs)[0]
    assert entry["status"] is None and entry["fault"]["kind"] == "drop" and entry["fault"]["applied"] is False


def test_dropped_write_not_applied(fs):
    fs.add_faults({"kind": "drop", "method": "POST", "path": ACTIONS})
    with pytest.raises(requests.exceptions.ConnectionError):
        _poweron(fs)
    assert status_of(fs, 1)["status"] == "stopped"
    assert _log(fs)[0]["fault"] == {"ids": [1], "kind": "drop", "delay": 0, "applied": False, "api_status": None}


def test_dropped_write_applied_before_the_drop(fs):
    fs.add_faults({"kind": "drop", "method": "POST", "path": ACTIONS, "applied": True})
    with pytest.raises(requests.exceptions.ConnectionError):
        _poweron(fs)
    assert status_of(fs, 1)["status"] == "starting"
    entry = _log(fs)[0]
    assert (entry["status"], entry["user"]) == (None, "admin")
    assert entry["fault"] == {"ids": [1], "kind": "drop", "delay": 0, "applied": True, "api_status": 201}


# ---------------------------------------------------------------- bad bodies


def test_html_instead_of_json(fs):
    fs.add_faults({"kind": "html", "path": VMS}, {"kind": "html", "status": 429, "retry_after": 3, "path": "/api/v4/system"})
    response = _get(fs)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>") and "502 Bad Gateway" in response.text
    with pytest.raises(ValueError):
        response.json()
    limited = _get(fs, "/api/v4/system")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")


def _raw_get(sim, path):
    """Return (status, announced length, bytes received, error) of a GET read with http.client."""
    host, port = sim.host.split(":")
    connection = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=sim.ca), timeout=10)
    try:
        connection.request("GET", path, headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
        response = connection.getresponse()
        try:
            body, error = response.read(), None
        except http.client.IncompleteRead as incomplete:
            body, error = incomplete.partial, incomplete
        return response.status, int(response.getheader("Content-Length")), body, error
    finally:
        connection.close()


def test_truncated_answer_closes_the_connection_mid_body(fs):
    full = _get(fs).content
    fs.add_faults({"kind": "truncate", "path": VMS})
    status, announced, body, error = _raw_get(fs, VMS)
    assert (status, announced) == (200, len(full))
    assert isinstance(error, http.client.IncompleteRead)
    assert body == full[:len(full) // 2]
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        _get(fs)
    assert _log(fs)[-1]["fault"]["kind"] == "truncate"


def test_truncated_body_well_framed(fs):
    full = _get(fs).content
    fs.add_faults({"kind": "truncate", "cut": "body", "path": VMS})
    response = _get(fs)
    assert response.status_code == 200 and response.content == full[:len(full) // 2]
    with pytest.raises(ValueError):
        json.loads(response.content)
    assert _get(fs).status_code == 200 and _get(fs).content != full  # still cut, on the same connection


# ---------------------------------------------------------------- the /_sim/faults routes


def test_listing_removing_one_and_reset(fs):
    listing = fs.add_faults({"kind": "error", "path": VMS}, {"kind": "delay", "delay": 0.01, "method": "POST", "count": 3})
    assert [(fault["id"], fault["kind"], fault["remaining"]) for fault in listing["faults"]] == [(1, "error", None), (2, "delay", 3)]
    assert listing["faults"][0]["path"] == VMS and listing["faults"][0]["matched"] == 0
    single = ok_json(fs.api("POST", "/_sim/faults", auth=None, json={"kind": "drop", "path": "/api/v4/system"}))
    assert [fault["id"] for fault in single["faults"]] == [1, 2, 3]
    assert [fault["id"] for fault in ok_json(fs.api("DELETE", "/_sim/faults/1", auth=None))["faults"]] == [2, 3]
    assert fs.api("DELETE", "/_sim/faults/1", auth=None).status_code == 404
    assert fs.api("PUT", "/_sim/faults/2", auth=None).status_code == 405
    assert _get(fs).status_code == 200
    fs.reset()
    assert fs.faults()["faults"] == []


@pytest.mark.parametrize("body, message", [
    ({"kind": "explode"}, "kind"),
    ({"faults": [{"kind": "error", "status": 200}]}, "faults[0].status"),
    ({"faults": [{"kind": "error", "rate": 2}]}, "faults[0].rate"),
    ({"kind": "error", "path": VMS, "path_pattern": ".*"}, "not both"),
    ({"kind": "error", "path": "api/v4/vms"}, "must start with '/'"),
    ({"kind": "error", "path_pattern": "(unclosed"}, "path_pattern"),
    ({"kind": "error", "status": 500, "retry_after": 5}, "only sent with 429 or 503"),
    ({"kind": "error", "status": []}, "empty list"),
    ({"kind": "drop", "status": 500}, "only for kind"),
    ({"kind": "truncate", "applied": False}, "only for kind"),
    ({"kind": "error", "cut": "body"}, "only for kind"),
    ({"kind": "delay"}, "needs a delay"),
    ({"kind": "error", "count": 0}, "count"),
    ({"seed": "x"}, "seed"),
    ({"kind": "error", "colour": "red"}, "unknown field 'colour'"),
])
def test_invalid_faults_are_400_and_install_nothing(fs, body, message):
    fs.add_faults({"kind": "delay", "delay": 0.01, "path": "/nowhere"})
    response = fs.api("POST", "/_sim/faults", auth=None, json=body)
    assert response.status_code == 400
    assert response.json()["err"].startswith("Invalid fault") and message in response.json()["err"]
    assert len(fs.faults()["faults"]) == 1


# ---------------------------------------------------------------- unfiltered


def test_unfiltered_answers_as_if_the_filter_were_absent(fs):
    fs.add_faults({"method": "GET", "path": VMS, "kind": "unfiltered", "count": 1})
    params = {"filter": "$key eq 1", "fields": "$key,name"}
    ignored = ok_json(_get(fs, params=params))
    assert sorted(row["$key"] for row in ignored) == [1, 2]  # every row, not the one asked for
    assert ok_json(_get(fs, params=params)) == [{"$key": 1, "name": "off"}]  # spent: the filter works again
    logged = _log(fs)[0]
    assert logged["query"]["filter"] == "$key eq 1" and logged["fault"]["kind"] == "unfiltered" and logged["fault"]["applied"] is True


def test_unfiltered_keeps_the_other_parameters(fs):
    fs.add_faults({"method": "GET", "path": VMS, "kind": "unfiltered"})
    rows = ok_json(_get(fs, params={"filter": "$key eq 1", "fields": "name", "sort": "-name", "limit": 1}))
    assert rows == [{"name": "on"}]


# ---------------------------------------------------------------- body


def test_a_fault_can_match_the_json_body_of_one_vms_actions(fs):
    fs.add_faults({"method": "POST", "path": "/api/v4/vm_actions", "body": {"vm": 2, "action": "poweroff"}, "kind": "drop"})
    other = fs.api("POST", "/api/v4/vm_actions", json={"vm": 1, "action": "poweroff"})
    assert other.status_code == 201
    with pytest.raises(requests.exceptions.ConnectionError):
        fs.api("POST", "/api/v4/vm_actions", json={"vm": 2, "action": "poweroff"})
    assert fs.api("POST", "/api/v4/vm_actions", json={"vm": 2, "action": "kill"}).status_code == 201
    assert [entry.get("fault", {}).get("kind") for entry in fs.requests()] == [None, "drop", None]
