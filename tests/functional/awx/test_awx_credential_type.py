"""The AWX / Automation Controller credential type (docs/awx/credential_type.yml), end to end.

The controller cannot run here, so awx_controller.inject() renders the type's injectors
as the controller does for a credential of a custom type. The environment it returns
is ALL that the real ansible-playbook / ansible-inventory runs get of the connection
(run_ansible drops every VERGEOS_* variable from outside). controller_errors() applies
the checks the controller makes when the type is saved. test_awx_runner_jobs.py runs
whole jobs through ansible-runner with it.
"""

import json
import os

import pytest
import yaml

from awx_controller import controller_errors, credential_type, inject
from run_ansible import plain, run

INJECTED = ["VERGEOS_HOST", "VERGEOS_USERNAME", "VERGEOS_PASSWORD", "VERGEOS_API_KEY", "VERGEOS_VALIDATE_CERTS", "VERGEOS_CA_PATH",
            "VERGEOS_API_TIMEOUT"]
PASSWORD = "Awx-Pa55-never-printed"
API_KEY = "awx-key-never-printed-0123456789"
WORLD = {
    "speed": 100,
    "users": [{"name": "admin", "password": "admin"}, {"name": "ops", "password": PASSWORD}],
    "api_keys": [{"key": API_KEY, "role": "admin", "user": "automation"}],
    "vms": [
        {"name": "web01", "key": 11, "power": "running"},
        {"name": "web02", "key": 12, "power": "running"},
        {"name": "db01", "key": 13, "power": "running"},
        {"name": "app01", "key": 14, "power": "stopped"},
    ],
}
HOSTS = {"web01", "web02", "db01", "app01"}
# Fails the source instead of warning, as an AWX inventory update should.
INVENTORY_ENV = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true", "ANSIBLE_DEPRECATION_WARNINGS": "false"}


# ---------------------------------------------------------------- helpers


@pytest.fixture
def site(sim, tmp_path):
    sim.load(WORLD)
    sim.clear_requests()
    sim.tmp = tmp_path
    sim.ca_pem = open(sim.ca, encoding="utf-8").read()  # pylint: disable=consider-using-with
    yield sim
    sim.reset()


def credential_env(site, **inputs):
    private = site.tmp / "private"
    private.mkdir(exist_ok=True)
    return inject(credential_type(), inputs, private)


def power(site, key):
    """Return a VM's status, read as admin (that request is then cleared from the log)."""
    status = site.api("GET", "/api/v4/vms/%d" % key, params={"fields": "machine#status#status as status"}).json()["status"]
    site.clear_requests()
    return status


def users(site):
    """Return the users the requests logged since the last call were made as (then clear the log)."""
    found = {entry["user"] for entry in site.requests()}
    site.clear_requests()
    return found


def playbook(site, tasks, name="play.yml", **play):
    path = site.tmp / name
    path.write_text(yaml.safe_dump([dict({"name": "AWX job", "hosts": "localhost", "gather_facts": False, "tasks": tasks}, **play)],
                                   sort_keys=False))
    return str(path)


def run_playbook(site, env, tasks, *args, **play):
    return run("ansible-playbook", playbook(site, tasks, **play), *args, env=env, cwd=str(site.tmp))


def run_inventory(site, env):
    source = site.tmp / "awx.vergeos.yml"
    source.write_text("plugin: vergeos.power.vergeos\n")
    result = run("ansible-inventory", "-i", str(source), "--list", env=dict(INVENTORY_ENV, **env), cwd=str(site.tmp))
    return result, (plain(json.loads(result.stdout)) if result.returncode == 0 else None)


def assert_no_secret(result, *secrets):
    for secret in secrets:
        assert secret not in result.stdout and secret not in result.stderr


INFO_AND_POWER = [
    {"name": "Read web01", "vergeos.power.vergeos_vm_info": {"name": "web01"}, "register": "info"},
    {"name": "Stop web01", "vergeos.power.vergeos_vm_power": {"name": "web01", "state": "stopped", "poll_interval": 0.2},
     "register": "stopped"},
    {"name": "Check", "ansible.builtin.assert": {"that": [
        "info.vms | length == 1", "info.vms[0].id == 11", "info.vms[0].power_state == 'running'",
        "stopped is changed", "stopped.vms[0].power_state == 'stopped'",
    ]}},
]


