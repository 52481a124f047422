"""What AWX / Automation Controller does around ansible-runner, done here without it.

The controller cannot run here. The tests of this directory import this module by name
(pytest puts a test file's own directory on sys.path), as the helpers of the other
directories are imported.

The credential:

- `credential_type()` reads docs/awx/credential_type.yml; `controller_errors()` applies the
  checks the controller makes when the type is saved;
- `inject()` renders its injectors as the controller does for a credential of a custom type:
  the credential's inputs become the Jinja2 namespace (text fields left empty are left out,
  checkboxes left out are false), each `file` injector is rendered into a private file that
  `tower.filename` (one file) or `tower.filename.<name>` (several) then names, and each `env`
  injector is rendered in a sandbox (an undefined name renders empty).

The job (a private data dir, as ansible-runner reads it):

- `ControllerJob` lays one out: `env/envvars` (the controller's own variables and the
  credential's), the credential's files in `env/`, `env/extravars` (every string of a survey
  answer or of the controller's own `awx_*` variables tagged `!unsafe`, the job template's
  extra vars trusted), `env/cmdline` (verbosity), `project/`, and `inventory/hosts` (a script
  that prints the inventory, as the controller hands a job the hosts it imported);
- `run_playbook()` runs it with `ansible-runner run` (`ansible-playbook` on the playbook);
- `run_inventory_update()` writes the controller's `args` file instead (`ansible-inventory
  --list --export -i project/<source> --output artifacts/<id>/output.json --playbook-dir ...`)
  and calls `ansible_runner.run()` with no playbook, as the controller does (the command line of
  `ansible-runner run` insists on a playbook, a module or a role);
- the result (`RunnerResult`) reads what ansible-runner wrote: status, rc, job events, and
  `secret_files()` lists every file under the artifacts dir holding a secret.
"""

import json
import os
import pathlib
import re
import shlex
import stat
import tempfile
import types

import jinja2
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from run_ansible import ROOT, plain, run

CREDENTIAL_TYPE_FILE = os.path.join(ROOT, "docs", "awx", "credential_type.yml")
AWX_HOST = "https://awx.example.com"
# What the controller sets for every inventory update: a source that does not parse fails the
# update, the output is ansible-inventory's export form, and verbose lines go to stderr.
INVENTORY_UPDATE_ENV = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "True", "ANSIBLE_INVENTORY_EXPORT": "True",
                        "ANSIBLE_VERBOSE_TO_STDERR": "True"}
# The controller's call for an inventory update: the private data dir and the job id, no playbook.
RUNNER_API = "import sys, ansible_runner; sys.exit(ansible_runner.run(private_data_dir=sys.argv[1], ident=sys.argv[2]).rc)"
# ansible-runner's own record of the command it started, with the whole environment it gave it:
# the injected credential is there by design (the controller throws the private data dir away).
RUNNER_COMMAND_RECORD = "command"


# ---------------------------------------------------------------- the credential type


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


# ---------------------------------------------------------------- extra vars as the controller writes them


class Unsafe(str):
    """A string the controller does not trust (a survey answer, a launch-time value): written with the !unsafe tag."""


class _ExtraVarsDumper(yaml.SafeDumper):
    pass


_ExtraVarsDumper.add_representer(Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)))


