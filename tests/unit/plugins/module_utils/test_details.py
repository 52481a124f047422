# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Bulk tag and NIC readers: one request each, rows turned into per-VM values."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.details import (
    addresses_by_machine, member_vm_id, read_vm_addresses, read_vm_tags, tags_by_vm,
)
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError

TAG_ROWS = [
    {'tag': 1, 'member': 'vms/5', 'tag_name': 'web', 'category_name': 'application'},
    {'tag': 2, 'member': 'vms/5', 'tag_name': 'production', 'category_name': 'environment'},
    {'tag': 2, 'member': 'vms/5', 'tag_name': 'production', 'category_name': 'environment'},
    {'tag': 2, 'member': 'vms/7', 'tag_name': 'production', 'category_name': 'environment'},
    {'tag': 3, 'member': 'vnets/5', 'tag_name': 'lan', 'category_name': 'net'},
    {'tag': 4, 'member': 'vms/x', 'tag_name': 'odd', 'category_name': None},
]
NIC_ROWS = [
    {'machine': 104, 'name': 'nic_1', 'macaddress': '52:54:00:00:00:02', 'ipaddress': ''},
    {'machine': 104, 'name': 'nic_0', 'macaddress': '52:54:00:00:00:01', 'ipaddress': '192.0.2.10'},
    {'machine': 105, 'name': 'nic_0', 'macaddress': '52:54:00:00:00:03', 'ipaddress': '192.0.2.11'},
]


@pytest.mark.parametrize('member, key', [('vms/42', 42), ('vms/', None), ('vms/4x', None), ('vnets/42', None), (42, None), (None, None)])
def test_member_vm_id(member, key):
    assert member_vm_id(member) == key


def test_tags_by_vm_sorts_dedups_and_ignores_other_members():
    assert tags_by_vm(TAG_ROWS) == {
        5: [{'name': 'production', 'category': 'environment'}, {'name': 'web', 'category': 'application'}],
        7: [{'name': 'production', 'category': 'environment'}],
    }


def test_tags_by_vm_keeps_only_wanted_ids_each_with_a_list():
    assert tags_by_vm(TAG_ROWS, [7, 9]) == {7: [{'name': 'production', 'category': 'environment'}], 9: []}


def test_addresses_by_machine_sorted_by_nic_and_empty_ip_is_none():
    assert addresses_by_machine(NIC_ROWS, [104, 200]) == {
        104: [{'nic': 'nic_0', 'mac': '52:54:00:00:00:01', 'ip': '192.0.2.10'},
              {'nic': 'nic_1', 'mac': '52:54:00:00:00:02', 'ip': None}],
        200: [],
    }
    assert sorted(addresses_by_machine(NIC_ROWS)) == [104, 105]


def test_read_vm_tags_is_one_bulk_request(fake_client):
    client = fake_client(lambda path, params: TAG_ROWS)
    assert read_vm_tags(client, [5]) == {5: [{'name': 'production', 'category': 'environment'}, {'name': 'web', 'category': 'application'}]}
    assert len(client.gets) == 1
    path, params, _attempted = client.gets[0]
    assert path == 'tag_members'
    assert params['filter'] == "member bw 'vms/'"
    assert 'tag#name as tag_name' in params['fields'] and 'tag#category#name as category_name' in params['fields']


def test_read_vm_addresses_is_one_bulk_request(fake_client):
    client = fake_client(lambda path, params: NIC_ROWS)
    assert list(read_vm_addresses(client, [105])) == [105]
    assert [(path, params['fields']) for path, params, _attempted in client.gets] == [('machine_nics', 'machine,name,macaddress,ipaddress')]


def test_readers_refuse_an_answer_that_is_not_rows(fake_client):
    client = fake_client(lambda path, params: {'err': 'nope'})
    with pytest.raises(VergeOSError, match='reading VM tags'):
        read_vm_tags(client)
    with pytest.raises(VergeOSError, match='reading VM NIC addresses'):
        read_vm_addresses(client)


@pytest.mark.parametrize('status', [400, 422])
def test_member_bw_refused_reads_every_membership_and_keeps_the_vms(fake_client, status):
    rows = [{'tag': 1, 'member': 'vms/3', 'tag_name': 'prod', 'category_name': 'env'},
            {'tag': 1, 'member': 'networks/9', 'tag_name': 'prod', 'category_name': 'env'}]

    def answer(_path, params):
        if 'filter' in params:
            raise VergeOSError('Invalid argument', status)
        return rows
    client = fake_client(answer)
    assert read_vm_tags(client) == {3: [{'name': 'prod', 'category': 'env'}]}
    assert [('filter' in params) for _path, params, _attempted in client.gets] == [True, False]


def test_another_error_is_not_hidden_by_the_fallback(fake_client):
    def answer(_path, _params):
        raise VergeOSError('Forbidden', 403)
    with pytest.raises(VergeOSError, match='Forbidden'):
        read_vm_tags(fake_client(answer))
