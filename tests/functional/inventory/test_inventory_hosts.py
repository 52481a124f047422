"""ansible-inventory over the simulator: hosts, host variables, built-in groups, names, filters, request budget."""

import os

import pytest

from inventory_helpers import BIN, HOSTS, SCENARIO, api_requests, run, sim_source, write_source

VM_LIST = ("GET", "/api/v4/vms")
TAGS = ("GET", "/api/v4/tag_members")
NICS = ("GET", "/api/v4/machine_nics")


def test_hosts_and_host_variables(scenario, run_inventory):
    result = run_inventory(sim_source(scenario))
    assert result.rc == 0, result.stderr
    assert set(result.hostvars) == HOSTS
    web01 = result.hostvars["web01"]
    assert web01 == {
        "vergeos_id": 11, "vergeos_name": "web01", "vergeos_machine": web01["vergeos_machine"], "vergeos_power_state": "running",
        "vergeos_status": "running", "vergeos_running": True, "vergeos_node": "node1", "vergeos_cluster": "cluster1",
        "vergeos_os_family": "linux", "vergeos_cpu_cores": 2, "vergeos_ram": 4096, "vergeos_tags": ["production", "web tier"],
        "vergeos_site": scenario.host, "vergeos_url": scenario.url,
    }
    assert isinstance(web01["vergeos_machine"], int) and web01["vergeos_machine"] != 11
    web02 = result.hostvars["web02"]
    assert (web02["vergeos_power_state"], web02["vergeos_running"], web02["vergeos_node"]) == ("stopped", False, None)
    assert "ansible_host" not in web01


def test_built_in_groups(scenario, run_inventory):
    result = run_inventory(sim_source(scenario))
    assert result.rc == 0, result.stderr
    assert result.hosts("vergeos_power_running") == {"web01", "db01", "twin_21"}
    assert result.hosts("vergeos_power_stopped") == {"web02", "twin_22"}
    # Every power state has its group, even an empty one (so a play on it matches nothing instead of failing).
    for state in ("starting", "stopping", "migrating", "hibernated", "maintenance", "error", "unknown"):
        assert "vergeos_power_" + state in result.data["all"]["children"]
        assert result.hosts("vergeos_power_" + state) == set()
    assert result.hosts("vergeos_node_node1") == {"web01"}
    assert result.hosts("vergeos_node_node_3") == {"db01"}
    assert result.hosts("vergeos_cluster_cluster1") == {"web01", "web02", "twin_21", "twin_22"}
    assert result.hosts("vergeos_cluster_cluster_2") == {"db01"}
    assert result.hosts("vergeos_tag_production") == {"web01", "db01"}
    assert result.hosts("vergeos_tag_web_tier") == {"web01", "web02"}
    assert result.hosts("vergeos_tag_staging") == {"web02"}
    assert result.hosts("vergeos_os_linux") == {"web01", "twin_21", "twin_22"}
    assert result.hosts("vergeos_os_windows") == {"web02"}
    assert result.hosts("vergeos_os_freebsd") == {"db01"}
    site_group = "vergeos_site_" + scenario.host.replace(".", "_").replace(":", "_")
    assert result.hosts(site_group) == HOSTS


def test_host_command_shows_one_host(scenario, run_inventory):
    result = run_inventory(sim_source(scenario), "--host", "twin_22")
    assert result.rc == 0, result.stderr
    assert result.data["vergeos_id"] == 22 and result.data["vergeos_name"] == "twin"


def test_shared_names_all_get_their_id_with_a_warning(scenario, run_inventory):
    result = run_inventory(sim_source(scenario))
    assert result.rc == 0, result.stderr
    assert "twin" not in result.hostvars
    assert {result.hostvars["twin_21"]["vergeos_id"], result.hostvars["twin_22"]["vergeos_id"]} == {21, 22}
    warning = " ".join(result.stderr.split())
    assert "2 VMs would have the host name 'twin'" in warning and "id 21" in warning and "id 22" in warning


