"""README.md works as written: its commands before the usage reference run against the simulator.

Every fenced `sh` block of README.md above the heading "## Usage reference" is run, in order, in one
bash session (`set -euo pipefail`), as a reader who types them into one terminal would, with only
the values of the `VERGEOS_*` assignments replaced by the simulator's. The blocks with `make demo` and
`make test` are left out (each builds a virtualenv of its own and runs for minutes; the README says
so), and only those. The session runs in a copy of the checkout (what git would hold), with HOME a
fresh folder (so `~/collections` and `ansible-galaxy collection install` land there) and no
ANSIBLE_COLLECTIONS_PATH from outside: the collection must be found the way the README installs it.

Then the first-taste block runs again in a second session with the collection found only where the
tarball install put it (no ANSIBLE_COLLECTIONS_PATH), since the README offers both routes.

About 15 s (a tarball build and install, four ad-hoc commands).
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess

import pytest

from run_ansible import BIN, ROOT, base_env, sim_env
from sim_helpers import act, status_of, vm_keys, wait_for

USAGE_REFERENCE = "## Usage reference"
FENCED_SH = re.compile(r"^```(?:sh|bash|console)[^\n]*\n(.*?)^```", re.S | re.M)
LEFT_OUT = ("make demo", "make test")
ASSIGNMENT = re.compile(r"\b(VERGEOS_[A-Z_]+)=(\S+)")
VM = "vm-001"
TIMEOUT = 300


def load_stage():
    spec = importlib.util.spec_from_file_location("vergeos_power_stage", os.path.join(ROOT, "tools", "stage.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def blocks(text):
    """Return the sh blocks above the usage reference, and the lines left out (make demo / make test)."""
    assert USAGE_REFERENCE in text, "README.md has no '%s' heading" % USAGE_REFERENCE
    found = FENCED_SH.findall(text[:text.index(USAGE_REFERENCE)])
    kept, left_out = [], []
    for block in found:
        commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
        commands = [command for command in commands if command]
        if commands and all(command in LEFT_OUT for command in commands):
            left_out += commands
        else:
            kept.append(block)
    return kept, left_out


def substituted(block, values):
    """Return the block with the value of every VERGEOS_* assignment outside a comment replaced by values[name]."""
    lines = []
    for line in block.splitlines():
        code, hash_, comment = line.partition("#")
        for name, _value in ASSIGNMENT.findall(code):
            assert name in values, "README.md assigns %s, which the test cannot give a value for" % name
        lines.append(ASSIGNMENT.sub(lambda match: "%s=%s" % (match.group(1), values[match.group(1)]), code) + hash_ + comment)
    return "\n".join(lines) + "\n"


def session(script, cwd, home):
    env = base_env({"HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    del env["ANSIBLE_COLLECTIONS_PATH"]
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=str(cwd), env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=TIMEOUT, check=False)


def ad_hoc_results(stdout):
    """Return the JSON results of `ansible localhost -m ...` in the output ('localhost | STATUS => {...}')."""
    results = []
    for match in re.finditer(r"^localhost \| (\w+) => (\{.*?^\})", stdout, re.S | re.M):
        results.append((match.group(1), json.loads(match.group(2))))
    return results


def vm_power_state(sim, name):
    """Return the VM's machine status ('running', 'stopped'...), read from the simulator's API."""
    return status_of(sim, vm_keys(sim)[name])["status"]


def running(sim, name):
    """Power the VM on through the simulator's API if it is not running, and wait until it is (so the stop has work to do)."""
    if vm_power_state(sim, name) != "running":
        assert act(sim, vm_keys(sim)[name], "poweron").status_code in (200, 201)
        wait_for(lambda: vm_power_state(sim, name), lambda status: status == "running", timeout=30)


def test_the_extraction_keeps_every_block_but_make_demo_and_make_test():
    text = ("# t\n\n```sh\nmake demo   # a\nmake test\n```\n\n```sh\nexport VERGEOS_HOST=x VERGEOS_PASSWORD=...\nls  # VERGEOS_X=1\n```\n\n"
            "```yaml\na: 1\n```\n\n" + USAGE_REFERENCE + "\n\n```sh\nnot run\n```\n")
    kept, left_out = blocks(text)
    assert left_out == ["make demo", "make test"]
    assert kept == ["export VERGEOS_HOST=x VERGEOS_PASSWORD=...\nls  # VERGEOS_X=1\n"]
    assert substituted(kept[0], {"VERGEOS_HOST": "h:1", "VERGEOS_PASSWORD": "p"}) == \
        "export VERGEOS_HOST=h:1 VERGEOS_PASSWORD=p\nls  # VERGEOS_X=1\n"
    with pytest.raises(AssertionError):
        substituted("export VERGEOS_API_KEY=k\n", {"VERGEOS_HOST": "h"})


def test_readme_commands_run_as_written_against_the_simulator(world, tmp_path):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        kept, left_out = blocks(handle.read())
    assert sorted(left_out) == sorted(LEFT_OUT), left_out
    script = "".join(kept)
    assert "collection install" in script and "vergeos_vm_power" in script, script
    checkout, home = tmp_path / "vergeos.power", tmp_path / "home"
    home.mkdir()
    stage = load_stage()
    for path in stage.collection_files(ROOT):
        (checkout / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, path), checkout / path)
    values = sim_env(world)
    running(world, VM)

    result = session(substituted(script, values), checkout, home)
    assert result.returncode == 0, "stdout:\n%s\nstderr:\n%s" % (result.stdout, result.stderr)
    results = ad_hoc_results(result.stdout)
    assert [status for status, _result in results] == ["SUCCESS", "CHANGED"], result.stdout
    assert [vm["name"] for vm in results[0][1]["vms"]] == [VM]
    assert [(vm["name"], vm["power_state"]) for vm in results[1][1]["vms"]] == [(VM, "stopped")]
    assert vm_power_state(world, VM) == "stopped"
    assert os.path.islink(home / "collections" / "ansible_collections" / "vergeos" / "power")
    manifest = home / ".ansible" / "collections" / "ansible_collections" / "vergeos" / "power" / "MANIFEST.json"
    with open(manifest, encoding="utf-8") as handle:
        installed = json.load(handle)["collection_info"]["version"]

    # The tarball route alone: no ANSIBLE_COLLECTIONS_PATH, the collection where the install put it.
    world.reset()
    running(world, VM)
    taste = [block for block in kept if "vergeos_vm_power" in block]
    assert len(taste) == 1, kept
    result = session(substituted(taste[0], values), tmp_path, home)
    assert result.returncode == 0, "stdout:\n%s\nstderr:\n%s" % (result.stdout, result.stderr)
    assert [status for status, _result in ad_hoc_results(result.stdout)] == ["SUCCESS", "CHANGED"], result.stdout
    assert vm_power_state(world, VM) == "stopped"
    listed = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "list", "vergeos.power", "--format", "json"],
                            env=dict(base_env({"HOME": str(home)}), ANSIBLE_COLLECTIONS_PATH=str(home / ".ansible" / "collections")),
                            capture_output=True, text=True, check=False, timeout=TIMEOUT)
    assert listed.returncode == 0, listed.stderr
    assert installed == json.loads(listed.stdout)[str(home / ".ansible" / "collections" / "ansible_collections")]["vergeos.power"]["version"]
