"""The read-only probe against the simulator under each switch value it covers.

The playbook (playbooks/probe.yml, run by ansible-playbook) is judged whole where it matters: the
defaults (all six switches at their defaults, which is also each default value on its own), the
bundled adverse scenario `switches`, check mode with a check that fails and a filter a proxy drops
(each reported, the task still succeeds), and a refused login. Each run's JSON file, the table it
prints and, from the simulator's request log, that it sent GET requests under /api/v4 only.

Each other world (one switch value on its own, the maintenance category taggable or not, nodes the
user may not read, nothing to look at) is judged on what the module computes: the probe the module
runs (module_utils/probe.py `probe`), called in this process with the collection's client over
HTTPS, checked on every behaviour it reports (the switched one changed, the others at their default:
a switch is told apart from the others), its table, and reads only in the request log. One
ansible-playbook start per world would prove the playbook again, not the probe.
"""

import json
import os
import sys

# collection_finder goes before the imports from ansible_collections.
import collection_finder  # noqa: F401  pylint: disable=unused-import
import pytest

from ansible_collections.vergeos.power.plugins.module_utils.client import VergeOSClient
from ansible_collections.vergeos.power.plugins.module_utils.probe import probe as probe_in_process
from run_ansible import ROOT, run, sim_env

PLAYBOOK = os.path.join(ROOT, "playbooks", "probe.yml")
VMS = [{"key": key, "name": "vm-%02d" % key, "power": "running" if key % 3 == 0 else "stopped", "tags": ["prod"] if key % 2 else []}
       for key in range(1, 10)]
WORLD = {"speed": 100, "tag_categories": [{"name": "env", "taggable_vms": True}], "tags": [{"name": "prod", "category": "env"}], "vms": VMS}
MAINTENANCE_CATEGORY = "vergeos_power_maintenance"
SWITCH_DEFAULTS = {"sort_key": "work", "member_bw": "work", "key_type": "int", "error_body": "text", "default_fields": "all",
                   "traversed_filters": "work"}
# The simulator keeps status keys apart from machine keys; the world has no maintenance category yet.
REPORTED_DEFAULTS = {"sort_key": "works", "member_bw": "works", "key_type": "int", "error_body": "text", "default_fields": "all",
                     "traversed_filters": "works", "status_key": "differs", "maintenance_category": "unknown", "preflight_reads": "works"}
# (switch, value, what the probe reports, a text its detail holds)
SWITCH_CASES = [
    ("sort_key", "reject", "refused", "HTTP 422: Invalid argument"),
    ("sort_key", "ignore", "ignored", "out of order"),
    ("member_bw", "reject", "refused", "HTTP 422: Invalid argument"),
    ("key_type", "string", "string", "$key: 9 string; machine: 9 string (9 rows of vms)"),
    ("key_type", "mixed", "mixed", "int, "),
    ("error_body", "flag", "flag", '{"err": true, "message": "Resource \'/v4/vms/0\' not found during get"}'),
    ("error_body", "nested", "nested", '{"err": {"message": "Resource \'/v4/vms/0\' not found during get"}}'),
    ("default_fields", "short", "short", "4 columns ($key, is_snapshot, machine, name)"),
    ("traversed_filters", "reject", "refused", "HTTP 422: Invalid argument"),
]
DEFAULT_DETAILS = {
    "sort_key": "ordered 9 rows of vms by key",
    "member_bw": "5 row(s), every one a VM member",
    "key_type": "$key: 9 int; machine: 9 int (9 rows of vms)",
    "error_body": 'HTTP 404 to GET vms/0: {"err": "Resource \'/v4/vms/0\' not found during get"}',
    "default_fields": "every one of fields=most",
    "traversed_filters": "3 row(s), every one running",
}
ADVERSE = {"sort_key": "ignored", "member_bw": "refused", "key_type": "mixed", "error_body": "flag", "default_fields": "short",
           "traversed_filters": "refused", "status_key": "differs", "maintenance_category": "unknown", "preflight_reads": "works"}


def probe(sim, tmp_path, *args, output=True):
    """Run playbooks/probe.yml against the simulator's current world; return (CompletedProcess, request log, JSON file or None)."""
    path = tmp_path / "probe.json"
    extra = ["-e", "probe_output=%s" % path] if output else []
    sim.clear_requests()
    try:
        result = run("ansible-playbook", "-e", "ansible_python_interpreter=%s" % sys.executable, *extra, *args, PLAYBOOK,
                     env=sim_env(sim), cwd=str(tmp_path))
        log = sim.requests()
    finally:
        sim.reset()
    written = path if output else tmp_path / "vergeos-probe.json"
    return result, log, json.loads(written.read_text()) if written.exists() else None


def values(report):
    return {name: found["value"] for name, found in report["behaviours"].items()}


def assert_reads_only(log):
    assert log, "no request reached the simulator"
    assert [(entry["method"], entry["path"]) for entry in log if entry["method"] != "GET" or not entry["path"].startswith("/api/v4/")] == []


def assert_shown(result, report):
    """The table of the JSON file is what the play printed, line by line."""
    assert len(report["table"]) == 2 + len(REPORTED_DEFAULTS)
    for line in report["table"]:
        assert json.dumps(line) in result.stdout, line


def probe_directly(sim, world, *faults):
    """Load world (and faults), run the module's probe in this process; return (its result, request log)."""
    sim.load(world)
    try:
        if faults:
            sim.add_faults(*faults)
        sim.clear_requests()
        with VergeOSClient(sim.host, username="admin", password="admin", ca_path=sim.ca) as client:
            report = probe_in_process(client)
        log = sim.requests()
    finally:
        sim.reset()
        sim.clear_faults()
    assert report["failed"] is False and report["changed"] is False
    return report, log


