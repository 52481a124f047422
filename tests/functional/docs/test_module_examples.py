"""Every module's EXAMPLES, as ansible-doc renders them, run against the simulator in one playbook.

The connection options written in the examples (host, username, password, ca_path...)
are replaced by the simulator's through module_defaults; everything else runs as
written, in order, against a world that has the VMs the examples name.
"""

import json
import sys

import pytest
import yaml

from run_ansible import run, sim_env

MODULES = ("vergeos.power.vergeos_vm_info", "vergeos.power.vergeos_vm_power", "vergeos.power.vergeos_vm_snapshot")
CONNECTION = ("host", "username", "password", "api_key", "validate_certs", "ca_path", "api_timeout")
WORLD = {
    "speed": 100,
    "nodes": [{"name": "node1", "cluster": "cluster1"}, {"name": "node2", "cluster": "cluster1"}],
    "tag_categories": [{"name": "environment"}],
    "tags": [{"name": "production", "category": "environment"}, {"name": "staging", "category": "environment"}],
    "vms": [
        {"name": "web01", "key": 1, "power": "stopped", "tags": ["production"], "nics": [{"macaddress": "52:54:00:00:00:01", "ipaddress": "192.0.2.1"}]},
        {"name": "web02", "key": 2, "power": "running", "tags": ["production"], "node": "node1"},
        {"name": "web03", "key": 3, "power": "running", "tags": ["staging"], "node": "node2"},
        {"name": "db, primary", "key": 4, "power": "running"},
        {"name": "db01", "key": 5, "power": "running", "guest_agent": True},
        {"name": "db02", "key": 6, "power": "running", "guest_agent": True},
        {"name": "app-a", "key": 7, "power": "stopped"},
        {"name": "app-b", "key": 8, "power": "stopped"},
        {"name": "vm42", "key": 42, "power": "running", "tags": ["staging"]},
        {"name": "hung01", "key": 43, "power": "running", "guest": {"acpi": "ignore"}},
        {"name": "app01", "key": 44, "power": "running"},
        # Obedient: the example's wait_timeout (300 s) is real time, so a deaf guest would hold the test for it.
        {"name": "app02", "key": 45, "power": "running"},
        {"name": "app03", "key": 46, "power": "running"},
    ],
}


def examples(module):
    result = run("ansible-doc", "--json", "-t", "module", module)
    assert result.returncode == 0, result.stderr
    text = json.loads(result.stdout)[module]["examples"]
    tasks = yaml.safe_load(text)
    assert isinstance(tasks, list) and tasks, module
    return tasks


def without_connection(task):
    """Return the task with the connection options taken out of every module call and module_defaults."""
    task = dict(task)
    for key in list(task):
        if key in MODULES and isinstance(task[key], dict):
            task[key] = {name: value for name, value in task[key].items() if name not in CONNECTION}
    if "module_defaults" in task:
        del task["module_defaults"]  # the play's module_defaults give the simulator's connection
    if "block" in task:
        task["block"] = [without_connection(inner) for inner in task["block"]]
    return task


@pytest.fixture(scope="module")
def outcome(sim, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("examples")
    sim.load(WORLD)
    sim.clear_requests()
    env = sim_env(sim)
    tasks = [without_connection(task) for module in MODULES for task in examples(module)]
    play = [{
        "name": "Module examples", "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable, "vergeos_password": env["VERGEOS_PASSWORD"]},
        "module_defaults": {
            "group/vergeos.power.vergeos": {"host": env["VERGEOS_HOST"], "username": env["VERGEOS_USERNAME"],
                                            "password": env["VERGEOS_PASSWORD"], "ca_path": env["VERGEOS_CA_PATH"]},
            "vergeos.power.vergeos_vm_power": {"poll_interval": 0.2},
        },
        "tasks": tasks,
    }]
    path = tmp_path / "examples.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    try:
        result = run("ansible-playbook", str(path), env={})
        log = sim.requests()
    finally:
        sim.reset()
    return {"result": result, "log": log, "tasks": tasks}


def test_every_module_has_examples_for_what_it_does(outcome):
    names = [task["name"] for task in outcome["tasks"]]
    assert len(names) >= 15
    assert len(set(names)) == len(names)


def test_the_examples_run_as_written(outcome):
    result = outcome["result"]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "failed=0" in result.stdout and "[WARNING]" not in result.stderr


def test_the_examples_did_what_they_say(outcome):
    log = outcome["log"]
    actions = [(entry["body"]["vm"], entry["body"]["action"]) for entry in log if entry["path"] == "/api/v4/vm_actions"]
    assert (43, "kill") in actions            # the hung VM is killed at once
    assert {(44, "poweroff"), (45, "poweroff"), (46, "poweroff")} <= set(actions)
    snapshots = [entry for entry in log if entry["path"].startswith("/api/v4/machine_snapshots") and entry["method"] != "GET"]
    assert [entry["method"] for entry in snapshots] == ["POST", "POST", "POST", "DELETE"]
