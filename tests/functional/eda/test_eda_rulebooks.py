"""The shipped rulebooks, run by the real ansible-rulebook against the simulator, judged by the request log.

The VMs are stopped behind the rulebook's back, through the simulator's API as another client
would, or by the safe_shutdown role's maintenance (which opens its record before it stops).
"""

import base64
import json
import os
import subprocess

import yaml

from eda_helpers import INVENTORY, Rulebook, actions, listing_starts, printed_events, wait_for
from run_ansible import base_env, BIN, ROOT, run, sim_env

RECORD = "eda-e2e"
# The rulebook's user, with a password to look for in its output (the maintenance playbook runs as admin).
USER, PASSWORD = "eda", "Eda-S3cret-pw"
OPT_IN = "autorestart"
# Seconds for the rulebook to start (Java, ansible-galaxy) and make its first read.
START_TIMEOUT = 60


def world(*vms):
    return {
        "speed": 100,
        "users": [{"name": "admin", "password": "admin"}, {"name": USER, "password": PASSWORD}],
        "tag_categories": [{"name": "policy"}],
        "tags": [{"name": OPT_IN, "category": "policy"}],
        "vms": list(vms),
    }


def vm(key, name, **extra):
    return dict({"key": key, "name": name, "power": "running"}, **extra)


def start(command, *args, env):
    """Start an ansible command of the virtualenv in the background, as run_ansible.run would run it."""
    return subprocess.Popen([os.path.join(BIN, command), *args], env=base_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL)


def power_off(sim, vm_id):
    """Stop a VM gracefully behind the rulebook's back, as another client of the system would."""
    answer = sim.api("POST", "/api/v4/vm_actions", json={"vm": vm_id, "action": "poweroff"})
    assert answer.status_code == 201, answer.text


def status_of(sim, vm_id):
    rows = sim.api("GET", "/api/v4/vms", params={"fields": "$key,machine#status#status as status", "filter": "$key eq %d" % vm_id}).json()
    return rows[0]["status"]


def polled(sim, count=1):
    """Wait until the rulebook's source made ``count`` more listings; return the log."""
    before = len(listing_starts(sim.requests()))
    return wait_for(lambda: len(listing_starts(sim.requests())) >= before + count and sim.requests(), START_TIMEOUT,
                    "%d more VM listing(s) by the event source" % count)


def stopped_events(output):
    """Return {VM id: the event of its change to stopped} among the events the rulebook received."""
    return {event["vm"]["id"]: event for event in printed_events(output)
            if event["type"] == "changed" and event["vm"]["power_state"] == "stopped"}


def assert_clean(output):
    assert "Traceback" not in output, output
    for secret in (PASSWORD, base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()):
        assert secret not in output, "a secret is in the rulebook's output"


def test_restart_rulebook_powers_on_only_an_opted_in_vm_that_stopped_outside_a_maintenance(sim, rulebook):
    sim.load(world(
        vm(41, "eda-optin", tags=[OPT_IN]),
        vm(42, "eda-plain"),
        vm(43, "eda-maintained", tags=[OPT_IN]),
    ))
    sim.clear_requests()
    maintenance = None
    try:
        book = rulebook("restart_stopped_vms", {"vergeos_eda_opt_in_tag": OPT_IN, "vergeos_eda_interval": 0.5,
                                                "vergeos_eda_start_timeout": 30}, username=USER, password=PASSWORD)
        wait_for(lambda: listing_starts(sim.requests()), START_TIMEOUT, lambda: "the event source's first read:\n" + book.output())

        # At once, behind the rulebook's back: the maintenance round trip's first half (the role opens its record with
        # eda-maintained, then stops it), and two VMs stopped when nobody asked, one opted in and one not.
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"ansible.builtin.include_role": {"name": "vergeos.power.safe_shutdown"},
                 "vars": {"safe_shutdown_targets": ["eda-maintained"], "safe_shutdown_record": RECORD, "safe_shutdown_timeout": 30,
                          "safe_shutdown_poll_interval": 0.2}}]}]
        playbook = book.output_path.parent / "maintenance.yml"
        playbook.write_text(json.dumps(play))
        maintenance = start("ansible-playbook", str(playbook), env=sim_env(sim))
        power_off(sim, 41)
        power_off(sim, 42)
        wait_for(lambda: actions(sim.requests(), "poweron"), 60, lambda: "a power-on by the rulebook's playbook:\n" + book.output())
        wait_for(lambda: status_of(sim, 41) == "running", 30, "eda-optin running again")
        stopped = maintenance.communicate(timeout=120)
        assert maintenance.returncode == 0, stopped
        assert status_of(sim, 43) == "stopped"
        # The rulebook received the stop of every one of them (each VM's change to stopped), and four more reads went by.
        wait_for(lambda: stopped_events(book.output()).keys() == {41, 42, 43}, 30, lambda: "the three stops as events:\n" + book.output())
        polled(sim, 4)
        output = book.stop()
    finally:
        if maintenance is not None and maintenance.poll() is None:
            maintenance.kill()
            maintenance.communicate()
        log = sim.requests()
        sim.reset()

    stops = stopped_events(output)
    # What the source said: the maintained VM under its record, the plain one without the tag, the opted-in one free to go.
    assert (stops[41]["vm"]["tags"], stops[41]["vm"]["under_maintenance"]) == ([OPT_IN], False)
    assert (stops[42]["vm"]["tags"], stops[42]["vm"]["under_maintenance"]) == ([], False)
    assert (stops[43]["vm"]["tags"], stops[43]["vm"]["under_maintenance"], stops[43]["vm"]["maintenance_records"]) == (
        sorted([OPT_IN, RECORD]), True, [RECORD])
    # The rule fired once: one playbook run, for eda-optin, which powered it on; the request log has that one power-on.
    assert output.count("PLAY [Power on again a VM that stopped on its own]") == 1, output
    assert "is not powered on" not in output, output
    assert actions(log, "poweron") == [(41, "poweron")], output
    assert sorted(actions(log)) == [(41, "poweroff"), (41, "poweron"), (42, "poweroff"), (43, "poweroff")], output
    # The record was open (and held eda-maintained) when the source read it; the role wrote it before its stop.
    record_writes = [entry for entry in log if entry["method"] == "POST" and entry["path"] == "/api/v4/tag_members"]
    assert [entry["body"]["member"] for entry in record_writes] == ["vms/43"]
    assert_clean(output)


