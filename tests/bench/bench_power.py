"""Benchmark of vergeos_vm_power against the simulator, each figure beside its floor. Prints; asserts nothing.

    python tests/bench/bench_power.py [--tasks 20] [--repeat 3] [--speed 20]

1. No-op: a play of --tasks tasks `state: running` on a running VM, against the
   same number of `ansible.builtin.uri` tasks each doing one GET of that VM (the
   least a task that reads VergeOS can cost); per task = (play - empty play) / tasks.
   HTTP requests per no-op from the simulator's request log (target 1).
2. One VM stopped gracefully with wait: wall time (play - empty play) and
   requests, against the simulated shutdown time (floor).
3. 100 VMs stopped in one task (filters, default options, then an explicit
   max_concurrent_actions 20, which limits stops too): wall time and requests,
   against the floor of one read, 100 POSTs, one read per poll round and the
   simulated shutdown time (target: one shutdown + 10 %).
4. 300 VMs started in one task with the default window (20 power-ons at a time,
   a sliding window): wall time against ceil(300 / 20) boot times (target: within
   10 %).
The simulator runs at --speed (a 60 s shutdown takes 60/speed s). Ansible's own
start-up is in every play; the empty play is subtracted.
"""

import argparse
import math
import os
import statistics
import sys
import tempfile
import time

import requests
import yaml

# bench_paths first: it puts tests/simulator and tests/functional on sys.path, as pytest.ini does for pytest.
import bench_paths  # noqa: F401  pylint: disable=unused-import
import launcher
from run_ansible import run, sim_env

SHUTDOWN = 60
BOOT = 30
WINDOW = 20


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=20, help="tasks per no-op play (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each play, median kept (default 3)")
    parser.add_argument("--speed", type=float, default=20, help="simulator time scale (default 20)")
    parser.add_argument("--collections-path", help="run the collection found on this collections path (default: the checkout's)")
    return parser.parse_args(argv)


class Bench:
    def __init__(self, simulator, workdir, speed, collections_path=None):
        self.sim, self.workdir, self.speed = simulator, workdir, speed
        self.collections_path = collections_path
        self.session = requests.Session()

    def control(self, method, path, **kwargs):
        response = self.session.request(method, self.sim.url + path, verify=self.sim.ca, timeout=60, **kwargs)
        response.raise_for_status()
        return response.json()

    def load(self, vms=(), generate=None):
        scenario = {"speed": self.speed, "timings": {"shutdown": SHUTDOWN, "boot": BOOT}, "vms": list(vms)}
        if generate:
            scenario["generate"] = generate
        self.control("POST", "/_sim/scenario", json=scenario)

    def requests_log(self):
        return self.control("GET", "/_sim/requests")

    def play(self, tasks):
        """Run a one-play playbook on localhost; return (seconds, request log of the run)."""
        path = os.path.join(self.workdir, "play.yml")
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump([{"name": "Bench", "hosts": "localhost", "gather_facts": False, "tasks": tasks}], handle)
        self.control("DELETE", "/_sim/requests")
        started = time.monotonic()
        env = sim_env(self.sim)
        if self.collections_path:
            env["ANSIBLE_COLLECTIONS_PATH"] = self.collections_path
        result = run("ansible-playbook", path, env=env)
        seconds = time.monotonic() - started
        if result.returncode != 0:
            raise SystemExit("play failed:\n" + result.stdout[-3000:] + result.stderr[-2000:])
        return seconds, self.requests_log()

    def timed(self, tasks, repeat, before=None):
        runs = []
        for _run in range(repeat):
            if before:
                before()
            runs.append(self.play(tasks))
        return statistics.median(seconds for seconds, _log in runs), runs[-1][1]


def count(log, method):
    return sum(1 for entry in log if entry["method"] == method)


def row(label, value, floor, unit, note=""):
    ratio = "%.2f" % (value / floor) if floor else "-"
    print("%-44s %10.3f %10.3f %7s  %-4s %s" % (label, value, floor, ratio, unit, note))


