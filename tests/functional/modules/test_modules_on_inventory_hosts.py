"""The modules against inventory hosts, through their action plugins, with real ansible-playbook runs.

The hosts are VMs from a static inventory that carries what the vergeos.power.vergeos
inventory sets (vergeos_id, vergeos_url) and an SSH connection to a closed local port:
a task that tried to reach a guest would fail as unreachable.
"""

import json
import sys

import pytest
import yaml

from run_ansible import run, sim_env

PASSWORD = "pw-Zq81-never-printed"
API_KEY = "key-Hr55-never-printed"
WORLD = {
    "speed": 100,
    "users": [{"name": "admin", "password": PASSWORD}],
    "api_keys": [{"key": API_KEY, "role": "admin", "user": "automation"}],
    "vms": [
        {"name": "web01", "key": 11, "power": "running"},
        {"name": "db01", "key": 12, "power": "running"},
        {"name": "app01", "key": 13, "power": "stopped"},
        {"name": "{{ lookup('pipe', 'touch injected') }}", "key": 14, "power": "stopped"},
    ],
}
# Never contacted: nothing listens on the discard port.
UNREACHABLE = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_user": "nobody"}


@pytest.fixture
def site(sim, tmp_path):
    sim.load(WORLD)
    sim.clear_requests()
    url = "https://" + sim.host
    hosts = {
        "web01": {"vergeos_id": 11, "vergeos_url": url},
        "db01": {"vergeos_id": 12, "vergeos_url": url},
        "app01": {"vergeos_id": 13, "vergeos_url": url},
        "evil": {"vergeos_id": 14, "vergeos_url": url},
        # The same VM id on another system: must never be touched here.
        "stranger": {"vergeos_id": 11, "vergeos_url": "https://other-site.example:8443"},
        "plain": {},
    }
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"vars": UNREACHABLE, "hosts": hosts}}))
    sim.inventory, sim.tmp = str(inventory), tmp_path
    yield sim
    sim.reset()  # the shared simulator gets its default world (and admin password) back


def playbook(site, tasks, hosts="web01", **play):
    path = site.tmp / "play.yml"
    play_doc = {"name": "Inventory hosts", "hosts": hosts, "gather_facts": False, "tasks": tasks}
    play_doc.update(play)
    path.write_text(yaml.safe_dump([play_doc], sort_keys=False))
    return str(path)


def play(site, tasks, *args, hosts="web01", env=None, **play_options):
    result = run("ansible-playbook", "-i", site.inventory, playbook(site, tasks, hosts, **play_options), *args,
                 env=sim_env(site, PASSWORD) if env is None else env, cwd=str(site.tmp))
    return result


def power_state(site, key):
    response = site.api("GET", "/api/v4/vms/%d" % key, params={"fields": "machine#status#status as status"}, auth=("admin", PASSWORD))
    return response.json()["status"]


def posts(site):
    return [entry for entry in site.requests() if entry["method"] != "GET"]


STOP = {"name": "Stop this host's VM", "vergeos.power.vergeos_vm_power": {"state": "stopped", "poll_interval": 0.2}, "register": "stop"}