@pytest.mark.parametrize("scheme, expected", [
    ("name_id", {"web01_11", "web02_12", "db01_13", "twin_21", "twin_22"}),
    ("id", {"11", "12", "13", "21", "22"}),
])
def test_hostnames_schemes(scenario, run_inventory, scheme, expected):
    result = run_inventory(sim_source(scenario, hostnames=scheme))
    assert result.rc == 0, result.stderr
    assert set(result.hostvars) == expected
    assert "would have the host name" not in result.stderr


def test_site_name_scheme(scenario, run_inventory):
    source = sim_source(scenario, hostnames="site_name")
    source["sites"] = [{"name": "paris", "host": scenario.host}]
    del source["host"]
    result = run_inventory(source)
    assert result.rc == 0, result.stderr
    assert set(result.hostvars) == {"paris_web01", "paris_web02", "paris_db01", "paris_twin_21", "paris_twin_22"}
    assert result.hosts("vergeos_site_paris") == set(result.hostvars)


def test_a_vm_named_like_a_template_stays_literal(scenario, run_inventory, tmp_path):
    marker = tmp_path / "template-ran"
    evil = "{{ lookup('pipe', 'touch %s') }}" % marker
    scenario.load(dict(scenario_copy(), vms=[{"name": evil, "key": 5, "power": "running", "tags": ["production"]}]))
    result = run_inventory(sim_source(scenario, compose={"copied_name": "vergeos_name"},
                                      keyed_groups=[{"key": "vergeos_name", "prefix": "named"}]))
    assert result.rc == 0, result.stderr
    assert set(result.hostvars) == {evil}
    assert result.hostvars[evil]["vergeos_name"] == evil
    assert result.hostvars[evil]["copied_name"] == evil
    # ansible-inventory itself marks the API's strings as untrusted (never templated).
    assert result.raw["_meta"]["hostvars"][evil]["vergeos_name"] == {"__ansible_unsafe": evil}
    assert not marker.exists()
    # A play over that host: its name and variables are printed, never evaluated.
    playbook = tmp_path / "show.yml"
    playbook.write_text(
        "- hosts: all\n"
        "  gather_facts: false\n"
        "  connection: local\n"
        "  vars:\n"
        "    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n"
        "  tasks:\n"
        "    - ansible.builtin.debug: {msg: \"name={{ vergeos_name }} host={{ inventory_hostname }} copied={{ copied_name }}\"}\n")
    source = write_source(tmp_path, sim_source(scenario, compose={"copied_name": "vergeos_name"}), "play.vergeos.yml")
    played = run([os.path.join(BIN, "ansible-playbook"), "-i", source, str(playbook)])
    assert played.returncode == 0, played.stdout + played.stderr
    assert "name=%s host=%s copied=%s" % (evil, evil, evil) in played.stdout
    assert not marker.exists()


def scenario_copy():
    return {key: value for key, value in SCENARIO.items() if key != "vms"}


# ---------------------------------------------------------------- request budget and paging
# Requests, pages and filters are the plugin's own Python whatever ansible-core loads it: marked
# engine, so tools/compat.py leaves them out and this suite proves them once.


@pytest.mark.engine
def test_request_budget_one_page_plus_tags(scenario, run_inventory):
    result = run_inventory(sim_source(scenario))
    assert result.rc == 0, result.stderr
    assert api_requests(scenario) == [VM_LIST, TAGS]


@pytest.mark.engine
def test_request_budget_without_tags(scenario, run_inventory):
    result = run_inventory(sim_source(scenario, want_tags=False))
    assert result.rc == 0, result.stderr
    assert api_requests(scenario) == [VM_LIST]
    assert "vergeos_tags" not in result.hostvars["web01"]
    assert not [group for group in result.groups() if group.startswith("vergeos_tag_")]


@pytest.mark.engine
def test_request_budget_with_nic_addresses(scenario, run_inventory):
    result = run_inventory(sim_source(scenario, ansible_host=["nic"]))
    assert result.rc == 0, result.stderr
    assert sorted(api_requests(scenario)) == sorted([VM_LIST, TAGS, NICS])
    assert result.hostvars["web01"]["ansible_host"] == "192.0.2.11"
    assert result.hostvars["web01"]["vergeos_addresses"] == [
        {"nic": "nic_0", "mac": "52:54:00:00:00:11", "ip": "192.0.2.11"}, {"nic": "nic_1", "mac": "52:54:00:00:01:11", "ip": None}]
    # No address known: no ansible_host at all.
    assert "ansible_host" not in result.hostvars["db01"]


