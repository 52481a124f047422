"""safe_startup and the restore: a failed tier never strands the rest, and a pre-flight that cannot read the nodes is shown.

Regressions of real defects, through real ansible-playbook runs judged by the simulator's
request log: with maintenance_tiers naming a VM that never came back, the default
on_failure stop skipped the last tier (the record's VMs no tier names) and 43 of 45 VMs
stayed down; with the nodes unreadable (HTTP 403), the role swallowed the pre-flight's
warning, and safe_startup_preflight refuse started the VMs anyway.
"""

import os
import sys

import pytest
import yaml

from run_ansible import ROOT, run, sim_env

RESTORE = os.path.join(ROOT, "playbooks", "maintenance_restore.yml")
VM_ACTIONS = "/api/v4/vm_actions"
# Not about resources: a power-on without room would be refused at once rather than waited out.
SWITCHES = {"no_resources": "refuse"}
NODES_403 = {"kind": "error", "method": "GET", "path": "/api/v4/nodes", "status": 403, "message": "Permission denied"}


def vm(key, name, **extra):
    return dict({"key": key, "name": name, "power": "stopped"}, **extra)


def poweron(log):
    return sorted(int(entry["body"]["vm"]) for entry in log
                  if entry["method"] == "POST" and entry["path"] == VM_ACTIONS and entry["body"]["action"] == "poweron")


def power(sim):
    rows = sim.api("GET", "/api/v4/vms", params={"fields": "$key,machine#status#status as status"}).json()
    return {int(row["$key"]): row["status"] for row in rows}


def open_record(sim, tmp_path, name, ids):
    path = tmp_path / "open.yml"
    path.write_text(yaml.safe_dump([{"name": "Open the record", "hosts": "localhost", "gather_facts": False,
                                     "vars": {"ansible_python_interpreter": sys.executable},
                                     "tasks": [{"vergeos.power.vergeos_maintenance_record": {"name": name, "state": "open", "ids": ids}}]}]))
    opened = run("ansible-playbook", str(path), env=sim_env(sim))
    assert opened.returncode == 0, opened.stdout[-3000:]


def startup_play(tmp_path, variables, keep):
    """A play that runs safe_startup in a block, then writes safe_startup_result and the failure's message to ``keep``."""
    path = tmp_path / "startup.yml"
    tasks = [{"name": "Start", "block": [{"ansible.builtin.include_role": {"name": "vergeos.power.safe_startup"}}],
              "rescue": [{"ansible.builtin.set_fact": {"failure": "{{ [ansible_failed_result.msg | default('')] | flatten | join(' ') }}"}}],
              "always": [{"ansible.builtin.copy": {
                  "content": "{{ {'result': safe_startup_result | default(none), 'failure': failure | default(none)} | to_json }}",
                  "dest": str(keep), "mode": "0600"}}]}]
    path.write_text(yaml.safe_dump([{"name": "Start in tiers", "hosts": "localhost", "gather_facts": False,
                                     "vars": dict({"ansible_python_interpreter": sys.executable, "safe_startup_poll_interval": 0.2}, **variables),
                                     "tasks": tasks}], sort_keys=False))
    return str(path)


@pytest.fixture
def load(sim_faults):
    def loader(scenario):
        sim_faults.load(scenario)
        sim_faults.clear_requests()
    yield loader
    sim_faults.reset()


def test_a_tier_that_never_comes_back_stops_only_the_named_tiers_after_it(sim_faults, load, tmp_path):
    # broken01 fails to start; tier 2 (app01) is a named tier after it and is skipped; the eight others are the rest of the record.
    others = [vm(key, "web%02d" % key) for key in range(4, 12)]
    load({"speed": 100, "timings": {"boot": 20}, "switches": SWITCHES,
          "vms": [vm(1, "broken01", guest={"start": "error"}), vm(2, "db01"), vm(3, "app01")] + others})
    ids = list(range(1, 12))
    open_record(sim_faults, tmp_path, "rack7", ids)
    sim_faults.clear_requests()
    tiers = [{"name": "databases", "targets": ["broken01", "db01"], "timeout": 3}, {"name": "services", "targets": ["app01"]}]
    result = run("ansible-playbook", RESTORE, "-e", "maintenance_record=rack7", "-e", "maintenance_poll_interval=0.2",
                 "-e", yaml.safe_dump({"maintenance_tiers": tiers}, default_flow_style=True).strip(), env=sim_env(sim_faults))
    log = sim_faults.requests()
    states = power(sim_faults)
    assert result.returncode != 0
    # Every VM of the record but the skipped named tier got its power-on, and all of them run but the broken one.
    assert poweron(log) == [1, 2] + list(range(4, 12)), result.stdout[-3000:]
    assert {key for key, status in states.items() if status == "running"} == {2} | set(range(4, 12))
    assert "3. the rest of the maintenance record (8 VM(s), up = agent): up" in result.stdout, result.stdout[-3000:]
    assert "2. services (1 VM(s), up = agent): skipped" in result.stdout
    assert "not started: an earlier tier (databases) failed and its on_failure is stop" in result.stdout
    assert "the rest of the maintenance record started all the same: a failed tier stops only the named tiers after it" in result.stdout
    assert "so the rollout stopped at databases (the named tiers after it were skipped; the rest of the maintenance record was started" \
        in result.stdout


