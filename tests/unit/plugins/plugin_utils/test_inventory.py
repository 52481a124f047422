# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The inventory plugin's pure machinery (plugin_utils/inventory.py): host names, groups, host variables, site settings, reading."""

from __future__ import annotations

import pytest

from ansible.template import is_trusted_as_template, trust_as_template

from ansible_collections.vergeos.power.plugins.module_utils.argspec import client_from_params
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.plugin_utils import inventory


SITE = {'name': 'paris', 'url': 'https://vergeos.example.com:8443'}
ROW = {
    '$key': 42, 'name': 'web01', 'machine': 142, 'cpu_cores': 2, 'ram': 4096, 'os_family': 'linux', 'status': 'running',
    'running': True, 'node_name': 'node 1', 'cluster_name': 'cluster-1', 'description': 'front', 'uuid': 'u-1',
    'agent_guest_info': {'network': [
        {'name': 'lo', 'ip-addresses': [{'ip-address': '127.0.0.1'}, {'ip-address': '::1'}]},
        {'name': 'eth0', 'ip-addresses': [{'ip-address': 'fe80::1%eth0'}, {'ip-address': '2001:db8::5'}, {'ip-address': '192.0.2.5'}]},
    ]},
}


def vms(*specs):
    return [{'site': site, 'id': key, 'name': name} for site, key, name in specs]


# ---------------------------------------------------------------- host names


def test_unique_names_stay_bare():
    names, clashes = inventory.assign_host_names(vms(('a', 1, 'web01'), ('a', 2, 'db01')))
    assert names == ['web01', 'db01'] and clashes == {}


def test_every_vm_sharing_a_name_gets_its_id():
    names, clashes = inventory.assign_host_names(vms(('a', 5, 'web01'), ('a', 9, 'web01'), ('a', 3, 'db01'), ('a', 7, 'web01')))
    assert names == ['web01_5', 'web01_9', 'db01', 'web01_7']
    assert clashes == {'web01': [('a', 5), ('a', 9), ('a', 7)]}


def test_same_name_and_id_on_two_sites_gets_the_site_too():
    names, _clashes = inventory.assign_host_names(vms(('paris', 1, 'vm'), ('berlin', 1, 'vm'), ('berlin', 2, 'vm')))
    assert names == ['vm_1_paris', 'vm_1_berlin', 'vm_2']


def test_a_renamed_duplicate_that_meets_a_real_name_is_made_unique_too():
    # "web_5" is a real VM name and also what one of the two "web" VMs would become.
    names, _clashes = inventory.assign_host_names(vms(('a', 5, 'web'), ('a', 6, 'web'), ('a', 8, 'web_5')))
    assert len(set(names)) == 3
    assert 'web' not in names and names[1] == 'web_6'


@pytest.mark.parametrize('scheme, expected', [
    ('name', ['web01', 'db01']),
    ('name_id', ['web01_5', 'db01_6']),
    ('id', ['5', '6']),
    ('site_name', ['paris_web01', 'paris_db01']),
])
def test_schemes(scheme, expected):
    assert inventory.assign_host_names(vms(('paris', 5, 'web01'), ('paris', 6, 'db01')), scheme)[0] == expected


def test_id_scheme_on_two_sites_appends_the_site():
    assert inventory.assign_host_names(vms(('paris', 5, 'x'), ('berlin', 5, 'y')), 'id')[0] == ['5_paris', '5_berlin']


def test_site_name_scheme_appends_the_id():
    assert inventory.assign_host_names(vms(('paris', 5, 'x'), ('paris', 6, 'x')), 'site_name')[0] == ['paris_x_5', 'paris_x_6']


def test_a_vm_without_a_name_is_unnamed_plus_id():
    assert inventory.assign_host_names(vms(('a', 5, None), ('a', 6, '')))[0] == ['unnamed_5', 'unnamed_6']


def test_names_that_cannot_be_made_unique_fail_clearly():
    with pytest.raises(VergeOSError, match='cannot make the host name'):
        inventory.assign_host_names(vms(('s', 1, 'a'), ('s', 1, 'a')))