@pytest.mark.engine
def test_ansible_host_from_the_guest_agent_costs_no_request(scenario, run_inventory):
    result = run_inventory(sim_source(scenario, ansible_host=["agent"]))
    assert result.rc == 0, result.stderr
    assert api_requests(scenario) == [VM_LIST, TAGS]
    # web01 runs with a guest agent; the others have none (or are stopped).
    assert result.hostvars["web01"]["ansible_host"] == "192.0.2.11"
    assert [name for name, host in result.hostvars.items() if "ansible_host" in host] == ["web01"]
    assert "vergeos_addresses" not in result.hostvars["web01"]


@pytest.mark.engine
def test_paging_with_a_small_page_size(scenario, run_inventory):
    result = run_inventory(sim_source(scenario, page_size=2, want_tags=False))
    assert result.rc == 0, result.stderr
    assert set(result.hostvars) == HOSTS
    pages = [(entry["query"].get("limit"), entry["query"].get("offset")) for entry in scenario.requests()]
    # 5 VMs (the snapshot row excluded on the server) at 2 per page: 3 pages, the last one short.
    assert pages == [("2", "0"), ("2", "2"), ("2", "4")]
    assert all("is_snapshot eq false" in entry["query"]["filter"] for entry in scenario.requests())


@pytest.mark.engine
def test_bulk_world_pages(world, run_inventory):
    """The default world of 10 VMs (and 3 snapshot rows): 4 pages of 3, plus the tags."""
    result = run_inventory(sim_source(world, page_size=3))
    assert result.rc == 0, result.stderr
    assert len(result.hostvars) == 10
    assert api_requests(world) == [VM_LIST] * 4 + [TAGS]


# ---------------------------------------------------------------- filters (engine, as above)


@pytest.mark.engine
@pytest.mark.parametrize("filters, expected", [
    ({"name_regex": "^web[0-9]+$"}, {"web01", "web02"}),
    ({"tags": ["production"]}, {"web01", "db01"}),
    ({"tags": ["production", "web tier"]}, {"web01"}),
    ({"power_state": ["stopped"]}, {"web02", "twin_22"}),
    ({"node": ["node.3", "node2"]}, {"db01", "twin_21"}),
    ({"cluster": ["cluster-2"]}, {"db01"}),
    ({"name_regex": "^(web|db)", "power_state": ["running"], "cluster": ["cluster1"]}, {"web01"}),
    ({"name_regex": "^nothing$"}, set()),
])
def test_filters(scenario, run_inventory, filters, expected):
    result = run_inventory(sim_source(scenario, filters=filters))
    assert result.rc == 0, result.stderr
    # Names are made unique before the filters: a filter that keeps one twin does not give it the bare name.
    assert set(result.hostvars) == expected


@pytest.mark.engine
def test_name_regex_is_matched_by_the_server_and_tags_cost_one_request(scenario, run_inventory):
    result = run_inventory(sim_source(scenario, want_tags=False, filters={"name_regex": "^db", "tags": ["production"]}))
    assert result.rc == 0, result.stderr
    assert set(result.hostvars) == {"db01"}
    logged = scenario.requests()
    assert [(entry["method"], entry["path"]) for entry in logged] == [VM_LIST, TAGS]
    assert "name rx '^db'" in logged[0]["query"]["filter"]
    # Tags were read for the filter only: no host variable, no tag group.
    assert "vergeos_tags" not in result.hostvars["db01"]


def test_unknown_filter_key_fails_clearly(scenario, run_inventory):
    result = run_inventory(sim_source(scenario, filters={"colour": ["red"]}))
    assert result.rc != 0
    assert "unknown filter key(s) colour" in result.stderr
    assert api_requests(scenario) == []
