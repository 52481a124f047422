"""Every source in the plugin's EXAMPLES and in docs/inventory.md is a real, working source.

Each one is run with ansible-inventory against simulators, with only the system
coordinates, user names, CA files and cache directory swapped for the test's.
"""

import ast
import contextlib
import os
import re

import launcher  # tests/simulator, on sys.path through tests/functional/pytest.ini
import pytest
import yaml

from inventory_helpers import BIN, ROOT, run

PLUGIN_FILE = os.path.join(ROOT, "plugins", "inventory", "vergeos.py")
DOC_FILE = os.path.join(ROOT, "docs", "inventory.md")
SIM_API_KEY = "vergeos-sim-admin-key"


def plugin_examples():
    """Return the sources of EXAMPLES: the first one as is, the others commented out after '# ---' lines."""
    with open(PLUGIN_FILE, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    text = next(node.value.value for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "EXAMPLES")
    sources = []
    for index, block in enumerate(re.split(r"^# ---\n", text, flags=re.MULTILINE)):
        lines = block.splitlines()
        if index:
            # A commented source: description lines, then the source from its "# plugin:" line on.
            first = next(number for number, line in enumerate(lines) if line.startswith("# plugin:"))
            lines = [line[2:] if line.startswith("# ") else "" for line in lines[first:]]
        source = yaml.safe_load("\n".join(lines))
        assert isinstance(source, dict) and source["plugin"] == "vergeos.power.vergeos", block
        sources.append(source)
    return sources


def doc_sources():
    with open(DOC_FILE, encoding="utf-8") as handle:
        blocks = re.findall(r"```yaml\n(.*?)```", handle.read(), flags=re.DOTALL)
    return [yaml.safe_load(block) for block in blocks if block.lstrip().startswith(("plugin: vergeos.power.vergeos", "#"))
            and "plugin: vergeos.power.vergeos" in block]


EXAMPLES = plugin_examples()
DOC_SOURCES = doc_sources()


def test_examples_are_found():
    assert len(EXAMPLES) == 5
    assert len(DOC_SOURCES) >= 7


@pytest.fixture(scope="module")
def systems(tmp_path_factory):
    """Three simulators (default world) and one CA bundle that verifies all of them."""
    directory = tmp_path_factory.mktemp("example-systems")
    with contextlib.ExitStack() as stack:
        sims = []
        for index in range(3):
            state_dir = directory / str(index)
            state_dir.mkdir()
            sims.append(stack.enter_context(launcher.start_simulator(["--speed", "100"], str(state_dir))))
        bundle = directory / "bundle.pem"
        bundle.write_text("".join(open(sim.ca, encoding="utf-8").read() for sim in sims))
        yield sims, str(bundle)


def adapt(source, sims, bundle, tmp_path):
    """Return the source pointed at the simulators: hosts, CA files, user names and the cache directory."""
    source = dict(source)
    if "host" in source:
        source["host"] = sims[0].host
    if "ca_path" in source:
        source["ca_path"] = bundle
    if "username" in source:
        source["username"] = "admin"
    if "cache_connection" in source:
        source["cache_connection"] = str(tmp_path / "cache")
    sites = []
    for index, entry in enumerate(source.get("sites") or []):
        site = dict(entry, host=sims[index].host)
        if "username" in site:
            site["username"] = "admin"
        sites.append(site)
    if sites:
        source["sites"] = sites
    return source


def environment(sims, bundle):
    return {"VERGEOS_HOST": sims[0].host, "VERGEOS_USERNAME": "admin", "VERGEOS_PASSWORD": "admin", "VERGEOS_CA_PATH": bundle,
            "PARIS_PASSWORD": "admin", "BERLIN_API_KEY": SIM_API_KEY, "ACME_PASSWORD": "admin"}


@pytest.mark.parametrize("source", EXAMPLES + DOC_SOURCES, ids=["example%d" % i for i in range(len(EXAMPLES))]
                         + ["doc%d" % i for i in range(len(DOC_SOURCES))])
def test_source_works(systems, run_inventory, tmp_path, source):
    sims, bundle = systems
    result = run_inventory(adapt(source, sims, bundle, tmp_path), env=environment(sims, bundle))
    assert result.rc == 0, result.stderr
    assert "Failed to parse" not in result.stderr
    if not source.get("filters"):
        # The default world: vm-01 ... vm-10 on each system read.
        assert len(result.hostvars) == 10 * max(1, len(source.get("sites") or []))


def test_ansible_doc_renders_the_plugin():
    result = run([os.path.join(BIN, "ansible-doc"), "-t", "inventory", "vergeos.power.vergeos"])
    assert result.returncode == 0, result.stderr
    for text in ("vergeos_power_<state>", "password_env", "on_site_error", "VERGEOS_HOST", "keyed_groups", "cache_plugin"):
        assert text in result.stdout
