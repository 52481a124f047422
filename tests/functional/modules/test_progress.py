"""Progress lines of a long wait: in ansible-playbook's output and in ansible-runner's job events, never in the json callback's stdout."""

import glob
import json
import os
import sys

import yaml

from run_ansible import base_env, run, sim_env

WORLD = {
    "speed": 100,
    "vms": [{"name": "deaf01", "key": 1, "power": "running", "guest": {"acpi": "ignore"}}, {"name": "fine01", "key": 2, "power": "running"}],
}
LINE = "vergeos_vm_power: waiting for"


def stop_task(**options):
    arguments = {"names": ["deaf01", "fine01"], "state": "stopped", "on_timeout": "report", "wait_timeout": 3, "poll_interval": 0.25,
                 "progress_interval": 1}
    arguments.update(options)
    return {"name": "Stop, one guest deaf", "vergeos.power.vergeos_vm_power": arguments}


def play(tasks):
    return [{"name": "Progress", "hosts": "localhost", "gather_facts": False, "vars": {"ansible_python_interpreter": sys.executable},
             "tasks": tasks}]


def run_play(sim, tmp_path, tasks, **env):
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play(tasks), sort_keys=False))
    sim.load(WORLD)
    result = run("ansible-playbook", str(path), env=dict(sim_env(sim), **env))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_a_long_wait_prints_progress_lines_and_a_short_one_none(sim, tmp_path):
    long = run_play(sim, tmp_path, [stop_task()])
    lines = [line for line in (long.stdout + long.stderr).splitlines() if LINE in line]
    assert 1 <= len(lines) <= 4, lines
    assert "deaf01" not in " ".join(lines) and "1 done" in lines[-1] and "nearest deadline in" in lines[-1]
    quiet = run_play(sim, tmp_path, [stop_task(progress_interval=0)])
    short = run_play(sim, tmp_path, [stop_task(names=["fine01"])])
    assert LINE not in quiet.stdout + quiet.stderr and LINE not in short.stdout + short.stderr


# A machine-readable stdout callback (ansible-core ships none; ansible.posix.json is not installable here): everything
# it writes to stdout is one JSON document at the end, so any stray line on stdout would break the parse below.
JSON_CALLBACK = """
import json
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'test_json'

    def __init__(self):
        super().__init__()
        self.results = []

    def v2_runner_on_ok(self, result):
        self.results.append({'task': result.task_name, 'changed': result.is_changed()})

    def v2_playbook_on_stats(self, stats):
        self._display.display(json.dumps({'results': self.results, 'failures': stats.summarize('localhost')['failures']}))
"""


def test_a_machine_readable_stdout_callback_stays_valid_json(sim, tmp_path):
    plugins = tmp_path / "callback_plugins"
    plugins.mkdir()
    (plugins / "test_json.py").write_text(JSON_CALLBACK)
    result = run_play(sim, tmp_path, [stop_task()], ANSIBLE_STDOUT_CALLBACK="test_json", ANSIBLE_CALLBACK_PLUGINS=str(plugins))
    document = json.loads(result.stdout)
    assert document == {"results": [{"task": "Stop, one guest deaf", "changed": True}], "failures": 0}
    assert LINE in result.stderr


def test_progress_reaches_ansible_runner_job_events(sim, tmp_path):
    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    (private / "env").mkdir()
    (private / "project" / "play.yml").write_text(yaml.safe_dump(play([stop_task()]), sort_keys=False))
    environment = {name: value for name, value in base_env(sim_env(sim)).items()
                   if name.startswith(("ANSIBLE_", "VERGEOS_")) and name != "ANSIBLE_STDOUT_CALLBACK"}
    (private / "env" / "envvars").write_text(yaml.safe_dump(environment))
    sim.load(WORLD)
    result = run("ansible-runner", "run", str(private), "-p", "play.yml", env=sim_env(sim))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    events = [json.loads(open(path, encoding="utf-8").read()) for path in glob.glob(str(private / "artifacts" / "*" / "job_events" / "*.json"))]
    assert [event for event in events if LINE in event.get("stdout", "")], sorted(event.get("event") for event in events)
    assert os.path.isdir(private / "artifacts")