# ---------------------------------------------------------------- group names


@pytest.mark.parametrize('value, expected', [
    ('production', 'production'), ('web tier', 'web_tier'), ('node.3', 'node_3'), ('a-b/c:d', 'a_b_c_d'),
    ("{{ lookup('pipe', 'id') }}", '___lookup__pipe____id_____'), ('café', 'caf_'), (42, '42'),
])
def test_group_parts_are_sanitised(value, expected):
    assert inventory.safe_group_part(value) == expected


def test_host_groups():
    variables = inventory.host_variables(ROW, SITE, tags=['web tier', 'production'])
    assert inventory.host_groups(variables) == [
        'vergeos_power_running', 'vergeos_node_node_1', 'vergeos_cluster_cluster_1', 'vergeos_os_linux',
        'vergeos_tag_web_tier', 'vergeos_tag_production', 'vergeos_site_paris']


def test_a_stopped_vm_is_in_no_node_group():
    row = dict(ROW, status='stopped', running=False, node_name=None, os_family=None)
    groups = inventory.host_groups(inventory.host_variables(row, SITE))
    assert groups == ['vergeos_power_stopped', 'vergeos_cluster_cluster_1', 'vergeos_site_paris']


def test_unknown_status_goes_to_the_unknown_group():
    assert inventory.host_groups(inventory.host_variables(dict(ROW, status=None), SITE))[0] == 'vergeos_power_unknown'


# ---------------------------------------------------------------- host variables


def test_host_variables():
    assert inventory.host_variables(ROW, SITE, tags=['production']) == {
        'vergeos_id': 42, 'vergeos_name': 'web01', 'vergeos_machine': 142, 'vergeos_power_state': 'running', 'vergeos_status': 'running',
        'vergeos_running': True, 'vergeos_node': 'node 1', 'vergeos_cluster': 'cluster-1', 'vergeos_os_family': 'linux',
        'vergeos_cpu_cores': 2, 'vergeos_ram': 4096, 'vergeos_tags': ['production'], 'vergeos_site': 'paris',
        'vergeos_url': 'https://vergeos.example.com:8443',
    }


def test_no_tags_read_no_tags_variable():
    variables = inventory.host_variables(ROW, SITE)
    assert 'vergeos_tags' not in variables and 'vergeos_addresses' not in variables and 'ansible_host' not in variables


def test_ansible_host_from_the_agent_prefers_ipv4_and_skips_loopback_and_link_local():
    assert inventory.host_variables(ROW, SITE, ansible_host=['agent'])['ansible_host'] == '192.0.2.5'


def test_ansible_host_from_nics_in_order():
    nics = [{'nic': 'nic_0', 'mac': 'm0', 'ip': None}, {'nic': 'nic_1', 'mac': 'm1', 'ip': '198.51.100.7'},
            {'nic': 'nic_2', 'mac': 'm2', 'ip': '198.51.100.8'}]
    variables = inventory.host_variables(ROW, SITE, addresses=nics, ansible_host=['nic', 'agent'])
    assert variables['ansible_host'] == '198.51.100.7'
    assert variables['vergeos_addresses'] == nics


def test_ansible_host_falls_back_to_the_next_source():
    variables = inventory.host_variables(ROW, SITE, addresses=[{'nic': 'nic_0', 'mac': 'm', 'ip': None}], ansible_host=['nic', 'agent'])
    assert variables['ansible_host'] == '192.0.2.5'


def test_no_address_known_no_ansible_host():
    row = dict(ROW, agent_guest_info={})
    assert 'ansible_host' not in inventory.host_variables(row, SITE, addresses=[], ansible_host=['nic', 'agent'])


@pytest.mark.parametrize('info', [None, {}, {'network': 'x'}, {'network': [{'ip-addresses': [{'ip-address': 'not an ip'}]}]}])
def test_agent_address_copes_with_odd_answers(info):
    assert inventory.agent_address(info) is None


