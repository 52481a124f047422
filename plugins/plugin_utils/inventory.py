# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The inventory plugin's machinery beside the plugin: site settings, reading a site, host names, variables and groups.

``plugins/inventory/vergeos.py`` is the plugin class and its documentation; everything
here is plain functions the unit tests reach directly. Reading goes through the one
VM listing of ``module_utils.vms`` (``list_vms``), so the inventory refuses the same
suspicious answers as the modules.
"""

from __future__ import annotations

import difflib
import ipaddress
import re

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.vergeos.power.plugins.module_utils.details import read_vm_addresses, read_vm_tags
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.results import vm_result
from ansible_collections.vergeos.power.plugins.module_utils.vms import ids_carrying_tags, list_vms, matches_client_filters

PLUGIN = 'vergeos.power.vergeos'
CONNECTION_OPTIONS = ('host', 'username', 'password', 'api_key', 'validate_certs', 'ca_path', 'api_timeout')
SECRET_KEYS = ('password', 'api_key', 'password_env', 'api_key_env')
SITE_KEYS = ('name',) + CONNECTION_OPTIONS + ('password_env', 'api_key_env')
# The guest agent's view rides on the VM list (a traversal field), so it costs no request.
AGENT_FIELD = 'machine#status#agent_guest_info as agent_guest_info'
# vm_result() key -> host variable vergeos_<key>.
HOSTVAR_KEYS = ('id', 'name', 'machine', 'power_state', 'status', 'running', 'node', 'cluster', 'os_family', 'cpu_cores', 'ram')
HOSTNAME_PARTS = {'name': ('name',), 'name_id': ('name', 'id'), 'id': ('id',), 'site_name': ('site', 'name')}
# Appended, in this order, to host names that several VMs would share (those not already in the name).
DISAMBIGUATORS = ('id', 'site')
_UNSAFE_GROUP_CHARS = re.compile(r'[^A-Za-z0-9_]')


def safe_group_part(value):
    """Return a value as a group name part: every character but a letter, digit or ``_`` becomes ``_``."""
    return _UNSAFE_GROUP_CHARS.sub('_', str(value))


def _render_host_name(vm, parts):
    values = {'name': 'unnamed' if vm['name'] in (None, '') else str(vm['name']), 'id': str(vm['id']), 'site': str(vm['site'])}
    return '_'.join(values[part] for part in parts)


def assign_host_names(vms, scheme='name'):
    """Return (host names, clashes) for VMs given as dicts with ``site``, ``id`` and ``name``, in their order.

    A name that several VMs would share is extended for ALL of them, by ``_<id>`` and then
    ``_<site>`` (each only if not part of the scheme already), until every name is unique.
    ``clashes`` maps each shared name to the VMs (site, id) that had to be renamed.
    """
    base = HOSTNAME_PARTS[scheme]
    extra = tuple(part for part in DISAMBIGUATORS if part not in base)
    levels = [0] * len(vms)
    names = [_render_host_name(vm, base) for vm in vms]
    clashes = {}
    while True:
        holders = {}
        for index, name in enumerate(names):
            holders.setdefault(name, []).append(index)
        shared = {name: indexes for name, indexes in holders.items() if len(indexes) > 1}
        if not shared:
            return names, clashes
        for name, indexes in shared.items():
            clashes.setdefault(name, []).extend((vms[index]['site'], vms[index]['id']) for index in indexes)
            for index in indexes:
                if levels[index] >= len(extra):
                    raise VergeOSError('cannot make the host name %r unique (VMs %s): choose another hostnames scheme'
                                       % (name, ', '.join('%s on site %s' % (vms[i]['id'], vms[i]['site']) for i in indexes)))
                levels[index] += 1
                names[index] = _render_host_name(vms[index], base + extra[:levels[index]])


def clash_warnings(clashes, vms, names):
    """Return one warning per shared host name, saying what each VM that had it is listed as (none keeps the bare name)."""
    listed = {(vm['site'], vm['id']): name for vm, name in zip(vms, names, strict=True)}
    warnings = []
    for name, holders in clashes.items():
        if any(name.startswith(other + '_') and set(holders) <= set(clashes[other]) for other in clashes if other != name):
            continue  # an intermediate name of the same VMs (name_id, before the site was added too)
        final = ', '.join('%s (site %s, id %s)' % (listed[holder], holder[0], holder[1]) for holder in holders if holder in listed)
        warnings.append('%d VMs would have the host name %r: they are listed as %s; none keeps the bare name, so a play or a limit '
                        'that names %r matches none of them' % (len(holders), name, final, name))
    return warnings


def _usable_address(text):
    """Return (is IPv6, address) for an address a controller can reach; None for loopback, link-local or junk."""
    if not isinstance(text, str) or not text:
        return None
    try:
        address = ipaddress.ip_address(text.split('%', 1)[0])
    except ValueError:
        return None
    if address.is_loopback or address.is_link_local or address.is_unspecified:
        return None
    return (address.version == 6, text)


def _best(candidates):
    usable = sorted(((found[0], order), found[1]) for order, found in enumerate(map(_usable_address, candidates)) if found)
    return usable[0][1] if usable else None


def nic_address(nics):
    """Return the first usable IP address of a VM's NICs (as read_vm_addresses gives them, in NIC order), IPv4 first."""
    return _best(nic.get('ip') for nic in nics or () if isinstance(nic, dict))


