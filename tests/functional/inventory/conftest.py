"""Fixtures of the inventory tests; the helpers they use are in inventory_helpers.py."""

import json
import os

import pytest

from inventory_helpers import BIN, SCENARIO, InventoryRun, run, write_source


@pytest.fixture
def run_inventory(tmp_path):
    def run_it(source, *args, env=None, name="test.vergeos.yml"):
        path = write_source(tmp_path, source, name)
        args = args or ("--list",)
        result = run([os.path.join(BIN, "ansible-inventory"), "-i", path] + list(args), env=env, cwd=str(tmp_path))
        raw = None
        if result.returncode == 0 and ("--list" in args or "--host" in args) and not any(arg.startswith("-v") for arg in args):
            raw = json.loads(result.stdout)
        return InventoryRun(result.returncode, result.stdout, result.stderr, raw)
    return run_it


@pytest.fixture
def scenario(sim):
    """The shared scenario loaded into the simulator, the request log cleared."""
    sim.reset()
    sim.load(SCENARIO)
    sim.clear_requests()
    return sim