def test_the_role_says_which_tiers_were_skipped_and_why(sim_faults, load, tmp_path):
    load({"speed": 100, "timings": {"boot": 20}, "switches": SWITCHES,
          "vms": [vm(1, "broken01", guest={"start": "error"}), vm(2, "app01"), vm(3, "web01")]})
    open_record(sim_faults, tmp_path, "r2", [1, 2, 3])
    sim_faults.clear_requests()
    keep = tmp_path / "kept.json"
    tiers = [{"targets": ["broken01"], "timeout": 3}, {"name": "services", "targets": ["app01"]}]
    result = run("ansible-playbook", startup_play(tmp_path, {"safe_startup_tiers": tiers, "safe_startup_record": "r2"}, keep),
                 env=sim_env(sim_faults))
    assert result.returncode == 0, result.stdout[-3000:]
    kept = yaml.safe_load(keep.read_text())
    assert poweron(sim_faults.requests()) == [1, 3]
    assert kept["result"]["skipped_tiers"] == [{"name": "services", "why": "not started: an earlier tier (tier 1) failed and its on_failure is stop"}]
    assert kept["result"]["started"] == ["web01"] and kept["result"]["failed_vms"] == ["broken01"]
    assert "so the rollout stopped at tier 1" in kept["failure"]


def test_unreadable_nodes_warn_in_the_result_and_the_summary_and_start_the_vms(sim_faults, load, tmp_path):
    load({"speed": 100, "timings": {"boot": 20}, "switches": SWITCHES, "vms": [vm(1, "db01"), vm(2, "web01")]})
    sim_faults.add_faults(NODES_403)
    keep = tmp_path / "kept.json"
    result = run("ansible-playbook", startup_play(tmp_path, {"safe_startup_tiers": [{"targets": ["db01"]}, {"targets": ["web01"]}]}, keep),
                 env=sim_env(sim_faults))
    assert result.returncode == 0, result.stdout[-3000:]
    kept = yaml.safe_load(keep.read_text())
    assert poweron(sim_faults.requests()) == [1, 2] and kept["failure"] is None
    warnings = kept["result"]["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith("pre-flight skipped:") and "HTTP 403" in warnings[0], warnings
    assert kept["result"]["summary"][0].startswith("safe_startup: 2 VM(s) in 2 tier(s): 2 started; pre-flight skipped:")
    assert kept["result"]["preflight"]["checked"] is False


def test_unreadable_nodes_with_preflight_refuse_send_nothing(sim_faults, load, tmp_path):
    load({"speed": 100, "switches": SWITCHES, "vms": [vm(1, "db01"), vm(2, "web01")]})
    sim_faults.add_faults(NODES_403)
    keep = tmp_path / "kept.json"
    variables = {"safe_startup_tiers": [{"targets": ["db01", "web01"]}], "safe_startup_preflight": "refuse"}
    result = run("ansible-playbook", startup_play(tmp_path, variables, keep), env=sim_env(sim_faults))
    assert result.returncode == 0, result.stdout[-3000:]
    kept = yaml.safe_load(keep.read_text())
    assert [entry for entry in sim_faults.requests() if entry["method"] == "POST" and entry["path"] == VM_ACTIONS] == []
    assert "refused the plan (safe_startup_preflight is refuse); nothing was sent" in kept["failure"]
    assert "pre-flight refused: could not read" in kept["failure"], kept["failure"]


@pytest.mark.parametrize("preflight", ["warn", "refuse"])
def test_the_restore_shows_the_warning_or_refuses(sim_faults, load, tmp_path, preflight):
    load({"speed": 100, "timings": {"boot": 20}, "switches": SWITCHES, "vms": [vm(1, "db01"), vm(2, "web01")]})
    open_record(sim_faults, tmp_path, "r3", [1, 2])
    sim_faults.add_faults(NODES_403)
    sim_faults.clear_requests()
    result = run("ansible-playbook", RESTORE, "-e", "maintenance_record=r3", "-e", "maintenance_poll_interval=0.2",
                 "-e", "maintenance_preflight=%s" % preflight, env=sim_env(sim_faults))
    posts = [entry for entry in sim_faults.requests() if entry["method"] == "POST" and entry["path"] == VM_ACTIONS]
    if preflight == "warn":
        assert result.returncode == 0, result.stdout[-3000:]
        assert poweron(sim_faults.requests()) == [1, 2]
        assert "2 started; pre-flight skipped: could not read" in result.stdout, result.stdout[-3000:]
    else:
        assert result.returncode != 0 and posts == []
        assert "pre-flight refused: could not read" in result.stdout, result.stdout[-3000:]
