"""Scenarios: validation against scenario.schema.json, defaults and the default world.

The JSON schema file is the single definition of a scenario: the server
validates with the small subset of JSON Schema implemented here, so the
documented schema and the accepted input cannot drift apart.
"""

import collections
import ipaddress
import json
import math
import os
import re

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenario.schema.json")
# Named scenarios: `<name>.json` in this folder, loaded by name (server.py --scenario NAME, POST /_sim/scenario?name=NAME).
SCENARIOS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")

DEFAULT_TIMINGS = {"boot": 30.0, "shutdown": 60.0, "kill": 3.0, "reboot": 60.0, "acpi_delay": 0.0, "agent_delay": 0.0}
# Every switch at its default: what was recorded from real systems where something was (vergeos-api.md,
# "Recorded from real systems"), else what the simulator always did; README.md, "Switches", says what each value does.
DEFAULT_SWITCHES = {
    "redundant_action": 201, "traversed_filters": "work",
    "reboot_actions": ("reset_graceful",), "graceful": "honoured",
    "sort_key": "work", "member_bw": "work", "key_type": "receipts", "error_body": "text",
    "no_resources": "ignore", "queue_timeout": 300, "snapshot_visible_after": 0,
    "default_fields": "all", "lockout_after": 0, "lockout_seconds": 0,
    "duplicate_name": 422, "taggable_vms": "enforced", "status_rows": "recorded",
}
VM_SWITCHES = ("redundant_action",)
DEFAULT_SYSTEM = {"name": "vergeos-sim", "cloud_name": "vergeos-sim", "yb_version": "26.0.2.1", "os_version": "26.0.2"}
DEFAULT_USERS = [{"name": "admin", "password": "admin", "role": "admin"}]
DEFAULT_CLUSTERS = [{"name": "cluster1"}]
DEFAULT_NODE_NAMES = ("node1", "node2", "node3")
# What a node has when the scenario does not say (with or without the capacity model): 64 cores, 512 GB.
DEFAULT_NODE_CAPACITY = {"ram": 524288, "cores": 64, "ram_reserve": 0}
# The capacity section's fields left out (README.md, "Capacity").
DEFAULT_CAPACITY = {**DEFAULT_NODE_CAPACITY, "core_overcommit": None, "preferred_node": "fallback"}
# Node fields that switch the capacity model on (as does a top-level `capacity`).
NODE_CAPACITY_FIELDS = ("ram", "cores", "ram_reserve")
DEFAULT_PORT_HOST = "127.0.0.1"
DEFAULT_API_KEY = "vergeos-sim-admin-key"
# A rate limit's fields left out; `burst` defaults to one second's worth (rate_limit_of).
DEFAULT_RATE_LIMIT = {"mode": "drop", "retry_after": 1}


class ScenarioError(ValueError):
    """A scenario that does not validate; the message says where and why."""


def load_schema():
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


# ---------------------------------------------------------------- JSON Schema subset

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _resolve(schema, root):
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _check_bounds(value, schema, where):
    if "minimum" in schema and value < schema["minimum"]:
        raise ScenarioError("%s: %r is less than %r" % (where, value, schema["minimum"]))
    if "maximum" in schema and value > schema["maximum"]:
        raise ScenarioError("%s: %r is more than %r" % (where, value, schema["maximum"]))
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        raise ScenarioError("%s: %r must be more than %r" % (where, value, schema["exclusiveMinimum"]))


def _check_object(value, schema, root, where):
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            raise ScenarioError("%s: missing required field %r" % (where, name))
    for name, item in value.items():
        if name in properties:
            validate_value(item, properties[name], root, "%s.%s" % (where, name))
        elif schema.get("additionalProperties") is False:
            raise ScenarioError("%s: unknown field %r" % (where, name))


def validate_value(value, schema, root, where):
    """Raise ScenarioError unless value matches the (subset of JSON Schema) schema."""
    schema = _resolve(schema, root)
    if "enum" in schema and value not in schema["enum"]:
        raise ScenarioError("%s: %r is not one of %s" % (where, value, ", ".join(map(repr, schema["enum"]))))
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_TYPES[name](value) for name in types):
            raise ScenarioError("%s: expected %s, got %s" % (where, " or ".join(types), json.dumps(value)))
    if _TYPES["number"](value):
        _check_bounds(value, schema, where)
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        raise ScenarioError("%s: must not be empty" % where)
    if isinstance(value, dict):
        _check_object(value, schema, root, where)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            validate_value(item, schema["items"], root, "%s[%d]" % (where, index))
    if isinstance(value, list) and schema.get("uniqueItems") and len({json.dumps(item, sort_keys=True) for item in value}) != len(value):
        raise ScenarioError("%s: duplicate items" % where)