def untrusted(value):
    """Return value with every string in it (keys aside) made Unsafe."""
    if isinstance(value, str):
        return Unsafe(value)
    if isinstance(value, dict):
        return {key: untrusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [untrusted(item) for item in value]
    return value


def extravars_yaml(trusted, answers):
    """Return env/extravars: the job template's own extra vars as they are, the rest (controller and survey values) !unsafe."""
    variables = untrusted(answers)
    variables.update(trusted)
    return yaml.dump(variables, Dumper=_ExtraVarsDumper, default_flow_style=False, sort_keys=True)


# ---------------------------------------------------------------- the private data dir and the run


def _untagged(value):
    """Return a value of ansible-core's tagged serialization ({"value": x, "tags": [...], "__ansible_type": ...}) without the tags."""
    if isinstance(value, dict):
        if "__ansible_type" in value and "value" in value:
            return _untagged(value["value"])
        return {key: _untagged(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_untagged(item) for item in value]
    return value


class RunnerResult:
    """What ansible-runner left in <private data dir>/artifacts/<ident>."""

    def __init__(self, private_dir, ident, process):
        self.private_dir = private_dir
        self.ident = ident
        self.process = process
        self.artifacts = os.path.join(private_dir, "artifacts")
        self.job_artifacts = os.path.join(self.artifacts, ident)

    def _read(self, name):
        with open(os.path.join(self.job_artifacts, name), encoding="utf-8") as handle:
            return handle.read().strip()

    @property
    def status(self):
        return self._read("status")

    @property
    def rc(self):
        return int(self._read("rc"))

    def output(self):
        """Return what to show when an assertion fails: the job's stdout and the runner's own output."""
        try:
            stdout = self._read("stdout")
        except OSError as exc:
            stdout = "(no stdout: %s)" % exc
        return "%s\n--- runner:\n%s\n%s" % (stdout[-4000:], self.process.stdout[-2000:], self.process.stderr[-2000:])

    def events(self, *kinds):
        """Return the job events (of these kinds, when given), in the order ansible-runner numbered them."""
        folder = os.path.join(self.job_artifacts, "job_events")
        found = []
        for name in os.listdir(folder):
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                found.append(json.load(handle))
        found.sort(key=lambda event: event["counter"])
        return [event for event in found if not kinds or event["event"] in kinds]

    def hosts(self, kind, task):
        """Return the hosts of the events of this kind for the task of this name (a sorted list, a host once per event)."""
        return sorted(event["event_data"]["host"] for event in self.events(kind) if event["event_data"].get("task") == task)

    def results(self, kind, task):
        """Return {host: the task's result} from the events of this kind for the task of this name."""
        return {event["event_data"]["host"]: event["event_data"]["res"] for event in self.events(kind) if event["event_data"].get("task") == task}

    def stats(self):
        """Return the play recap (playbook_on_stats): {"ok": {host: n}, "changed": ..., "failures": ..., ...}."""
        (recap,) = self.events("playbook_on_stats")
        return recap["event_data"]

    def facts(self, host):
        """Return the facts the job kept for a host (ansible-runner's jsonfile fact cache, as the controller's fact storage reads it)."""
        folder = os.path.join(self.job_artifacts, "fact_cache")
        # ansible-core 2.19 names the file with a serialization prefix (s1_<host>) and wraps the values with their tags.
        (name,) = [name for name in os.listdir(folder) if name == host or name.endswith("_" + host)]
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            data = json.load(handle)
        if set(data) == {"__payload__"}:
            data = json.loads(data["__payload__"])
        return _untagged(data)

    def secret_files(self, *secrets):
        """Return [(path under artifacts/, secret)] for every file under artifacts/ that holds one of the secrets."""
        found = []
        for path in pathlib.Path(self.artifacts).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                found += [(str(path.relative_to(self.artifacts)), secret) for secret in secrets if secret.encode() in data]
        return sorted(found)

    def command_record(self):
        """Return the relative path of ansible-runner's own record of the command and its environment."""
        return os.path.join(self.ident, RUNNER_COMMAND_RECORD)


class ControllerJob:
    """A private data dir laid out as the controller lays one out for a job or an inventory update."""

    def __init__(self, root, ident, credential_inputs, inventory_update=False):
        """Lay out root/job-<ident> for a job (or an inventory update) with a credential of the VergeOS type."""
        self.ident = str(ident)
        self.dir = root / ("job-%s" % ident)
        self.project = self.dir / "project"
        for folder in (self.project, self.dir / "env", self.dir / "inventory"):
            folder.mkdir(parents=True)
        self.credential_env = inject(credential_type(), credential_inputs, self.dir / "env")
        if inventory_update:
            controller = dict(INVENTORY_UPDATE_ENV, INVENTORY_UPDATE_ID=self.ident, INVENTORY_SOURCE_ID="1")
        else:
            controller = {"JOB_ID": self.ident, "INVENTORY_ID": "1"}
        controller["AWX_HOST"] = AWX_HOST
        self._write("env/envvars", yaml.safe_dump(dict(controller, **self.credential_env)))

    def _write(self, name, text, mode=0o600):
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        return path

    def project_file(self, name, content):
        """Write a file of the project (YAML for a list or dict); return its path."""
        return self._write("project/" + name, content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False), 0o644)

    def inventory(self, data):
        """Give the job these hosts (ansible-inventory's JSON) as the controller does: a script in inventory/ that prints them."""
        self._write("inventory/hosts", "#!/usr/bin/env python3\nimport sys\nsys.stdout.write(%r)\n" % json.dumps(data), 0o700)

    def extravars(self, trusted=None, survey=None):
        """Write env/extravars: the controller's awx_* variables, the template's own (trusted) and the survey's answers."""
        answers = {"awx_job_id": int(self.ident), "awx_job_launch_type": "manual", "awx_user_name": "operator",
                   "awx_job_template_name": "vergeos-power"}
        answers.update(survey or {})
        self._write("env/extravars", extravars_yaml(trusted or {}, answers))

    def cmdline(self, *args):
        self._write("env/cmdline", shlex.join(args))

    def run_playbook(self, playbook):
        """Run the job: `ansible-runner run <dir> -p <playbook> --ident <job id>`."""
        process = run("ansible-runner", "run", str(self.dir), "-p", playbook, "--ident", self.ident)
        return RunnerResult(str(self.dir), self.ident, process)

    def run_inventory_update(self, source):
        """Run an inventory update of the project's source file; return (RunnerResult, hosts JSON or None)."""
        source_path = self.project / source
        output = self.dir / "artifacts" / self.ident / "output.json"
        self._write("args", shlex.join(["ansible-inventory", "--list", "--export", "-i", str(source_path), "--output", str(output),
                                        "--playbook-dir", str(source_path.parent)]))
        process = run("python", "-c", RUNNER_API, str(self.dir), self.ident)
        data = None
        if output.exists():
            data = plain(json.loads(output.read_text()))
        return RunnerResult(str(self.dir), self.ident, process), data