def test_select_rows_tags_and_client_filters():
    rows = [dict(ROW, **{'$key': 1}), dict(ROW, **{'$key': 2, 'status': 'stopped'}), dict(ROW, **{'$key': 3})]
    tags = {1: ['production', 'web'], 2: ['production'], 3: ['web']}
    kept = inventory.select_rows(rows, {'tags': ['production'], 'power_state': ['running']}, tags)
    assert [row['$key'] for row in kept] == [1]
    assert [row['$key'] for row in inventory.select_rows(rows, {}, tags)] == [1, 2, 3]


# ---------------------------------------------------------------- site settings


DEFAULTS = {'host': 'top.example.com', 'username': 'top-user', 'password': 'top-secret', 'api_key': None,
            'validate_certs': True, 'ca_path': None, 'api_timeout': 30}


def test_single_site_from_the_top_level():
    settings = inventory.site_settings({}, DEFAULTS, {})
    assert settings['host'] == 'top.example.com' and settings['name'] == 'top.example.com'
    assert settings['password'] == 'top-secret'


def test_a_site_without_secrets_inherits_them():
    settings = inventory.site_settings({'name': 'b', 'host': 'b.example.com'}, DEFAULTS, {})
    assert (settings['username'], settings['password'], settings['name']) == ('top-user', 'top-secret', 'b')


def test_a_site_with_password_env_uses_only_its_own_secret():
    settings = inventory.site_settings({'host': 'b.example.com', 'password_env': 'B_PASSWORD'}, DEFAULTS, {'B_PASSWORD': 'b-secret'})
    assert (settings['username'], settings['password'], settings['api_key']) == ('top-user', 'b-secret', None)


def test_a_site_with_an_api_key_env_drops_the_top_password():
    settings = inventory.site_settings({'host': 'b', 'api_key_env': 'B_KEY'}, DEFAULTS, {'B_KEY': 'k'})
    assert (settings['password'], settings['api_key']) == (None, 'k')


@pytest.mark.parametrize('entry, environ, message', [
    ({'host': 'b', 'password_env': 'B_PASSWORD'}, {}, 'password_env names the environment variable B_PASSWORD, which is not set'),
    ({'host': 'b', 'password_env': 'B_PASSWORD'}, {'B_PASSWORD': ''}, 'which is not set or empty'),
    ({'host': 'b', 'password': 'x', 'password_env': 'B'}, {'B': 'y'}, 'give password or password_env, not both'),
    ({'host': 'b', 'pasword_env': 'B'}, {}, 'unknown key.s. pasword_env'),
    ({'host': 'b', 'validate_certs': 'maybe'}, {}, 'validate_certs must be true or false'),
    ({'host': 'b', 'name': ''}, {}, 'name must be a non-empty string'),
    ('b.example.com', {}, 'each entry of sites must be a dict'),
])
def test_bad_site_entries_fail_without_values(entry, environ, message):
    with pytest.raises(VergeOSError, match=message) as caught:
        inventory.site_settings(entry, DEFAULTS, environ, 'sites[1]')
    assert 'top-secret' not in str(caught.value) and str(caught.value).startswith('sites[1]')


def test_no_host_anywhere():
    with pytest.raises(VergeOSError, match=r'no VergeOS system: give host \(or set VERGEOS_HOST\)'):
        inventory.site_settings({}, dict(DEFAULTS, host=None), {})


def test_validate_certs_and_timeout_as_strings():
    settings = inventory.site_settings({'host': 'b', 'validate_certs': 'no', 'api_timeout': '7'}, DEFAULTS, {})
    assert settings['validate_certs'] is False
    assert client_from_params(settings).timeout == 7.0


def test_a_site_timeout_follows_the_clients_one_rule():
    settings = inventory.site_settings({'host': 'b', 'api_timeout': 'soon'}, DEFAULTS, {})
    with pytest.raises(VergeOSError, match='api_timeout must be a number of seconds greater than 0'):
        client_from_params(settings)


def test_site_name_loses_template_trust():
    settings = inventory.site_settings({'host': 'b', 'name': trust_as_template('{{ x }}')}, DEFAULTS, {})
    assert settings['name'] == '{{ x }}' and not is_trusted_as_template(settings['name'])


