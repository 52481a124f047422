"""The rolling_restart role through real playbooks, judged by the simulator's request log and its health log.

Each VM of a world has its own loopback address with one port number shared by all (the role's
gate takes one port, or one URL template), so the simulator answers every gate per VM and logs
each answer with the world's time, which orders it against the restart requests of the log.
"""

import json
import os
import socket
import subprocess
import sys
import time

import pytest
import yaml

from run_ansible import BIN, ROOT, base_env, kill_tree, run, sim_env

PLAYBOOK = os.path.join(ROOT, "playbooks", "rolling_restart.yml")
ACTIONS = "/api/v4/vm_actions"
POWER = ("poweron", "poweroff", "kill", "reset", "guestreset", "guestreboot")
# speed 100: a guest reboot takes 0.3 s, a boot 0.2 s, a shutdown 0.2 s.
TIMINGS = {"reboot": 30, "boot": 20, "shutdown": 20}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def web_world(count, net, port, stopped=(), **guest):
    """``count`` running VMs web01..., each listening on 127.<net>.0.<n>:<port>; the names in ``stopped`` are off."""
    vms = []
    for number in range(1, count + 1):
        name = "web%02d" % number
        entry = {"key": number, "name": name, "power": "stopped" if name in stopped else "running",
                 "port": {"host": "127.%d.0.%d" % (net, number), "port": port}}
        if guest.get(name):
            entry["guest"] = guest[name]
        vms.append(entry)
    return {"speed": 100, "timings": TIMINGS, "vms": vms}


def power_actions(log):
    """Return [(time, VM key, action)] of every power action sent, in order."""
    return [(entry["time"], int(entry["body"]["vm"]), entry["body"]["action"]) for entry in log
            if entry["method"] == "POST" and entry["path"] == ACTIONS and entry["body"]["action"] in POWER]


def health_log(sim):
    return sim.api("GET", "/_sim/health-log", auth=None).json()


def record_tags(sim, name):
    """Return the names of the tags of the record ``name`` (the record's own and its sets), sorted."""
    tags = sim.api("GET", "/api/v4/tags", params={"fields": "name"}).json()
    return sorted(tag["name"] for tag in tags if tag["name"] == name or tag["name"].startswith(name + "+"))


def record_sets(sim, name):
    """Return {tag name: [VM keys]} of the record ``name`` and its sets, as another client reads them."""
    tags = {tag["$key"]: tag["name"] for tag in sim.api("GET", "/api/v4/tags", params={"fields": "$key,name"}).json()
            if tag["name"] == name or tag["name"].startswith(name + "+")}
    members = sim.api("GET", "/api/v4/tag_members", params={"fields": "tag,member"}).json()
    return {tag_name: sorted(int(str(row["member"]).rsplit("/", 1)[1]) for row in members if row["tag"] == key and "vms/" in str(row["member"]))
            for key, tag_name in tags.items()}


def role_play(tmp_path, variables, keep, check=False):
    """A play that runs the role in a block, then writes rolling_restart_result and the failure's message to ``keep``."""
    path = tmp_path / "rolling.yml"
    tasks = [{"name": "Restart", "block": [{"ansible.builtin.include_role": {"name": "vergeos.power.rolling_restart"}}],
              "rescue": [{"ansible.builtin.set_fact": {"failure": "{{ [ansible_failed_result.msg | default('')] | flatten | join(' ') }}"}}],
              "always": [{"ansible.builtin.copy": {
                  "content": "{{ {'result': rolling_restart_result | default(none), 'failure': failure | default(none)} | to_json }}",
                  "dest": str(keep), "mode": "0600"}, "check_mode": False}]}]
    play = {"name": "Rolling restart", "hosts": "localhost", "gather_facts": False,
            "vars": dict({"ansible_python_interpreter": sys.executable, "rolling_restart_poll_interval": 0.2}, **variables), "tasks": tasks}
    if check:
        play["check_mode"] = True
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return str(path)


@pytest.fixture
def load(sim):
    def loader(scenario):
        sim.load(scenario)
        sim.clear_requests()
        sim.api("DELETE", "/_sim/health-log", auth=None)
    yield loader
    sim.reset()


