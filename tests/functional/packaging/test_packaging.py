"""The collection as it ships: the tarball, the execution environment ansible-builder makes of it, and a run from it.

One module-scoped fixture does what an image build would, without a container engine:

1. `ansible-galaxy collection build` of the repository (build_ignore decides what ships);
2. `ansible-builder create` on docs/ee/execution-environment.yml, copied beside the tarball;
3. the image's stages, replayed in a fresh virtualenv standing for the base image: ansible-core
   from the registry (the EE file's pin), the galaxy stage (`ansible-galaxy collection install -r`
   the generated requirements.yml, from the generated build directory), the builder stage (the
   generated context's own introspect.py collecting the collections' Python requirements) and the
   pip install of what it collected.

The playbook test then runs that virtualenv's ansible-playbook with ANSIBLE_COLLECTIONS_PATH set
to the install directory alone, so the modules and the role come from the tarball, never from
this checkout.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

from run_ansible import BIN, ROOT, run, sim_env

# One build per run: with `pytest -n N --dist loadfile` (make functional) every test of this module goes to the same worker.
pytestmark = pytest.mark.xdist_group("packaging")

EE_FILE = os.path.join(ROOT, "docs", "ee", "execution-environment.yml")
PIP_TIMEOUT = 600
# Files ansible-galaxy adds to every tarball.
GENERATED = {"MANIFEST.json", "FILES.json"}
WORLD = {
    "speed": 100,
    "users": [{"name": "admin", "password": "admin"}],
    "vms": [
        {"name": "ee-web01", "key": 21, "power": "running"},
        {"name": "ee-db01", "key": 22, "power": "running"},
        {"name": "ee-idle01", "key": 23, "power": "running"},
    ],
}


def requirement_lines(path):
    """Return the requirement lines of a pip requirements file, without comments and blank lines."""
    with open(path, encoding="utf-8") as handle:
        lines = [line.split("#", 1)[0].strip() for line in handle]
    return [line for line in lines if line]


def all_requirement_lines(path, seen=None):
    """Return the requirement lines of a pip requirements file and of the files it includes with -r (each file once)."""
    seen = set() if seen is None else seen
    seen.add(os.path.abspath(path))
    found = []
    for line in requirement_lines(path):
        if line.startswith("-r "):
            included = os.path.join(os.path.dirname(path), line[3:].strip())
            if os.path.abspath(included) not in seen:
                found += all_requirement_lines(included, seen)
        else:
            found.append(line)
    return found


def pinned(name):
    """Return the `name==version` line of requirements-dev.txt (with the files it includes)."""
    matches = [line for line in all_requirement_lines(os.path.join(ROOT, "requirements-dev.txt")) if line.startswith(name + "==")]
    assert len(matches) == 1, "requirements-dev.txt and the files it includes pin %s once: %r" % (name, matches)
    return matches[0]


def checked(result, what):
    assert result.returncode == 0, "%s failed (rc %s)\nstdout:\n%s\nstderr:\n%s" % (what, result.returncode, result.stdout, result.stderr)
    return result


def in_venv(venv, command, *args, collections, cwd, env=None):
    """Run a command of the fresh virtualenv through run_ansible.run (an absolute path wins over its BIN in os.path.join).

    The environment is run_ansible's clean one with the virtualenv first on PATH and only the
    install directory on the collections path.
    """
    binary = os.path.join(venv, "bin")
    # The checkout's .venv (which `make` puts on PATH) is left out, so nothing of it is found by name.
    path = [binary] + [entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry and os.path.realpath(entry) != os.path.realpath(BIN)]
    clean = {"PATH": os.pathsep.join(path), "ANSIBLE_COLLECTIONS_PATH": collections, "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
             "VIRTUAL_ENV": venv}
    return run(os.path.join(binary, command), *args, env={**(env or {}), **clean}, cwd=cwd, timeout=PIP_TIMEOUT)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """Build the tarball and the EE context, and replay the image's stages in a fresh virtualenv."""
    base = tmp_path_factory.mktemp("packaging")
    ee_dir, context, collections, venv = base / "ee", base / "context", base / "collections", base / "venv"
    ee_dir.mkdir()
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        galaxy = yaml.safe_load(handle)
    with open(EE_FILE, encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)

    checked(run("ansible-galaxy", "collection", "build", "--output-path", str(ee_dir), ROOT, cwd=str(base)), "ansible-galaxy collection build")
    tarballs = sorted(ee_dir.glob("*.tar.gz"))
    assert [path.name for path in tarballs] == ["%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"])]

    shutil.copy(EE_FILE, ee_dir / "execution-environment.yml")
    checked(run("ansible-builder", "create", "--file", str(ee_dir / "execution-environment.yml"), "--context", str(context),
                "--output-filename", "Containerfile", cwd=str(ee_dir)), "ansible-builder create")

    # The base image: a Python with ansible-core as the EE file pins it, pip from the configured index.
    checked(run(sys.executable, "-m", "venv", str(venv), cwd=str(base)), "python -m venv")
    core = definition["dependencies"]["ansible_core"]["package_pip"]
    checked(in_venv(str(venv), "python", "-m", "pip", "install", "--quiet", core, collections=str(collections), cwd=str(base)),
            "pip install " + core)
    # The galaxy stage: the generated requirements.yml, run from the generated build directory (the image's /build).
    build_dir = context / "_build"
    galaxy_stage = checked(in_venv(str(venv), "ansible-galaxy", "collection", "install", "-r", "requirements.yml", "-p", str(collections),
                                   collections=str(collections), cwd=str(build_dir)), "galaxy stage")
    # The builder stage: the context's introspect.py over what the galaxy stage installed.
    collected, collected_system = base / "collected-requirements.txt", base / "collected-bindep.txt"
    introspect = checked(in_venv(str(venv), "python", str(build_dir / "scripts" / "introspect.py"), "introspect", str(collections),
                                 "--write-pip", str(collected), "--write-bindep", str(collected_system), collections=str(collections),
                                 cwd=str(build_dir)), "introspect")
    # The assemble step: pip installs what was collected (nothing when introspection found nothing: the tests say so).
    if collected.exists():
        checked(in_venv(str(venv), "python", "-m", "pip", "install", "--quiet", "-r", str(collected), collections=str(collections),
                        cwd=str(base)), "pip install of the collected requirements")
    return {
        "base": base, "galaxy": galaxy, "definition": definition, "tarball": tarballs[0], "context": context,
        "collections": collections, "venv": venv, "galaxy_stage": galaxy_stage, "collected": collected,
        "collected_system": collected_system, "introspect": introspect,
    }


