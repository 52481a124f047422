"""Benchmark of the safe_startup role: a 300-VM, 3-tier startup beside its floor. Prints figures; asserts nothing.

    python tests/bench/bench_startup.py [--tiers 30,90,180] [--window 20] [--boot 30] [--db-boot 60] [--speed 20]

Tier 1 (the databases) waits for the guest agent, whose VMs boot in --db-boot simulated
seconds; tiers 2 and 3 wait until running, booting in --boot. Every VM is off at the start.
The floor of a tier is ceil(VMs / window) boot times (the sliding window of
max_concurrent power-ons), summed over the tiers; the role's own elapsed and the wall
time of ansible-playbook are printed beside it, with the requests the run cost.
The simulator and ansible-playbook share the machine; both are part of every figure.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import requests

# bench_paths first: it puts tests/simulator and tests/functional on sys.path, as pytest.ini does for pytest.
import bench_paths  # noqa: F401  pylint: disable=unused-import
import launcher

PLAYBOOK = """
- name: Bench - safe_startup over three tiers
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Start the tiers
      ansible.builtin.include_role:
        name: vergeos.power.safe_startup
      vars:
        safe_startup_tiers: {tiers}
        safe_startup_max_targets: 1000
        safe_startup_max_concurrent: {window}
        safe_startup_poll_interval: 0.5
    - name: Write the result
      ansible.builtin.copy:
        content: "{{{{ safe_startup_result | to_json }}}}"
        dest: {result}
        mode: "0600"
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiers", default="30,90,180", help="VMs per tier, in start order")
    parser.add_argument("--window", type=int, default=20, help="max_concurrent power-ons per tier")
    parser.add_argument("--boot", type=float, default=30, help="simulated seconds from poweron to running (tiers 2 and up)")
    parser.add_argument("--db-boot", type=float, default=60, help="simulated seconds until tier 1's guest agent answers")
    parser.add_argument("--speed", type=float, default=20, help="simulator speed")
    return parser.parse_args(argv)


def world(sizes, boot, db_boot, speed):
    vms = []
    for tier, size in enumerate(sizes, start=1):
        for index in range(size):
            vm = {"name": "t%d-%03d" % (tier, index + 1), "power": "stopped"}
            if tier == 1:
                vm.update(guest_agent=True, timings={"boot": db_boot})
            vms.append(vm)
    return {"speed": speed, "timings": {"boot": boot}, "vms": vms}


def control(sim, method, path, **kwargs):
    response = requests.request(method, sim.url + path, verify=sim.ca, timeout=120, **kwargs)
    response.raise_for_status()
    return response.json()


def main(argv):
    args = parse_args(argv)
    sizes = [int(size) for size in args.tiers.split(",")]
    tiers = [{"name": "tier %d" % tier, "filters": {"name_regex": "^t%d-" % tier}, "up": "agent" if tier == 1 else "running"}
             for tier in range(1, len(sizes) + 1)]
    boots = [args.db_boot / args.speed] + [args.boot / args.speed] * (len(sizes) - 1)
    floors = [math.ceil(size / args.window) * boot for size, boot in zip(sizes, boots, strict=True)]
    print("safe_startup benchmark: %d VMs in tiers of %s, window %d, boot %.2f s (tier 1: %.2f s until its agent answers), "
          "simulator speed %g" % (sum(sizes), "/".join(map(str, sizes)), args.window, boots[-1], boots[0], args.speed), flush=True)
    with tempfile.TemporaryDirectory(prefix="vergeos-bench-startup-") as workdir:
        with launcher.start_simulator(["--speed", str(args.speed)], workdir) as sim:
            control(sim, "POST", "/_sim/scenario", json=world(sizes, args.boot, args.db_boot, args.speed))
            control(sim, "DELETE", "/_sim/requests")
            result_path = os.path.join(workdir, "result.json")
            path = os.path.join(workdir, "play.yml")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(PLAYBOOK.format(tiers=json.dumps(tiers), window=args.window, result=result_path))
            env = dict(os.environ, VERGEOS_HOST=sim.host, VERGEOS_USERNAME="admin", VERGEOS_PASSWORD="admin", VERGEOS_CA_PATH=sim.ca,
                       ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
            started = time.monotonic()
            done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path], env=env, cwd=workdir,
                                  capture_output=True, text=True, check=False)
            wall = time.monotonic() - started
            log = control(sim, "GET", "/_sim/requests")
            if done.returncode != 0:
                print("ansible-playbook failed (exit %d):\n%s" % (done.returncode, done.stdout[-3000:] + done.stderr[-2000:]))
                return 1
            with open(result_path, encoding="utf-8") as handle:
                result = json.load(handle)
    for tier, floor in zip(result["tiers"], floors, strict=True):
        print("  %s: %d VMs up in %.1f s (floor %.1f s, %.2f x)" % (tier["name"], len(tier["vms"]), tier["elapsed"], floor,
                                                                    tier["elapsed"] / floor), flush=True)
    total = sum(tier["elapsed"] for tier in result["tiers"])
    reads = sum(1 for entry in log if entry["method"] == "GET")
    poweron = sum(1 for entry in log if entry["path"] == "/api/v4/vm_actions")
    print("all tiers: %.1f s in the tiers, wall %.1f s for ansible-playbook; floor %.1f s (%.2f x the floor in the tiers); "
          "requests %d: %d GET, %d poweron" % (total, wall, sum(floors), total / sum(floors), len(log), reads, poweron), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