# ---------------------------------------------------------------- the type itself


def test_the_controller_would_accept_the_credential_type():
    definition = credential_type()
    assert controller_errors(definition) == []
    assert sorted(definition["injectors"]["env"]) == sorted(INJECTED)
    fields = {field["id"]: field for field in definition["inputs"]["fields"]}
    assert fields["password"]["secret"] and fields["api_key"]["secret"]
    assert definition["inputs"]["required"] == ["host"]


def test_the_controller_checks_catch_a_bad_type():
    """controller_errors() must be able to fail: a misspelt field, an ANSIBLE_ variable, a boolean secret."""
    definition = credential_type()
    definition["injectors"]["env"]["VERGEOS_HOST"] = "{{ hots }}"
    definition["injectors"]["env"]["ANSIBLE_X"] = "1"
    definition["inputs"]["fields"].append({"id": "flag", "label": "Flag", "type": "boolean", "secret": True})
    errors = controller_errors(definition)
    assert any("VERGEOS_HOST" in error and "hots" in error for error in errors)
    assert "env injector ANSIBLE_X" in errors and "field flag: secret on a boolean" in errors


def test_an_empty_credential_renders_empty_variables(tmp_path):
    env = inject(credential_type(), {"host": "vergeos.example.com"}, tmp_path)
    assert env == {"VERGEOS_HOST": "vergeos.example.com", "VERGEOS_USERNAME": "", "VERGEOS_PASSWORD": "", "VERGEOS_API_KEY": "",
                   "VERGEOS_VALIDATE_CERTS": "", "VERGEOS_CA_PATH": "", "VERGEOS_API_TIMEOUT": ""}
    ticked = inject(credential_type(), {"host": "h", "skip_tls_verify": True, "ca_cert": "PEM", "api_timeout": "7"}, tmp_path)
    assert ticked["VERGEOS_VALIDATE_CERTS"] == "false" and ticked["VERGEOS_API_TIMEOUT"] == "7"
    with open(ticked["VERGEOS_CA_PATH"], encoding="utf-8") as handle:
        assert handle.read() == "PEM"


def test_the_renderer_names_one_file_or_several(tmp_path):
    """inject() as the controller: `template` is tower.filename, `template.<name>` are tower.filename.<name> (private files)."""
    fields = {"fields": [{"id": "pem", "label": "PEM", "type": "string", "multiline": True}]}
    single = {"inputs": fields, "injectors": {"file": {"template": "{{ pem }}"}, "env": {"ONE": "{{ tower.filename }}"}}}
    several = {"inputs": fields, "injectors": {"file": {"template.a": "{{ pem }}-a", "template.b": "{{ pem }}-b"},
                                               "env": {"A": "{{ tower.filename.a }}", "B": "{{ tower.filename.b }}"}}}
    assert controller_errors(single) == [] and controller_errors(several) == []
    one = inject(single, {"pem": "PEM"}, tmp_path)
    two = inject(several, {"pem": "PEM"}, tmp_path)
    assert len({one["ONE"], two["A"], two["B"]}) == 3
    written = {}
    for name, path in dict(one, **two).items():
        assert os.path.dirname(path) == str(tmp_path) and os.stat(path).st_mode & 0o777 == 0o600
        with open(path, encoding="utf-8") as handle:
            written[name] = handle.read()
    assert written == {"ONE": "PEM", "A": "PEM-a", "B": "PEM-b"}


# ---------------------------------------------------------------- jobs and inventory updates with the credential alone