# ---------------------------------------------------------------- meaning


def _names(items, what):
    """Return the set of names of items, refusing duplicates."""
    seen = set()
    for item in items:
        if item["name"] in seen:
            raise ScenarioError("%s: duplicate name %r" % (what, item["name"]))
        seen.add(item["name"])
    return seen


def _unique_keys(items, what):
    keys = [item["key"] for item in items if "key" in item]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ScenarioError("%s: duplicate key %s" % (what, duplicates[0]))


def _require(name, known, where):
    if name not in known:
        raise ScenarioError("%s: %r does not exist" % (where, name))


def _check_port(where, port):
    """Raise ScenarioError unless a VM's port listens on an IPv4 loopback address."""
    host = port.get("host", DEFAULT_PORT_HOST)
    try:
        address = ipaddress.ip_address(host)
    except ValueError as error:
        raise ScenarioError("%s.host: %r is not an IP address" % (where, host)) from error
    if address.version != 4 or not address.is_loopback:
        raise ScenarioError("%s.host: %r is not an IPv4 loopback address (127.x.y.z)" % (where, host))


def _check_ports(scenario):
    fixed = collections.Counter()
    for index, vm in enumerate(scenario.get("vms", [])):
        if "port" not in vm:
            continue
        where = "scenario.vms[%d].port" % index
        if vm.get("is_snapshot"):
            raise ScenarioError(where + ": a snapshot VM never runs, so it has no port")
        _check_port(where, vm["port"])
        if vm["port"].get("port", 0):
            address = (vm["port"].get("host", DEFAULT_PORT_HOST), vm["port"]["port"])
            fixed[address] += 1
            if fixed[address] > 1:
                raise ScenarioError("%s: %s:%d is the port of another VM too" % (where, address[0], address[1]))


def _check_capacity(scenario):
    """Raise ScenarioError for a node whose platform reserve is more than its RAM."""
    for index, node in enumerate(nodes_of(scenario)):
        own = node_capacity(scenario, node)
        ram, reserve = own["ram"], own["ram_reserve"]
        if reserve > ram:
            raise ScenarioError("scenario.nodes[%d].ram_reserve: %d MB is more than the node's ram (%d MB)" % (index, reserve, ram))


def _check_vm(index, vm, clusters, nodes, tags):
    where = "scenario.vms[%d]" % index
    if "cluster" in vm:
        _require(vm["cluster"], clusters, where + ".cluster")
    if "node" in vm:
        _require(vm["node"], nodes, where + ".node")
        if vm.get("power", "stopped") != "running":
            raise ScenarioError(where + ".node: only a running VM has a node")
    if vm.get("is_snapshot") and vm.get("power") == "running":
        raise ScenarioError(where + ": a snapshot VM is never running")
    for tag in vm.get("tags", []):
        _require(tag, tags, where + ".tags")


def _check_snapshot_targets(scenario):
    vm_names = collections.Counter(vm["name"] for vm in scenario.get("vms", []))
    vm_names.update(spec["name"] for spec in generated_vm_specs(scenario.get("generate"), {}))
    explicit_keys = {vm["key"] for vm in scenario.get("vms", []) if "key" in vm}
    for index, snapshot in enumerate(scenario.get("snapshots", [])):
        where = "scenario.snapshots[%d].vm" % index
        target = snapshot["vm"]
        if isinstance(target, int):
            if target not in explicit_keys:
                raise ScenarioError("%s: no VM has the explicit key %d" % (where, target))
        elif vm_names[target] != 1:
            raise ScenarioError("%s: %r names %d VMs, not exactly one" % (where, target, vm_names[target]))


