"""The collection under every unsettled behaviour of VergeOS: each simulator switch value on its own, then all at their worst.

One playbook run per case exercises what the switches touch (listing, tags, stop and start,
restarts in each method, a snapshot, a start without resources, a 404) with its checks in
the play itself, plus an inventory run that pages 3 VMs at a time; the request log then
shows that nothing was sent twice: each power action (per VM and action, the refused spellings
of a reboot included) and the snapshot once, and no login failed. The switches and their values are the simulator's
(tests/simulator/README.md, "Switches"); the adverse world takes its values from the
simulator's own bundle, scenarios/switches.json, so the two cannot drift apart.
"""

import json
import os
import sys
from collections import Counter

import pytest
import yaml

from run_ansible import ROOT, plain, run, sim_env

SPEED = 100
VMS = [
    {"name": "web-01", "key": 11, "power": "running", "tags": ["web"]},
    {"name": "web-02", "key": 12, "power": "running", "tags": ["web"]},
    {"name": "web-03", "key": 13, "power": "running", "tags": ["web"]},
    {"name": "db-01", "key": 21, "power": "running", "tags": ["db"]},
    {"name": "db-02", "key": 22, "power": "stopped", "tags": ["db"]},
    {"name": "app-01", "key": 31, "power": "running", "guest_agent": True},
    {"name": "app-02", "key": 32, "power": "running"},
    {"name": "big-01", "key": 41, "power": "stopped", "guest": {"start": "no_resources"}},
]
ADVERSE = json.loads(open(os.path.join(ROOT, "tests", "simulator", "scenarios", "switches.json"), encoding="utf-8").read())["switches"]

# (case id, switches, what the restart in the guest method gives: 'asked' or 'refused', how a start without resources ends:
# 'ignored' (the simulator's default, as recorded), 'refused', 'queued' or 'gave_up')
CASES = [
    ("defaults", {}, "asked", "ignored"),
    ("sort_key_reject", {"sort_key": "reject"}, "asked", "ignored"),
    ("sort_key_ignore", {"sort_key": "ignore"}, "asked", "ignored"),
    ("member_bw_reject", {"member_bw": "reject"}, "asked", "ignored"),
    ("key_type_string", {"key_type": "string"}, "asked", "ignored"),
    ("key_type_mixed", {"key_type": "mixed"}, "asked", "ignored"),
    ("error_body_flag", {"error_body": "flag"}, "asked", "ignored"),
    ("error_body_nested", {"error_body": "nested"}, "asked", "ignored"),
    ("reboot_guestreset", {"reboot_actions": ["guestreset"]}, "asked", "ignored"),
    ("reboot_guestreboot", {"reboot_actions": ["guestreboot"]}, "asked", "ignored"),
    ("reboot_none", {"reboot_actions": []}, "refused", "ignored"),
    ("graceful_ignored", {"graceful": "ignored"}, "asked", "ignored"),
    ("no_resources_refuse", {"no_resources": "refuse"}, "asked", "refused"),
    ("no_resources_queue", {"no_resources": "queue"}, "asked", "queued"),
    ("snapshot_late", {"snapshot_visible_after": 200}, "asked", "ignored"),
    ("default_fields_short", {"default_fields": "short"}, "asked", "ignored"),
    ("traversed_filters_reject", {"traversed_filters": "reject"}, "asked", "ignored"),
    ("redundant_422", {"redundant_action": 422}, "asked", "ignored"),
    ("adverse", ADVERSE, "asked", "gave_up"),
]


def world(switches):
    return {"speed": SPEED, "seed": 14, "timings": {"boot": 20, "shutdown": 20, "kill": 3}, "switches": switches,
            "tag_categories": [{"name": "role"}], "tags": [{"name": "web", "category": "role"}, {"name": "db", "category": "role"}],
            "vms": VMS}


