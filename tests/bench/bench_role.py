"""Benchmark of the safe_shutdown role at scale against the simulator. Prints figures; asserts nothing.

    python tests/bench/bench_role.py [--vms 200] [--ignoring 0.1] [--timeout 20] [--speed 20] [--rate-limit 50] [--burst 20]
                                     [--forms list,drop,429,hosts] [--free-vms 0]

A world of --vms running VMs, every 1/--ignoring-th of which ignores ACPI (half of
those keep showing running, half sit in stopping); the others shut down in 3 s at
--speed 20 (60 simulated seconds). The role stops them all with safe_shutdown_timeout
--timeout, in two forms:

1. ``list``: from localhost with a list (safe_shutdown_targets: every name);
2. ``drop``: the same through VergeOS's rate limit: the simulator drops the connections
   of a user over --rate-limit requests a second (bursts of --burst), as VergeOS does;
3. ``429``: the same limit answered with 429 and Retry-After 1, as a proxy does;
4. ``hosts``: as a play over --vms inventory hosts (a static inventory with vergeos_id
   and vergeos_url, as the vergeos.power.vergeos inventory plugin sets them).

For each: wall time of ansible-playbook beside the goal (the timeout, the simulated
kill and 15 s), the role's own elapsed, and from the simulator's request log: the
requests (reads, poweroffs, kills), the share refused by the rate limit, the rate
admitted while the poweroffs go out (admitted requests from the first poweroff sent to
the last one admitted, over that time), when the last VM's poweroff was acknowledged
(from the first poweroff sent; its floor is (VMs - burst) / rate), kills sent to
obedient guests (always 0 when right) and the VMs with an admitted poweroff or kill.
--free-vms N also runs the per-host form (strategy free, safe_shutdown_batch false)
over N hosts, to show its cost. The simulator and ansible-playbook share the machine;
both are part of every figure.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import requests

# bench_paths first: it puts tests/simulator and tests/functional on sys.path, as pytest.ini does for pytest.
import bench_paths  # noqa: F401  pylint: disable=unused-import
import launcher

# Simulated seconds a kill takes; the goal of a run is the timeout, this (scaled) and 15 s.
KILL = 3
GOAL_MARGIN = 15

PLAYBOOK_LIST = """
- name: Bench - safe_shutdown over a list, from localhost
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Shut the list down
      ansible.builtin.include_role:
        name: vergeos.power.safe_shutdown
      vars:
        safe_shutdown_targets: {names}
        safe_shutdown_timeout: {timeout}
    - name: Write the result
      ansible.builtin.copy:
        content: "{{{{ safe_shutdown_result | to_json }}}}"
        dest: {result}
        mode: "0600"
"""

PLAYBOOK_HOSTS = """
- name: Bench - safe_shutdown over the play's inventory hosts
  hosts: vms
  gather_facts: false
  strategy: {strategy}
  vars:
    safe_shutdown_timeout: {timeout}
    safe_shutdown_batch: {batch}
  roles:
    - role: vergeos.power.safe_shutdown

- name: Write the result
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the result of every host
      ansible.builtin.copy:
        content: "{{{{ groups['vms'] | map('extract', hostvars, 'safe_shutdown_result') | list | to_json }}}}"
        dest: {result}
        mode: "0600"
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--vms", type=int, default=200, help="VMs, all running (default 200)")
    parser.add_argument("--ignoring", type=float, default=0.1, help="share of guests that ignore ACPI (default 0.1)")
    parser.add_argument("--timeout", type=int, default=20, help="safe_shutdown_timeout in seconds (default 20)")
    parser.add_argument("--speed", type=float, default=20, help="simulator time scale (default 20)")
    parser.add_argument("--rate-limit", type=float, default=50, help="requests a second per user for the rate-limit forms (default 50)")
    parser.add_argument("--burst", type=int, default=20, help="the rate limit's burst (default 20)")
    parser.add_argument("--forms", default="list,drop,429,hosts", help="forms to run, from list, drop, 429, hosts (default all)")
    parser.add_argument("--dump", help="write each form's request log as JSON to this directory")
    parser.add_argument("--free-vms", type=int, default=0, help="also run the per-host form (strategy free) over this many hosts")
    return parser.parse_args(argv)


