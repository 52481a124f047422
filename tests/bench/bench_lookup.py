"""Benchmark of a power task that names many VMs: time from its first request to its first POST. Prints figures; asserts nothing.

    python tests/bench/bench_lookup.py [--sizes 100,1000] [--repeat 2] [--speed 20] [--latencies 0,0.02]

A world of max(--sizes) running VMs. For each size N, one `vergeos_vm_power` task names
N of them (`names`, `state: stopped`, `wait: false`); from the simulator's request
log: the time from the task's first request to its first POST (the lookups that
resolve the names and what else comes before the first action), and how many
requests came before it. The issue's goal: 1,000 names within 3 x the time of 100.
Median of --repeat runs. The simulator and ansible-playbook share the machine.

Each size runs once per latency of --latencies: the simulator sleeps that long
before it handles each API request (a `delay` fault on every request), which
stands for the network and the server's own time a real VergeOS takes to answer
(requests in flight at once wait side by side). With 0 (the loopback, an
answer in 3 ms) the figure is CPU time on 2 cores shared by the client and the
simulator, which reads in parallel cannot shorten; with a latency it is the
number of round trips one after another, which they do.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import requests

# bench_paths first: it puts tests/simulator and tests/functional on sys.path, as pytest.ini does for pytest.
import bench_paths  # noqa: F401  pylint: disable=unused-import
import launcher

PLAYBOOK = """
- name: Bench - a power task naming many VMs
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Stop the named VMs without waiting
      vergeos.power.vergeos_vm_power:
        names: {names}
        state: stopped
        wait: false
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="100,1000", help="VMs named by the task, comma-separated (default 100,1000)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each size, median kept (default 2)")
    parser.add_argument("--speed", type=float, default=20, help="simulator time scale (default 20)")
    parser.add_argument("--latencies", default="0,0.02",
                        help="seconds the simulator waits before answering each API request, comma-separated (default 0,0.02)")
    return parser.parse_args(argv)


def control(sim, method, path, **kwargs):
    response = requests.request(method, sim.url + path, verify=sim.ca, timeout=60, **kwargs)
    response.raise_for_status()
    return response.json()


def one_run(sim, workdir, count, total, speed):
    """Return (seconds from the first request to the first POST, requests before it) for one task naming ``count`` VMs."""
    width = max(3, len(str(total)))
    control(sim, "POST", "/_sim/scenario", json={"speed": speed, "generate": {"count": total, "prefix": "lk-", "running_ratio": 1}})
    control(sim, "DELETE", "/_sim/requests")
    names = ["lk-%0*d" % (width, index) for index in range(1, count + 1)]
    path = os.path.join(workdir, "play.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(PLAYBOOK.format(names=json.dumps(names)))
    env = dict(os.environ, VERGEOS_HOST=sim.host, VERGEOS_USERNAME="admin", VERGEOS_PASSWORD="admin", VERGEOS_CA_PATH=sim.ca,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path], env=env, cwd=workdir,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit("ansible-playbook failed (exit %d):\n%s" % (done.returncode, done.stdout[-3000:] + done.stderr[-2000:]))
    log = control(sim, "GET", "/_sim/requests")
    posts = [index for index, entry in enumerate(log) if entry["method"] == "POST" and entry["path"] == "/api/v4/vm_actions"]
    if not posts:
        raise SystemExit("no POST in the request log")
    first = posts[0]
    return log[first]["time"] - log[0]["time"], first


def main(argv):
    args = parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    latencies = [float(latency) for latency in args.latencies.split(",")]
    figures = {}
    with tempfile.TemporaryDirectory(prefix="vergeos-bench-lookup-") as workdir:
        with launcher.start_simulator(["--speed", str(args.speed)], workdir) as sim:
            for latency in latencies:
                control(sim, "POST", "/_sim/reset")  # no fault left from the latency before
                if latency > 0:
                    control(sim, "POST", "/_sim/faults", json={"kind": "delay", "delay": latency})
                for size in sizes:
                    runs = [one_run(sim, workdir, size, max(sizes), args.speed) for _run in range(args.repeat)]
                    figures[latency, size] = (statistics.median(seconds for seconds, _before in runs), runs[-1][1])
    print("power task by name: time from its first request to its first POST (median of %d runs)" % args.repeat)
    for latency in latencies:
        print("  each API request answered %s:" % ("at once (the loopback)" if latency <= 0 else "after %g s" % latency))
        smallest = figures[latency, sizes[0]][0]
        for size in sizes:
            seconds, before = figures[latency, size]
            print("  %5d VMs by name: %.3f s, %d requests before the first POST; %.2f x the time of %d" % (
                size, seconds, before, seconds / smallest if smallest else float("nan"), sizes[0]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
