"""ansible-inventory over the simulator: constructed features, cache, several sites, failures, credentials and secrets."""

import os
import socket
import sys

import pytest

from inventory_helpers import BIN, HOSTS, SCENARIO, api_requests, run, sim_source, write_source

PASSWORD = "S3cret-Pa55word!"
API_KEY = "K3y-For-Inventory-0123456789"


# ---------------------------------------------------------------- constructed


def test_compose_groups_and_keyed_groups(scenario, run_inventory):
    result = run_inventory(sim_source(
        scenario,
        compose={"ansible_user": "'admin' if vergeos_os_family == 'windows' else 'cloud'", "memory_gb": "vergeos_ram // 1024"},
        groups={"big_vms": "vergeos_ram >= 4096", "needs_look": "vergeos_power_state not in ['running', 'stopped']"},
        keyed_groups=[{"key": "vergeos_cpu_cores | string", "prefix": "cores"},
                      {"key": "vergeos_tags", "prefix": "tagged"},
                      {"key": "vergeos_node", "prefix": "on", "default_value": "nowhere"}],
    ))
    assert result.rc == 0, result.stderr
    assert result.hostvars["web02"]["ansible_user"] == "admin"
    assert result.hostvars["web01"]["ansible_user"] == "cloud"
    assert result.hostvars["db01"]["memory_gb"] == 8
    assert result.hosts("big_vms") == {"web01", "db01"}
    assert "needs_look" not in result.data or result.hosts("needs_look") == set()
    assert result.hosts("cores_2") == {"web01"}
    assert result.hosts("cores_1") == {"web02", "db01", "twin_21", "twin_22"}
    assert result.hosts("tagged_web_tier") == {"web01", "web02"}
    assert result.hosts("on_nowhere") == {"web02", "twin_22"}
    assert result.hosts("on_node_3") == {"db01"}
    # The built-in groups are still there.
    assert result.hosts("vergeos_power_running") == {"web01", "db01", "twin_21"}


def test_strict_makes_a_bad_expression_fail(scenario, run_inventory):
    source = sim_source(scenario, compose={"oops": "vergeos_no_such_variable + 1"})
    assert run_inventory(source).rc == 0
    source["strict"] = True
    result = run_inventory(source)
    assert result.rc != 0
    assert "oops" in result.stderr and "vergeos_no_such_variable" in result.stderr


def test_keyed_group_key_that_is_not_a_string_needs_the_string_filter(scenario, run_inventory):
    """ansible-core 2.19 refuses integer keys; the documented example converts with | string."""
    bad = run_inventory(sim_source(scenario, strict=True, keyed_groups=[{"key": "vergeos_cpu_cores", "prefix": "cores"}]))
    assert bad.rc != 0
    good = run_inventory(sim_source(scenario, strict=True, keyed_groups=[{"key": "vergeos_cpu_cores | string", "prefix": "cores"}]))
    assert good.rc == 0, good.stderr
    assert good.hosts("cores_2") == {"web01"}


# ---------------------------------------------------------------- cache


def cached_source(sim, directory, **options):
    return sim_source(sim, cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(directory / "cache"),
                      cache_timeout=3600, **options)


def test_cache_hit_sends_nothing_and_constructed_groups_are_recomputed(scenario, run_inventory, tmp_path):
    first = run_inventory(cached_source(scenario, tmp_path, groups={"big": "vergeos_ram >= 4096"}))
    assert first.rc == 0, first.stderr
    assert api_requests(scenario) == [("GET", "/api/v4/vms"), ("GET", "/api/v4/tag_members")]
    assert first.hosts("big") == {"web01", "db01"}
    # The world changes; the cache still answers, and new constructed options apply to the cached answers.
    scenario.api("POST", "/api/v4/vm_actions", json={"vm": 12, "action": "poweron"}).raise_for_status()
    scenario.clear_requests()
    second = run_inventory(cached_source(scenario, tmp_path, groups={"small": "vergeos_ram < 4096"},
                                         compose={"memory_gb": "vergeos_ram // 1024"}, filters={"power_state": ["running"]}))
    assert second.rc == 0, second.stderr
    assert api_requests(scenario) == []
    assert "big" not in second.data
    assert second.hosts("small") == {"twin_21"}
    assert second.hostvars["db01"]["memory_gb"] == 8
    # Cached: web02 still shows stopped (and so is filtered out).
    assert set(second.hostvars) == {"web01", "db01", "twin_21"}
    # --flush-cache reads the system again and sees web02 starting.
    flushed = run_inventory(cached_source(scenario, tmp_path), "--list", "--flush-cache")
    assert flushed.rc == 0, flushed.stderr
    assert api_requests(scenario) == [("GET", "/api/v4/vms"), ("GET", "/api/v4/tag_members")]
    assert flushed.hostvars["web02"]["vergeos_power_state"] in ("starting", "running")


