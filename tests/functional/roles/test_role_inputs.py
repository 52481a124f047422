"""The role's variables as AWX surveys and `-e key=value` give them: strings for lists and numbers.

Regressions of real defects: a target given as a string was split into its characters
(the world has VMs named by those letters, which must never be touched), and numbers given
as strings crashed the role in Jinja. Judged by the simulator's request log.
"""

import json
import os
import sys

import pytest
import yaml

from run_ansible import ROOT, base_env, run, sim_env

WORLD = {
    "speed": 100,
    "timings": {"shutdown": 20},
    "vms": [{"name": name, "key": key, "power": "running"} for key, name in enumerate(
        ["web01", "db01", "a,b", "42", "w", "e", "b", "0", "1", "d", "a", ","], start=1)],
}
KEYS = {vm["name"]: vm["key"] for vm in WORLD["vms"]}
PLAY = [{"name": "Safe shutdown from variables", "hosts": "localhost", "gather_facts": False,
         "vars": {"ansible_python_interpreter": sys.executable},
         "roles": [{"role": "vergeos.power.safe_shutdown"}]}]


def poweroffs(sim):
    return sorted(int(entry["body"]["vm"]) for entry in sim.requests() if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions"
                  and entry["body"]["action"] == "poweroff")


def writes(sim):
    return [entry for entry in sim.requests() if entry["method"] != "GET"]


@pytest.fixture
def world(sim, tmp_path):
    sim.load(WORLD)
    sim.clear_requests()
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(PLAY, sort_keys=False))
    sim.play = str(path)
    yield sim
    sim.reset()


def playbook(sim, *extra):
    return run("ansible-playbook", sim.play, *extra, env=sim_env(sim))


@pytest.mark.parametrize("extra, stopped", [
    (["-e", "safe_shutdown_targets=web01"], ["web01"]),  # once split into w, e, b, 0, 1
    (["-e", "safe_shutdown_targets=a,b"], ["a,b"]),  # a comma is part of a VM name, never a separator
    (["-e", "safe_shutdown_targets=42"], ["42"]),  # a digit-only string is a name
    (["-e", '{"safe_shutdown_targets": ["db01", 1]}'], ["db01", "web01"]),  # a JSON list of a name and an id
])
def test_targets_as_strings_stop_exactly_the_vms_named(world, extra, stopped):
    result = playbook(world, *extra, "-e", "safe_shutdown_timeout=30", "-e", "safe_shutdown_poll_interval=0.2")
    assert result.returncode == 0, result.stdout[-3000:]
    assert poweroffs(world) == sorted(KEYS[name] for name in stopped)


@pytest.mark.parametrize("extra, words", [
    (["-e", "safe_shutdown_targets=web01", "-e", "safe_shutdown_timeout=soon"], "safe_shutdown_timeout"),
    (["-e", "safe_shutdown_targets=[web01, db01]"], "looks like a list written as text"),
    (["-e", "safe_shutdown_targets=web01", "-e", "safe_shutdown_max_targets=0"], "safe_shutdown_max_targets must be a whole number, 1 or more"),
    (["-e", "safe_shutdown_targets=web01", "-e", "safe_shutdown_poll_interval=-1"], "safe_shutdown_poll_interval must be a number of seconds above 0"),
])
def test_bad_strings_fail_with_the_variable_and_nothing_is_written(world, extra, words):
    result = playbook(world, *extra)
    assert result.returncode != 0
    assert words in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert writes(world) == []


def test_an_awx_job_with_survey_extra_vars(world, tmp_path):
    """ansible-runner, as AWX runs a job: extra vars from a textarea survey (names one per line) and integer fields as text."""
    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    (private / "env").mkdir()
    (private / "project" / "play.yml").write_text(yaml.safe_dump(PLAY, sort_keys=False))
    survey = {"safe_shutdown_targets": "web01\r\ndb01\r\n", "safe_shutdown_timeout": "30", "safe_shutdown_poll_interval": "0.2"}
    (private / "env" / "extravars").write_text(yaml.safe_dump(survey))
    environment = {name: value for name, value in base_env(sim_env(world)).items() if name.startswith(("ANSIBLE_", "VERGEOS_"))}
    (private / "env" / "envvars").write_text(yaml.safe_dump(environment))
    result = run("ansible-runner", "run", str(private), "-p", "play.yml", env=sim_env(world))
    assert result.returncode == 0, result.stdout[-3000:]
    assert poweroffs(world) == sorted([KEYS["db01"], KEYS["web01"]])
    status = (next((private / "artifacts").iterdir()) / "status").read_text()
    assert status == "successful"


def test_the_maintenance_playbook_takes_its_numbers_from_the_command_line(world):
    result = run("ansible-playbook", os.path.join(ROOT, "playbooks", "maintenance.yml"), "-e", json.dumps({"maintenance_targets": ["web01", "db01"]}),
                 "-e", "maintenance_timeout=30", "-e", "maintenance_max_targets=5", "-e", "maintenance_poll_interval=0.2",
                 "-e", "maintenance_wait_for_agent=false", env=sim_env(world))
    assert result.returncode == 0, result.stdout[-3000:]
    assert poweroffs(world) == sorted([KEYS["db01"], KEYS["web01"]])
    assert sorted(int(entry["body"]["vm"]) for entry in writes(world)
                  if entry["path"] == "/api/v4/vm_actions" and entry["body"]["action"] == "poweron") == sorted([KEYS["db01"], KEYS["web01"]])
