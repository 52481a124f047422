# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The documented VM dict."""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.module_utils.results import VM_RESULT_KEYS, describe_vm, vm_result, with_top_level

ROW = {
    '$key': 5, 'name': 'web01', 'description': 'front', 'enabled': True, 'machine': 104, 'cpu_cores': 2, 'ram': 2048,
    'os_family': 'linux', 'guest_agent': True, 'uefi': False, 'machine_type': 'pc-q35-9.0', 'uuid': 'u-5',
    'created': 1, 'modified': 2, 'status_key': 5004, 'running': True, 'status': 'needsrestart', 'status_info': '',
    'state': 'online', 'started': 1700000000, 'node_name': 'node2', 'cluster_name': 'cluster1',
}


def test_vm_result_shape():
    result = vm_result(ROW)
    assert list(result) == list(VM_RESULT_KEYS)
    assert result['id'] == 5 and result['name'] == 'web01' and result['machine'] == 104
    assert result['power_state'] == 'running' and result['status'] == 'needsrestart' and result['running'] is True
    assert result['node'] == 'node2' and result['cluster'] == 'cluster1'
    assert result['cpu_cores'] == 2 and result['ram'] == 2048 and result['os_family'] == 'linux'
    assert 'status_key' not in result and '$key' not in result


def test_documented_keys_lead_with_the_design_names():
    assert VM_RESULT_KEYS[:8] == ('id', 'name', 'machine', 'power_state', 'status', 'running', 'node', 'cluster')
    assert len(set(VM_RESULT_KEYS)) == len(VM_RESULT_KEYS)


def test_a_vm_without_status_row_is_unknown():
    result = vm_result({'$key': 9, 'name': 'ghost', 'running': None, 'status': None})
    assert result['power_state'] == 'unknown'
    assert result['running'] is None and result['status'] is None and result['node'] is None


def test_running_is_a_boolean():
    assert vm_result(dict(ROW, running=0))['running'] is False


def test_describe_vm_from_a_row_or_a_result():
    assert describe_vm(ROW) == 'VM web01 (id 5)'
    assert describe_vm(vm_result(ROW)) == 'VM web01 (id 5)'


def test_the_only_vm_is_copied_to_the_top_level_except_reserved_keys():
    entry = vm_result(ROW)
    result = with_top_level({'changed': True, 'msg': 'task words', 'vms': [entry]}, [entry], True)
    assert result['id'] == entry['id'] and result['power_state'] == entry['power_state']
    assert result['changed'] is True and result['msg'] == 'task words'
    # async_status reads a top-level 'started' as "the job started": a VM's start time must not stand there.
    assert 'started' not in result and entry['started'] is not None


def test_several_vms_or_no_single_selection_stay_in_vms_only():
    entry = vm_result(ROW)
    assert with_top_level({'vms': [entry, entry]}, [entry, entry], True) == {'vms': [entry, entry]}
    assert with_top_level({'vms': [entry]}, [entry], False) == {'vms': [entry]}
