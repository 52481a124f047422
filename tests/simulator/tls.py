"""Certificates for the simulator: a throw-away CA and a server certificate it signs.

Real VergeOS systems mostly use self-signed certificates, so clients must be
able to trust a private CA; the tests do exactly that with the CA file written
here. The TLS modes only change the server certificate's names or validity
window, so a client that trusts the CA still fails verification, for the
reason the mode names.
"""

import datetime
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_DNS_NAMES = ("localhost",)
DEFAULT_IP_ADDRESSES = ("127.0.0.1",)
MODES = ("valid", "name-mismatch", "expired")
# The only name of the certificate in name-mismatch mode: some other host (.invalid never resolves).
OTHER_HOST = "vergeos.other-host.invalid"
VALIDITY = datetime.timedelta(days=365)
# Clocks of test machines drift; a certificate valid from "now" can look not-yet-valid.
BACKDATE = datetime.timedelta(days=1)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vergeos.power simulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _new_key():
    # EC keys are generated in microseconds; RSA would slow every simulator start.
    return ec.generate_private_key(ec.SECP256R1())


def build_ca(now):
    """Return (certificate, private key) of a new self-signed CA."""
    key = _new_key()
    name = _name("vergeos.power simulator CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def build_server_cert(ca_cert, ca_key, not_before, not_after, *, dns_names=DEFAULT_DNS_NAMES, ip_addresses=DEFAULT_IP_ADDRESSES):
    """Return (certificate, private key) of a server certificate signed by the CA."""
    key = _new_key()
    alt_names = [x509.DNSName(name) for name in dns_names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_names[0] if dns_names else ip_addresses[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def server_cert_options(mode, now):
    """Return the build_server_cert arguments of a TLS mode: valid, name-mismatch or expired."""
    if mode == "valid":
        return {"not_before": now - BACKDATE, "not_after": now + VALIDITY}
    if mode == "name-mismatch":
        return {"not_before": now - BACKDATE, "not_after": now + VALIDITY, "dns_names": (OTHER_HOST,), "ip_addresses": ()}
    if mode == "expired":
        # Expired a day ago (beyond any clock drift), after a year of validity.
        return {"not_before": now - VALIDITY, "not_after": now - BACKDATE}
    raise ValueError("unknown TLS mode %r (one of %s)" % (mode, ", ".join(MODES)))


def write_certificates(state_dir, mode="valid"):
    """Create a CA and a server certificate (per the TLS mode) in state_dir; return (ca_path, cert_path, key_path)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_cert, ca_key = build_ca(now)
    cert, key = build_server_cert(ca_cert, ca_key, **server_cert_options(mode, now))
    pem = serialization.Encoding.PEM
    ca_path = _write(os.path.join(state_dir, "ca.pem"), ca_cert.public_bytes(pem))
    cert_path = _write(os.path.join(state_dir, "server.pem"), cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    key_bytes = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_path = _write(os.path.join(state_dir, "server-key.pem"), key_bytes)
    os.chmod(key_path, 0o600)
    return ca_path, cert_path, key_path


def server_context(cert_path, key_path):
    """Return a server-side SSLContext serving the given certificate chain."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context