def main(argv):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-power-") as workdir:
        with launcher.start_simulator(["--speed", str(args.speed)], workdir) as simulator:
            bench = Bench(simulator, workdir, args.speed, args.collections_path)
            bench.load([{"name": "web01", "key": 1, "power": "running"}])
            noop = {"name": "No-op", "vergeos.power.vergeos_vm_power": {"name": "web01", "state": "running"}}
            uri = {"name": "One GET", "ansible.builtin.uri": {
                "url": simulator.url + "/api/v4/vms/1?fields=$key,name,machine%23status%23status%20as%20status",
                "url_username": "admin", "url_password": "admin", "force_basic_auth": True, "ca_path": simulator.ca}}
            empty, _log = bench.timed([{"name": "Nothing", "ansible.builtin.meta": "noop"}], args.repeat)
            noops, noop_log = bench.timed([noop] * args.tasks, args.repeat)
            uris, _log = bench.timed([uri] * args.tasks, args.repeat)
            per_noop, per_uri = (noops - empty) / args.tasks, (uris - empty) / args.tasks

            def reset_one():
                bench.load([{"name": "web01", "key": 1, "power": "running"}])
            stop_one = {"name": "Stop", "vergeos.power.vergeos_vm_power": {"name": "web01", "state": "stopped", "poll_interval": 0.5}}
            single, single_log = bench.timed([stop_one], args.repeat, before=reset_one)

            def reset_many():
                bench.load(generate={"count": 100, "prefix": "bulk-", "running_ratio": 1})
            results = {}
            for concurrent in (None, 20):
                stop_many = {"name": "Stop 100", "vergeos.power.vergeos_vm_power": {
                    "filters": {"name_regex": "^bulk-"}, "state": "stopped", "max_targets": 100, "poll_interval": 0.5}}
                if concurrent:
                    stop_many["vergeos.power.vergeos_vm_power"]["max_concurrent_actions"] = concurrent
                results[concurrent] = bench.timed([stop_many], args.repeat, before=reset_many)

            def reset_stopped():
                bench.load(generate={"count": 300, "prefix": "boot-", "running_ratio": 0})
            start_many = {"name": "Start 300", "vergeos.power.vergeos_vm_power": {
                "filters": {"name_regex": "^boot-"}, "state": "running", "max_targets": 300, "poll_interval": 0.2}}
            starts = bench.timed([start_many], args.repeat, before=reset_stopped)

    shutdown = SHUTDOWN / args.speed
    print("vergeos_vm_power benchmark: simulator speed %g (a %d s shutdown takes %.1f s), median of %d runs"
          % (args.speed, SHUTDOWN, shutdown, args.repeat))
    print("%-44s %10s %10s %7s  %-4s %s" % ("measure", "value", "floor", "ratio", "unit", "note"))
    row("no-op task vs one uri GET task", per_noop, per_uri, "s", "%d tasks a play" % args.tasks)
    row("requests per no-op", len(noop_log) / args.tasks, 1, "req")
    row("stop 1 VM with wait (play - empty play)", single - empty, shutdown, "s")
    row("requests for it", len(single_log), 1 + 1 + shutdown / 0.5, "req",
        "%d GET, %d POST; floor: read, poweroff, a poll each 0.5 s" % (count(single_log, "GET"), count(single_log, "POST")))
    for concurrent, (seconds, log) in results.items():
        row("stop 100 VMs, %s" % ("default options" if concurrent is None else "max_concurrent_actions %d" % concurrent),
            seconds - empty, shutdown, "s", "target 1.10" if concurrent is None else "five windows of 20")
        row("requests for it", len(log), 1 + 100 + shutdown / 0.5, "req",
            "%d GET, %d POST" % (count(log, "GET"), count(log, "POST")))
    boot = BOOT / args.speed
    seconds, log = starts
    row("start 300 VMs, default window of %d" % WINDOW, seconds - empty, math.ceil(300 / WINDOW) * boot, "s",
        "floor: ceil(300/%d) boots of %.1f s; target 1.10" % (WINDOW, boot))
    row("requests for it", len(log), 1 + 300 + math.ceil(300 / WINDOW) * boot / 0.2, "req",
        "%d GET, %d POST" % (count(log, "GET"), count(log, "POST")))
    print("empty play (Ansible's own start-up, subtracted above): %.3f s" % empty)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
