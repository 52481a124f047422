"""The inventory behind a proxy that drops the filter: it refuses the answer, as the modules do, and lists nothing.

The listing is the modules' own (vms.list_vms), so the check that snapshot rows in an
answer mean the filter was dropped is the same code path for both.
"""

from inventory_helpers import sim_source


def test_an_answer_that_ignored_its_filter_fails_the_source(scenario, run_inventory):
    scenario.add_faults({"method": "GET", "path": "/api/v4/vms", "kind": "unfiltered", "count": 1})
    try:
        result = run_inventory(sim_source(scenario))
    finally:
        scenario.clear_faults()
    assert result.rc != 0
    text = " ".join(result.stderr.split())
    assert "VergeOS answered snapshot rows to a listing that excludes them: the filter was not applied" in text
    fired = [entry for entry in scenario.requests() if entry.get("fault")]
    assert [(entry["path"], entry["fault"]["kind"]) for entry in fired] == [("/api/v4/vms", "unfiltered")]
    # Refused on the listing itself: no tag or NIC read follows an answer that cannot be trusted.
    assert [entry["path"] for entry in scenario.requests()] == ["/api/v4/vms"]


def test_the_same_source_lists_normally_without_the_fault(scenario, run_inventory):
    result = run_inventory(sim_source(scenario))
    assert result.rc == 0, result.stderr
    assert "web01-template" not in result.hostvars