def test_report_rulebook_reports_a_stuck_vm_once_not_once_per_poll(sim, rulebook, tmp_path):
    report = tmp_path / "stuck.jsonl"
    sim.load(world(
        vm(51, "eda-stuck", guest={"acpi": "ignore", "acpi_pending_status": "stopping"}),
        vm(52, "eda-quick"),
    ))
    sim.clear_requests()
    try:
        book = rulebook("report_stuck_vms", {"vergeos_eda_stuck_after": 1.5, "vergeos_eda_interval": 0.3,
                                             "vergeos_eda_report_file": str(report)}, username=USER, password=PASSWORD)
        wait_for(lambda: listing_starts(sim.requests()), START_TIMEOUT, lambda: "the event source's first read:\n" + book.output())
        # A guest that ignores ACPI stays "stopping" for ever; a well-behaved one is stopped within 0.6 s (under stuck_after).
        power_off(sim, 51)
        power_off(sim, 52)
        wait_for(lambda: report.exists() and report.read_text().strip(), 60, lambda: "a report of the stuck VM:\n" + book.output())
        # Still one report, one stuck event, after six more reads of a VM still stopping.
        stuck_at = next(event["timestamp"] for event in printed_events(book.output()) if event["type"] == "stuck")
        wait_for(lambda: len([entry for entry in listing_starts(sim.requests()) if entry["time"] > stuck_at]) >= 6, 30,
                 "six reads after the stuck event")
        output = book.stop()
    finally:
        log = sim.requests()
        sim.reset()

    events = printed_events(output)
    # ONE stuck event, though the VM stayed stopping for many reads after it; the quick one was never stuck.
    assert [(event["type"], event["vm"]["id"]) for event in events if event["type"] == "stuck"] == [("stuck", 51)], events
    changes = {vm_id: [event["vm"]["power_state"] for event in events if event["type"] == "changed" and event["vm"]["id"] == vm_id]
               for vm_id in (51, 52)}
    assert changes[51] == ["stopping"] and changes[52][-1:] == ["stopped"], changes
    lines = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    assert [(line["id"], line["name"], line["power_state"], line["power_state_now"]) for line in lines] == [(51, "eda-stuck", "stopping", "stopping")]
    assert lines[0]["in_state_for"] >= 1.5
    assert output.count("TASK [Show the report]") == 1, output
    # The rulebook's source read nothing but the listing: no tags, no records asked for.
    assert {entry["path"] for entry in log if entry["method"] == "GET"} <= {"/api/v4/vms"}, sorted({entry["path"] for entry in log})
    assert_clean(output)