def test_password_credential_runs_the_modules_the_role_and_the_inventory(site):
    env = credential_env(site, host=site.host, username="ops", password=PASSWORD, ca_cert=site.ca_pem)
    assert env["VERGEOS_VALIDATE_CERTS"] == "" and env["VERGEOS_API_KEY"] == "" and env["VERGEOS_API_TIMEOUT"] == ""
    assert env["VERGEOS_CA_PATH"] != site.ca and os.path.isfile(env["VERGEOS_CA_PATH"])

    modules = run_playbook(site, env, INFO_AND_POWER)
    assert modules.returncode == 0, modules.stdout + modules.stderr
    assert users(site) == {"ops"}
    assert power(site, 11) == "stopped"

    role = run_playbook(site, env, [
        {"name": "Safe shutdown of db01", "ansible.builtin.include_role": {"name": "vergeos.power.safe_shutdown"},
         "vars": {"safe_shutdown_targets": ["db01"], "safe_shutdown_timeout": 60, "safe_shutdown_poll_interval": 0.2}},
        {"name": "Check", "ansible.builtin.assert": {"that": [
            "safe_shutdown_result.graceful == ['db01']", "safe_shutdown_result.killed == []"]}},
    ], name="role.yml")
    assert role.returncode == 0, role.stdout + role.stderr
    assert users(site) == {"ops"}
    assert power(site, 13) == "stopped" and power(site, 12) == "running"

    inventory, data = run_inventory(site, env)
    assert inventory.returncode == 0, inventory.stderr
    assert set(data["_meta"]["hostvars"]) == HOSTS
    assert set(data["vergeos_power_stopped"]["hosts"]) == {"web01", "db01", "app01"}
    assert data["_meta"]["hostvars"]["web02"]["vergeos_url"] == site.url
    assert users(site) == {"ops"}
    for result in (modules, role, inventory):
        assert_no_secret(result, PASSWORD)


def test_api_key_credential(site):
    env = credential_env(site, host=site.url, api_key=API_KEY, ca_cert=site.ca_pem, api_timeout="20")
    assert env["VERGEOS_USERNAME"] == "" and env["VERGEOS_PASSWORD"] == ""
    modules = run_playbook(site, env, INFO_AND_POWER)
    assert modules.returncode == 0, modules.stdout + modules.stderr
    inventory, data = run_inventory(site, env)
    assert inventory.returncode == 0, inventory.stderr
    assert set(data["_meta"]["hostvars"]) == HOSTS
    assert users(site) == {"automation"}
    for result in (modules, inventory):
        assert_no_secret(result, API_KEY)


# ---------------------------------------------------------------- empty fields: TLS verification stays on


READ_ONLY = [{"name": "Read", "vergeos.power.vergeos_vm_info": {"name": "web01"}}]


def test_a_credential_without_ca_or_checkbox_verifies_tls(site):
    """Every variable is injected but empty: verification must stay on (the simulator's CA is in no store), for modules and plugin."""
    env = credential_env(site, host=site.host, username="ops", password=PASSWORD)
    assert env["VERGEOS_VALIDATE_CERTS"] == "" and env["VERGEOS_CA_PATH"] == ""
    refused = run_playbook(site, env, READ_ONLY)
    assert refused.returncode != 0
    assert "TLS certificate verification of %s failed" % site.url in refused.stdout
    inventory = run_inventory(site, env)[0]
    assert inventory.returncode != 0
    assert "TLS certificate verification of %s failed" % site.url in inventory.stderr
    assert site.requests() == []
    for result in (refused, inventory):
        assert_no_secret(result, PASSWORD)


def test_the_skip_verification_checkbox_turns_it_off(site):
    env = credential_env(site, host=site.host, username="ops", password=PASSWORD, skip_tls_verify=True)
    assert env["VERGEOS_VALIDATE_CERTS"] == "false"
    result = run_playbook(site, env, READ_ONLY)
    assert result.returncode == 0, result.stdout + result.stderr
    inventory, data = run_inventory(site, env)
    assert inventory.returncode == 0, inventory.stderr
    assert set(data["_meta"]["hostvars"]) == HOSTS


# ---------------------------------------------------------------- VERGEOS_INSECURE (the vergeio.vergeos collection's variable)


@pytest.mark.parametrize("extra, verified", [
    ({"VERGEOS_INSECURE": "true"}, False),
    ({"VERGEOS_INSECURE": "true", "VERGEOS_VALIDATE_CERTS": "true"}, True),
    ({"VERGEOS_INSECURE": "false"}, True),
])
def test_vergeos_insecure_for_the_modules_and_the_plugin(site, extra, verified):
    env = dict({"VERGEOS_HOST": site.host, "VERGEOS_USERNAME": "ops", "VERGEOS_PASSWORD": PASSWORD}, **extra)
    module = run_playbook(site, env, READ_ONLY)
    inventory = run_inventory(site, env)[0]
    if verified:
        assert module.returncode != 0 and "TLS certificate verification" in module.stdout
        assert inventory.returncode != 0 and "TLS certificate verification" in inventory.stderr
    else:
        assert module.returncode == 0, module.stdout + module.stderr
        assert inventory.returncode == 0, inventory.stderr
