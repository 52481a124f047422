"""The server process: command line, start-up lines, TLS, plain HTTP, clean stop."""

import json
import os
import signal
import subprocess
import sys

import pytest
import requests

SERVER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "simulator", "server.py")


def test_help_lists_every_option():
    result = subprocess.run([sys.executable, SERVER, "--help"], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0
    for option in ("--port", "--scenario", "--vms", "--speed", "--state-dir", "--http"):
        assert option in result.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signal(simulator_factory, signum):
    handle = simulator_factory()
    assert handle.api("GET", "/api/v4/vms").status_code == 200  # leaves a keep-alive connection open
    handle.process.send_signal(signum)
    assert handle.process.wait(10) == 0
    assert not [line for line in handle.output() if "Traceback" in line or "Error" in line]


def test_certificate_is_valid_for_localhost_and_the_ip_and_signed_by_the_ca(simulator_factory):
    handle = simulator_factory()
    assert os.path.basename(os.path.dirname(handle.ca)).startswith("simulator-")  # the --state-dir given
    port = handle.host.split(":")[1]
    for host in ("127.0.0.1", "localhost"):
        response = requests.get("https://%s:%s/_sim/health" % (host, port), verify=handle.ca, timeout=10)
        assert response.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(handle.url + "/_sim/health", verify=requests.certs.where(), timeout=10)


def test_vms_option_and_plain_http(simulator_factory):
    handle = simulator_factory("--vms", "25", "--http")
    assert handle.url.startswith("http://")
    vms = requests.get(handle.url + "/api/v4/vms", params={"filter": "is_snapshot eq false"}, auth=("admin", "admin"), timeout=10)
    assert len(vms.json()) == 25


def test_scenario_file_from_another_directory(simulator_factory, tmp_path):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({"vms": [{"name": "from-file", "key": 7}]}), encoding="utf-8")
    cwd = os.getcwd()
    os.chdir("/")
    try:
        handle = simulator_factory("--scenario", str(path))
    finally:
        os.chdir(cwd)
    assert handle.api("GET", "/api/v4/vms/7").json()["name"] == "from-file"


def test_invalid_scenario_file_fails_with_a_message(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"vms": [{"name": "x", "power": "sideways"}]}), encoding="utf-8")
    result = subprocess.run([sys.executable, SERVER, "--port", "0", "--scenario", str(path), "--state-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "scenario.vms[0].power" in result.stderr


def test_default_state_dir_is_temporary_and_removed(tmp_path):
    process = subprocess.Popen([sys.executable, SERVER, "--port", "0"], stdout=subprocess.PIPE, text=True)  # pylint: disable=consider-using-with
    try:
        ca = process.stdout.readline().strip().split("ca: ", 1)[1]
        assert process.stdout.readline().startswith("listening on https://127.0.0.1:")
        assert os.path.exists(ca)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        process.stdout.close()
    assert not os.path.exists(os.path.dirname(ca))
