"""Run ansible-playbook (or another ansible command) as a user would, against a simulator.

`run(command, *args, env=..., cwd=...)` runs `.venv/bin/<command>` with the collection on
ANSIBLE_COLLECTIONS_PATH and no VERGEOS_* variable inherited from the caller, so a
test says exactly which connection settings a run sees. It returns the
CompletedProcess (text stdout and stderr). `run_play(sim, tmp_path, tasks, keep=...)` runs
one play on localhost against a simulator and hands back the request log and registered values.
"""

import json
import os
import signal
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
BIN = os.path.dirname(sys.executable)
TIMEOUT = 300


def plain(value):
    """Return ansible-inventory's JSON without 2.19's {"__ansible_unsafe": x} wrappers of untrusted strings."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def sim_env(sim, password="admin", username="admin"):
    """Return the VERGEOS_* variables that point a module at the simulator."""
    return {"VERGEOS_HOST": sim.host, "VERGEOS_USERNAME": username, "VERGEOS_PASSWORD": password, "VERGEOS_CA_PATH": sim.ca}


def collections_path():
    """Return the collections dir the Makefile builds (the repository linked in as vergeos/power), making it if missing."""
    link = os.path.join(COLLECTIONS, "ansible_collections", "vergeos", "power")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    return COLLECTIONS


def base_env(extra=None):
    """Return a clean environment for an ansible command: ours on the collections path, no VERGEOS_* or ANSIBLE_* from outside."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("VERGEOS_", "ANSIBLE_"))}
    env.update(
        PATH=BIN + os.pathsep + env.get("PATH", ""),
        ANSIBLE_COLLECTIONS_PATH=collections_path(),
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_HOST_KEY_CHECKING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="false",
    )
    env.update(extra or {})
    return env


def run(command, *args, env=None, cwd=None, timeout=TIMEOUT):
    """Run an ansible command from the virtualenv; return the CompletedProcess."""
    return subprocess.run([os.path.join(BIN, command), *args], env=base_env(env), cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, check=False)


def run_play(sim, tmp_path, tasks, *args, keep=(), env=None):
    """Run one play of ``tasks`` on localhost against ``sim``; return (CompletedProcess, request log, {name: registered value}).

    The request log is cleared first and read after the run; each name in ``keep`` is a
    registered variable, dumped to JSON by an added task and loaded back. The simulator's
    default world is put back afterwards, so the caller's world does not leak into others.
    """
    kept_tasks = [{"name": "Keep %s" % name, "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % name,
                                                                      "dest": str(tmp_path / ("%s.json" % name)), "mode": "0600"}}
                  for name in keep]
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{"name": "Test play", "hosts": "localhost", "gather_facts": False, "tasks": list(tasks) + kept_tasks,
                                     "vars": {"ansible_python_interpreter": sys.executable}}], sort_keys=False))
    try:
        sim.clear_requests()
        result = run("ansible-playbook", *args, str(play), env=sim_env(sim) if env is None else env)
        log = sim.requests()
    finally:
        sim.reset()
    values = {name: json.loads((tmp_path / ("%s.json" % name)).read_text()) for name in keep if (tmp_path / ("%s.json" % name)).exists()}
    return result, log, values


def vm_actions(sim, action):
    """Return the VM ids of every POST vm_actions with this action in the simulator's request log, sorted (repeats kept)."""
    return sorted(int(entry["body"]["vm"]) for entry in sim.requests()
                  if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions" and entry["body"]["action"] == action)


def vm_statuses(sim):
    """Return {VM id: raw status} read now, as another client would."""
    rows = sim.api("GET", "/api/v4/vms", params={"fields": "$key,machine#status#status as status"}).json()
    return {int(row["$key"]): row["status"] for row in rows}


def kill_tree(process):
    """SIGKILL a run and every process below it (ansible-core's workers call setsid), read from /proc before any dies."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as stat:
                    children.setdefault(int(stat.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], [process.pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()
