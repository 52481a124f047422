# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: vergeos
short_description: VergeOS VMs as inventory hosts, grouped by power state, node, cluster, tag, OS family and site
version_added: 1.0.0
description:
  - Lists the VMs of one or several VergeOS systems (sites, or tenants with their own URL and login) as inventory hosts,
    each with its power state and a few VM facts as host variables (prefix C(vergeos_)), and puts them in groups.
  - Reads the source from a YAML file whose name ends in C(.vergeos.yml) or C(.vergeos.yaml) and which names the plugin,
    O(plugin=vergeos.power.vergeos).
  - "Cost per site: one request per page of VMs (O(page_size)), one more for all the tags when O(want_tags=true)
    (or when O(filters) has C(tags)), one more for all NIC addresses when O(ansible_host) contains V(nic); never a request per VM.
    Several sites are read at the same time, each with its own connection."
  - Snapshot rows of the VergeOS C(vms) table are never listed.
  - "Host names are unique: when several VMs would get the same host name, all of them get C(<name>_<id>) instead (none keeps
    the bare name) and a warning says so; see O(hostnames)."
  - "Groups made out of the box (names sanitised: every character other than a letter, digit or C(_) becomes C(_)):
    C(vergeos_power_<state>) for every power state (always present, maybe empty), C(vergeos_node_<node>) (running VMs only),
    C(vergeos_cluster_<cluster>), C(vergeos_tag_<tag>), C(vergeos_os_<os family>) and C(vergeos_site_<site name>).
    With several O(sites), node and cluster groups carry the site, C(vergeos_node_<site>_<node>) and
    C(vergeos_cluster_<site>_<cluster>): two sites can both have a node1."
  - "Host variables: C(vergeos_id) (the VM key), C(vergeos_name), C(vergeos_machine), C(vergeos_power_state), C(vergeos_status),
    C(vergeos_running), C(vergeos_node), C(vergeos_cluster), C(vergeos_os_family), C(vergeos_cpu_cores), C(vergeos_ram) (MB),
    C(vergeos_tags) (sorted tag names, with O(want_tags=true)), C(vergeos_addresses) (NICs with C(nic), C(mac), C(ip), when
    O(ansible_host) contains V(nic)), C(vergeos_site) (the site name), C(vergeos_url) (the system's base URL, as the modules
    compute it from their O(host)) and C(ansible_host) when O(ansible_host) asks for it and an address is known."
  - C(vergeos_id) and C(vergeos_url) together name a VM without doubt (two systems can both have a VM 42); a task that acts on
    an inventory host's VM compares C(vergeos_url) with the system it is connected to.
  - Every string that comes from VergeOS (VM, tag, node names...) is data, never a template; a VM whose name is a Jinja
    expression that would run a command keeps that literal name, and nothing runs.
  - Errors and warnings never contain a password or an API key.
author:
  - vergeos.power contributors (@vergeos)