def test_cache_misses_when_the_server_side_query_changes(scenario, run_inventory, tmp_path):
    assert run_inventory(cached_source(scenario, tmp_path)).rc == 0
    scenario.clear_requests()
    result = run_inventory(cached_source(scenario, tmp_path, filters={"name_regex": "^web"}))
    assert result.rc == 0, result.stderr
    assert set(result.hostvars) == {"web01", "web02"}
    assert api_requests(scenario) == [("GET", "/api/v4/vms"), ("GET", "/api/v4/tag_members")]


def test_refresh_inventory_reads_again(scenario, tmp_path):
    source = write_source(tmp_path, cached_source(scenario, tmp_path))
    playbook = tmp_path / "refresh.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - ansible.builtin.assert: {that: \"groups['vergeos_power_stopped'] | sort == ['twin_22', 'web02']\"}\n"
        "    - ansible.builtin.uri:\n"
        "        url: \"%s/api/v4/vm_actions\"\n"
        "        method: POST\n"
        "        body_format: json\n"
        "        body: {vm: 22, action: poweron}\n"
        "        url_username: admin\n"
        "        url_password: admin\n"
        "        force_basic_auth: true\n"
        "        ca_path: \"%s\"\n"
        "        status_code: 201\n"
        "    - ansible.builtin.meta: refresh_inventory\n"
        "    - ansible.builtin.assert: {that: \"groups['vergeos_power_stopped'] == ['web02']\"}\n" % (scenario.url, scenario.ca))
    # Warm the cache first: the play's first read is then a cache hit, the refresh a real read.
    assert run([os.path.join(BIN, "ansible-inventory"), "-i", source, "--list"]).returncode == 0
    scenario.clear_requests()
    result = run([os.path.join(BIN, "ansible-playbook"), "-i", source, str(playbook),
                  "-e", "ansible_python_interpreter=%s" % sys.executable, "-c", "local"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert [path for method, path in api_requests(scenario) if method == "GET"] == ["/api/v4/vms", "/api/v4/tag_members"]


# ---------------------------------------------------------------- several sites


@pytest.fixture
def two_sites(simulator_factory):
    site_a = simulator_factory("--speed", "100")
    site_b = simulator_factory("--speed", "100")
    site_a.load({"speed": 100, "vms": [{"name": "vm-%d" % key, "key": key} for key in (1, 2, 3)]})
    site_b.load({"speed": 100, "users": [{"name": "ops", "password": PASSWORD}],
                 "vms": [{"name": "vm-1", "key": 1, "power": "running"}, {"name": "b-only", "key": 7}]})
    for site in (site_a, site_b):
        site.clear_requests()
    return site_a, site_b


def test_several_sites_with_password_env(two_sites, run_inventory):
    site_a, site_b = two_sites
    source = {"plugin": "vergeos.power.vergeos", "username": "admin", "password": "admin", "ca_path": site_a.ca,
              "sites": [{"name": "alpha", "host": site_a.host},
                        {"name": "beta", "host": site_b.url, "username": "ops", "password_env": "BETA_PASSWORD", "ca_path": site_b.ca}]}
    result = run_inventory(source, env={"BETA_PASSWORD": PASSWORD})
    assert result.rc == 0, result.stderr
    # vm-1 exists on both sites (with the same key): both get the id, then the site.
    assert set(result.hostvars) == {"vm-1_1_alpha", "vm-1_1_beta", "vm-2", "vm-3", "b-only"}
    assert result.hosts("vergeos_site_alpha") == {"vm-1_1_alpha", "vm-2", "vm-3"}
    assert result.hosts("vergeos_site_beta") == {"vm-1_1_beta", "b-only"}
    assert result.hostvars["b-only"]["vergeos_url"] == site_b.url
    assert result.hostvars["vm-2"]["vergeos_url"] == site_a.url
    assert result.hostvars["vm-1_1_beta"]["vergeos_site"] == "beta"
    # Node and cluster groups carry the site: both sites have a node1 and a cluster1.
    node = result.hostvars["vm-1_1_beta"]["vergeos_node"]
    assert node and result.hosts("vergeos_node_beta_" + node) == {"vm-1_1_beta"}
    assert not [group for group in result.groups() if group.startswith(("vergeos_node_", "vergeos_cluster_"))
                and not group.startswith(("vergeos_node_alpha_", "vergeos_node_beta_", "vergeos_cluster_alpha_", "vergeos_cluster_beta_"))]
    # The warning says what the VMs that shared a name are listed as.
    assert "listed as vm-1_1_alpha (site alpha, id 1), vm-1_1_beta (site beta, id 1)" in " ".join(result.stderr.split())
    # Each site got its own budget, with its own login.
    assert api_requests(site_a) == [("GET", "/api/v4/vms"), ("GET", "/api/v4/tag_members")]
    assert api_requests(site_b) == [("GET", "/api/v4/vms"), ("GET", "/api/v4/tag_members")]
    assert {entry["user"] for entry in site_a.requests()} == {"admin"}
    assert {entry["user"] for entry in site_b.requests()} == {"ops"}
    assert PASSWORD not in result.stdout + result.stderr


def test_sites_are_read_concurrently(two_sites, run_inventory):
    """With alpha's VM list delayed, beta (listed second) is read completely before alpha's list is even handled."""
    site_a, site_b = two_sites
    site_a.add_faults({"method": "GET", "path": "/api/v4/vms", "kind": "delay", "delay": 2})
    source = {"plugin": "vergeos.power.vergeos", "sites": [
        {"name": "alpha", "host": site_a.host, "username": "admin", "password": "admin", "ca_path": site_a.ca},
        {"name": "beta", "host": site_b.host, "username": "ops", "password": PASSWORD, "ca_path": site_b.ca}]}
    result = run_inventory(source)
    assert result.rc == 0, result.stderr
    alpha_list = next(entry["time"] for entry in site_a.requests() if entry["path"] == "/api/v4/vms")
    beta_times = [entry["time"] for entry in site_b.requests()]
    assert len(beta_times) == 2 and max(beta_times) < alpha_list


def test_password_env_that_is_not_set_fails_clearly(two_sites, run_inventory):
    site_a, _site_b = two_sites
    source = {"plugin": "vergeos.power.vergeos", "sites": [{"host": site_a.host, "username": "admin", "password_env": "NOT_SET_ANYWHERE"}]}
    result = run_inventory(source)
    assert result.rc != 0
    assert "password_env names the environment variable NOT_SET_ANYWHERE, which is not set or empty" in result.stderr
    assert api_requests(site_a) == []


def test_a_site_that_is_down_fails_the_source(scenario, run_inventory, unused_port):
    source = sim_source(scenario)
    del source["host"]
    source["sites"] = [{"name": "up", "host": scenario.host}, {"name": "down", "host": "127.0.0.1:%d" % unused_port, "api_timeout": 5}]
    result = run_inventory(source)
    assert result.rc != 0
    text = " ".join(result.stderr.split())
    assert "site down (https://127.0.0.1:%d): Error while listing VMs: cannot connect to https://127.0.0.1:%d" % (unused_port, unused_port) in text
    assert "on_site_error: warn" in text


def test_a_site_that_is_down_is_skipped_with_warn(scenario, run_inventory, unused_port):
    source = sim_source(scenario, on_site_error="warn")
    del source["host"]
    source["sites"] = [{"name": "up", "host": scenario.host}, {"name": "down", "host": "127.0.0.1:%d" % unused_port, "api_timeout": 5}]
    result = run_inventory(source)
    assert result.rc == 0, result.stderr
    assert set(result.hostvars) == HOSTS
    assert "skipping site down (https://127.0.0.1:%d)" % unused_port in " ".join(result.stderr.split())
    assert "vergeos_site_down" not in result.data


@pytest.fixture
def unused_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------- credentials and secrets


def test_credentials_from_vergeos_environment_only(scenario, run_inventory):
    source = {"plugin": "vergeos.power.vergeos"}
    env = {"VERGEOS_HOST": scenario.host, "VERGEOS_USERNAME": "ops", "VERGEOS_PASSWORD": PASSWORD, "VERGEOS_CA_PATH": scenario.ca,
           "VERGEOS_API_TIMEOUT": "20"}
    result = run_inventory(source, env=env)
    assert result.rc == 0, result.stderr
    assert set(result.hostvars) == HOSTS
    assert {entry["user"] for entry in scenario.requests()} == {"ops"}


def test_api_key_from_the_environment(scenario, run_inventory):
    result = run_inventory({"plugin": "vergeos.power.vergeos"},
                           env={"VERGEOS_HOST": scenario.url, "VERGEOS_API_KEY": API_KEY, "VERGEOS_VALIDATE_CERTS": "false"})
    assert result.rc == 0, result.stderr
    assert {entry["user"] for entry in scenario.requests()} == {"automation"}


def test_empty_vergeos_variables_count_as_unset(scenario, run_inventory):
    """An AWX credential injects every variable, empty or not: empty ones must not turn TLS verification off."""
    env = {"VERGEOS_HOST": scenario.host, "VERGEOS_USERNAME": "admin", "VERGEOS_PASSWORD": "admin", "VERGEOS_API_KEY": "",
           "VERGEOS_VALIDATE_CERTS": "", "VERGEOS_CA_PATH": "", "VERGEOS_API_TIMEOUT": ""}
    refused = run_inventory({"plugin": "vergeos.power.vergeos"}, env=env)
    assert refused.rc != 0
    assert "TLS certificate verification of %s failed" % scenario.url in refused.stderr
    accepted = run_inventory({"plugin": "vergeos.power.vergeos"}, env=dict(env, VERGEOS_CA_PATH=scenario.ca))
    assert accepted.rc == 0, accepted.stderr
    assert set(accepted.hostvars) == HOSTS


def test_no_host_at_all_fails_clearly(scenario, run_inventory):
    result = run_inventory({"plugin": "vergeos.power.vergeos", "username": "admin", "password": "admin"})
    assert result.rc != 0
    assert "no VergeOS system: give host (or set VERGEOS_HOST)" in result.stderr


@pytest.mark.parametrize("how", ["password", "api_key"])
@pytest.mark.parametrize("failure", ["wrong_login", "tls", "down"])
def test_secrets_never_in_output(scenario, run_inventory, unused_port, how, failure):
    secret = PASSWORD if how == "password" else API_KEY
    env = {"VERGEOS_HOST": scenario.host, "VERGEOS_CA_PATH": scenario.ca}
    if how == "password":
        env.update(VERGEOS_USERNAME="ops", VERGEOS_PASSWORD=secret)
    else:
        env["VERGEOS_API_KEY"] = secret
    if failure == "wrong_login":
        scenario.load(dict(SCENARIO, users=[{"name": "admin", "password": "admin"}], api_keys=[]))
    elif failure == "tls":
        del env["VERGEOS_CA_PATH"]
    else:
        env["VERGEOS_HOST"] = "127.0.0.1:%d" % unused_port
    result = run_inventory({"plugin": "vergeos.power.vergeos"}, "--list", "-vvv", env=env)
    assert result.rc != 0
    output = result.stdout + result.stderr
    assert {"wrong_login": "HTTP 401", "tls": "TLS certificate verification", "down": "cannot connect"}[failure] in output
    assert secret not in output
    assert "S3cret" not in output and "K3y-For" not in output


@pytest.mark.parametrize("how", ["password", "api_key"])
def test_secrets_never_in_output_of_a_good_run(scenario, run_inventory, how):
    secret = PASSWORD if how == "password" else API_KEY
    source = sim_source(scenario, username="ops", password=secret) if how == "password" else \
        sim_source(scenario, username=None, password=None, api_key=secret)
    for args in (("--list", "-vvv"), ("--host", "web01", "-vvv"), ("--graph", "-vvv")):
        result = run_inventory(source, *args)
        assert result.rc == 0, result.stderr
        assert secret not in result.stdout + result.stderr


def test_missing_requests_fails_clearly(scenario, run_inventory, tmp_path):
    shadow = tmp_path / "no-requests"
    (shadow / "requests").mkdir(parents=True)
    (shadow / "requests" / "__init__.py").write_text("raise ImportError('requests is hidden for this test')\n")
    result = run_inventory(sim_source(scenario), env={"PYTHONPATH": str(shadow)})
    assert result.rc != 0
    assert "vergeos.power.vergeos needs the Python library requests on the controller" in result.stderr
    assert api_requests(scenario) == []
