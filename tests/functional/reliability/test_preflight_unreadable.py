"""The pre-flight is advisory: nodes that cannot be read cost the check, not the start (warn), or refuse before any write (refuse)."""

import pytest
from run_ansible import run_play

WORLD = {
    "speed": 100,
    "switches": {"no_resources": "refuse"},
    "vms": [{"name": "pf01", "key": 1}, {"name": "pf02", "key": 2}],
}


def _start(preflight=None, check_mode=False):
    args = {"names": ["pf01", "pf02"], "state": "running", "poll_interval": 0.2, "wait_timeout": 60}
    if preflight:
        args["preflight"] = preflight
    return [{"name": "Start both", "vergeos.power.vergeos_vm_power": args, "register": "start", "ignore_errors": True,
             "check_mode": check_mode}]


def _posts(log):
    return sorted((entry["body"]["vm"], entry["body"]["action"]) for entry in log if entry["method"] == "POST")


def _nodes_fault(status):
    return {"kind": "error", "method": "GET", "path": "/api/v4/nodes", "status": status,
            "message": "Permission denied" if status == 403 else "Resource '/v4/nodes' not found during get"}


@pytest.mark.parametrize("status", [403, 404])
def test_warn_starts_the_vms_with_one_warning(sim_faults, tmp_path, status):
    sim_faults.load(WORLD)
    sim_faults.add_faults(_nodes_fault(status))
    result, log, kept = run_play(sim_faults, tmp_path, _start(), keep=["start"])
    assert result.returncode == 0, result.stdout[-3000:]
    start = kept["start"]
    assert start["failed"] is False, start["msg"]
    assert _posts(log) == [(1, "poweron"), (2, "poweron")]
    assert [vm["power_state"] for vm in start["vms"]] == ["running", "running"]
    assert start["preflight"]["checked"] is False and start["preflight"]["skipped"] is True
    reason = start["preflight"]["reason"]
    assert reason.startswith("pre-flight skipped: could not read the nodes") and "HTTP %d" % status in reason
    # One warning, in the job log, saying what could not be read.
    shown = [line for line in (result.stdout + result.stderr).splitlines() if "pre-flight skipped" in line]
    assert len(shown) == 1 and "[WARNING]" in shown[0], result.stdout[-3000:]
    assert "Traceback" not in result.stdout + result.stderr


def test_refuse_sends_no_write(sim_faults, tmp_path):
    sim_faults.load(WORLD)
    sim_faults.add_faults(_nodes_fault(403))
    result, log, kept = run_play(sim_faults, tmp_path, _start("refuse"), keep=["start"])
    assert result.returncode == 0, result.stdout[-3000:]
    start = kept["start"]
    assert start["failed"] is True
    assert _posts(log) == []
    assert all(vm["msg"].startswith("pre-flight refused: could not read the nodes") for vm in start["vms"]), start["vms"]
    assert all(vm["power_state"] == "stopped" and vm["changed"] is False for vm in start["vms"])
    assert "HTTP 403" in start["msg"] or all("HTTP 403" in vm["msg"] for vm in start["vms"])


def test_refuse_in_check_mode_says_so_and_sends_nothing(sim_faults, tmp_path):
    sim_faults.load(WORLD)
    sim_faults.add_faults(_nodes_fault(403))
    result, log, kept = run_play(sim_faults, tmp_path, _start("refuse", check_mode=True), keep=["start"])
    assert result.returncode == 0, result.stdout[-3000:]
    assert kept["start"]["failed"] is True and _posts(log) == []
