"""Helpers of the Event-Driven Ansible suite (imported by name: the test folder is on sys.path, as pytest puts it there)."""

import ast
import re
import signal
import subprocess
import time

import pytest

INVENTORY = {"all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}
STOP_TIMEOUT = 20


def wait_for(predicate, timeout, what, step=0.1):
    """Return predicate()'s first true value within timeout seconds; fail the test naming what did not happen (a text, or a function
    giving it then)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("within %g s: %s" % (timeout, what() if callable(what) else what))
        time.sleep(step)


def listing_starts(log):
    """Return the log entries that start a VM listing (its first page, or the whole listing read at once)."""
    return [entry for entry in log if entry["method"] == "GET" and entry["path"] == "/api/v4/vms"
            and str(entry["query"].get("offset", "0")) == "0"
            and not re.search(r"(\$key|name) eq ", str(entry["query"].get("filter", "")))]


def actions(log, action=None):
    """Return [(VM id, action)] of the power actions in a request log, in order."""
    return [(int(entry["body"]["vm"]), entry["body"]["action"]) for entry in log
            if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions" and (action is None or entry["body"]["action"] == action)]


def printed_events(output):
    """Return the vergeos_power bodies of the events ansible-rulebook printed (--print-events), in the order it received them."""
    found = []
    for block in output.split("[received event]")[1:]:
        text = block.split("Event:\n", 1)[-1].split("\n****", 1)[0]
        try:
            event = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            continue  # Not one of the source's events (ansible-rulebook's own Shutdown, for one).
        if isinstance(event, dict) and "vergeos_power" in event:
            found.append(event["vergeos_power"])
    return found


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