def exercise(restart, no_resources):
    """The play: every check is an assert in it, so a wrong answer fails the run with the task's name."""
    fast = {"poll_interval": 0.2, "wait_timeout": 60}
    tasks = [
        {"name": "List every VM", "vergeos.power.vergeos_vm_info": {}, "register": "every"},
        {"name": "Select by tag", "vergeos.power.vergeos_vm_info": {"filters": {"tags": ["web"]}, "include_tags": True}, "register": "web"},
        {"name": "Each VM once, keys as numbers, tags read", "ansible.builtin.assert": {"that": [
            "every.vms | map(attribute='name') | sort == %s" % json.dumps(sorted(vm["name"] for vm in VMS)),
            "every.vms | map(attribute='id') | select('integer') | unique | list | length == %d" % len(VMS),
            "web.vms | map(attribute='name') | sort == ['web-01', 'web-02', 'web-03']",
            "web.vms | map(attribute='tags') | unique | list == [['web']]"]}},
        {"name": "Stop two", "vergeos.power.vergeos_vm_power": dict(fast, names=["web-02", "db-01"], state="stopped"), "register": "stop"},
        {"name": "Start them again", "vergeos.power.vergeos_vm_power": dict(fast, names=["web-02", "db-01"], state="running"),
         "register": "start"},
        {"name": "Stopped and started", "ansible.builtin.assert": {"that": [
            "stop.changed and stop.vms | map(attribute='power_state') | unique | list == ['stopped']",
            "start.changed and start.vms | map(attribute='power_state') | unique | list == ['running']"]}},
        {"name": "Restart as a guest reboot", "vergeos.power.vergeos_vm_power": dict(fast, name="app-01", state="restarted"),
         "register": "guest", "ignore_errors": True},
        {"name": "Restart by a power cycle", "register": "cycle",
         "vergeos.power.vergeos_vm_power": dict(fast, name="app-02", state="restarted", restart_method="power_cycle")},
        {"name": "A guest reboot is only ever said to be asked for; a power cycle is seen", "ansible.builtin.assert": {"that": [
            ("not guest.failed and 'a graceful reboot was asked for' in guest.msg and 'nothing that tells' in guest.msg"
             if restart == "asked" else "guest.failed and 'no spelling of a graceful reboot was accepted' in guest.msg"),
            "cycle.vms[0].actions == ['poweroff', 'poweron'] and cycle.vms[0].power_state == 'running'"]}},
        {"name": "Snapshot", "vergeos.power.vergeos_vm_snapshot": {"name": "web-03", "snapshot_name": "s1", "expires": 3600},
         "register": "snap"},
        {"name": "A start without resources", "vergeos.power.vergeos_vm_power": dict(fast, name="big-01", state="running", wait_timeout=2),
         "register": "big", "ignore_errors": True},
        {"name": "Withdraw it", "vergeos.power.vergeos_vm_power": dict(fast, name="big-01", state="stopped", force=True)},
        {"name": "Refused or queued, in the server's words", "ansible.builtin.assert": {"that": [
            "big.failed and 'True' not in big.msg",
            {"ignored": "'never showed starting' in big.msg and 'Insufficient cluster resources' in big.msg",
             "refused": "'HTTP 507: Insufficient cluster resources' in big.msg",
             "queued": "'VergeOS queued the start' in big.msg and 'Insufficient cluster resources' in big.msg",
             # The bundle's queue_timeout (120 s at speed 100) ends before the task's deadline: VergeOS gives up first.
             "gave_up": "'Gave up waiting for resources' in big.msg"}[no_resources]]}},
        {"name": "A VM that does not exist", "vergeos.power.vergeos_vm_info": {"id": 999}, "register": "missing", "ignore_errors": True},
        {"name": "Named as missing", "ansible.builtin.assert": {"that": ["missing.failed and 'no VM has id 999' in missing.msg"]}},
    ]
    return [{"name": "Exercise", "hosts": "localhost", "gather_facts": False, "vars": {"ansible_python_interpreter": sys.executable},
             "tasks": tasks}]


def inventory_source(sim, tmp_path):
    path = tmp_path / "paged.vergeos.yml"
    path.write_text(yaml.safe_dump({"plugin": "vergeos.power.vergeos", "host": sim.host, "username": "admin", "password": "admin",
                                    "ca_path": sim.ca, "page_size": 3, "want_tags": True, "keyed_groups": []}))
    return str(path)


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_the_collection_copes_with_the_switch(sim, tmp_path, case):
    _name, switches, restart, no_resources = case
    sim.load(world(switches))
    sim.clear_requests()
    try:
        play = tmp_path / "play.yml"
        play.write_text(yaml.safe_dump(exercise(restart, no_resources), sort_keys=False))
        result = run("ansible-playbook", str(play), env=sim_env(sim))
        assert result.returncode == 0, result.stdout[-4000:]
        listed = run("ansible-inventory", "-i", inventory_source(sim, tmp_path), "--list", env=sim_env(sim))
        assert listed.returncode == 0, listed.stderr[-3000:]
        hosts = plain(json.loads(listed.stdout))["_meta"]["hostvars"]
        assert sorted(hosts) == sorted(vm["name"] for vm in VMS)
        assert hosts["web-01"]["vergeos_tags"] == ["web"]
        log = sim.requests()
    finally:
        sim.reset()
    snapshots = [entry for entry in log if entry["method"] == "POST" and entry["path"] == "/api/v4/machine_snapshots"]
    assert len(snapshots) == 1, "the snapshot was taken %d times" % len(snapshots)
    # Every power action the play asked for was sent, and none twice: per VM and action (accepted or refused).
    sent = Counter((int(entry["body"]["vm"]), entry["body"]["action"]) for entry in log
                   if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions")
    assert {pair: count for pair, count in sent.items() if count > 1} == {}, sorted(sent.items())
    assert {(12, "poweroff"), (21, "poweroff"), (12, "poweron"), (21, "poweron"), (32, "poweroff"), (32, "poweron"),
            (41, "poweron")} <= set(sent), sorted(sent)
    failed_logins = [entry for entry in log if entry["status"] == 401]
    assert failed_logins == []


def test_a_wrong_password_over_many_hosts_fails_one_login_and_locks_nothing(sim, tmp_path):
    """Six hosts, six forks, one mistyped password, an account that locks after three failures: one failed login in all."""
    sim.load(dict(world({"lockout_after": 3}), users=[{"name": "admin", "password": "admin"}]))
    hosts = {vm["name"]: {"vergeos_id": vm["key"], "vergeos_url": "https://" + sim.host} for vm in VMS[:6]}
    inventory = tmp_path / "hosts.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": local}}))
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{"name": "Read each host's VM", "hosts": "all", "gather_facts": False,
                                     "tasks": [{"name": "Read", "vergeos.power.vergeos_vm_info": {}}]}]))
    try:
        result = run("ansible-playbook", "-f", "6", "-i", str(inventory), str(play), env=sim_env(sim, password="typo"))
        logins = sim.api("GET", "/_sim/logins", auth=None).json()
        again = run("ansible-playbook", "-i", str(inventory), str(play), env=sim_env(sim))
    finally:
        sim.reset()
    assert result.returncode != 0
    assert logins["failed"] == 1 and not logins["users"]["admin"]["locked"], logins
    fatal = [line for line in result.stdout.splitlines() if line.startswith("fatal:")]
    assert len(fatal) == 6 and len([line for line in fatal if "already failed to log in with these credentials" in line]) == 5, fatal
    # The account still works: the right password in a later run.
    assert again.returncode == 0, again.stdout[-3000:]
