# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """How to reach a VergeOS system: the same options for every module and the inventory plugin."""

    # Modules: vergeos.power.connection. Environment variables are read through env_fallback.
    DOCUMENTATION = r'''
options:
  host:
    description:
      - The VergeOS system to talk to, as V(host), V(host:port) or V(https://host[:port]).
      - The API is served over HTTPS only; other schemes and URLs with a path are refused.
      - If not set, the environment variable E(VERGEOS_HOST) is used; one of them is required.
    type: str
  username:
    description:
      - User name for HTTP Basic authentication, used with O(password).
      - Ignored when O(api_key) is set.
      - If not set, the environment variable E(VERGEOS_USERNAME) is used.
    type: str
  password:
    description:
      - Password of O(username). Never shown in output or error messages.
      - If not set, the environment variable E(VERGEOS_PASSWORD) is used.
    type: str
  api_key:
    description:
      - API key (VergeOS 26.0 and later), sent as an C(Authorization) C(Bearer) header. Wins over O(username) and O(password).
      - Never shown in output or error messages.
      - If not set, the environment variable E(VERGEOS_API_KEY) is used.
    type: str
  validate_certs:
    description:
      - Whether to verify the system's TLS certificate, against O(ca_path) when it is set, else against the CAs the operating
        system of the controller trusts.
      - Set to V(false) only for a trusted network; prefer O(ca_path) for a self-signed certificate or a private CA.
      - If not set, the environment variable E(VERGEOS_VALIDATE_CERTS) is used.
      - If E(VERGEOS_VALIDATE_CERTS) is not set either, E(VERGEOS_INSECURE) (the variable of the C(vergeio.vergeos) collection)
        is read as its inverse; E(VERGEOS_VALIDATE_CERTS) wins when both are set.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA that signed the system's certificate (or a directory of PEM files prepared with C(openssl rehash)), used
        when O(validate_certs=true). Then only that CA is trusted.
      - Without it, the CAs the operating system of the controller trusts are used, as C(curl) and C(ansible.builtin.uri) use
        them. The environment variables E(SSL_CERT_FILE) and E(SSL_CERT_DIR) name another CA bundle or directory, as they do
        for OpenSSL. E(REQUESTS_CA_BUNDLE) and E(CURL_CA_BUNDLE) are not read; name a CA for this collection with this option.
      - If not set, the environment variable E(VERGEOS_CA_PATH) is used.
    type: path
  api_timeout:
    description:
      - Seconds to wait for the system to accept a connection and for each answer.
      - Reads are retried with backoff on connection errors, HTTP 429 and 5xx within a bounded budget. Power actions and snapshots are
        never re-sent blindly; the module reads the state first and sends again only what did not take effect (see each module).
      - If not set, the environment variable E(VERGEOS_API_TIMEOUT) is used.
    type: int
    default: 30
requirements:
  - requests
notes:
  - Give O(username) and O(password), or O(api_key).
  - The environment variables are those an AWX / Automation Controller custom credential type injects
    (C(docs/awx/credential_type.yml) in the collection). A variable that is set but empty counts as not set.
'''

    # Plugins (the inventory plugin): vergeos.power.connection.plugin.
    PLUGIN = r'''
options:
  host:
    description:
      - The VergeOS system to talk to, as V(host), V(host:port) or V(https://host[:port]).
      - The API is served over HTTPS only; other schemes and URLs with a path are refused.
      - Required unless the plugin is given a list of systems of its own (the inventory plugin's C(sites)).
    type: str
    env:
      - name: VERGEOS_HOST
  username:
    description:
      - User name for HTTP Basic authentication, used with O(password). Ignored when O(api_key) is set.
    type: str
    env:
      - name: VERGEOS_USERNAME
  password:
    description:
      - Password of O(username). Never shown in output or error messages.
    type: str
    env:
      - name: VERGEOS_PASSWORD
  api_key:
    description:
      - API key (VergeOS 26.0 and later), sent as an C(Authorization) C(Bearer) header. Wins over O(username) and O(password).
      - Never shown in output or error messages.
    type: str
    env:
      - name: VERGEOS_API_KEY
  validate_certs:
    description:
      - Whether to verify the system's TLS certificate, against O(ca_path) when it is set, else against the CAs the operating
        system of the controller trusts.
      - Set to V(false) only for a trusted network; prefer O(ca_path) for a self-signed certificate or a private CA.
      - When neither the source nor E(VERGEOS_VALIDATE_CERTS) sets it, E(VERGEOS_INSECURE) (the variable of the
        C(vergeio.vergeos) collection) is read as its inverse.
    type: bool
    default: true
    env:
      - name: VERGEOS_VALIDATE_CERTS
  ca_path:
    description:
      - PEM file of the CA that signed the system's certificate (or a directory of PEM files prepared with C(openssl rehash)), used
        when O(validate_certs=true). Then only that CA is trusted.
      - Without it, the CAs the operating system of the controller trusts are used, as C(curl) and C(ansible.builtin.uri) use
        them. The environment variables E(SSL_CERT_FILE) and E(SSL_CERT_DIR) name another CA bundle or directory, as they do
        for OpenSSL. E(REQUESTS_CA_BUNDLE) and E(CURL_CA_BUNDLE) are not read; name a CA for this collection with this option.
    type: path
    env:
      - name: VERGEOS_CA_PATH
  api_timeout:
    description:
      - Seconds to wait for the system to accept a connection and for each answer.
      - Reads are retried with backoff on connection errors, HTTP 429 and 5xx within a bounded budget.
    type: int
    default: 30
    env:
      - name: VERGEOS_API_TIMEOUT
requirements:
  - requests
notes:
  - Give O(username) and O(password), or O(api_key).
  - A E(VERGEOS_*) variable that is set but empty counts as not set.
'''
