# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Snapshot planning and the send-once rule, against a fake client (no HTTP)."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.snapshots import (
    CREATE, DELETE, NOTHING, delete_snapshot_once, expiry_time, plan_snapshot, run_snapshots, snapshots_by_vm, take_snapshot_once,
)

VM = {'$key': 7, 'name': 'web01', 'machine': 107, 'status': 'running', 'running': True}


class SnapshotClient:
    """machine_snapshots and vms in memory; POST/DELETE may fail (applied or not) once."""

    url = 'https://vergeos.example.com'

    def __init__(self, snapshots=(), vms=(VM,)):
        self.snapshots = [dict(row) for row in snapshots]
        self.vms = [dict(row) for row in vms]
        self.calls = []
        self.fail_next = None  # (method, applied)
        self.next_key = 900

    def _maybe_fail(self, method, apply):
        if self.fail_next and self.fail_next[0] == method:
            applied = self.fail_next[1]
            self.fail_next = None
            if applied:
                apply()
            raise VergeOSError('no answer', None, method)
        return apply()

    def get(self, path, params=None, attempted=None):
        self.calls.append(('GET', path, dict(params or {})))
        if path == 'vms':
            return [dict(row) for row in self.vms if ("name eq '%s'" % row['name']) in params.get('filter', '')
                    or ('$key eq %d' % row['$key']) in params.get('filter', '')]
        machines = [vm['machine'] for vm in self.vms if ('machine eq %d' % vm['machine']) in params.get('filter', '')]
        return [dict(row) for row in self.snapshots if row['machine'] in machines]

    def post(self, path, body, attempted=None):
        self.calls.append(('POST', path, body))

        def apply():
            self.next_key += 1
            self.snapshots.append({'$key': self.next_key, 'name': body['name'], 'machine': body['machine'], 'created': 1,
                                   'expires': body['expires'], 'quiesced': body['quiesce'], 'description': body['description'],
                                   'created_manually': True})
            return {'$key': self.next_key}
        return self._maybe_fail('POST', apply)

    def delete(self, path, attempted=None):
        self.calls.append(('DELETE', path, None))
        key = int(path.rsplit('/', 1)[1])

        def apply():
            self.snapshots = [row for row in self.snapshots if row['$key'] != key]
        return self._maybe_fail('DELETE', apply)

    def methods(self):
        return [method for method, _path, _body in self.calls]


def test_plan_is_idempotent_by_name():
    rows = [{'$key': 1, 'name': 'a'}, {'$key': 2, 'name': 'b'}, {'$key': 3, 'name': 'a'}]
    assert plan_snapshot(rows, 'a', 'present') == (NOTHING, [rows[0], rows[2]])
    assert plan_snapshot(rows, 'c', 'present') == (CREATE, [])
    assert plan_snapshot(rows, 'a', 'absent') == (DELETE, [rows[0], rows[2]])
    assert plan_snapshot(rows, 'c', 'absent') == (NOTHING, [])
    with pytest.raises(VergeOSError, match='present or absent'):
        plan_snapshot(rows, 'a', 'gone')


@pytest.mark.parametrize('seconds, expected', [(0, 0), (3600, 1003600)])
def test_expires_is_seconds_from_now_and_zero_is_never(seconds, expected):
    assert expiry_time(seconds, 1000000.7) == expected


@pytest.mark.parametrize('seconds', [-1, 1.5, True, '60', None])
def test_expires_must_be_whole_seconds(seconds):
    with pytest.raises(VergeOSError, match='seconds from now'):
        expiry_time(seconds, 0)


def test_a_post_that_failed_but_was_applied_is_found_by_reading_and_not_sent_again():
    client = SnapshotClient()
    client.fail_next = ('POST', True)
    row, note = take_snapshot_once(client, VM, 'before-kill', expires=0)
    assert row['name'] == 'before-kill' and 'not sent again' in note
    assert client.methods() == ['POST', 'GET']