def test_thirty_vms_in_batches_of_five_each_batch_healthy_before_the_next(sim, load, tmp_path):
    port = free_port()
    load(web_world(31, 41, port, stopped=("web31",)))
    keep = tmp_path / "kept.json"
    variables = {"rolling_restart_filters": {"name_regex": "^web"}, "rolling_restart_batch": 5, "rolling_restart_up": "port",
                 "rolling_restart_port": port, "rolling_restart_gate_timeout": 20, "rolling_restart_record": "patch-web"}
    result = run("ansible-playbook", role_play(tmp_path, variables, keep), env=sim_env(sim))
    log, answers = sim.requests(), health_log(sim)
    kept = json.loads(keep.read_text())
    assert result.returncode == 0 and kept["failure"] is None, result.stdout[-3000:]
    sent = power_actions(log)
    # Every running VM restarted exactly once (a graceful guest reboot), the stopped one never touched.
    assert sorted(key for _time, key, _action in sent) == list(range(1, 31)), sent
    assert {action for _time, _key, action in sent} == {"reset"}
    batches = [[vm["id"] for vm in batch["vms"]] for batch in kept["result"]["batches"]]
    assert [len(batch) for batch in batches] == [5] * 6
    restart_at = {key: time for time, key, _action in sent}
    for index in range(5):
        # Each VM of batch k answered its gate after its restart, and before the first restart of batch k+1 went out.
        following = min(restart_at[key] for key in batches[index + 1])
        for key in batches[index]:
            healthy = [entry["time"] for entry in answers if entry["vm_key"] == key and entry["time"] > restart_at[key]]
            assert healthy and min(healthy) < following, (index, key)
    assert kept["result"]["skipped"] == ["web31"] and "a rollout never starts a VM" in result.stdout
    assert kept["result"]["restarted"] == ["web%02d" % number for number in range(1, 31)]
    # The record was closed at the end: of its tags only its closing mark is left.
    assert record_tags(sim, "patch-web") == ["patch-web+closed"]


def test_survey_strings_a_url_gate_hooks_and_the_failure_budget(sim, load, tmp_path):
    """AWX survey answers (text): batch "20%", max_failed "1", the status "200". Batch 2 comes back unhealthy: the rollout stops.

    The before- and after-batch hooks log each batch they see, so the log shows they ran for the batches reached and no other.
    """
    port = free_port()
    unhealthy = {"after_restart": "unhealthy"}
    load(web_world(10, 42, port, web03=unhealthy, web04=unhealthy))
    survey = {"rolling_restart_targets": "\r\n".join("web%02d" % number for number in range(1, 11)), "rolling_restart_batch": "20%",
              "rolling_restart_max_failed": "1", "rolling_restart_up": "url", "rolling_restart_url": "http://{address}:%d/health" % port,
              "rolling_restart_url_status": "200", "rolling_restart_gate_timeout": "2", "rolling_restart_poll_interval": "0.2",
              "rolling_restart_record": "web-patch"}
    hooks = tmp_path / "hooks.log"
    for when, names in (("before", "{{ rolling_restart_batch_vms | map(attribute='name') | join(',') }}"),
                        ("after", "{{ rolling_restart_batch_vms | map(attribute='name') | zip(rolling_restart_batch_vms "
                                  "| map(attribute='outcome')) | map('join', ':') | join(',') }}")):
        (tmp_path / ("%s.yml" % when)).write_text(yaml.safe_dump([{"name": "Hook", "delegate_to": "localhost", "ansible.builtin.lineinfile": {
            "path": str(hooks), "create": True, "mode": "0600", "line": "%s {{ rolling_restart_batch_index }} %s" % (when, names)}}]))
        survey["rolling_restart_%s_batch_tasks" % when] = str(tmp_path / ("%s.yml" % when))
    result = run("ansible-playbook", PLAYBOOK, "-e", json.dumps(survey), env=dict(sim_env(sim), ANSIBLE_SHOW_CUSTOM_STATS="true"))
    log, answers = sim.requests(), health_log(sim)
    assert result.returncode != 0, result.stdout[-3000:]
    sent = power_actions(log)
    # Batches of 2; the second one fails both its gates (HTTP 503), which spends the budget of 1: nothing later is touched.
    assert sorted(key for _time, key, _action in sent) == [1, 2, 3, 4], sent
    assert {(entry["vm_key"], entry["status"]) for entry in answers if entry["kind"] == "http"} >= {(1, 200), (2, 200), (3, 503), (4, 503)}
    shown = " ".join(result.stdout.split())
    assert "STOPPED: the failure budget (1) was reached after batch 2; not reached: web05, web06, web07, web08, web09, web10" in shown, shown[-3000:]
    assert "web03 (id 3): failed: unhealthy: no answer within 2s" in shown and "answers 503, not 200" in shown
    assert '"not_reached": [ "web05", "web06", "web07", "web08", "web09", "web10" ]' in shown
    assert "2 VM(s) failed, so the rollout stopped (failure budget 1)" in shown
    # The hooks ran before and after each batch reached, with its VMs (after: with their outcome), and for no other batch.
    assert hooks.read_text().splitlines() == ["before 1 web01,web02", "after 1 web01:restarted,web02:restarted",
                                              "before 2 web03,web04", "after 2 web03:failed,web04:failed"]
    # The record stays open for a relaunch: the two done, the two failed, none in flight.
    assert record_sets(sim, "web-patch") == {"web-patch": list(range(1, 11)), "web-patch+done": [1, 2], "web-patch+failed": [3, 4],
                                             "web-patch+restarting": []}