def rulebook_file(name):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    with open(os.path.join(root, "extensions", "eda", "rulebooks", name + ".yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_restart_rulebook_without_an_opt_in_tag_refuses_to_start_and_touches_no_vm(sim, rulebook):
    """No tag named, no restart: the condition reads the variable without a default, so the real ansible-rulebook, started
    without vergeos_eda_opt_in_tag, stops at once ("vars does not contain key: vergeos_eda_opt_in_tag"): no playbook runs and
    nothing is written (the source may have read once before the rule engine stopped: ansible-rulebook starts its sources
    beside the rules, and on a loaded machine a first poll can come first), so no VM is powered on."""
    (ruleset,) = rulebook_file("restart_stopped_vms")
    (rule,) = ruleset["rules"]
    assert "event.vergeos_power.vm.tags contains vars.vergeos_eda_opt_in_tag" in rule["condition"]
    assert "event.vergeos_power.vm.under_maintenance == false" in rule["condition"]
    assert rule["action"]["run_playbook"]["extra_vars"]["eda_opt_in_tag"] == "{{ vergeos_eda_opt_in_tag }}"
    (source,) = ruleset["sources"]
    assert source["vergeos.power.vm_power_events"]["include_tags"] is True
    assert source["vergeos.power.vm_power_events"]["include_maintenance"] is True

    sim.load(world(vm(71, "eda-stopped-optin", power="stopped", tags=[OPT_IN])))
    sim.clear_requests()
    try:
        book = rulebook("restart_stopped_vms", {"vergeos_eda_interval": 0.5}, username=USER, password=PASSWORD)
        returncode = book.process.wait(START_TIMEOUT)
        output = book.output()
        log = sim.requests()
    finally:
        sim.reset()

    assert returncode != 0, output
    assert "vars does not contain key: vergeos_eda_opt_in_tag" in output, output
    assert [entry for entry in log if entry["method"] != "GET"] == [], log
    assert "PLAY [" not in output, output


def test_the_rulebooks_launch_playbooks_of_the_collection():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    for name, playbook in (("restart_stopped_vms", "eda_restart_vm"), ("report_stuck_vms", "eda_report_stuck")):
        (ruleset,) = rulebook_file(name)
        assert [rule["action"]["run_playbook"]["name"] for rule in ruleset["rules"]] == ["vergeos.power." + playbook]
        assert os.path.exists(os.path.join(root, "playbooks", playbook + ".yml"))


def test_the_source_runs_from_a_collection_installed_by_ansible_galaxy_with_only_its_path_set(sim, java, tmp_path):
    """ansible-rulebook runs the source by its file path (runpy) and puts nothing on sys.path: from a copy installed with
    `ansible-galaxy collection install -p DIR` and ANSIBLE_COLLECTIONS_PATH=DIR alone (no PYTHONPATH), the source still imports
    the collection's module_utils from DIR, reads, and gives its events."""
    sim.load(world(vm(61, "eda-installed-a"), vm(62, "eda-installed-b", power="stopped")))
    built, installed = tmp_path / "built", tmp_path / "installed"
    result = run("ansible-galaxy", "collection", "build", "--output-path", str(built), ROOT, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    (tarball,) = built.glob("*.tar.gz")
    result = run("ansible-galaxy", "collection", "install", str(tarball), "-p", str(installed), cwd=str(tmp_path),
                 env={"ANSIBLE_COLLECTIONS_PATH": str(installed)})
    assert result.returncode == 0, result.stdout + result.stderr
    env = {name: value for name, value in base_env(sim_env(sim, username=USER, password=PASSWORD)).items() if name != "PYTHONPATH"}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(installed)
    listed = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "list", "vergeos.power", "--format", "json"], env=env,
                            capture_output=True, text=True, check=True, timeout=120)
    # The only vergeos.power ansible-rulebook can find is the installed copy (the checkout is not on this path).
    assert list(json.loads(listed.stdout)) == [str(installed / "ansible_collections")], listed.stdout
    rules = [{"name": "Installed source", "hosts": "localhost",
              "sources": [{"vergeos.power.vm_power_events": {"baseline": True, "interval": 0.5}}],
              "rules": [{"name": "Every baseline", "condition": 'event.vergeos_power.type == "baseline"', "action": {"none": {}}}]}]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(INVENTORY))
    sim.clear_requests()
    with open(tmp_path / "rulebook.out", "w", encoding="utf-8") as handle:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [os.path.join(BIN, "ansible-rulebook"), "-r", str(tmp_path / "rules.yml"), "-i", str(tmp_path / "inventory.yml"), "--print-events"],
            cwd=str(tmp_path), env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    book = Rulebook(process, tmp_path / "rulebook.out")
    try:
        wait_for(lambda: len(printed_events(book.output())) >= 2 or process.poll() is not None, START_TIMEOUT,
                 lambda: "the baseline events:\n" + book.output())
        output = book.stop()
    finally:
        book.stop()
        log = sim.requests()
        sim.reset()

    assert "source_failed" not in output and "cannot be imported" not in output, output
    events = printed_events(output)
    assert [(event["type"], event["vm"]["id"], event["vm"]["power_state"]) for event in events[:2]] == [
        ("baseline", 61, "running"), ("baseline", 62, "stopped")], output
    assert listing_starts([entry for entry in log if entry["user"] == USER]), "no listing by the installed source"
    assert_clean(output)
