"""playbooks/awx_register_credential_type.yml, run for real against a stand-in for the awx.awx collection.

awx.awx cannot be installed here, so a stand-in collection (written for the test) has
action plugins of the three names the playbook uses; each writes the arguments it got to a
JSON file. The test checks that the playbook hands the controller docs/awx/credential_type.yml
as it is, and a credential and an inventory source only when asked.
"""

import json
import os

import yaml

from run_ansible import ROOT, collections_path, run

PLAYBOOK = os.path.join(ROOT, "playbooks", "awx_register_credential_type.yml")
STAND_IN = '''
import json
import os

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        super().run(tmp, task_vars)
        with open(os.path.join(os.environ["AWX_STAND_IN_LOG"], "%s.json" % NAME), "w", encoding="utf-8") as handle:
            json.dump(self._task.args, handle)
        return {"changed": True}
'''


def stand_in(tmp_path):
    actions = tmp_path / "collections" / "ansible_collections" / "awx" / "awx" / "plugins" / "action"
    actions.mkdir(parents=True)
    (actions.parent.parent / "galaxy.yml").write_text("namespace: awx\nname: awx\nversion: 0.0.1\n")
    for name in ("credential_type", "credential", "inventory_source"):
        (actions / ("%s.py" % name)).write_text("NAME = %r\n%s" % (name, STAND_IN))
    log = tmp_path / "calls"
    log.mkdir()
    env = {"ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([str(tmp_path / "collections"), collections_path()]),
           "AWX_STAND_IN_LOG": str(log)}
    return env, log


def calls(log):
    return {name[:-5]: json.loads((log / name).read_text()) for name in os.listdir(str(log))}


def test_only_the_credential_type_by_default(tmp_path):
    env, log = stand_in(tmp_path)
    result = run("ansible-playbook", PLAYBOOK, env=env, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    made = calls(log)
    assert set(made) == {"credential_type"}
    with open(os.path.join(ROOT, "docs", "awx", "credential_type.yml"), encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)
    assert made["credential_type"]["inputs"] == definition["inputs"]
    assert made["credential_type"]["injectors"] == definition["injectors"]
    assert made["credential_type"]["name"] == "VergeOS" and made["credential_type"]["kind"] == "cloud"


def test_credential_and_inventory_source_when_asked(tmp_path):
    env, log = stand_in(tmp_path)
    secret = "never-Printed-77"
    extra = {"awx_vergeos_host": "vergeos.example.com", "awx_vergeos_username": "automation", "awx_vergeos_password": secret,
             "awx_inventory": "VergeOS VMs", "awx_project": "infra", "awx_source_path": "inventories/prod.vergeos.yml"}
    result = run("ansible-playbook", PLAYBOOK, "-e", json.dumps(extra), env=env, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert secret not in result.stdout + result.stderr
    made = calls(log)
    assert made["credential"]["credential_type"] == "VergeOS"
    assert made["credential"]["inputs"] == {"host": "vergeos.example.com", "username": "automation", "password": secret}
    source = made["inventory_source"]
    assert (source["source"], source["source_project"], source["source_path"]) == ("scm", "infra", "inventories/prod.vergeos.yml")
    assert source["credential"] == made["credential"]["name"] == "VergeOS vergeos.example.com"