def check_meaning(scenario):
    """Raise ScenarioError for references to things that do not exist and for duplicates."""
    clusters = _names(clusters_of(scenario), "scenario.clusters")
    nodes = _names(nodes_of(scenario), "scenario.nodes")
    categories = _names(scenario.get("tag_categories", []), "scenario.tag_categories")
    tags = _names(scenario.get("tags", []), "scenario.tags")
    _names(users_of(scenario), "scenario.users")
    for what in ("clusters", "nodes", "tag_categories", "tags", "vms"):
        _unique_keys(scenario.get(what, []), "scenario." + what)
    for index, node in enumerate(nodes_of(scenario)):
        if "cluster" in node:
            _require(node["cluster"], clusters, "scenario.nodes[%d].cluster" % index)
    for index, tag in enumerate(scenario.get("tags", [])):
        _require(tag["category"], categories, "scenario.tags[%d].category" % index)
    for index, vm in enumerate(scenario.get("vms", [])):
        _check_vm(index, vm, clusters, nodes, tags)
    for tag in scenario.get("generate", {}).get("tags", []):
        _require(tag, tags, "scenario.generate.tags")
    _check_taggable(scenario)
    api_keys = [entry["key"] for entry in scenario.get("api_keys", [])]
    if len(set(api_keys)) != len(api_keys):
        raise ScenarioError("scenario.api_keys: duplicate key")
    _check_snapshot_targets(scenario)
    _check_ports(scenario)
    _check_capacity(scenario)
    check_rate_limit(scenario.get("rate_limit"), "scenario.rate_limit")


def _vm_tag_names(scenario):
    """Return the names of the tags the scenario puts on VMs (its own VMs' and the generated ones')."""
    names = {tag for vm in scenario.get("vms", []) for tag in vm.get("tags", [])}
    return names | set(scenario.get("generate", {}).get("tags", []))


def _check_taggable(scenario):
    """Raise ScenarioError for a VM tagged in a category the scenario says cannot tag VMs (taggable_vms false)."""
    refused = {category["name"] for category in scenario.get("tag_categories", []) if category.get("taggable_vms") is False}
    category_of = {tag["name"]: tag["category"] for tag in scenario.get("tags", [])}
    for name in sorted(_vm_tag_names(scenario)):
        if category_of.get(name) in refused:
            raise ScenarioError("scenario.tags: %r is put on a VM, but its category %r has taggable_vms false" % (name, category_of[name]))


def taggable_categories(scenario):
    """Return the names of the scenario's categories that can tag VMs: `taggable_vms` as given, else whether it tags a VM."""
    tagging = {tag["category"] for tag in scenario.get("tags", []) if tag["name"] in _vm_tag_names(scenario)}
    return {category["name"] for category in scenario.get("tag_categories", [])
            if category.get("taggable_vms", category["name"] in tagging)}


def check_rate_limit(rate_limit, where):
    """Raise ScenarioError for a rate limit the schema accepts but that makes no sense."""
    if rate_limit and not math.isfinite(rate_limit["rate"]):
        raise ScenarioError("%s.rate: must be a finite number" % where)
    if rate_limit and "retry_after" in rate_limit and rate_limit.get("mode", DEFAULT_RATE_LIMIT["mode"]) != "429":
        raise ScenarioError("%s.retry_after: only with mode '429' (a dropped connection has no header)" % where)


def validate(scenario, schema=None):
    """Return the scenario when it is valid; raise ScenarioError with a clear message otherwise."""
    root = schema or load_schema()
    validate_value(scenario, root, root, "scenario")
    check_meaning(scenario)
    return scenario


# ---------------------------------------------------------------- defaults


def seed_of(scenario):
    """Return the seed of the world's random choices (shuffled orders, mixed key types)."""
    return scenario.get("seed", 0)


def scenario_names():
    """Return the names of the named scenarios (files of SCENARIOS_DIR)."""
    try:
        return sorted(name[:-len(".json")] for name in os.listdir(SCENARIOS_DIR) if name.endswith(".json"))
    except FileNotFoundError:
        return []


def named(name):
    """Return the validated named scenario `name`; ScenarioError when there is none by that name or it is invalid."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name or "") or name not in scenario_names():
        raise ScenarioError("no scenario named %r (known: %s)" % (name, ", ".join(scenario_names()) or "none"))
    with open(os.path.join(SCENARIOS_DIR, name + ".json"), encoding="utf-8") as handle:
        return validate(json.load(handle))


def users_of(scenario):
    return scenario.get("users", DEFAULT_USERS)


def clusters_of(scenario):
    return scenario.get("clusters") or DEFAULT_CLUSTERS


def nodes_of(scenario):
    """Return the scenario's nodes; without any, three nodes in the first cluster."""
    if scenario.get("nodes"):
        return scenario["nodes"]
    return [{"name": name} for name in DEFAULT_NODE_NAMES]


def capacity_of(scenario):
    """Return the capacity model's setting (every field filled in), or None when the scenario gives no node capacity (off)."""
    if "capacity" not in scenario and not any(field in node for node in scenario.get("nodes") or () for field in NODE_CAPACITY_FIELDS):
        return None
    return {**DEFAULT_CAPACITY, **scenario.get("capacity", {})}


