"""Without ca_path, the collection trusts what the operating system trusts, and nothing else.

The simulator's CA (a throw-away CA made for the run, tests/simulator/tls.py) is put into a
system-style bundle (the machine's default CA file, or certifi's, plus that CA) and named only through
SSL_CERT_FILE, as OpenSSL reads it for every program on the machine. A real module run
(ansible-playbook) and a real inventory (ansible-inventory) then connect with validate_certs true and
no ca_path. The same bundle named only through REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE must not be
trusted: ca_path is the way to name a CA for the collection alone. The proxy variables still apply.
"""

import json
import os
import ssl
import sys

import certifi
import pytest
import yaml

from ansible_collections.vergeos.power.plugins.module_utils.client import SystemTrustAdapter, VergeOSClient, trusting_session
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.retry import RetryPolicy
from inventory_helpers import INVENTORY_ENV
from run_ansible import plain, run

# One worker: the cases change no world, but each starts ansible processes; keep them together.
pytestmark = pytest.mark.xdist_group("trust_store")

TLS_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
PROXY_ENV = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")
REFUSED = "TLS certificate verification of %s failed"
HINT = "not in the trust store of this controller's operating system"


@pytest.fixture
def bundles(sim, tmp_path, monkeypatch):
    """Return {"with": bundle holding the simulator's CA, "without": the same bundle without it}; no TLS or proxy variable is left set."""
    for name in TLS_ENV + PROXY_ENV:
        monkeypatch.delenv(name, raising=False)
    default = ssl.get_default_verify_paths().openssl_cafile
    base = default if default and os.path.isfile(default) else certifi.where()
    with open(base, encoding="utf-8") as handle:
        system = handle.read()
    with open(sim.ca, encoding="utf-8") as handle:
        ours = handle.read()
    assert ours.strip() not in system
    without, with_ca = tmp_path / "system-bundle.pem", tmp_path / "system-bundle-with-the-simulator-ca.pem"
    without.write_text(system)
    with_ca.write_text(system.rstrip("\n") + "\n" + ours)
    return {"with": str(with_ca), "without": str(without)}


def connection(sim, **extra):
    """VERGEOS_* for the simulator with verification on and no CA path, plus extra variables."""
    return dict({"VERGEOS_HOST": sim.host, "VERGEOS_USERNAME": "admin", "VERGEOS_PASSWORD": "admin", "VERGEOS_VALIDATE_CERTS": "true"}, **extra)


def read_vm(sim, tmp_path, env):
    """Run vergeos_vm_info on localhost with env; return (CompletedProcess, the registered result or None)."""
    play = [{"name": "Trust store", "hosts": "localhost", "gather_facts": False, "vars": {"ansible_python_interpreter": sys.executable},
             "tasks": [{"name": "Read", "vergeos.power.vergeos_vm_info": {"id": 1}, "register": "info"},
                       {"name": "Keep", "ansible.builtin.copy": {"content": "{{ info | to_json }}", "dest": str(tmp_path / "info.json"),
                                                                 "mode": "0600"}}]}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    (tmp_path / "info.json").unlink(missing_ok=True)
    result = run("ansible-playbook", str(playbook), env=env)
    kept = tmp_path / "info.json"
    return result, json.loads(kept.read_text()) if kept.exists() else None


def list_inventory(tmp_path, env):
    source = tmp_path / "trust.vergeos.yml"
    source.write_text(yaml.safe_dump({"plugin": "vergeos.power.vergeos"}))
    # A source that fails to parse fails the command (ansible-inventory only warns by default).
    result = run("ansible-inventory", "-i", str(source), "--list", env=dict(INVENTORY_ENV, **env))
    return result, plain(json.loads(result.stdout)) if result.returncode == 0 else None


def test_module_and_inventory_trust_the_ca_of_ssl_cert_file(world, tmp_path, bundles):
    env = connection(world, SSL_CERT_FILE=bundles["with"])
    result, info = read_vm(world, tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [vm["id"] for vm in info["vms"]] == [1]
    inventory, listed = list_inventory(tmp_path, env)
    assert inventory.returncode == 0, inventory.stderr
    assert listed["_meta"]["hostvars"], listed


def test_without_the_ca_in_the_trust_store_the_module_and_inventory_refuse_with_the_hint(world, tmp_path, bundles):
    for extra in ({}, {"SSL_CERT_FILE": bundles["without"]}):
        env = connection(world, **extra)
        result, info = read_vm(world, tmp_path, env)
        assert result.returncode != 0 and info is None, (extra, result.stdout)
        assert REFUSED % world.url in result.stdout and HINT in result.stdout and "ca_path" in result.stdout, (extra, result.stdout)
        inventory, _listed = list_inventory(tmp_path, env)
        assert inventory.returncode != 0, (extra, inventory.stdout)
        assert REFUSED % world.url in inventory.stderr and HINT in inventory.stderr, (extra, inventory.stderr)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_requests_ca_bundle_alone_is_not_consulted(world, tmp_path, bundles, variable):
    env = connection(world, **{variable: bundles["with"]})
    result, info = read_vm(world, tmp_path, env)
    assert result.returncode != 0 and info is None, result.stdout
    assert REFUSED % world.url in result.stdout, result.stdout
    inventory, _listed = list_inventory(tmp_path, env)
    assert inventory.returncode != 0 and REFUSED % world.url in inventory.stderr, inventory.stderr


def test_ca_path_still_wins_and_a_bundle_variable_cannot_replace_it(world, tmp_path, bundles):
    # ca_path is trusted with REQUESTS_CA_BUNDLE naming a bundle without that CA (requests would put the variable in its place).
    result, info = read_vm(world, tmp_path, connection(world, VERGEOS_CA_PATH=world.ca, REQUESTS_CA_BUNDLE=bundles["without"]))
    assert result.returncode == 0, result.stdout
    assert [vm["id"] for vm in info["vms"]] == [1]


# ---------------------------------------------------------------- in process: the session itself, and proxies


def test_the_session_mounts_the_system_trust_only_when_verifying_without_ca_path(sim):
    assert isinstance(trusting_session(True).get_adapter("https://" + sim.host), SystemTrustAdapter)
    for verify in (False, sim.ca):
        assert not isinstance(trusting_session(verify).get_adapter("https://" + sim.host), SystemTrustAdapter)
    assert trusting_session(True).trust_env is False


def test_ssl_cert_file_is_read_in_process_too(world, bundles, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", bundles["with"])
    with VergeOSClient(world.host, username="admin", password="admin") as client:
        assert client.about()["$key"] == 1
    monkeypatch.setenv("SSL_CERT_FILE", bundles["without"])
    with VergeOSClient(world.host, username="admin", password="admin") as client, pytest.raises(VergeOSError) as caught:
        client.about()
    assert HINT in str(caught.value)


def test_proxy_variables_still_apply(world, bundles, monkeypatch):
    # A proxy that is not there: the request must go to it (and fail) unless NO_PROXY names the host.
    monkeypatch.setenv("SSL_CERT_FILE", bundles["with"])
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with VergeOSClient(world.host, username="admin", password="admin", retry=RetryPolicy(retries=0)) as client, \
            pytest.raises(VergeOSError) as caught:
        client.about()
    assert "proxy" in str(caught.value).lower(), str(caught.value)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with VergeOSClient(world.host, username="admin", password="admin") as client:
        assert client.about()["$key"] == 1
