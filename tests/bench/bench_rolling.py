"""Benchmark of the rolling_restart role: 300 VMs in batches of 10 % behind a port gate, beside the floor. Prints figures; asserts nothing.

    python tests/bench/bench_rolling.py [--vms 300] [--batch 10%] [--reboot 60] [--speed 20]

Every VM runs and listens on its own loopback address (one port number for all, as the
role's gate takes one port). Each batch's VMs get a graceful guest reboot together; a
guest's port closes at its reboot and opens again once it is back, --reboot simulated
seconds later. The floor of a batch is its restart and gate time: the reboot (the
reboot request itself is answered at once); the batches run one after the other, so the
floors add up. The role's own elapsed per batch and the wall time of ansible-playbook are
printed beside it, with the requests the run cost (reads, power actions, record writes).
The simulator and ansible-playbook share the machine; both are part of every figure.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import requests

# bench_paths first: it puts tests/simulator and tests/functional on sys.path, as pytest.ini does for pytest.
import bench_paths  # noqa: F401  pylint: disable=unused-import
import launcher

PLAYBOOK = """
- name: Bench - rolling_restart in batches
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Restart in batches
      ansible.builtin.include_role:
        name: vergeos.power.rolling_restart
      vars:
        rolling_restart_filters: {{name_regex: "^r-"}}
        rolling_restart_max_targets: 1000
        rolling_restart_batch: "{batch}"
        rolling_restart_up: port
        rolling_restart_port: {port}
        rolling_restart_poll_interval: 0.5
        rolling_restart_gate_timeout: 120
        rolling_restart_record: bench-rollout
    - name: Write the result
      ansible.builtin.copy:
        content: "{{{{ rolling_restart_result | to_json }}}}"
        dest: {result}
        mode: "0600"
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=300, help="running VMs to restart")
    parser.add_argument("--batch", default="10%", help="rolling_restart_batch")
    parser.add_argument("--reboot", type=float, default=60, help="simulated seconds a guest reboot takes (its port closed meanwhile)")
    parser.add_argument("--speed", type=float, default=20, help="simulator speed")
    return parser.parse_args(argv)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def world(count, port, reboot, speed):
    vms = [{"name": "r-%03d" % number, "power": "running", "port": {"host": "127.60.%d.%d" % (number // 200, number % 200 + 1), "port": port}}
           for number in range(count)]
    return {"speed": speed, "timings": {"reboot": reboot, "boot": reboot}, "vms": vms}


def control(sim, method, path, **kwargs):
    response = requests.request(method, sim.url + path, verify=sim.ca, timeout=120, **kwargs)
    response.raise_for_status()
    return response.json()


def main(argv):
    args = parse_args(argv)
    port = free_port()
    reboot = args.reboot / args.speed
    print("rolling_restart benchmark: %d VMs, batches of %s, a guest reboot of %.2f s, gate up port, simulator speed %g"
          % (args.vms, args.batch, reboot, args.speed), flush=True)
    with tempfile.TemporaryDirectory(prefix="vergeos-bench-rolling-") as workdir:
        with launcher.start_simulator(["--speed", str(args.speed)], workdir) as sim:
            control(sim, "POST", "/_sim/scenario", json=world(args.vms, port, args.reboot, args.speed))
            control(sim, "DELETE", "/_sim/requests")
            result_path = os.path.join(workdir, "result.json")
            path = os.path.join(workdir, "play.yml")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(PLAYBOOK.format(batch=args.batch, port=port, result=result_path))
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
    batches = result["batches"]
    elapsed = [batch["elapsed"] for batch in batches]
    for batch in batches:
        print("  batch %d: %d VMs restarted and healthy in %.1f s (floor %.2f s, %.2f x)" % (
            batch["index"], len(batch["vms"]), batch["elapsed"], reboot, batch["elapsed"] / reboot), flush=True)
    floor = reboot * len(batches)
    reads = sum(1 for entry in log if entry["method"] == "GET")
    actions = sum(1 for entry in log if entry["path"] == "/api/v4/vm_actions")
    writes = len(log) - reads - actions
    print("all batches: %d restarted, %.1f s in the batches, wall %.1f s for ansible-playbook; floor %.1f s (%.2f x the floor in the "
          "batches); mean overhead per batch %.2f s; requests %d: %d GET, %d power actions, %d record writes"
          % (len(result["restarted"]), sum(elapsed), wall, floor, sum(elapsed) / floor, (sum(elapsed) - floor) / len(batches), len(log),
             reads, actions, writes), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