def test_tarball_ships_the_collection_and_nothing_else(shipped):
    with tarfile.open(shipped["tarball"]) as tar:
        names = {member.name for member in tar.getmembers() if member.isfile()}
    tops = {name.split("/", 1)[0] for name in names}
    for wanted in ("meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
                   "docs/execution-environment.md", "docs/ee/execution-environment.yml", "roles/safe_shutdown/tasks/main.yml",
                   "plugins/modules/vergeos_vm_power.py", "plugins/action/vergeos_vm_power.py", "plugins/inventory/vergeos.py",
                   "plugins/module_utils/client.py", "README.md", "MANIFEST.json"):
        assert wanted in names, wanted + " is not in the tarball"
    for unwanted in (".venv", ".venv-demo", ".cache", ".git", ".github", "tools", "Makefile", "requirements-dev.txt", "requirements-sim.txt",
                     "requirements-test.txt", "requirements-publish.txt", "ruff.toml", "build"):
        assert unwanted not in tops, unwanted + " is in the tarball"
    for unwanted in ("tests/simulator/", "tests/functional/", "tests/bench/", "tests/output/", "tests/integration/", "extensions/molecule/"):
        assert not [name for name in names if name.startswith(unwanted)], unwanted + " is in the tarball"
    # Nothing git ignores (state, caches, build output) and nothing outside the work tree's files.
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    assert names - GENERATED <= set(listed), sorted(names - GENERATED - set(listed))
    with tarfile.open(shipped["tarball"]) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    assert manifest["collection_info"]["version"] == shipped["galaxy"]["version"]


