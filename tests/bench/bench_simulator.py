"""Benchmark of the VergeOS simulator over loopback HTTPS. Prints figures; asserts nothing.

    python tests/bench/bench_simulator.py [--vms 10000] [--clients 50] [--rounds 20]

1. Start a simulator with --vms VMs and time its start.
2. Time the one-request VM list with power state (median of --repeat runs):
   "after a change" (a write just before each run, so the answer is computed
   afresh) and "unchanged world" (the encoded answer of that world version is
   reused).
3. --clients concurrent clients, each polling its own VM's machine_status for
   --rounds rounds while power actions move those VMs, with latency percentiles.
4. The same clients each fetching the full list --list-rounds times (VMs are
   still moving, so some of those answers are computed afresh).
Every answer is checked for consistency (running/powerstate/node/status agree).
The client side (this process: TLS, reading and parsing 50 x 1.3 MB) shares
the machine with the server and is part of every figure.
"""

import argparse
import statistics
import sys
import tempfile
import threading
import time

import requests

# bench_paths first: it puts tests/simulator and tests/functional on sys.path, as pytest.ini does for pytest.
import bench_paths  # noqa: F401  pylint: disable=unused-import
import launcher

AUTH = ("admin", "admin")
LIST_PARAMS = {
    "filter": "is_snapshot eq false",
    "fields": "$key,name,machine,machine#status#running as running,machine#status#status as status,"
              "machine#status#node#name as node_name,machine#cluster#name as cluster_name",
}
STATUS_FIELDS = "$key,machine,running,powerstate,status,state,node,running_cores"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--vms", type=int, default=10000, help="VMs in the default world (default 10000)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--rounds", type=int, default=20, help="status polls per client (default 20)")
    parser.add_argument("--list-rounds", type=int, default=2, help="full lists per client (default 2)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of the single list (default 7)")
    parser.add_argument("--speed", type=float, default=10, help="simulator time scale, so VMs move while polled (default 10)")
    return parser.parse_args(argv)


def milliseconds(seconds):
    return "%.1f" % (seconds * 1000)


def percentiles(samples):
    """Return 'p50 .. p90 .. p99 .. max ..' in milliseconds."""
    ordered = sorted(samples)

    def at(fraction):
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
    return "p50 %s  p90 %s  p99 %s  max %s ms" % tuple(milliseconds(value) for value in (at(0.5), at(0.9), at(0.99), ordered[-1]))


def timed_get(session, sim, path, params):
    started = time.perf_counter()
    response = session.get(sim.url + path, params=params, auth=AUTH, verify=sim.ca, timeout=120)
    return time.perf_counter() - started, response


def status_consistent(row):
    """Return whether a machine_status row's columns agree with each other."""
    if row["running"] != row["powerstate"] or (row["node"] is not None) != row["running"]:
        return False
    return row["running"] == (row["status"] != "stopped") and (row["state"] == "online") == row["running"]


def list_row_consistent(row):
    return (row["node_name"] is not None) == row["running"] and row["running"] == (row["status"] != "stopped")


def change_world(session, sim, vm_key):
    """Send a write (a redundant poweron), so the next read cannot reuse an earlier answer."""
    session.post(sim.url + "/api/v4/vm_actions", json={"vm": vm_key, "action": "poweron"}, auth=AUTH, verify=sim.ca, timeout=30)


def report_list(label, runs):
    seconds = [elapsed for elapsed, _response in runs]
    body = runs[-1][1]
    print("list with power state, %s: %d rows, %.1f MB, median %s ms (min %s, max %s; %d runs)" % (
        label, len(body.json()), len(body.content) / 1e6, milliseconds(statistics.median(seconds)),
        milliseconds(min(seconds)), milliseconds(max(seconds)), len(runs)))


def bench_list(sim, repeat):
    with requests.Session() as session:
        vms = timed_get(session, sim, "/api/v4/vms", LIST_PARAMS)[1].json()  # warm-up: connection, TLS
        running = next(vm["$key"] for vm in vms if vm["running"])
        fresh = []
        for _run in range(repeat):
            change_world(session, sim, running)
            fresh.append(timed_get(session, sim, "/api/v4/vms", LIST_PARAMS))
        reused = [timed_get(session, sim, "/api/v4/vms", LIST_PARAMS) for _run in range(repeat)]
    report_list("after a change", fresh)
    report_list("unchanged world", reused)
    return reused[-1][1].json()


def start_moving(sim, vms):
    """Send one power action to each VM (stopped ones on, running ones off) so polls see transitions."""
    with requests.Session() as session:
        for vm in vms:
            action = "poweroff" if vm["running"] else "poweron"
            session.post(sim.url + "/api/v4/vm_actions", json={"vm": vm["$key"], "action": action}, auth=AUTH, verify=sim.ca, timeout=30)


def run_clients(count, work):
    """Run work(index, latencies, problems) in count threads started together; return (latencies, problems, wall seconds)."""
    latencies, problems = [], []
    barrier = threading.Barrier(count + 1)

    def client(index):
        barrier.wait()
        work(index, latencies, problems)
    threads = [threading.Thread(target=client, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, problems, time.perf_counter() - started


def bench_polling(sim, vms, clients, rounds):
    targets = vms[:clients]
    start_moving(sim, targets)

    def work(index, latencies, problems):
        vm = targets[index % len(targets)]
        params = {"filter": "machine eq %d" % vm["machine"], "fields": STATUS_FIELDS}
        with requests.Session() as session:
            for _round in range(rounds):
                elapsed, response = timed_get(session, sim, "/api/v4/machine_status", params)
                latencies.append(elapsed)
                found = response.json() if response.status_code == 200 else []
                if len(found) != 1 or found[0]["machine"] != vm["machine"] or not status_consistent(found[0]):
                    problems.append(found)
    latencies, problems, wall = run_clients(clients, work)
    print("polling: %d clients x %d rounds = %d requests in %.2f s (%.0f req/s); %s; inconsistent answers: %d" % (
        clients, rounds, len(latencies), wall, len(latencies) / wall, percentiles(latencies), len(problems)))


def bench_concurrent_lists(sim, clients, rounds, expected_rows):
    def work(_index, latencies, problems):
        with requests.Session() as session:
            for _round in range(rounds):
                elapsed, response = timed_get(session, sim, "/api/v4/vms", LIST_PARAMS)
                latencies.append(elapsed)
                found = response.json() if response.status_code == 200 else []
                if len(found) != expected_rows or not all(list_row_consistent(row) for row in found):
                    problems.append(response.status_code)
    latencies, problems, wall = run_clients(clients, work)
    print("full lists: %d clients x %d rounds = %d requests in %.2f s; %s; inconsistent answers: %d" % (
        clients, rounds, len(latencies), wall, percentiles(latencies), len(problems)))


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vergeos-bench-") as state_dir:
        started = time.perf_counter()
        with launcher.start_simulator(["--vms", str(args.vms), "--speed", str(args.speed)], state_dir) as sim:
            print("simulator: %d VMs, listening after %.2f s at %s" % (args.vms, time.perf_counter() - started, sim.url))
            vms = bench_list(sim, args.repeat)
            bench_polling(sim, vms, args.clients, args.rounds)
            bench_concurrent_lists(sim, args.clients, args.list_rounds, len(vms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