def test_each_host_stops_its_own_vm_without_a_connection(site):
    result = play(site, [STOP, {"name": "Show", "ansible.builtin.debug": {"var": "stop.vms | map(attribute='id') | list"}}],
                  hosts="web01,db01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed: [web01]" in result.stdout and "changed: [db01]" in result.stdout
    assert power_state(site, 11) == "stopped" and power_state(site, 12) == "stopped"
    assert sorted(entry["body"]["vm"] for entry in posts(site)) == [11, 12]
    assert "UNREACHABLE" not in result.stdout


def test_the_task_selection_wins_over_the_host(site):
    task = dict(STOP, **{"vergeos.power.vergeos_vm_power": {"state": "stopped", "name": "db01", "poll_interval": 0.2}})
    result = play(site, [task], hosts="web01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert power_state(site, 11) == "running" and power_state(site, 12) == "stopped"


def test_a_host_of_another_system_is_refused_and_nothing_is_sent(site):
    result = play(site, [STOP], hosts="stranger")
    assert result.returncode != 0
    assert "refusing to act on a VM of another system" in result.stdout
    assert "other-site.example" in result.stdout
    assert site.requests() == []
    assert power_state(site, 11) == "running"


@pytest.mark.parametrize("selection", [{"id": 11}, {"name": "web01"}, {"filters": {"name_regex": "^web"}}])
def test_following_a_refusal_with_a_selection_still_reaches_nothing_of_this_site(site, selection):
    """The refusal used to suggest selecting the VM by name or id: doing so on another site's host acted on this site's VM."""
    task = dict(STOP, **{"vergeos.power.vergeos_vm_power": dict(selection, state="stopped", poll_interval=0.2)})
    result = play(site, [task], hosts="stranger")
    assert result.returncode != 0
    assert "refusing to act on a VM of another system" in result.stdout and "allow_other_system" in result.stdout
    assert site.requests() == []
    assert power_state(site, 11) == "running"


def test_allow_other_system_is_the_explicit_way_to_select_vms_of_the_task_system(site):
    arguments = {"state": "stopped", "name": "db01", "allow_other_system": True, "poll_interval": 0.2}
    task = dict(STOP, **{"vergeos.power.vergeos_vm_power": arguments})
    result = play(site, [task], hosts="stranger")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(entry["body"]["vm"], entry["body"]["action"]) for entry in posts(site)] == [(12, "poweroff")]
    assert power_state(site, 11) == "running"


def test_a_host_without_a_vm_and_no_selection_fails_clearly(site):
    result = play(site, [STOP], hosts="plain")
    assert result.returncode != 0
    assert "no VM selected" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_info_on_a_host_reads_that_vm_only_and_keeps_api_strings_literal(site):
    tasks = [
        {"name": "Read", "vergeos.power.vergeos_vm_info": {}, "register": "info"},
        {"name": "Show", "ansible.builtin.debug": {"msg": "NAME={{ info.name }} COUNT={{ info.vms | length }}"}},
    ]
    result = play(site, tasks, hosts="evil")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "COUNT=1" in result.stdout
    assert "NAME={{ lookup('pipe', 'touch injected') }}" in result.stdout
    assert not (site.tmp / "injected").exists()


def test_check_mode_and_diff_tell_the_truth_and_send_nothing(site):
    result = play(site, [STOP], "--check", "--diff", hosts="web01,app01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed: [web01]" in result.stdout and "ok: [app01]" in result.stdout
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert '- "web01": "running"' in lines and '+ "web01": "stopped"' in lines
    assert posts(site) == []
    assert power_state(site, 11) == "running"


def test_the_task_environment_carries_the_connection(site):
    task = dict(STOP, environment=sim_env(site, PASSWORD))
    result = play(site, [task], hosts="web01", env={})
    assert result.returncode == 0, result.stdout + result.stderr
    assert power_state(site, 11) == "stopped"


def test_module_defaults_carry_the_connection(site):
    defaults = {"group/vergeos.power.vergeos": {"host": site.host, "api_key": API_KEY, "ca_path": site.ca}}
    result = play(site, [STOP], hosts="web01", env={}, module_defaults=defaults)
    assert result.returncode == 0, result.stdout + result.stderr
    assert power_state(site, 11) == "stopped"


def test_no_secret_appears_at_vvv_even_in_failures(site):
    # Secrets come from variables, as in real playbooks: Ansible quotes a failing task's source lines.
    secrets = site.tmp / "secrets.yml"
    secrets.write_text(yaml.safe_dump({"site_password": PASSWORD, "site_key": API_KEY}))
    tasks = [
        dict(STOP, **{"vergeos.power.vergeos_vm_power": {"state": "stopped", "api_key": "{{ site_key }}", "poll_interval": 0.2}}),
        {"name": "Fail with an unknown option", "ignore_errors": True,
         "vergeos.power.vergeos_vm_power": {"state": "stopped", "password": "{{ site_password }}", "bogus": 1}},
        {"name": "Fail on a wrong password", "vergeos.power.vergeos_vm_info": {"password": "{{ site_password }}x"}, "ignore_errors": True},
        {"name": "Fail on a wrong key", "vergeos.power.vergeos_vm_info": {"api_key": "{{ site_key }}x"}, "ignore_errors": True},
    ]
    result = play(site, tasks, "-vvv", "-e", "@" + str(secrets), hosts="web01")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Unsupported parameters" in output and "HTTP 401" in output
    assert power_state(site, 11) == "stopped"
    for secret in (PASSWORD, API_KEY):
        assert secret not in output
        assert secret not in json.dumps(site.requests())


def test_no_log_hides_the_result(site):
    result = play(site, [dict(STOP, no_log=True)], "-v", hosts="web01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "censored" in result.stdout and "previous_power_state" not in result.stdout
    assert power_state(site, 11) == "stopped"


def test_async_runs_the_module_on_the_delegated_host_for_the_host_vm(site):
    task = dict(STOP, **{"async": 60, "poll": 1, "delegate_to": "localhost",
                         "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}})
    result = play(site, [task, {"name": "Show", "ansible.builtin.debug": {"msg": "IDS={{ stop.vms | map(attribute='id') | list }}"}}],
                  hosts="db01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "IDS=[12]" in result.stdout
    assert power_state(site, 12) == "stopped" and power_state(site, 11) == "running"