extends_documentation_fragment:
  - vergeos.power.connection.plugin
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; a source for it must say so.
    type: str
    required: true
    choices: [vergeos.power.vergeos]
  sites:
    description:
      - Several VergeOS systems in one source, read concurrently. Without it, the one system of O(host) is read.
      - "Each entry is a dict with the keys C(name) (the site name: C(vergeos_site) and the group C(vergeos_site_<name>);
        default: the entry's C(host)), C(host), C(username), C(password), C(api_key), C(validate_certs), C(ca_path),
        C(api_timeout), and C(password_env) / C(api_key_env): the name of an environment variable holding that site's
        password or API key, so that no secret sits in the source file."
      - "A key the entry leaves out is taken from the top-level option of the same name (and so from its E(VERGEOS_*) variable),
        except the secrets: an entry that gives any of C(password), C(api_key), C(password_env) or C(api_key_env) uses only its
        own secret; an entry that gives none of them uses the top-level O(password) or O(api_key)."
      - Site names must be unique, and two entries must not name the same system.
    type: list
    elements: dict
    default: []
  hostnames:
    description:
      - How a VM's inventory host name is made.
      - V(name) the VM name; V(name_id) C(<name>_<id>); V(id) the VM key; V(site_name) C(<site>_<name>).
      - "Whatever the choice, a host name that several VMs would share is made unique for all of them by appending C(_<id>)
        (unless it already contains the id), and, if still shared (the same VM key on two sites), C(_<site>). So with
        V(name), two VMs called C(web01) become C(web01_5) and C(web01_9), and neither is C(web01)."
    type: str
    default: name
    choices: [name, name_id, id, site_name]
  filters:
    description:
      - Which VMs to list; the same dict as the modules' O(vergeos.power.vergeos_vm_info#module:filters). All given keys must match.
      - C(name_regex) (POSIX extended regular expression, matched by VergeOS with C(rx)); C(tags) (tag names the VM must all
        carry); C(power_state) (any of these power states); C(node) (any of these node names; VMs that do not run are on no node);
        C(cluster) (any of these cluster names). C(power_state), C(node), C(cluster) and C(tags) are matched on the controller,
        so they are applied again to cached results.
      - A filter that matches no VM gives an empty inventory, not an error.
    type: dict
    default: {}
  want_tags:
    description:
      - Read the VMs' tags (one request per site) for C(vergeos_tags) and the C(vergeos_tag_<tag>) groups.
    type: bool
    default: true
  ansible_host:
    description:
      - Where C(ansible_host) comes from, in order of preference; empty (the default) sets no C(ansible_host).
      - V(nic) the first IP address VergeOS knows on the VM's NICs (in NIC name order; one more request per site, which also
        sets C(vergeos_addresses)); V(agent) the first address the guest agent reports (no extra request; only for running VMs
        with a guest agent).
      - Loopback, link-local and unspecified addresses are skipped; IPv4 addresses come before IPv6 ones.
    type: list
    elements: str
    choices: [nic, agent]
    default: []
  page_size:
    description:
      - VMs read per request. V(0) reads every VM in one request.
    type: int
    default: 500
  on_site_error:
    description:
      - What to do when a site cannot be read (down, refused login, TLS error).
      - V(fail) the whole source fails with the reason; V(warn) the site is left out with a warning and the other sites are listed.
      - Results with a site left out are not written to the cache.
    type: str
    default: fail
    choices: [fail, warn]
notes:
  - Source options are not templated (except O(compose), O(groups) and O(keyed_groups)); give secrets through the
    E(VERGEOS_*) variables or C(password_env) / C(api_key_env).
  - A source that fails makes C(ansible-inventory) and C(ansible-playbook) warn and go on without it; set
    E(ANSIBLE_INVENTORY_UNPARSED_FAILED=true) to make that an error.
  - "With O(cache=true), the raw API answers are cached; on a cache hit no request is sent, and filters applied on the
    controller, host names, host variables and every group (O(compose), O(groups), O(keyed_groups) too) are computed again.
    A change of the sites, C(name_regex) of O(filters), O(want_tags) or O(ansible_host) makes the cache miss.
    C(--flush-cache) and C(meta: refresh_inventory) read the systems again."
'''

EXAMPLES = r'''
# vergeos.vergeos.yml: one system; user and password from VERGEOS_USERNAME and VERGEOS_PASSWORD
# (for example injected by an AWX credential), nothing secret in the file.
plugin: vergeos.power.vergeos
host: vergeos.example.com
ca_path: /etc/pki/vergeos-ca.pem

# ---
# Everything from the environment: VERGEOS_HOST, VERGEOS_API_KEY (or VERGEOS_USERNAME and VERGEOS_PASSWORD),
# VERGEOS_CA_PATH, VERGEOS_VALIDATE_CERTS, VERGEOS_API_TIMEOUT.
# plugin: vergeos.power.vergeos