def assert_table(report):
    """The table names the system, then one line per behaviour with its value, in the order of the behaviours."""
    table = report["table"]
    assert len(table) == 2 + len(REPORTED_DEFAULTS) and table[0].startswith("VergeOS %s " % report["system"]["yb_version"])
    for line, (name, found) in zip(table[2:], report["behaviours"].items(), strict=True):
        assert line.split()[:2] == [name, found["value"]], (line, name, found)


def test_defaults_each_reported_as_such(sim, tmp_path):
    sim.load(dict(WORLD, switches=SWITCH_DEFAULTS))
    result, log, report = probe(sim, tmp_path, output=False)  # the default file name, in the directory the playbook runs in
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert values(report) == REPORTED_DEFAULTS
    for name, text in DEFAULT_DETAILS.items():
        assert text in report["behaviours"][name]["detail"], (name, report["behaviours"][name])
    assert report["system"]["yb_version"] and set(report["system"]) == {"yb_version", "os_version", "cloud_name"}
    assert report["table"][0].startswith("VergeOS %s " % report["system"]["yb_version"])
    assert_shown(result, report)
    assert_reads_only(log)
    sorts = [entry["query"].get("sort") for entry in log if entry["path"] == "/api/v4/vms"]
    assert sorts.count("$key") == 2 and sorts.count("-$key") == 1
    assert [entry["status"] for entry in log if entry["path"] == "/api/v4/vms/0"] == [404]


@pytest.mark.parametrize("case", SWITCH_CASES, ids=["%s-%s" % case[:2] for case in SWITCH_CASES])
def test_each_switch_value_on_its_own(sim, case):
    switch, value, reported, detail = case
    report, log = probe_directly(sim, dict(WORLD, switches={switch: value}))
    assert values(report) == dict(REPORTED_DEFAULTS, **{switch: reported})
    assert detail in report["behaviours"][switch]["detail"], report["behaviours"][switch]
    assert_table(report)
    assert_reads_only(log)


def test_the_bundled_adverse_scenario(sim, tmp_path):
    response = sim.api("POST", "/_sim/scenario", auth=None, params={"name": "switches"})
    assert response.status_code == 200, response.text
    result, log, report = probe(sim, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert values(report) == ADVERSE
    assert_shown(result, report)
    assert_reads_only(log)


def test_check_mode_reads_the_same_and_a_failed_check_or_a_dropped_filter_is_reported(sim, tmp_path):
    """Under --check: the same reads and the file; tag_members answers 501 (not retried), a proxy drops the filters of vms."""
    sim.load(WORLD)
    sim.add_faults({"method": "GET", "path": "/api/v4/tag_members", "kind": "error", "status": 501, "message": "Not Implemented here"},
                   {"method": "GET", "path": "/api/v4/vms", "kind": "unfiltered"})
    try:
        result, log, report = probe(sim, tmp_path, "--check")
    finally:
        sim.clear_faults()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert values(report) == dict(REPORTED_DEFAULTS, member_bw="error", traversed_filters="ignored")
    assert "HTTP 501: Not Implemented here" in report["behaviours"]["member_bw"]["detail"]
    assert "6 of 9 rows are not running" in report["behaviours"]["traversed_filters"]["detail"]
    assert_shown(result, report)
    assert_reads_only(log)
    assert len([entry for entry in log if entry["path"] == "/api/v4/tag_members"]) == 1


def test_a_refused_login_fails_after_one_request_and_writes_nothing(sim, tmp_path):
    sim.load(WORLD)
    path = tmp_path / "probe.json"
    sim.clear_requests()
    try:
        result = run("ansible-playbook", "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "probe_output=%s" % path, PLAYBOOK,
                     env=sim_env(sim, password="not-the-password-42"), cwd=str(tmp_path))
        log = sim.requests()
    finally:
        sim.reset()
    assert result.returncode != 0
    assert "HTTP 401" in result.stdout and "not-the-password-42" not in result.stdout + result.stderr
    assert [(entry["method"], entry["path"], entry["status"]) for entry in log] == [("GET", "/api/v4/system", 401)]
    assert not path.exists()


@pytest.mark.parametrize("taggable", [True, False])
def test_the_maintenance_category_is_reported_taggable_or_not(sim, taggable):
    categories = WORLD["tag_categories"] + [{"name": MAINTENANCE_CATEGORY, "taggable_vms": taggable}]
    report, log = probe_directly(sim, dict(WORLD, tag_categories=categories))
    assert_table(report)
    expected = "taggable" if taggable else "not_taggable"
    assert values(report) == dict(REPORTED_DEFAULTS, maintenance_category=expected)
    assert ("taggable_vms %s" % ("true" if taggable else "false")) in report["behaviours"]["maintenance_category"]["detail"]
    assert_reads_only(log)


def test_a_user_who_may_not_read_the_nodes_is_told_the_preflight_will_be_skipped(sim):
    report, log = probe_directly(sim, WORLD, {"method": "GET", "path": "/api/v4/nodes", "kind": "error", "status": 403,
                                              "message": "Permission denied"})
    assert_table(report)
    assert values(report) == dict(REPORTED_DEFAULTS, preflight_reads="refused")
    assert "HTTP 403: Permission denied" in report["behaviours"]["preflight_reads"]["detail"]
    assert_reads_only(log)


def test_nothing_to_look_at_is_unknown_never_works(sim):
    """No VM carries a tag and none is running: the filters and the status keys cannot be judged."""
    report, log = probe_directly(sim, dict(WORLD, vms=[dict(vm, power="stopped", tags=[]) for vm in VMS]))
    assert_table(report)
    assert values(report) == dict(REPORTED_DEFAULTS, member_bw="unknown", traversed_filters="unknown", status_key="unknown")
    assert_reads_only(log)
