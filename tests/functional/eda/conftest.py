"""Fixtures of the Event-Driven Ansible suite: the event source loaded as ansible-rulebook loads it, and real rulebook runs.

- `source` (session): the plugin file run by its path through the collections folder the Makefile
  builds (`.cache/collections/ansible_collections/vergeos/power/...`), run as a script by its path, as
  ansible-rulebook runs an event source of a collection: a dict of its globals.
- `java` (session): the Java that ansible-rulebook needs (17 or newer); the test FAILS, saying what
  to install, when there is none. Never a skip.
- `rulebook` (function): starts `ansible-rulebook` from the virtualenv against a simulator, with the
  collection on the collections path and the VERGEOS_* variables pointing at it; stops what it
  started after the test (SIGINT, then SIGKILL).
"""

import importlib.util
import os
import re
import sys
import shutil
import signal
import subprocess

import pytest
import yaml

from run_ansible import BIN, base_env, collections_path, sim_env

SOURCE_PARTS = ("ansible_collections", "vergeos", "power", "extensions", "eda", "plugins", "event_source", "vm_power_events.py")
INVENTORY = {"all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}
STOP_TIMEOUT = 20


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


@pytest.fixture(scope="session")
def java():
    home = os.environ.get("JAVA_HOME")
    binary = os.path.join(home, "bin", "java") if home and os.path.exists(os.path.join(home, "bin", "java")) else shutil.which("java")
    advice = ("ansible-rulebook runs its rules engine (Drools) on Java 17 or newer: install a Java 17+ runtime (on Debian or Ubuntu: "
              "apt-get install openjdk-17-jre-headless) or set JAVA_HOME to one, then run the EDA suite again")
    if not binary:
        pytest.fail("no java on PATH (nor in JAVA_HOME). " + advice)
    result = subprocess.run([binary, "-version"], capture_output=True, text=True, check=False, timeout=60)
    major = java_major(result.stderr + result.stdout)
    if major is None or major < 17:
        pytest.fail("%s -version says %r. %s" % (binary, (result.stderr + result.stdout).strip()[:200], advice))
    return binary


class Rulebook:
    """A running ansible-rulebook process; its output goes to a file (no pipe to fill)."""

    def __init__(self, process, output):
        self.process = process
        self.output_path = output

    def output(self):
        with open(self.output_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self):
        """Stop it as an operator would (SIGINT), kill it if that does not work; return its whole output."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        return self.output()


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
