# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The argument specs every module merges (documented by the doc fragments of the same names).

- ``connection_argument_spec()``: doc fragment ``vergeos.power.connection``.
- ``selection_argument_spec()`` and ``SELECTION_MUTUALLY_EXCLUSIVE``: doc fragment ``vergeos.power.selection``.
"""

from __future__ import annotations

import json
import os

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.errors import AnsibleFallbackNotFound
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.vergeos.power.plugins.module_utils.client import DEFAULT_TIMEOUT, HAS_REQUESTS, REQUESTS_IMPORT_ERROR, VergeOSClient
from ansible_collections.vergeos.power.plugins.module_utils.power_state import POWER_STATES

# Option name -> environment variable (what an AWX custom credential type injects).
CONNECTION_ENV = {
    'host': 'VERGEOS_HOST',
    'username': 'VERGEOS_USERNAME',
    'password': 'VERGEOS_PASSWORD',
    'api_key': 'VERGEOS_API_KEY',
    'validate_certs': 'VERGEOS_VALIDATE_CERTS',
    'ca_path': 'VERGEOS_CA_PATH',
    'api_timeout': 'VERGEOS_API_TIMEOUT',
}
# The vergeio.vergeos collection's variable: the inverse of validate_certs, read only when VERGEOS_VALIDATE_CERTS is unset.
INSECURE_ENV = 'VERGEOS_INSECURE'


def env_value(name, environ=None):
    """Return an environment variable's value, or None when it is unset or empty (an AWX credential injects every variable)."""
    value = (os.environ if environ is None else environ).get(name)
    return value if value is not None and value.strip() else None


def validate_certs_from_insecure(environ=None):
    """Return the inverse of a set, non-empty VERGEOS_INSECURE (None when unset or empty); ValueError if it is no boolean."""
    value = env_value(INSECURE_ENV, environ)
    if value is None:
        return None
    try:
        return not boolean(value.strip(), strict=True)
    except TypeError:
        raise ValueError('%s must be true or false' % INSECURE_ENV) from None


def _env_fallback(name):
    """Fallback of a connection option: the variable when set and not empty."""
    value = env_value(name)
    if value is None:
        raise AnsibleFallbackNotFound
    return value


LEASE_ENV = 'VERGEOS_MAINTENANCE_LEASE'


def lease_from_env():
    """Return the lease of VERGEOS_MAINTENANCE_LEASE ({record, holder, life}), or None."""
    try:
        return lease_fallback()
    except AnsibleFallbackNotFound:
        return None


def lease_fallback(part=None):
    """Fallback of the lease options: VERGEOS_MAINTENANCE_LEASE, a JSON object {record, holder, life} (or its ``part``).

    playbooks/maintenance.yml sets it in the play's environment once it holds the record's lease, so that
    every power task and record write of the round trip, the roles' included, runs under the lease.
    """
    value = env_value(LEASE_ENV)
    if value is None:
        raise AnsibleFallbackNotFound
    try:
        lease = json.loads(value)
    except ValueError:
        lease = None
    if not isinstance(lease, dict) or not lease.get('record') or not lease.get('holder'):
        raise AnsibleFallbackNotFound
    return lease if part is None else lease[part]


def _validate_certs_fallback(name):
    """Fallback of validate_certs: VERGEOS_VALIDATE_CERTS, else the inverse of VERGEOS_INSECURE."""
    value = env_value(name)
    if value is not None:
        return value
    try:
        inverse = validate_certs_from_insecure()
    except ValueError:
        # Not a boolean: the spec's bool conversion then fails and names the variable (a fallback must not raise).
        return '%s=%s' % (INSECURE_ENV, os.environ[INSECURE_ENV])
    if inverse is None:
        raise AnsibleFallbackNotFound
    return inverse


def _env(option):
    return (_validate_certs_fallback if option == 'validate_certs' else _env_fallback, [CONNECTION_ENV[option]])


def connection_argument_spec():
    """Return a fresh copy of the connection options' argument spec (secrets no_log, environment fallbacks)."""
    return {
        # Not required in the spec: VERGEOS_HOST may give it, and the client names both when neither does.
        'host': {'type': 'str', 'fallback': _env('host')},
        'username': {'type': 'str', 'fallback': _env('username')},
        'password': {'type': 'str', 'no_log': True, 'fallback': _env('password')},
        'api_key': {'type': 'str', 'no_log': True, 'fallback': _env('api_key')},
        'validate_certs': {'type': 'bool', 'default': True, 'fallback': _env('validate_certs')},
        'ca_path': {'type': 'path', 'fallback': _env('ca_path')},
        'api_timeout': {'type': 'int', 'default': DEFAULT_TIMEOUT, 'fallback': _env('api_timeout')},
    }


def selection_argument_spec():
    """Return a fresh copy of the VM selection options: name, id, names, ids, filters, allow_empty."""
    return {
        'name': {'type': 'str'},
        'id': {'type': 'int'},
        'names': {'type': 'list', 'elements': 'str'},
        'ids': {'type': 'list', 'elements': 'int'},
        'filters': {'type': 'dict', 'options': {
            'name_regex': {'type': 'str'},
            'tags': {'type': 'list', 'elements': 'str'},
            'power_state': {'type': 'list', 'elements': 'str', 'choices': list(POWER_STATES)},
            'node': {'type': 'list', 'elements': 'str'},
            'cluster': {'type': 'list', 'elements': 'str'},
        }},
        'allow_empty': {'type': 'bool', 'default': False},
    }


def controller_argument_spec():
    """Return the options of the action plugins on the controller (doc fragment ``vergeos.power.controller``)."""
    return {'allow_other_system': {'type': 'bool', 'default': False}}


SELECTION_MUTUALLY_EXCLUSIVE = [['name', 'id'], ['filters', 'name'], ['filters', 'id'], ['filters', 'names'], ['filters', 'ids']]


def selection_from_params(params):
    """Return the keyword arguments of vms.select_vms() from module parameters (filters without unset keys)."""
    filters = {key: value for key, value in (params.get('filters') or {}).items() if value not in (None, [])}
    return {'vm_id': params.get('id'), 'name': params.get('name'), 'ids': params.get('ids'), 'names': params.get('names'),
            'filters': filters or None, 'allow_empty': bool(params.get('allow_empty'))}


def require_requests(module):
    """Fail the module cleanly when the requests library is missing."""
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)


def client_from_params(params, **kwargs):
    """Return a VergeOSClient from the connection options (module params or inventory options); VergeOSError if invalid."""
    return VergeOSClient(
        host=params.get('host'), username=params.get('username'), password=params.get('password'), api_key=params.get('api_key'),
        validate_certs=params.get('validate_certs', True), ca_path=params.get('ca_path'),
        api_timeout=params.get('api_timeout', DEFAULT_TIMEOUT), **kwargs)
