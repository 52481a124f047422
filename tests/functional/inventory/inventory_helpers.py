"""Helpers that run the real ansible-inventory / ansible-playbook on a vergeos.power.vergeos source.

The fixtures are in conftest.py. `run_inventory` (fixture) writes a source file (`*.vergeos.yml`), runs
`ansible-inventory -i SOURCE ARGS...` with the collection on ANSIBLE_COLLECTIONS_PATH
(the way the Makefile puts it there) and returns an `InventoryRun`: return code,
stdout, stderr and, for `--list`/`--host`, the JSON answer without 2.19's
`__ansible_unsafe` wrappers (`.data`) next to the raw one (`.raw`).
Any source that fails to parse fails the command (ANSIBLE_INVENTORY_UNPARSED_FAILED).
"""

import dataclasses
import os
import subprocess

import yaml

# BIN and ROOT are imported from here by the tests of this folder (a module of its own name, not conftest,
# so that pytest's several conftest modules cannot shadow it).
from run_ansible import BIN, ROOT, TIMEOUT, base_env, plain  # noqa: F401  pylint: disable=unused-import

# Any source that fails to parse fails the command; the inventory tests read warnings, not deprecations.
INVENTORY_ENV = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true", "ANSIBLE_DEPRECATION_WARNINGS": "false"}

# The scenario most tests share: two clusters, three nodes, tags with odd characters, a shared name,
# a guest agent, NICs with and without addresses, a snapshot row that must never show.
SCENARIO = {
    "speed": 100,
    "users": [{"name": "admin", "password": "admin"}, {"name": "ops", "password": "S3cret-Pa55word!"}],
    "api_keys": [{"key": "K3y-For-Inventory-0123456789", "user": "automation"}],
    "clusters": [{"name": "cluster1"}, {"name": "cluster-2"}],
    "nodes": [{"name": "node1", "cluster": "cluster1"}, {"name": "node2", "cluster": "cluster1"}, {"name": "node.3", "cluster": "cluster-2"}],
    "tag_categories": [{"name": "environment"}, {"name": "application"}],
    "tags": [{"name": "production", "category": "environment"}, {"name": "staging", "category": "environment"},
             {"name": "web tier", "category": "application"}],
    "vms": [
        {"name": "web01", "key": 11, "power": "running", "node": "node1", "cluster": "cluster1", "tags": ["production", "web tier"],
         "guest_agent": True, "cpu_cores": 2, "ram": 4096,
         "nics": [{"name": "nic_0", "macaddress": "52:54:00:00:00:11", "ipaddress": "192.0.2.11"},
                  {"name": "nic_1", "macaddress": "52:54:00:00:01:11", "ipaddress": None}]},
        {"name": "web02", "key": 12, "power": "stopped", "cluster": "cluster1", "tags": ["staging", "web tier"], "os_family": "windows",
         "nics": [{"name": "nic_0", "macaddress": "52:54:00:00:00:12", "ipaddress": "192.0.2.12"}]},
        {"name": "db01", "key": 13, "power": "running", "node": "node.3", "cluster": "cluster-2", "tags": ["production"],
         "os_family": "freebsd", "ram": 8192,
         "nics": [{"name": "nic_0", "macaddress": "52:54:00:00:00:13", "ipaddress": None}]},
        {"name": "twin", "key": 21, "power": "running", "node": "node2", "cluster": "cluster1"},
        {"name": "twin", "key": 22, "power": "stopped", "cluster": "cluster1"},
        {"name": "web01-template", "key": 40, "is_snapshot": True},
    ],
}
HOSTS = {"web01", "web02", "db01", "twin_21", "twin_22"}


@dataclasses.dataclass
class InventoryRun:
    rc: int
    stdout: str
    stderr: str
    raw: object = None

    @property
    def data(self):
        return plain(self.raw)

    @property
    def hostvars(self):
        return self.data["_meta"]["hostvars"]

    def hosts(self, group):
        """Return the hosts of a group, directly or through children, as a set."""
        data = self.data
        found = set(data.get(group, {}).get("hosts", []))
        for child in data.get(group, {}).get("children", []):
            found |= self.hosts(child)
        return found

    def groups(self):
        return {name for name in self.data if name not in ("_meta", "all", "ungrouped")}


def run(command, env=None, cwd=None):
    return subprocess.run(command, env=base_env(dict(INVENTORY_ENV, **(env or {}))), cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def write_source(directory, source, name="test.vergeos.yml"):
    path = os.path.join(str(directory), name)
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(source, handle, sort_keys=False)
    return path


def sim_source(sim, **options):
    """Return a source dict for one simulator, admin login in the file unless options say otherwise."""
    source = {"plugin": "vergeos.power.vergeos", "host": sim.host, "username": "admin", "password": "admin", "ca_path": sim.ca}
    source.update(options)
    return {key: value for key, value in source.items() if value is not None}


def api_requests(sim):
    """Return the /api requests the simulator logged, as (method, path) pairs."""
    return [(entry["method"], entry["path"]) for entry in sim.requests()]
