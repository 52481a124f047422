# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which VM an action plugin acts on for an inventory host, and when it refuses."""

from __future__ import annotations

import os

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.plugin_utils.vm_action import boolean_for_number, environment_applied, host_vm_id, plain_types

HOST = {'vergeos_id': 42, 'vergeos_url': 'https://vergeos.example.com:8443'}


def params(**extra):
    base = {'host': 'vergeos.example.com:8443', 'name': None, 'id': None, 'names': None, 'ids': None, 'filters': None}
    base.update(extra)
    return base


@pytest.mark.parametrize('task_host', ['vergeos.example.com:8443', 'https://vergeos.example.com:8443', 'https://vergeos.example.com:8443/',
                                       'VERGEOS.Example.com:8443'])
def test_the_host_vm_is_used_when_the_task_connects_to_its_system(task_host):
    assert host_vm_id(params(host=task_host), HOST, 'web01') == 42


@pytest.mark.parametrize('task_host', ['vergeos.example.com', 'vergeos.example.com:443', 'https://vergeos.example.com:443'])
def test_port_443_is_the_default_port(task_host):
    assert host_vm_id(params(host=task_host), dict(HOST, vergeos_url='https://vergeos.example.com'), 'web01') == 42


def test_a_numeric_string_id_is_accepted():
    assert host_vm_id(params(), dict(HOST, vergeos_id='42'), 'web01') == 42


@pytest.mark.parametrize('selection', [{'name': 'db01'}, {'id': 7}, {'names': ['a']}, {'ids': [1]}, {'filters': {'name_regex': '^a'}}])
def test_a_task_that_selects_its_vms_on_the_hosts_system_ignores_the_host(selection):
    assert host_vm_id(params(**selection), HOST, 'web01') is None


def test_empty_filters_are_no_selection():
    assert host_vm_id(params(filters={'name_regex': None, 'tags': []}), HOST, 'web01') == 42


def test_a_host_without_a_vm_leaves_the_selection_to_the_module():
    assert host_vm_id(params(), {}, 'localhost') is None


@pytest.mark.parametrize('url', ['https://other.example.com:8443', 'https://vergeos.example.com', 'https://vergeos.example.com:9443',
                                 'not a url/with/path'])
def test_a_host_of_another_system_is_refused_whatever_the_task_selects(url):
    for selection in ({}, {'name': 'db01'}, {'id': 42}, {'filters': {'name_regex': '^a'}}):
        with pytest.raises(VergeOSError, match='refusing to act on a VM of another system') as raised:
            host_vm_id(params(**selection), dict(HOST, vergeos_url=url), 'web01')
        # The way out names the host's system, never a selection that would reach another VM on this one.
        assert 'web01' in str(raised.value) and 'allow_other_system' in str(raised.value)
        assert 'select the VM' not in str(raised.value) and 'with name or id' not in str(raised.value)


def test_allow_other_system_lets_a_task_select_vms_of_its_own_system_but_never_the_hosts_vm():
    other = dict(HOST, vergeos_url='https://other.example.com')
    assert host_vm_id(params(allow_other_system=True, name='db01'), other, 'web01') is None
    with pytest.raises(VergeOSError, match='never act on the host.s own VM there'):
        host_vm_id(params(allow_other_system=True), other, 'web01')


def test_a_host_without_vergeos_url_is_refused_only_without_a_selection():
    with pytest.raises(VergeOSError, match='VM 42 of an unknown system'):
        host_vm_id(params(), {'vergeos_id': 42}, 'web01')
    assert host_vm_id(params(name='db01'), {'vergeos_id': 42}, 'web01') is None


@pytest.mark.parametrize('bad', [0, -1, 'abc', True])
def test_a_bad_vergeos_id_is_an_error(bad):
    with pytest.raises(VergeOSError, match='positive whole number'):
        host_vm_id(params(), dict(HOST, vergeos_id=bad), 'web01')


def test_the_environment_is_applied_for_the_block_and_restored():
    os.environ['VERGEOS_TEST_KEEP'] = 'before'
    os.environ.pop('VERGEOS_TEST_NEW', None)
    with environment_applied({'VERGEOS_TEST_KEEP': 'during', 'VERGEOS_TEST_NEW': 'x'}):
        assert os.environ['VERGEOS_TEST_KEEP'] == 'during' and os.environ['VERGEOS_TEST_NEW'] == 'x'
    assert os.environ['VERGEOS_TEST_KEEP'] == 'before' and 'VERGEOS_TEST_NEW' not in os.environ
    del os.environ['VERGEOS_TEST_KEEP']


def test_a_boolean_given_for_a_number_option_is_found_by_the_name_the_task_used():
    spec = {'rate': {'type': 'float', 'aliases': ['pace']}, 'window': {'type': 'int'}, 'force': {'type': 'bool'},
            'snapshot': {'type': 'dict', 'options': {'expires_in': {'type': 'int'}}}}
    assert boolean_for_number(spec, {'rate': 5, 'window': 2, 'force': True}) is None
    assert boolean_for_number(spec, {'pace': True}) == ('pace', True)
    assert boolean_for_number(spec, {'window': False}) == ('window', False)
    assert boolean_for_number(spec, {'snapshot': {'expires_in': True}}) == ('snapshot.expires_in', True)
    assert boolean_for_number(spec, {'rate': '1'}) is None  # a string is ansible-core's to convert or refuse


def test_argument_errors_name_plain_types_not_ansible_cores_tagged_classes():
    text = ("argument 'rate' is of type str and we were unable to convert to float: "
            "<class 'ansible.module_utils._internal._datatag._AnsibleTaggedStr'> cannot be converted to a float")
    assert plain_types(text).endswith(': str cannot be converted to a float')
    assert plain_types("<class 'NoneType'> and <class 'int'>") == 'NoneType and int'