def agent_address(info):
    """Return the first usable address the guest agent reports (``network[].ip-addresses[].ip-address``), IPv4 first."""
    if not isinstance(info, dict) or not isinstance(info.get('network'), list):
        return None
    found = []
    for interface in info['network']:
        if isinstance(interface, dict) and isinstance(interface.get('ip-addresses'), list):
            found.extend(entry.get('ip-address') for entry in interface['ip-addresses'] if isinstance(entry, dict))
    return _best(found)


def host_variables(row, site, tags=None, addresses=None, ansible_host=()):
    """Return the host variables of one VM row (read with VM_FIELDS).

    ``site`` is a dict with ``name`` and ``url``; ``tags`` the VM's tag names (None: tags
    not read); ``addresses`` its NICs (None: not read); ``ansible_host`` the sources to try.
    """
    result = vm_result(row)
    variables = {'vergeos_' + key: result[key] for key in HOSTVAR_KEYS}
    variables['vergeos_site'] = site['name']
    variables['vergeos_url'] = site['url']
    if tags is not None:
        variables['vergeos_tags'] = list(tags)
    if addresses is not None:
        variables['vergeos_addresses'] = addresses
    for source in ansible_host:
        address = nic_address(addresses) if source == 'nic' else agent_address(row.get('agent_guest_info'))
        if address:
            variables['ansible_host'] = address
            break
    return variables


def host_groups(variables, per_site=False):
    """Return the names of the built-in groups a host with these variables belongs to.

    ``per_site`` (a source with several sites): node and cluster groups carry the site,
    ``vergeos_node_<site>_<node>``, since two sites can both have a node1 and a play over
    one site's node must not reach the other's.
    """
    groups = ['vergeos_power_' + variables['vergeos_power_state']]
    site = safe_group_part(variables['vergeos_site']) + '_' if per_site else ''
    for prefix, key in (('vergeos_node_' + site, 'vergeos_node'), ('vergeos_cluster_' + site, 'vergeos_cluster'),
                        ('vergeos_os_', 'vergeos_os_family')):
        value = variables.get(key)
        if value not in (None, ''):
            groups.append(prefix + safe_group_part(value))
    groups.extend('vergeos_tag_' + safe_group_part(tag) for tag in variables.get('vergeos_tags') or ())
    groups.append('vergeos_site_' + safe_group_part(variables['vergeos_site']))
    return groups


def _text_option(entry, key, where):
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise VergeOSError('%s: %s must be a string' % (where, key))
    return value or None


