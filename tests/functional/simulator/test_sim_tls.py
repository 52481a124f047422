"""TLS modes: a certificate for another host name, an expired certificate; the CA alone must not make them pass."""

import datetime
import os
import socket
import ssl
import subprocess
import sys

import pytest
import requests
from cryptography import x509

INSECURE_OK = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
SERVER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "simulator", "server.py")


def _peer_certificate(handle):
    """Return the server's certificate, fetched without verifying it."""
    host, port = handle.host.split(":")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=10) as raw, context.wrap_socket(raw) as connection:
        return x509.load_der_x509_certificate(connection.getpeercert(binary_form=True))


def _names(certificate):
    alt_names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(alt_names.get_values_for_type(x509.DNSName)), sorted(str(ip) for ip in alt_names.get_values_for_type(x509.IPAddress))


def _verification_error(handle, host):
    port = handle.host.split(":")[1]
    with pytest.raises(requests.exceptions.SSLError) as raised:
        requests.get("https://%s:%s/api/v4/system" % (host, port), auth=("admin", "admin"), verify=handle.ca, timeout=10)
    return str(raised.value)


def test_valid_mode_verifies_with_the_ca(simulator_factory):
    handle = simulator_factory("--tls-mode", "valid")
    assert handle.api("GET", "/api/v4/system").status_code == 200
    assert _names(_peer_certificate(handle)) == (["localhost"], ["127.0.0.1"])


@INSECURE_OK
def test_name_mismatch_fails_verification_for_the_name(simulator_factory):
    handle = simulator_factory("--tls-mode", "name-mismatch")
    assert _names(_peer_certificate(handle)) == (["vergeos.other-host.invalid"], [])
    for host, shown in (("127.0.0.1", "IP address mismatch"), ("localhost", "Hostname mismatch")):
        message = _verification_error(handle, host)
        assert "CERTIFICATE_VERIFY_FAILED" in message and shown in message
    # The chain itself is fine: the name is the only problem, and a client that skips verification gets through.
    assert handle.api("GET", "/api/v4/system", verify=False).status_code == 200


@INSECURE_OK
def test_expired_certificate_fails_verification_as_expired(simulator_factory):
    handle = simulator_factory("--tls-mode", "expired")
    certificate = _peer_certificate(handle)
    assert certificate.not_valid_after_utc < datetime.datetime.now(datetime.UTC)
    assert _names(certificate) == (["localhost"], ["127.0.0.1"])
    message = _verification_error(handle, "127.0.0.1")
    assert "CERTIFICATE_VERIFY_FAILED" in message and "certificate has expired" in message
    assert handle.api("GET", "/api/v4/system", verify=False).status_code == 200


def test_tls_mode_is_in_the_help_and_refused_with_plain_http(tmp_path):
    result = subprocess.run([sys.executable, SERVER, "--help"], capture_output=True, text=True, timeout=30, check=False)
    assert "--tls-mode" in result.stdout and "name-mismatch" in result.stdout
    result = subprocess.run([sys.executable, SERVER, "--http", "--tls-mode", "expired", "--state-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2 and "--tls-mode" in result.stderr
    result = subprocess.run([sys.executable, SERVER, "--tls-mode", "self-signed"], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2 and "invalid choice" in result.stderr
