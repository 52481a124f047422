"""ansible-core internals the collection relies on, and those it no longer does.

The action plugins (plugins/plugin_utils/vm_action.py) once used three private pieces of ansible-core:
``ActionBase._compute_environment_string`` (the task's ``environment:``), ``ValidationResult._no_log_values``
(the values to hide) and ``connection._shell.tmpdir`` (the remote temporary directory of an async run).
The first two are gone: the plugin merges and templates ``environment:`` itself and lists the ``no_log``
values from the argument spec. The third stays, because ansible-core's own action plugins use it and
nothing public names that directory; the first test here fails, with what to do, the day it changes.

These tests run in `make functional` and in the smoke subset of `make compat` (tools/compat.py), that is
on the newest ansible-core too.
"""

import glob
import inspect
import json
import os
import sys

import ansible.plugins.action.normal as normal_action
import pytest
import yaml
from ansible.plugins.action import ActionBase
from ansible.plugins.shell import ShellBase

from run_ansible import ROOT, run

DROPPED = ("_compute_environment_string", "_no_log_values", "_list_no_log_values", "ansible._internal")
PASSWORD = "Env-Only-Pa55-4417"


def test_the_remaining_private_interface_is_still_there():
    advice = ("ansible-core changed how an action plugin removes the remote tmp dir of an async run: adapt "
              "VMAction._run_module_async in plugins/plugin_utils/vm_action.py to what ansible.plugins.action.normal does now")
    assert "tmpdir" in vars(ShellBase(None) if _shell_takes_argument() else ShellBase()), advice
    assert callable(getattr(ActionBase, "_remove_tmp_path", None)), advice
    assert "self._remove_tmp_path(self._connection._shell.tmpdir)" in inspect.getsource(normal_action), advice
    assert "wrap_async" in inspect.signature(ActionBase._execute_module).parameters, advice


def _shell_takes_argument():
    return len(inspect.signature(ShellBase.__init__).parameters) > 1


def test_no_dropped_private_interface_is_used():
    used = []
    for path in glob.glob(os.path.join(ROOT, "plugins", "**", "*.py"), recursive=True):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        used += ["%s: %s" % (os.path.relpath(path, ROOT), name) for name in DROPPED if name in text]
    assert used == []


@pytest.fixture
def secret_world(sim):
    sim.load({"users": [{"name": "ops", "password": PASSWORD}], "vms": [{"key": 1, "name": "web01", "power": "running"}]})
    yield sim
    sim.reset()


def test_environment_lists_are_merged_templated_and_their_secrets_hidden(secret_world, tmp_path):
    """The block's environment, then the task's (later wins), templated; a password read from it never shown."""
    sim = secret_world
    play = [{
        "name": "environment", "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable, "sim_host": sim.host, "sim_password": PASSWORD},
        "environment": {"VERGEOS_HOST": "unreachable.invalid", "VERGEOS_USERNAME": "ops", "VERGEOS_CA_PATH": sim.ca},
        "tasks": [{
            "block": [
                {"name": "Read", "vergeos.power.vergeos_vm_info": {"id": 1}, "register": "info",
                 "environment": {"VERGEOS_PASSWORD": "{{ sim_password }}"}},
                {"name": "Refused with the password in the environment", "vergeos.power.vergeos_vm_info": {"id": 1, "bogus": 1},
                 "environment": {"VERGEOS_PASSWORD": "{{ sim_password }}"}, "ignore_errors": True},
                {"name": "Keep", "ansible.builtin.copy": {"content": "{{ info | to_json }}", "dest": str(tmp_path / "info.json"),
                                                          "mode": "0600"}},
            ],
            "environment": {"VERGEOS_HOST": "{{ sim_host }}", "VERGEOS_PASSWORD": "wrong"},
        }],
    }]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    result = run("ansible-playbook", "-vvv", str(playbook), env={})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    info = json.loads((tmp_path / "info.json").read_text())
    assert [vm["name"] for vm in info["vms"]] == ["web01"]
    # -vvv prints each result with its invocation: the password the environment gave is masked there.
    assert '"password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in output
    assert "Unsupported parameters" in output
    assert PASSWORD not in output