def test_builder_context_carries_the_tarball(shipped):
    context, tarball = shipped["context"], shipped["tarball"]
    assert (context / "_build" / "collections" / tarball.name).read_bytes() == tarball.read_bytes()
    with open(context / "_build" / "requirements.yml", encoding="utf-8") as handle:
        galaxy_requirements = yaml.safe_load(handle)
    assert galaxy_requirements == {"collections": [{"name": "collections/" + tarball.name, "type": "file"}]}
    containerfile = (context / "Containerfile").read_text()
    core = shipped["definition"]["dependencies"]["ansible_core"]["package_pip"]
    assert 'ARG ANSIBLE_INSTALL_REFS="%s ' % core in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect.py introspect" in containerfile
    # No Python requirement of the EE's own: the collection brings requests itself.
    assert not (context / "_build" / "requirements.txt").exists()
    assert "vergeos.power:%s was installed successfully" % shipped["galaxy"]["version"] in shipped["galaxy_stage"].stdout


def test_ee_pins_the_ansible_core_the_tests_run_on(shipped):
    assert shipped["definition"]["version"] == 3
    assert shipped["definition"]["dependencies"]["ansible_core"]["package_pip"] == pinned("ansible-core")


def test_introspection_collects_exactly_the_runtime_requirements(shipped):
    own = requirement_lines(os.path.join(ROOT, "meta", "ee-requirements.txt"))
    assert own, "meta/ee-requirements.txt lists nothing"
    assert shipped["collected"].exists(), "introspection collected no Python requirement:\n" + shipped["introspect"].stdout
    assert requirement_lines(shipped["collected"]) == own
    with open(shipped["collected"], encoding="utf-8") as handle:
        assert all(line.endswith("# from collection vergeos.power") for line in handle.read().splitlines() if line)
    # meta/ee-bindep.txt lists no system package: introspection writes no bindep file at all.
    assert not shipped["collected_system"].exists(), shipped["introspect"].stdout


def test_playbook_runs_from_the_installed_tarball(shipped, sim):
    sim.load(WORLD)
    sim.clear_requests()
    try:
        play = [{
            "name": "vergeos.power from its tarball",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "tasks": [
                {"name": "Read the VM", "vergeos.power.vergeos_vm_info": {"name": "ee-web01"}, "register": "info"},
                {"name": "Stop it", "vergeos.power.vergeos_vm_power": {"name": "ee-web01", "state": "stopped", "poll_interval": 0.2},
                 "register": "stop"},
                {"name": "Shut another one down safely", "ansible.builtin.include_role": {"name": "vergeos.power.safe_shutdown"},
                 "vars": {"safe_shutdown_targets": ["ee-db01"], "safe_shutdown_timeout": 60, "safe_shutdown_poll_interval": 0.2}},
                {"name": "Report", "ansible.builtin.copy": {
                    "content": "{{ {'info': info.vms, 'stop': stop, 'role': safe_shutdown_result} | to_json }}", "dest": "{{ report_file }}",
                    "mode": "0600"}},
            ],
        }]
        base, venv, collections = shipped["base"], str(shipped["venv"]), str(shipped["collections"])
        report_file = base / "report.json"
        playbook = base / "play.yml"
        playbook.write_text(yaml.safe_dump(play, sort_keys=False))

        # The only vergeos.power this virtualenv's ansible sees is the one installed from the tarball.
        listing = checked(in_venv(venv, "ansible-galaxy", "collection", "list", "vergeos.power", "--format", "json",
                                  collections=collections, cwd=str(base)), "ansible-galaxy collection list")
        assert {path: sorted(found) for path, found in json.loads(listing.stdout).items()} == {
            os.path.join(collections, "ansible_collections"): ["vergeos.power"]}

        checked(in_venv(venv, "ansible-playbook", str(playbook), "-e", "report_file=%s" % report_file, collections=collections, cwd=str(base),
                        env=sim_env(sim)), "ansible-playbook")
        report = json.loads(report_file.read_text())
        assert [(vm["name"], vm["power_state"]) for vm in report["info"]] == [("ee-web01", "running")]
        assert report["stop"]["changed"] is True, report["stop"]
        assert [(vm["name"], vm["power_state"]) for vm in report["stop"]["vms"]] == [("ee-web01", "stopped")], report["stop"]
        # The simulator's guests honour ACPI by default: the role stops this one gracefully.
        role = report["role"]
        assert (role["failed"], role["graceful"], role["killed"], role["was_running"]) == (False, ["ee-db01"], [], ["ee-db01"]), role
        for key, state in ((21, "stopped"), (22, "stopped"), (23, "running")):
            response = sim.api("GET", "/api/v4/vms/%d" % key, params={"fields": "machine#status#status as status"})
            assert response.json()["status"] == state, (key, response.json())
    finally:
        sim.reset()
