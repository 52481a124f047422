"""Benchmark of the inventory plugin against a static inventory of the same hosts. Prints figures; asserts nothing.

    python tests/bench/bench_inventory.py [--sizes 1000,5000,10000] [--repeat 3] [--page-size 500]

For each size: start a simulator whose default world holds that many VMs, run
`ansible-inventory --list` through vergeos.power.vergeos (a source without
compose) and over a static YAML inventory generated from the plugin's own
output (the same hosts, host variables and groups), each warmed up once and
then timed --repeat times (the median is printed). Also printed: the API
requests of one plugin run (from GET /_sim/requests) and the peak memory
(max RSS) of each ansible-inventory process. The simulator shares the machine
with ansible-inventory and its time is part of the plugin's figure.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import requests
import yaml

# bench_paths first: it puts tests/simulator and tests/functional on sys.path, as pytest.ini does for pytest.
import bench_paths  # noqa: F401  pylint: disable=unused-import
import launcher
from run_ansible import plain

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BIN = os.path.dirname(sys.executable)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="1000,5000,10000", help="VM counts, comma-separated (default 1000,5000,10000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each inventory (default 3)")
    parser.add_argument("--page-size", type=int, default=500, help="the plugin's page_size (default 500, its default)")
    return parser.parse_args(argv)


def environment():
    env = {key: value for key, value in os.environ.items() if not key.startswith("VERGEOS_")}
    collections = os.path.join(ROOT, ".cache", "collections")
    link = os.path.join(collections, "ansible_collections", "vergeos", "power")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    env.update(ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_INVENTORY_UNPARSED_FAILED="true", ANSIBLE_LOCALHOST_WARNING="false")
    return env


def run_inventory(source, output, env):
    """Run ansible-inventory --list into a file; return (seconds, max RSS in MB) of that one process."""
    started = time.perf_counter()
    with open(output, "w", encoding="utf-8") as stdout:
        process = subprocess.Popen([os.path.join(BIN, "ansible-inventory"), "-i", source, "--list"],  # noqa: S603
                                   stdout=stdout, stderr=subprocess.PIPE, env=env)
        # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would mix in the simulator's).
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        errors = process.stderr.read().decode("utf-8", "replace")
        process.stderr.close()
    if process.returncode != 0:
        raise SystemExit("ansible-inventory -i %s failed (%d):\n%s" % (source, process.returncode, errors))
    peak_mb = usage.ru_maxrss / 1024.0 if sys.platform != "darwin" else usage.ru_maxrss / 1048576.0
    return elapsed, peak_mb


def static_inventory(listing):
    """Return a YAML inventory dict with the hosts, host variables and groups of an ansible-inventory --list answer."""
    data = plain(listing)
    children = {}
    for group, body in data.items():
        if group in ("_meta", "all", "ungrouped"):
            continue
        children[group] = {"hosts": {host: None for host in body.get("hosts", [])}}
    return {"all": {"hosts": data["_meta"]["hostvars"], "children": children}}


def write_source(directory, sim, page_size):
    path = os.path.join(directory, "bench.vergeos.yml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"plugin": "vergeos.power.vergeos", "host": sim.host, "username": "admin", "password": "admin",
                        "ca_path": sim.ca, "page_size": page_size}, handle)
    return path


def sim_requests(sim, method="GET"):
    response = requests.request(method, sim.url + "/_sim/requests", verify=sim.ca, timeout=60)
    response.raise_for_status()
    return response.json()


def measure(size, args, env, directory):
    with launcher.start_simulator(["--vms", str(size), "--speed", "1"], os.path.join(directory, "sim-%d" % size)) as sim:
        source = write_source(directory, sim, args.page_size)
        listing_file = os.path.join(directory, "plugin-%d.json" % size)
        run_inventory(source, listing_file, env)  # warm-up
        with open(listing_file, encoding="utf-8") as handle:
            listing = json.load(handle)
        static = os.path.join(directory, "static-%d.yml" % size)
        with open(static, "w", encoding="utf-8") as handle:
            yaml.dump(static_inventory(listing), handle, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)
        run_inventory(static, os.path.join(directory, "static-%d.json" % size), env)  # warm-up
        plugin_runs, static_runs, requests_per_run = [], [], None
        for _round in range(args.repeat):
            sim_requests(sim, "DELETE")
            plugin_runs.append(run_inventory(source, os.devnull, env))
            requests_per_run = len(sim_requests(sim))
            static_runs.append(run_inventory(static, os.devnull, env))
        hosts = len(listing["_meta"]["hostvars"])
    plugin_seconds = statistics.median(seconds for seconds, _peak in plugin_runs)
    static_seconds = statistics.median(seconds for seconds, _peak in static_runs)
    return {"vms": size, "hosts": hosts, "plugin": plugin_seconds, "static": static_seconds, "ratio": plugin_seconds / static_seconds,
            "requests": requests_per_run, "plugin_mb": max(peak for _s, peak in plugin_runs),
            "static_mb": max(peak for _s, peak in static_runs)}


def main(argv=None):
    args = parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    env = environment()
    print("ansible-inventory --list: vergeos.power.vergeos (page_size %d, no compose) vs. a static YAML inventory of the same"
          " hosts, variables and groups; median of %d warm runs" % (args.page_size, args.repeat))
    print("| VMs | hosts | plugin s | static s | ratio | requests | plugin max RSS MB | static max RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="vergeos-bench-inventory-") as directory:
        for size in sizes:
            row = measure(size, args, env, directory)
            print("| {vms} | {hosts} | {plugin:.2f} | {static:.2f} | {ratio:.2f} | {requests} | {plugin_mb:.0f} | {static_mb:.0f} |"
                  .format(**row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
