"""The AWX / Automation Controller credential type (docs/awx/credential_type.yml), end to end.

The controller cannot run here, so `inject()` does what it does with a credential of
a custom type: the credential's inputs become the Jinja2 namespace (text fields left
empty are left out, checkboxes left out are false), each `file` injector is rendered
into a private file that `tower.filename` / `tower.filename.<name>` then names, and
each `env` injector is rendered in a sandbox (an undefined name renders empty). The
environment it returns is ALL that the real ansible-playbook / ansible-inventory runs
get of the connection (run_ansible drops every VERGEOS_* variable from outside).
`controller_errors()` applies the checks the controller makes when the type is saved.
"""

import json
import os
import re
import stat
import tempfile
import types

import jinja2
import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from run_ansible import ROOT, plain, run

CREDENTIAL_TYPE_FILE = os.path.join(ROOT, "docs", "awx", "credential_type.yml")
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


# ---------------------------------------------------------------- the controller's side


def credential_type():
    with open(CREDENTIAL_TYPE_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


FIELD_KEYS = {"id", "label", "type", "help_text", "secret", "multiline", "format", "choices", "ask_at_runtime", "default"}
NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
FILE_KEY = re.compile(r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$")


def controller_errors(definition):
    """Return what the controller would refuse in a custom credential type (inputs and injectors), as a list of texts."""
    errors = []
    inputs, injectors = definition.get("inputs", {}), definition.get("injectors", {})
    errors += ["inputs key %s" % key for key in set(inputs) - {"fields", "required"}]
    ids = []
    for field in inputs.get("fields", []):
        errors += ["field %s: key %s" % (field.get("id"), key) for key in set(field) - FIELD_KEYS]
        if "id" not in field or "label" not in field or not NAME.match(str(field.get("id"))) or field.get("id") == "tower":
            errors.append("field %r: id and label" % field)
        kind = field.get("type", "string")
        if kind not in ("string", "boolean"):
            errors.append("field %s: type %s" % (field.get("id"), kind))
        if kind != "string":
            errors += ["field %s: %s on a %s" % (field["id"], key, kind) for key in ("choices", "multiline", "format", "secret") if key in field]
        if field.get("format") not in (None, "ssh_private_key", "url"):
            errors.append("field %s: format" % field["id"])
        ids.append(field.get("id"))
    if len(ids) != len(set(ids)):
        errors.append("field ids are not unique")
    errors += ["required %s is no field" % name for name in inputs.get("required", []) if name not in ids]
    errors += ["injectors key %s" % key for key in set(injectors) - {"file", "env", "extra_vars"}]
    files = list(injectors.get("file", {}))
    errors += ["file injector %s" % key for key in files if not FILE_KEY.match(key)]
    if "template" in files and len(files) > 1:
        errors.append("single-file and multi-file injectors mixed")
    for name, value in injectors.get("env", {}).items():
        if not NAME.match(name) or name.startswith("ANSIBLE_") or not isinstance(value, str) or not value.isascii():
            errors.append("env injector %s" % name)
    # Every template must render with every field defined (the controller renders them with StrictUndefined when saving).
    tower = types.SimpleNamespace(filename="EXAMPLE_FILENAME" if "template" in files else
                                  types.SimpleNamespace(**{key.split(".", 1)[1]: "EXAMPLE_FILENAME" for key in files if "." in key}))
    strict = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    for kind in ("file", "env", "extra_vars"):
        for name, template in injectors.get(kind, {}).items():
            try:
                strict.from_string(template).render(dict({field_id: "EXAMPLE" for field_id in ids}, tower=tower))
            except jinja2.exceptions.TemplateError as exc:
                errors.append("%s injector %s: %s" % (kind, name, exc))
    return errors


def inject(definition, inputs, private_dir):
    """Return the environment variables the controller injects for a credential with these inputs (files written in private_dir)."""
    namespace = {}
    for name, value in inputs.items():
        if isinstance(value, bool) or value:
            namespace[name] = value
    for field in definition["inputs"]["fields"]:
        if field.get("type") == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = False
    sandbox = ImmutableSandboxedEnvironment()
    single, several = None, {}
    for label, template in definition["injectors"].get("file", {}).items():
        handle, path = tempfile.mkstemp(dir=str(private_dir))
        with os.fdopen(handle, "w") as stream:
            stream.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if "." in label:
            several[label.split(".", 1)[1]] = path
        else:
            single = path
    namespace["tower"] = types.SimpleNamespace(filename=single or types.SimpleNamespace(**several))
    return {name: sandbox.from_string(template).render(**namespace) for name, template in definition["injectors"].get("env", {}).items()}


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