def test_bad_survey_answers_are_refused_before_any_write_each_named(sim, load):
    load(web_world(2, 43, free_port()))
    bad = {"rolling_restart_targets": ["web01", "web02"], "rolling_restart_batch": "0", "rolling_restart_max_failed": "some",
           "rolling_restart_up": "url", "rolling_restart_url_status": "OK", "rolling_restart_pause": "-1"}
    result = run("ansible-playbook", PLAYBOOK, "-e", json.dumps(bad), env=sim_env(sim))
    shown = " ".join(result.stdout.split())
    assert result.returncode != 0
    for words in ("rolling_restart_batch must be a number of VMs (1 or more), a percentage", "rolling_restart_max_failed must be a number",
                  "rolling_restart_up is url, so it needs rolling_restart_url",
                  "rolling_restart_url_status must be an HTTP status", "rolling_restart_pause must be a number of seconds"):
        assert words in shown, (words, shown[-3000:])
    assert [entry for entry in sim.requests() if entry["method"] != "GET"] == []


def test_check_mode_prints_the_plan_of_inventory_hosts_in_tiers_and_sends_nothing(sim, load, tmp_path):
    """The inventory-host form: the play's hosts, in tiers by safe_startup_tier (as safe_startup reads it), each cut into batches."""
    port = free_port()
    load(web_world(5, 44, port, stopped=("web05",)))
    inventory = tmp_path / "hosts.yml"
    hosts = {"web%02d" % key: {"vergeos_id": key, "safe_startup_tier": 1 if key == 1 else 2} for key in range(1, 6)}
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": local}}))
    keep = tmp_path / "kept.json"
    path = tmp_path / "hosts-play.yml"
    path.write_text(yaml.safe_dump([{
        "name": "Rolling restart of the hosts", "hosts": "all", "gather_facts": False,
        "vars": {"rolling_restart_batch": [1, "50%"], "rolling_restart_up": "port", "rolling_restart_port": port},
        "tasks": [{"ansible.builtin.include_role": {"name": "vergeos.power.rolling_restart"}},
                  {"ansible.builtin.copy": {"content": "{{ rolling_restart_result | to_json }}", "dest": str(keep), "mode": "0600"},
                   "delegate_to": "localhost", "run_once": True, "check_mode": False}]}], sort_keys=False))
    result = run("ansible-playbook", "-i", str(inventory), "--check", str(path), env=sim_env(sim))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert [entry for entry in sim.requests() if entry["method"] != "GET"] == []
    kept = json.loads(keep.read_text())
    # Tier 1 (web01), then tier 2: a canary of one, then half of its three running VMs (one) at a time.
    assert [(batch["tier"], batch["planned"]) for batch in kept["batches"]] == [
        ("tier 1", ["web01"]), ("tier 2", ["web02"]), ("tier 2", ["web03"]), ("tier 2", ["web04"])]
    assert kept["summary"][0] == "rolling_restart (check mode, nothing sent): 5 VM(s) in 4 batch(es): 4 planned, 1 skipped"
    assert "skipped web05 (id 5): stopped, not running: a rollout never starts a VM" in " ".join(kept["summary"])


