# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Power actions, the guarded machine_status reset and snapshots: what is sent, and what is refused."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.actions import (
    MARK_STOPPED, mark_stopped, read_status_row, send_action, status_row_problems,
)
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.snapshots import list_snapshots, take_snapshot

VM = {'$key': 5, 'name': 'web01', 'machine': 104, 'cpu_cores': 2, 'ram': 2048}
STATUS = {'$key': 5004, 'machine': 104, 'running': True, 'status': 'stopping', 'running_cores': 2, 'running_ram': 2048}


@pytest.mark.parametrize('action, params, body, attempted', [
    ('poweroff', None, {'vm': 5, 'action': 'poweroff'}, 'powering off VM web01 (id 5)'),
    ('kill', {}, {'vm': 5, 'action': 'kill'}, 'killing VM web01 (id 5)'),
    ('reset', {'graceful': True}, {'vm': 5, 'action': 'reset', 'params': {'graceful': True}}, 'resetting (graceful) VM web01 (id 5)'),
    ('poweron', {'preferred_node': 2}, {'vm': 5, 'action': 'poweron', 'params': {'preferred_node': 2}}, 'powering on VM web01 (id 5)'),
])
def test_send_action_posts_one_vm_action(fake_client, action, params, body, attempted):
    client = fake_client(None)
    send_action(client, VM, action, params)
    assert client.posts == [('vm_actions', body, attempted)]


def test_send_action_takes_a_vm_result_too(fake_client):
    client = fake_client(None)
    send_action(client, {'id': 9, 'name': 'db'}, 'poweron')
    assert client.posts[0][1] == {'vm': 9, 'action': 'poweron'}


def test_unknown_action_is_refused_before_sending(fake_client):
    client = fake_client(None)
    with pytest.raises(VergeOSError, match='unknown power action'):
        send_action(client, VM, 'hibernate')
    assert not client.posts


def test_status_row_is_found_by_machine_key(fake_client):
    client = fake_client(lambda path, params: [STATUS])
    assert read_status_row(client, VM) == STATUS
    path, params, _attempted = client.gets[0]
    assert path == 'machine_status' and params['filter'] == 'machine eq 104'


def test_status_row_must_be_exactly_one(fake_client):
    client = fake_client(lambda path, params: [])
    with pytest.raises(VergeOSError, match='expected one machine status row'):
        read_status_row(client, VM)


@pytest.mark.parametrize('changes, words', [
    ({'machine': 999}, 'machine is 999'),
    ({'running_cores': 8}, '8 cores'),
    ({'running_ram': 512}, '512 MB'),
])
def test_mark_stopped_refuses_a_row_that_may_not_be_the_vms(fake_client, changes, words):
    client = fake_client(None)
    row = dict(STATUS, **changes)
    assert status_row_problems(VM, row)
    with pytest.raises(VergeOSError, match=words):
        mark_stopped(client, VM, row)
    assert not client.puts


def test_mark_stopped_puts_the_documented_body_to_the_status_key(fake_client):
    client = fake_client(None)
    assert not status_row_problems(VM, dict(STATUS, running_cores=0, running_ram=0))
    mark_stopped(client, VM, STATUS)
    assert client.puts == [('machine_status/5004', MARK_STOPPED, 'marking VM web01 (id 5) stopped (machine_status 5004)')]
    assert MARK_STOPPED == {'running': False, 'migratable': True, 'status': 'stopped', 'state': 'offline'}


def test_take_snapshot_always_sends_expires(fake_client):
    client = fake_client(None)
    client.post = lambda path, body, attempted=None: client.posts.append((path, body, attempted)) or {'$key': 801}
    assert take_snapshot(client, VM, 'before-kill', expires=0) == 801
    path, body, attempted = client.posts[0]
    assert path == 'machine_snapshots'
    assert body == {'machine': 104, 'name': 'before-kill', 'created_manually': True, 'quiesce': False, 'expires': 0, 'description': ''}
    assert attempted == "taking snapshot 'before-kill' of VM web01 (id 5)"
    with pytest.raises(VergeOSError, match='expires'):
        take_snapshot(client, VM, 'x', expires=None)


def test_list_snapshots_filters_on_the_machine(fake_client):
    client = fake_client(lambda path, params: [{'$key': 800}])
    assert list_snapshots(client, VM) == [{'$key': 800}]
    assert client.gets[0][1]['filter'] == 'machine eq 104' and 'limit' not in client.gets[0][1]