# ---------------------------------------------------------------- fetching (fake client: request count)


class FakeClient:
    url = 'https://vergeos.example.com'

    def __init__(self, vm_count):
        self.vm_count = vm_count
        self.gets = []

    def get(self, path, params=None, attempted=None):
        self.gets.append((path, dict(params or {})))
        if path == 'vms':
            offset, limit = int(params.get('offset', 0)), int(params.get('limit', 0)) or self.vm_count
            return [{'$key': key, 'name': 'vm%d' % key, 'machine': 100 + key} for key in range(1 + offset, 1 + min(self.vm_count, offset + limit))]
        if path == 'tag_members':
            return [{'member': 'vms/1', 'tag_name': 'production', 'category_name': 'env'}]
        return [{'machine': 101, 'name': 'nic_0', 'macaddress': 'm', 'ipaddress': '192.0.2.1'}]


@pytest.mark.parametrize('want, expected_paths', [
    ({}, ['vms', 'vms', 'vms', 'tag_members']),
    ({'want_tags': False}, ['vms', 'vms', 'vms']),
    ({'want_nics': True}, ['vms', 'vms', 'vms', 'tag_members', 'machine_nics']),
    ({'want_agent': True, 'want_tags': False}, ['vms', 'vms', 'vms']),
])
def test_read_site_request_budget(want, expected_paths):
    client = FakeClient(5)
    data = inventory.read_site(client, page_size=2, **want)
    assert [path for path, _params in client.gets] == expected_paths
    assert [row['$key'] for row in data['vms']] == [1, 2, 3, 4, 5]
    assert all('is_snapshot eq false' in params['filter'] for path, params in client.gets if path == 'vms')
    assert ('agent_guest_info' in client.gets[0][1]['fields']) is bool(want.get('want_agent'))
    if want.get('want_tags', True):
        assert data['tags'] == [[1, ['production']]]


def test_read_site_name_regex_goes_to_the_server():
    client = FakeClient(1)
    inventory.read_site(client, name_regex='^web', want_tags=False, page_size=0)
    assert client.gets[0][1]['filter'] == "is_snapshot eq false and name rx '^web'"


def test_read_site_with_no_vm_reads_no_tags():
    client = FakeClient(0)
    inventory.read_site(client, want_nics=True)
    assert [path for path, _params in client.gets] == ['vms']


def test_read_site_refuses_snapshot_rows_as_the_modules_do():
    """A listing that excludes snapshots and answers some went through a proxy that dropped the filter."""
    client = FakeClient(2)
    answer = client.get

    def with_snapshot(path, params=None, attempted=None):
        rows = answer(path, params, attempted)
        return rows + [{'$key': 99, 'name': 'snap', 'machine': 199, 'is_snapshot': True}] if path == 'vms' else rows
    client.get = with_snapshot
    with pytest.raises(VergeOSError, match='snapshot rows to a listing that excludes them'):
        inventory.read_site(client, page_size=0)
    assert [path for path, _params in client.gets] == ['vms']


def test_with_several_sites_node_and_cluster_groups_carry_the_site():
    groups = inventory.host_groups(inventory.host_variables(ROW, SITE), per_site=True)
    assert 'vergeos_node_paris_node_1' in groups and 'vergeos_cluster_paris_cluster_1' in groups
    assert not [group for group in groups if group in ('vergeos_node_node_1', 'vergeos_cluster_cluster_1')]


def test_the_clash_warning_says_what_each_vm_is_listed_as():
    found = vms(('a', 5, 'web01'), ('b', 5, 'web01'), ('a', 7, 'db01'))
    names, clashes = inventory.assign_host_names(found)
    (warning,) = inventory.clash_warnings(clashes, found, names)
    assert "2 VMs would have the host name 'web01': they are listed as web01_5_a (site a, id 5), web01_5_b (site b, id 5)" in warning
    assert "matches none of them" in warning


def test_a_default_site_name_never_carries_credentials_of_a_mistyped_host():
    settings = inventory.site_settings({'host': 'admin:secret@b.example.com'}, DEFAULTS, {})
    assert settings['name'] == 'b.example.com'