def scenario(count, ignoring, speed):
    every = max(1, round(1 / ignoring)) if ignoring > 0 else 0
    vms = []
    for index in range(1, count + 1):
        vm = {"name": "bench-%03d" % index, "key": index, "power": "running"}
        if every and index % every == 0:
            vm["guest"] = {"acpi": "ignore", "acpi_pending_status": "running" if (index // every) % 2 else "stopping"}
        vms.append(vm)
    return {"speed": speed, "timings": {"shutdown": 60, "kill": KILL, "boot": 30}, "vms": vms}


def control(sim, method, path, **kwargs):
    response = requests.request(method, sim.url + path, verify=sim.ca, timeout=60, **kwargs)
    response.raise_for_status()
    return response.json()


def inventory(path, count, host):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("all:\n  children:\n    vms:\n      hosts:\n")
        for index in range(1, count + 1):
            handle.write("        bench-%03d: {vergeos_id: %d}\n" % (index, index))
        handle.write("      vars:\n        vergeos_url: https://%s\n" % host)
        handle.write("  vars:\n    ansible_connection: local\n    ansible_python_interpreter: %s\n" % sys.executable)


def summary(result):
    """Return (the role's elapsed, {outcome: count}) from one safe_shutdown_result or a list of them (one per host)."""
    results = result if isinstance(result, list) else [result]
    outcomes = {}
    for item in results:
        for vm in item["vms"]:
            outcomes[vm["name"]] = vm["outcome"]
    counts = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return max(item["elapsed"] for item in results), counts


def refused(entry):
    """Whether the rate limit refused this request (its fault carries a rate_limit member)."""
    return "rate_limit" in (entry.get("fault") or {})


def pacing_figures(log, world):
    """Return the rate-limit figures of a run from the simulator's request log (see the module's docstring)."""
    deaf = {vm["key"] for vm in world["vms"] if "guest" in vm}
    poweroffs = [entry for entry in log if entry["path"] == "/api/v4/vm_actions" and (entry.get("body") or {}).get("action") == "poweroff"]
    figures = {"refused": sum(1 for entry in log if refused(entry)), "total": len(log)}
    admitted_offs = [entry for entry in poweroffs if not refused(entry) and entry.get("status") and entry["status"] < 300]
    if poweroffs and admitted_offs:
        start, end = poweroffs[0]["time"], admitted_offs[-1]["time"]
        admitted = sum(1 for entry in log if start <= entry["time"] <= end and not refused(entry))
        figures.update(last_ack=end - start, admitted_rate=admitted / (end - start) if end > start else None)
    kills = [entry for entry in log if entry["path"] == "/api/v4/vm_actions" and (entry.get("body") or {}).get("action") == "kill"
             and not refused(entry)]
    figures["kills_obedient"] = sum(1 for entry in kills if int(entry["body"]["vm"]) not in deaf)
    figures["stopped_by_log"] = len({int(entry["body"]["vm"]) for entry in admitted_offs + kills if entry.get("status") and entry["status"] < 300})
    return figures


def run(label, sim, world, playbook, *, workdir, extra_args=(), result_path, timeout, speed, limit=None, dump=None):
    """Load the world, run the playbook, print its wall time, the role's outcomes and the requests it cost."""
    control(sim, "POST", "/_sim/scenario", json=world)
    control(sim, "DELETE", "/_sim/requests")
    path = os.path.join(workdir, "play.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(playbook)
    env = dict(os.environ, VERGEOS_HOST=sim.host, VERGEOS_USERNAME="admin", VERGEOS_PASSWORD="admin", VERGEOS_CA_PATH=sim.ca,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path, *extra_args]
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    log = control(sim, "GET", "/_sim/requests")
    if dump:
        with open(os.path.join(dump, "".join(char if char.isalnum() else "-" for char in label) + ".json"), "w", encoding="utf-8") as handle:
            json.dump(log, handle)
    if done.returncode != 0:
        print("%s: ansible-playbook failed (exit %d):\n%s" % (label, done.returncode, done.stdout[-3000:] + done.stderr[-2000:]))
        return
    with open(result_path, encoding="utf-8") as handle:
        elapsed, counts = summary(json.load(handle))
    actions = [entry["body"]["action"] for entry in log if entry["path"] == "/api/v4/vm_actions"]
    reads = sum(1 for entry in log if entry["method"] == "GET")
    goal = timeout + KILL / speed + GOAL_MARGIN
    figures = pacing_figures(log, world)
    outcomes = ", ".join("%d %s" % (number, name) for name, number in sorted(counts.items()))
    print("%s: wall %.1f s, %.2f x the goal of %.1f s (the role's own elapsed %.1f s, %.2f x the %d s timeout); outcomes %s; "
          "requests %d: %d GET, %d poweroff, %d kill, %d other" % (label, wall, wall / goal, goal, elapsed, elapsed / timeout, timeout,
                                                                   outcomes, len(log), reads, actions.count("poweroff"), actions.count("kill"),
                                                                   len(log) - reads - len(actions)), flush=True)
    line = "    refused %d of %d requests (%.1f %%)" % (figures["refused"], figures["total"], 100.0 * figures["refused"] / max(1, figures["total"]))
    if figures.get("admitted_rate") is not None:
        line += "; admitted %.1f /s while sending" % figures["admitted_rate"]
        if limit:
            line += " (%.0f %% of the limit)" % (100.0 * figures["admitted_rate"] / limit["rate"])
    if figures.get("last_ack") is not None:
        line += "; last poweroff acknowledged %.2f s after the first was sent" % figures["last_ack"]
        if limit:
            line += " (floor %.2f s)" % (max(0, len(world["vms"]) - limit["burst"]) / limit["rate"])
    line += "; kills to obedient guests %d; VMs with an admitted poweroff or kill %d of %d" % (
        figures["kills_obedient"], figures["stopped_by_log"], len(world["vms"]))
    print(line, flush=True)


def main(argv):
    args = parse_args(argv)
    forms = [form.strip() for form in args.forms.split(",") if form.strip()]
    world = scenario(args.vms, args.ignoring, args.speed)
    names = [vm["name"] for vm in world["vms"]]
    ignoring = sum(1 for vm in world["vms"] if "guest" in vm)
    print("safe_shutdown benchmark: %d running VMs, %d ignore ACPI, safe_shutdown_timeout %d s, simulator speed %g "
          "(a graceful shutdown takes %.1f s)" % (args.vms, ignoring, args.timeout, args.speed, 60 / args.speed), flush=True)
    with tempfile.TemporaryDirectory(prefix="vergeos-bench-role-") as workdir:
        with launcher.start_simulator(["--speed", str(args.speed)], workdir) as sim:
            result = os.path.join(workdir, "result.json")
            listed = PLAYBOOK_LIST.format(names=json.dumps(names), timeout=args.timeout, result=result)
            common = {"workdir": workdir, "result_path": result, "timeout": args.timeout, "speed": args.speed, "dump": args.dump}
            if "list" in forms:
                run("list form (localhost, %d names)" % args.vms, sim, world, listed, **common)
            for mode in ("drop", "429"):
                if mode not in forms:
                    continue
                limit = {"rate": args.rate_limit, "burst": args.burst, "mode": mode}
                if mode == "429":
                    limit["retry_after"] = 1
                run("list form through a rate limit of %g/s, burst %d (%s)" % (args.rate_limit, args.burst, mode), sim,
                    dict(world, rate_limit=limit), listed, limit=limit, **common)
            hosts = os.path.join(workdir, "hosts.yml")
            if "hosts" in forms:
                inventory(hosts, args.vms, sim.host)
                run("inventory form (%d hosts, linear)" % args.vms, sim, world,
                    PLAYBOOK_HOSTS.format(strategy="linear", batch="true", timeout=args.timeout, result=result),
                    extra_args=["-i", hosts], **common)
            if args.free_vms:
                small = scenario(args.free_vms, args.ignoring, args.speed)
                inventory(hosts, args.free_vms, sim.host)
                run("per-host form (%d hosts, strategy free, default forks)" % args.free_vms, sim, small,
                    PLAYBOOK_HOSTS.format(strategy="free", batch="false", timeout=args.timeout, result=result),
                    extra_args=["-i", hosts], **common)


if __name__ == "__main__":
    main(sys.argv[1:])