# ---
# Two sites and a tenant, read at the same time; each secret comes from an environment variable.
# plugin: vergeos.power.vergeos
# hostnames: site_name
# on_site_error: warn
# sites:
#   - name: paris
#     host: vergeos-paris.example.com
#     username: automation
#     password_env: PARIS_PASSWORD
#   - name: berlin
#     host: vergeos-berlin.example.com:8443
#     api_key_env: BERLIN_API_KEY
#   - name: tenant_acme
#     host: acme.tenants.example.com
#     username: acme-admin
#     password_env: ACME_PASSWORD
#     validate_certs: false

# ---
# Only running production web VMs, with ansible_host from the guest agent or else the NICs.
# plugin: vergeos.power.vergeos
# host: vergeos.example.com
# filters:
#   name_regex: '^web[0-9]+$'
#   tags: [production]
#   power_state: [running]
# ansible_host: [agent, nic]

# ---
# Constructed variables and groups, and a cache of the API answers for ten minutes.
# plugin: vergeos.power.vergeos
# host: vergeos.example.com
# compose:
#   ansible_user: "'cloud-user' if vergeos_os_family == 'linux' else 'Administrator'"
#   big: vergeos_ram >= 8192
# groups:
#   big_vms: vergeos_ram >= 8192
#   needs_attention: vergeos_power_state in ['error', 'unknown']
# keyed_groups:
#   - key: vergeos_cpu_cores | string
#     prefix: cores
#   - key: vergeos_tags
#     prefix: tagged
# cache: true
# cache_plugin: ansible.builtin.jsonfile
# cache_connection: ~/.cache/vergeos-inventory
# cache_timeout: 600
'''

import concurrent.futures  # noqa: E402
import os  # noqa: E402

from ansible import constants as C  # noqa: E402

from ansible.errors import AnsibleParserError  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable  # noqa: E402

from ansible_collections.vergeos.power.plugins.module_utils.argspec import client_from_params, validate_certs_from_insecure  # noqa: E402
from ansible_collections.vergeos.power.plugins.module_utils.client import HAS_REQUESTS  # noqa: E402
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError, redact  # noqa: E402
from ansible_collections.vergeos.power.plugins.module_utils.power_state import POWER_STATES  # noqa: E402
from ansible_collections.vergeos.power.plugins.module_utils.vms import normalise_filters  # noqa: E402
from ansible_collections.vergeos.power.plugins.plugin_utils.inventory import (  # noqa: E402
    CONNECTION_OPTIONS, PLUGIN, assign_host_names, check_keys, clash_warnings, host_groups, host_variables, read_site, select_rows,
    site_settings, strict_booleans,
)

MAX_SITE_WORKERS = 8
# Bumped when the shape of the cached data changes, so an old cache entry is a miss.
CACHE_FORMAT = 1


# ---------------------------------------------------------------- the plugin


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """VergeOS VMs as hosts; see DOCUMENTATION."""

    NAME = PLUGIN

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(('.vergeos.yml', '.vergeos.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        if not HAS_REQUESTS:
            raise AnsibleParserError('%s needs the Python library requests on the controller (pip install requests)' % PLUGIN)
        config = self._read_config_data(path)
        try:
            self._check_source(config)
            sites = self._sites()
            filters = normalise_filters(self.get_option('filters'))
            page_size = self.get_option('page_size')
            if page_size is None or page_size < 0:
                raise VergeOSError('page_size must be 0 (everything at once) or more')
        except VergeOSError as exc:
            raise AnsibleParserError('%s: %s' % (PLUGIN, exc)) from None
        sources = self.get_option('ansible_host') or []
        want = {'name_regex': filters.get('name_regex'), 'want_tags': bool(self.get_option('want_tags') or 'tags' in filters),
                'want_nics': 'nic' in sources, 'want_agent': 'agent' in sources}
        signature = {'format': CACHE_FORMAT, 'want': want, 'sites': [[site['name'], site['url']] for site in sites]}

        use_cache = self.get_option('cache')
        cache_key = self.get_cache_key(path)
        results = None
        try:
            if use_cache and cache:
                results = self._cached_results(cache_key, signature)
            if results is None:
                results, complete = self._fetch(sites, want, page_size)
                if use_cache and complete:
                    self._cache[cache_key] = dict(signature, results=results)
        finally:
            for site in sites:
                site['client'].close()
        self._populate(results, filters, sources, per_site=len(sites) > 1)

    # ------------------------------------------------------------ options

    def _check_source(self, config):
        """Refuse keys the plugin does not know and booleans that are no clear true or false (in the source or the environment)."""
        check_keys(config, set(self.get_options()), 'the source')
        definitions = C.config.get_configuration_definitions('inventory', self._load_name) or {}
        raw = {}
        for name, definition in definitions.items():
            if definition.get('type') not in ('bool', 'boolean'):
                continue
            if name in config:
                raw[name] = (config[name], 'the source')
                continue
            for variable in definition.get('env') or ():
                if os.environ.get(variable.get('name', '')):
                    raw[name] = (os.environ[variable['name']], variable['name'])
                    break
        strict_booleans(raw)

    def _rendered(self, value):
        """Return a source's string after templating (a credential may be "{{ lookup('env', 'X') }}"); other values as they are."""
        if isinstance(value, str) and ('{{' in value or '{%' in value):
            return self.templar.template(value)
        return value

    def _connection_option(self, option):
        """Return a connection option; one set by an EMPTY environment variable counts as not set.

        An AWX credential injects every variable, empty or not: an empty E(VERGEOS_VALIDATE_CERTS)
        must not turn verification off, nor an empty E(VERGEOS_CA_PATH) become the current directory.
        """
        value, origin = self.get_option_and_origin(option)
        if isinstance(origin, str) and origin.startswith('env:') and not os.environ.get(origin[4:].strip(), '').strip():
            value = origin = None
        if option == 'validate_certs' and origin in (None, 'default'):
            # Not set in the source nor by VERGEOS_VALIDATE_CERTS: the vergeio.vergeos collection's VERGEOS_INSECURE, inverted.
            try:
                inverse = validate_certs_from_insecure(os.environ)
            except ValueError as exc:
                raise VergeOSError(str(exc)) from None
            if inverse is not None:
                return inverse
        return self._rendered(value)

    def _sites(self):
        """Return the settings of every site, each with its client built (nothing sent yet)."""
        defaults = {option: self._connection_option(option) for option in CONNECTION_OPTIONS}
        entries = self.get_option('sites') or []
        if not isinstance(entries, list):
            raise VergeOSError('sites must be a list of dicts')
        entries = [{key: self._rendered(value) for key, value in entry.items()} if isinstance(entry, dict) else entry for entry in entries]
        settings = [site_settings(entry, defaults, os.environ, 'sites[%d]' % index) for index, entry in enumerate(entries)] \
            if entries else [site_settings({}, defaults, os.environ)]
        sites, names, urls = [], {}, {}
        for setting in settings:
            secrets = [setting.get('password'), setting.get('api_key')]
            try:
                client = client_from_params(setting)
            except VergeOSError as exc:
                raise VergeOSError('site %s: %s' % (setting['name'], redact(str(exc), secrets))) from None
            if setting['name'] in names:
                raise VergeOSError('two sites are named %s: give each entry of sites its own name' % setting['name'])
            if client.url in urls:
                raise VergeOSError('sites %s and %s are the same system (%s)' % (urls[client.url], setting['name'], client.url))
            names[setting['name']] = urls[client.url] = setting['name']
            sites.append({'name': setting['name'], 'url': client.url, 'client': client, 'secrets': secrets})
        return sites

    # ------------------------------------------------------------ reading

    def _cached_results(self, cache_key, signature):
        try:
            cached = self._cache[cache_key]
        except KeyError:
            return None
        if not isinstance(cached, dict) or any(cached.get(key) != value for key, value in signature.items()):
            self.display.vvv('%s: the cached answers were made for other options; reading the systems again' % PLUGIN)
            return None
        self.display.vvv('%s: using the cached answers' % PLUGIN)
        return cached.get('results')

    def _fetch(self, sites, want, page_size):
        """Return (results of the sites that answered, whether all did); fail or warn per on_site_error."""
        results, failures = [], []
        workers = max(1, min(len(sites), MAX_SITE_WORKERS))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix='vergeos-site') as pool:
            futures = [pool.submit(read_site, site['client'], page_size=page_size, **want) for site in sites]
            for site, future in zip(sites, futures, strict=True):
                try:
                    data = future.result()
                except VergeOSError as exc:
                    failures.append('site %s (%s): %s' % (site['name'], site['url'], redact(str(exc), site['secrets'])))
                except Exception as exc:  # pylint: disable=broad-except
                    # A bug must not print a traceback with a secret in it; say what and where instead.
                    detail = redact(str(exc), site['secrets'])
                    failures.append('site %s (%s): unexpected %s: %s' % (site['name'], site['url'], type(exc).__name__, detail))
                else:
                    results.append(dict(data, name=site['name'], url=site['url']))
        if failures and self.get_option('on_site_error') != 'warn':
            hint = ' (set on_site_error: warn to list the other sites without it)' if len(sites) > 1 else ''
            raise AnsibleParserError('%s: %s%s' % (PLUGIN, '; '.join(failures), hint))
        for failure in failures:
            self.display.warning('%s: skipping %s' % (PLUGIN, failure))
        return results, not failures

    # ------------------------------------------------------------ building

    def _populate(self, results, filters, sources, per_site):
        want_tags = bool(self.get_option('want_tags'))
        listed = []
        for site in results:
            rows = sorted(site.get('vms') or [], key=lambda row: (str(row.get('name')), row.get('$key') or 0))
            listed.extend((site, row) for row in rows)
        # Names are made unique over every VM read, before the filters matched here: a filter (power_state...)
        # must never hand a VM's bare name to its namesake.
        identities = [{'site': site['name'], 'id': row.get('$key'), 'name': row.get('name')} for site, row in listed]
        try:
            names, clashes = assign_host_names(identities, self.get_option('hostnames'))
        except VergeOSError as exc:
            raise AnsibleParserError('%s: %s' % (PLUGIN, exc)) from None
        for warning in clash_warnings(clashes, identities, names):
            self.display.warning('%s: %s' % (PLUGIN, warning))
        by_site = {}
        for site in results:
            tags = dict(site.get('tags') or ())
            nics = dict(site.get('addresses') or ()) if 'nic' in sources else None
            kept = {id(row) for row in select_rows(site.get('vms') or [], filters, tags)}
            by_site[site['name']] = (tags, nics, kept)
        vms = []
        for name, (site, row) in zip(names, listed, strict=True):
            tags, nics, kept = by_site[site['name']]
            if id(row) in kept:
                vms.append((name, host_variables(row, site, tags.get(row.get('$key'), []) if want_tags else None,
                                                 None if nics is None else nics.get(row.get('machine'), []), sources)))

        inventory = self.inventory
        for state in POWER_STATES:
            inventory.add_group('vergeos_power_' + state)
        known_groups = set()
        compose, groups, keyed_groups = self.get_option('compose'), self.get_option('groups'), self.get_option('keyed_groups')
        strict = self.get_option('strict')
        for name, variables in vms:
            inventory.add_host(name)
            for key, value in variables.items():
                inventory.set_variable(name, key, value)
            for group in host_groups(variables, per_site=per_site):
                if group not in known_groups:
                    inventory.add_group(group)
                    known_groups.add(group)
                inventory.add_child(group, name)
            if compose or groups or keyed_groups:
                self._set_composite_vars(compose, inventory.get_host(name).get_vars(), name, strict)
                host_vars = inventory.get_host(name).get_vars()
                self._add_host_to_composed_groups(groups, host_vars, name, strict, fetch_hostvars=False)
                self._add_host_to_keyed_groups(keyed_groups, host_vars, name, strict, fetch_hostvars=False)