def test_a_job_killed_mid_batch_and_relaunched_restarts_no_vm_twice(sim, load):
    """Killed once batch 2's restarts are out: done VMs are left alone, the in-flight ones checked first, the rest restarted once.

    web04 reboots unseen (its started time does not change), so the relaunch cannot prove its reboot: it is checked and
    reported unconfirmed, not restarted again. web03's reboot changed its started time: restarted, checked.
    """
    port = free_port()
    world = web_world(6, 45, port, web04={"graceful_reboot": "invisible"})
    world["timings"] = dict(TIMINGS, reboot=100)
    load(world)
    options = ["-e", json.dumps({"rolling_restart_targets": ["web%02d" % number for number in range(1, 7)], "rolling_restart_batch": 2,
                                 "rolling_restart_up": "port", "rolling_restart_port": port, "rolling_restart_gate_timeout": 20,
                                 "rolling_restart_poll_interval": 0.2, "rolling_restart_record": "killed"})]
    process = subprocess.Popen([os.path.join(BIN, "ansible-playbook"), PLAYBOOK, *options], env=base_env(sim_env(sim)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(power_actions(sim.requests())) < 4:
            assert process.poll() is None and time.monotonic() < deadline, "the first run never sent batch 2's restarts"
            time.sleep(0.05)
    finally:
        kill_tree(process)
    killed_at = max(entry["time"] for entry in sim.requests())
    assert record_sets(sim, "killed")["killed+restarting"] == [3, 4]
    again = run("ansible-playbook", PLAYBOOK, *options, env=sim_env(sim))
    log, answers = sim.requests(), health_log(sim)
    assert again.returncode == 0, again.stdout[-3000:]
    sent = power_actions(log)
    assert sorted(key for _time, key, _action in sent) == [1, 2, 3, 4, 5, 6], sent
    # The in-flight VMs answered their checks in the relaunch before its first restart (batch 3) went out.
    relaunch_restarts = min(time for time, key, _action in sent if key in (5, 6))
    for key in (3, 4):
        assert [entry for entry in answers if entry["vm_key"] == key and killed_at < entry["time"] < relaunch_restarts], key
    shown = " ".join(again.stdout.split())
    assert "relaunch of the open rollout killed: 2 VM(s) done before, left alone" in shown, shown[-3000:]
    assert "web04 (id 4): unconfirmed: healthy" in shown and "cannot be proven" in shown
    assert "rolling_restart: 6 VM(s) in 2 batch(es): 2 done before, 3 restarted, 1 unconfirmed" in shown, shown[-3000:]
    assert record_sets(sim, "killed") == {"killed+closed": []}


def test_safe_startup_waits_for_a_url_with_the_expected_status(sim, load, tmp_path):
    """The same gate in safe_startup: the next tier's power-on goes out only after the URL answered the expected status."""
    port = free_port()
    world = web_world(2, 46, port, stopped=("web01", "web02"), web01={"health_status": 204})
    load(world)
    path = tmp_path / "startup.yml"
    tiers = [{"name": "api", "targets": ["web01"], "up": "url", "url": "http://{address}:%d/ready" % port, "status": "204"},
             {"name": "front", "targets": ["web02"]}]
    path.write_text(yaml.safe_dump([{"name": "Start", "hosts": "localhost", "gather_facts": False, "roles": ["vergeos.power.safe_startup"],
                                     "vars": {"ansible_python_interpreter": sys.executable, "safe_startup_poll_interval": 0.2,
                                              "safe_startup_timeout": 20, "safe_startup_tiers": tiers}}]))
    result = run("ansible-playbook", str(path), env=sim_env(sim))
    log, answers = sim.requests(), health_log(sim)
    assert result.returncode == 0, result.stdout[-3000:]
    poweron = {key: time for time, key, action in power_actions(log) if action == "poweron"}
    ready = [entry["time"] for entry in answers if entry["vm_key"] == 1 and entry["status"] == 204 and entry["path"] == "/ready"]
    assert ready and poweron[1] < min(ready) < poweron[2], (poweron, answers)
    assert "1. api (1 VM(s), up = url http://{address}:%d/ready): up" % port in result.stdout


def test_a_power_cycle_behind_the_agent_gate_without_a_record(sim, load, tmp_path):
    """power_cycle is seen (poweroff, then poweron: started changes, so confirmed); a guest down after it fails the agent gate."""
    world = web_world(2, 47, free_port(), web02={"after_restart": "down"})
    for entry in world["vms"]:
        entry["guest_agent"] = True
    load(world)
    keep = tmp_path / "kept.json"
    variables = {"rolling_restart_targets": ["web01", "web02"], "rolling_restart_batch": 2, "rolling_restart_method": "power_cycle",
                 "rolling_restart_up": "agent", "rolling_restart_gate_timeout": 2, "rolling_restart_max_failed": "2",
                 "rolling_restart_record": ""}
    result = run("ansible-playbook", role_play(tmp_path, variables, keep), env=sim_env(sim))
    assert result.returncode == 0, result.stdout[-3000:]
    kept = json.loads(keep.read_text())
    assert sorted((key, action) for _time, key, action in power_actions(sim.requests())) == [
        (1, "poweroff"), (1, "poweron"), (2, "poweroff"), (2, "poweron")]
    vms = {vm["name"]: vm for vm in kept["result"]["vms"]}
    assert vms["web01"]["outcome"] == "restarted" and vms["web01"]["confirmed"] is True
    assert vms["web02"]["outcome"] == "failed" and "its guest agent did not answer within 2s" in vms["web02"]["msg"]
    # One failure of a budget of 2: the role fails at the end, the rollout was not stopped.
    assert "rolling_restart: 1 VM(s) failed:" in kept["failure"] and kept["result"]["stopped"] is False
    # No record: the open records are read (to leave a maintenance's VMs alone), nothing is written.
    assert [entry for entry in sim.requests() if entry["path"].startswith("/api/v4/tag") and entry["method"] != "GET"] == []