def strict_boolean(value, default, what, origin=None):
    """Return a boolean given as true/false, yes/no, on/off or 1/0 (strings too); ``default`` when unset or empty.

    Empty counts as unset (an AWX credential injects every variable, empty or not); anything else
    is a VergeOSError naming ``what`` (and ``origin``, where it came from): a typo must never turn TLS verification off.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        return boolean(value.strip() if isinstance(value, str) else value, strict=True)
    except TypeError:
        raise VergeOSError('%s must be true or false, not %r%s' % (what, value, ' (from %s)' % origin if origin else '')) from None


def check_keys(given, known, where):
    """Raise VergeOSError for keys that are not ``known``, naming the nearest known one (a typo must never widen a source)."""
    unknown = sorted(str(key) for key in given if key not in known)
    if not unknown:
        return
    words = []
    for key in unknown:
        near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        words.append('%s (did you mean %s?)' % (key, near[0]) if near else key)
    raise VergeOSError('%s: unknown key(s) %s; a source with a typo would act on other VMs than meant, so it is refused'
                       % (where, ', '.join(words)))


def strict_booleans(raw_values):
    """Raise VergeOSError for a boolean option whose raw value ({name: (value, where it came from)}) is no clear true or false."""
    for name, (value, origin) in sorted(raw_values.items()):
        strict_boolean(value, None, name, origin)


def site_settings(entry, defaults, environ, where='the source'):
    """Return one site's settings (connection options and ``name``) from a ``sites`` entry over the top-level options.

    ``password_env`` / ``api_key_env`` name environment variables of ``environ``. Errors
    name keys and variables, never a value.
    """
    if not isinstance(entry, dict):
        raise VergeOSError('%s: each entry of sites must be a dict (with host, name, credentials...)' % where)
    check_keys(entry, SITE_KEYS, where)
    settings = {key: defaults.get(key) for key in CONNECTION_OPTIONS}
    if any(entry.get(key) not in (None, '') for key in SECRET_KEYS):
        settings['password'] = settings['api_key'] = None
    for option in CONNECTION_OPTIONS:
        if entry.get(option) is not None:
            settings[option] = entry[option]
    for option in ('password', 'api_key'):
        variable = _text_option(entry, option + '_env', where)
        if variable is None:
            continue
        if entry.get(option) not in (None, ''):
            raise VergeOSError('%s: give %s or %s_env, not both' % (where, option, option))
        value = environ.get(variable)
        if not value:
            raise VergeOSError('%s: %s_env names the environment variable %s, which is not set or empty' % (where, option, variable))
        settings[option] = value
    for option in ('host', 'username', 'password', 'api_key', 'ca_path'):
        _text_option(settings, option, where)
    settings['validate_certs'] = strict_boolean(settings['validate_certs'], True, '%s: validate_certs' % where)
    if not settings['host']:
        raise VergeOSError('%s: no VergeOS system: give host (or set VERGEOS_HOST)%s'
                           % (where, '' if where == 'the source' else ' in the entry or at the top level'))
    # The default name is the host, without any user:password@ a mistyped host may carry (a name shows in messages and groups).
    name = entry.get('name', settings['host'].rsplit('@', 1)[-1])
    if not isinstance(name, str) or not name.strip():
        raise VergeOSError('%s: name must be a non-empty string' % where)
    # str() drops the source file's template trust: the name is data in host variables and group names.
    settings['name'] = str(name)
    return settings


def select_rows(rows, filters, tags_by_vm):
    """Return the VM rows that pass the filters matched on the controller: tags, power_state, node, cluster."""
    if 'tags' in filters:
        tagged = set(ids_carrying_tags(tags_by_vm, filters['tags']))
        rows = [row for row in rows if row.get('$key') in tagged]
    return [row for row in rows if matches_client_filters(row, filters)]


def read_site(client, *, name_regex=None, want_tags=True, want_nics=False, want_agent=False, page_size=500):
    """Return the raw, JSON-safe answers of one site: its VMs, tags and NICs, in 1 request per page + 1 + 1."""
    rows = list_vms(client, name_regex=name_regex, extra_fields=(AGENT_FIELD,) if want_agent else (), page_size=page_size)
    # Lists of pairs, not dicts: a JSON cache would turn integer keys into strings.
    tags = read_vm_tags(client) if want_tags and rows else {}
    nics = read_vm_addresses(client) if want_nics and rows else {}
    return {
        'vms': rows,
        'tags': [[key, [tag['name'] for tag in found]] for key, found in tags.items()],
        'addresses': [[machine, found] for machine, found in nics.items()],
    }