def test_a_post_that_failed_and_was_not_applied_raises_after_one_read():
    client = SnapshotClient()
    client.fail_next = ('POST', False)
    with pytest.raises(VergeOSError, match='no answer'):
        take_snapshot_once(client, VM, 'before-kill', expires=0)
    assert client.methods() == ['POST', 'GET']


def test_a_delete_that_failed_counts_only_when_the_snapshot_is_gone():
    row = {'$key': 5, 'name': 'x', 'machine': 107}
    client = SnapshotClient([row])
    client.fail_next = ('DELETE', True)
    assert 'gone' in delete_snapshot_once(client, VM, row)
    client = SnapshotClient([row])
    client.fail_next = ('DELETE', False)
    with pytest.raises(VergeOSError):
        delete_snapshot_once(client, VM, row)


def test_snapshots_of_many_vms_are_one_read():
    vms = [dict(VM), {'$key': 8, 'name': 'db01', 'machine': 108}]
    client = SnapshotClient([{'$key': 1, 'name': 's', 'machine': 108, 'created': 5}], vms=vms)
    found = snapshots_by_vm(client, vms)
    assert found == {7: [], 8: [{'$key': 1, 'name': 's', 'machine': 108, 'created': 5}]}
    assert client.methods() == ['GET']


def test_present_takes_once_and_a_second_run_is_ok_without_writes():
    client = SnapshotClient()
    first = run_snapshots(client, 'present', 'before-kill', selection={'name': 'web01'}, expires_in=60, clock=lambda: 1000)
    assert first['changed'] is True and first['snapshot']['expires'] == 1060 and first['snapshot']['id'] == 901
    assert client.methods().count('POST') == 1
    assert first['diff'] == {'before': {'snapshots': {'web01': []}}, 'after': {'snapshots': {'web01': ['before-kill']}}}
    client.calls = []
    second = run_snapshots(client, 'present', 'before-kill', selection={'name': 'web01'}, expires_in=60, clock=lambda: 2000)
    assert second['changed'] is False and second['snapshot']['expires'] == 1060
    assert client.methods() == ['GET', 'GET']


def test_check_mode_decides_the_same_and_sends_nothing():
    client = SnapshotClient([{'$key': 3, 'name': 'old', 'machine': 107}])
    would_take = run_snapshots(client, 'present', 'new', selection={'name': 'web01'}, check_mode=True)
    would_remove = run_snapshots(client, 'absent', 'old', selection={'name': 'web01'}, check_mode=True)
    nothing = run_snapshots(client, 'absent', 'none', selection={'name': 'web01'}, check_mode=True)
    assert (would_take['changed'], would_remove['changed'], nothing['changed']) == (True, True, False)
    assert would_remove['diff']['after'] == {'snapshots': {'web01': []}}
    assert set(client.methods()) == {'GET'}


def test_a_failing_vm_fails_the_result_and_the_others_are_still_done():
    vms = [dict(VM), {'$key': 8, 'name': 'db01', 'machine': 108}]
    client = SnapshotClient(vms=vms)
    client.fail_next = ('POST', False)
    result = run_snapshots(client, 'present', 'snap', selection={'names': ['web01', 'db01']})
    assert result['failed'] is True and result['changed'] is True
    # sorted by name: db01's POST (the first) fails, web01's still goes out
    assert [(vm['name'], vm['failed']) for vm in result['vms']] == [('db01', True), ('web01', False)]
    assert client.methods().count('POST') == 2


def test_one_named_vm_is_at_the_top_level_without_the_keys_ansible_reserves():
    """async_status reads a top-level 'started' as "the job started": the VM's start time stays in vms[0] only."""
    client = SnapshotClient(vms=(dict(VM, started=1700000000),))
    result = run_snapshots(client, 'present', 'before-kill', selection={'vm_id': 7}, clock=lambda: 1000)
    assert result['id'] == 7 and result['snapshot']['name'] == 'before-kill'
    assert 'started' not in result and result['vms'][0]['started'] == 1700000000