def node_capacity(scenario, node):
    """Return a node's ram, cores and ram_reserve: its own, else the capacity section's, else the defaults."""
    section = scenario.get("capacity", {})
    return {field: node.get(field, section.get(field, default)) for field, default in DEFAULT_NODE_CAPACITY.items()}


def timings_of(scenario, vm):
    """Return a VM's guest timings: its own, else the scenario's, else the defaults."""
    return {**DEFAULT_TIMINGS, **scenario.get("timings", {}), **vm.get("timings", {})}


def guest_of(scenario, vm):
    """Return a VM's guest behaviour: its own fields over the scenario's (the Guest defaults fill the rest)."""
    return {**scenario.get("guest", {}), **vm.get("guest", {})}


def switches_of(scenario, vm=None):
    """Return the switches for unsettled behaviours: the VM's own over the scenario's over the defaults."""
    own = {name: value for name, value in (vm or {}).get("switches", {}).items() if name in VM_SWITCHES}
    return {**DEFAULT_SWITCHES, **scenario.get("switches", {}), **own}


def complete_rate_limit(rate_limit):
    """Return a rate limit with every field filled in (None stays None: no limit)."""
    if rate_limit is None:
        return None
    burst = rate_limit.get("burst", max(1, math.ceil(rate_limit["rate"])))
    return {**DEFAULT_RATE_LIMIT, **rate_limit, "burst": burst}


def rate_limit_of(scenario, start_up=None):
    """Return the rate limit a world runs with: the scenario's own (null: none), else the start-up one."""
    if "rate_limit" in scenario:
        return complete_rate_limit(scenario["rate_limit"])
    return complete_rate_limit(start_up)


def system_of(scenario):
    return {**DEFAULT_SYSTEM, **scenario.get("system", {})}


def _ratio_hit(index, ratio):
    """Return whether item index is among the evenly spread 'ratio' share of items."""
    return int((index + 1) * ratio) > int(index * ratio)


def generated_vm_specs(generate, timings, guest=None):
    """Yield the VM specs of the generator section, deterministically."""
    if not generate:
        return
    count = generate["count"]
    prefix = generate.get("prefix", "vm-")
    width = max(3, len(str(count)))
    tags = generate.get("tags", [])
    for index in range(count):
        spec = {
            "name": "%s%0*d" % (prefix, width, index + 1),
            "power": "running" if _ratio_hit(index, generate.get("running_ratio", 0.5)) else "stopped",
            "guest_agent": _ratio_hit(index // 2, generate.get("agent_ratio", 0.5)),
            "cpu_cores": (1, 2, 4)[index % 3],
            "ram": (1024, 2048, 4096, 8192)[index % 4],
            "os_family": ("linux", "linux", "windows", "linux", "freebsd")[index % 5],
            "timings": timings,
            "guest": guest or {},
        }
        if tags and index % (len(tags) + 1) < len(tags):
            spec["tags"] = [tags[index % (len(tags) + 1)]]
        yield spec


def vm_specs(scenario):
    """Yield every VM spec of the scenario (explicit ones, then generated ones) with timings resolved."""
    for vm in scenario.get("vms", []):
        yield dict(vm, timings=timings_of(scenario, vm), guest=guest_of(scenario, vm), switches=switches_of(scenario, vm))
    yield from generated_vm_specs(scenario.get("generate"), timings_of(scenario, {}), guest_of(scenario, {}))


def default_scenario(vm_count):
    """Return the scenario of the default world with vm_count VMs."""
    snapshot_count = min(3, vm_count)
    width = max(3, len(str(vm_count)))
    return {
        "description": "default world",
        "users": list(DEFAULT_USERS),
        "api_keys": [{"key": DEFAULT_API_KEY, "role": "admin", "user": "admin"}],
        "clusters": list(DEFAULT_CLUSTERS),
        "nodes": [{"name": name, "cluster": "cluster1"} for name in DEFAULT_NODE_NAMES],
        "tag_categories": [{"name": "environment", "description": "Where the VM serves", "taggable_vms": True},
                           {"name": "application", "description": "What the VM runs", "taggable_vms": True}],
        "tags": [{"name": "production", "category": "environment"},
                 {"name": "staging", "category": "environment"},
                 {"name": "web", "category": "application"}],
        "generate": {"count": vm_count, "tags": ["production", "web", "staging"]},
        "snapshots": [{"vm": "vm-%0*d" % (width, index + 1), "name": "vm-%0*d-nightly" % (width, index + 1)}
                      for index in range(snapshot_count)],
    }
