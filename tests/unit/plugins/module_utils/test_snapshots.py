# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Snapshot planning and writes through faults (read back before any second send), against a fake client and clock."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.snapshots import (
    CREATE, DELETE, NOTHING, Persistence, delete_snapshot_safely, expiry_time, plan_snapshot, run_snapshots, snapshots_by_vm,
    take_snapshot_safely,
)
from ansible_collections.vergeos.power.plugins.module_utils.tasks import check_snapshot_params

VM = {'$key': 7, 'name': 'web01', 'machine': 107, 'status': 'running', 'running': True}


class FakeClock:
    """Time that moves only when slept; records every sleep."""

    def __init__(self, now=1000.0):
        self.now = now
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def patience(clock, retry_timeout=60, visible_grace=5, rand=lambda: 0.5):
    return Persistence(retry_timeout=retry_timeout, visible_grace=visible_grace, clock=clock, sleep=clock.sleep, rand=rand)


class SnapshotClient:
    """machine_snapshots and vms in memory; writes and reads may fail (applied or not), new rows may show late."""

    url = 'https://vergeos.example.com'

    def __init__(self, snapshots=(), vms=(VM,), clock=None):
        self.snapshots = [dict(row) for row in snapshots]
        self.vms = [dict(row) for row in vms]
        self.calls = []
        self.sent_at = []  # clock times of the POSTs and DELETEs
        self.failures = []  # [method, applied, status, retry_after, times left]
        self.clock = clock or FakeClock()
        self.visible_after = 0.0  # seconds after its POST until a new snapshot is listed
        self.next_key = 900

    def fail(self, method, applied=False, status=None, retry_after=None, times=1):
        """Fail the next ``times`` requests of ``method`` (after carrying them out when ``applied``)."""
        self.failures.append([method, applied, status, retry_after, times])

    def _maybe_fail(self, method, apply):
        for failure in self.failures:
            if failure[0] == method and failure[4] > 0:
                failure[4] -= 1
                if failure[1]:
                    apply()
                raise VergeOSError('no answer' if failure[2] is None else 'trouble', failure[2], method, retry_after=failure[3])
        return apply()

    def get(self, path, params=None, attempted=None):
        self.calls.append(('GET', path, dict(params or {})))

        def apply():
            if path == 'vms':
                return [dict(row) for row in self.vms if ("name eq '%s'" % row['name']) in params.get('filter', '')
                        or ('$key eq %d' % row['$key']) in params.get('filter', '')]
            machines = [vm['machine'] for vm in self.vms if ('machine eq %d' % vm['machine']) in params.get('filter', '')]
            return [{name: value for name, value in row.items() if name != 'visible'} for row in self.snapshots
                    if row['machine'] in machines and row.get('visible', 0) <= self.clock.now]
        return self._maybe_fail('GET', apply)

    def post(self, path, body, attempted=None):
        self.calls.append(('POST', path, body))
        self.sent_at.append(self.clock.now)

        def apply():
            self.next_key += 1
            self.snapshots.append({'$key': self.next_key, 'name': body['name'], 'machine': body['machine'], 'created': 1,
                                   'expires': body['expires'], 'quiesced': body['quiesce'], 'description': body['description'],
                                   'created_manually': True, 'visible': self.clock.now + self.visible_after})
            return {'$key': self.next_key}
        return self._maybe_fail('POST', apply)

    def delete(self, path, attempted=None):
        self.calls.append(('DELETE', path, None))
        self.sent_at.append(self.clock.now)
        key = int(path.rsplit('/', 1)[1])

        def apply():
            if key not in [row['$key'] for row in self.snapshots]:
                raise VergeOSError('machine_snapshots %s does not exist' % key, 404, 'deleting')
            self.snapshots = [row for row in self.snapshots if row['$key'] != key]
        return self._maybe_fail('DELETE', apply)

    def methods(self):
        return [method for method, _path, _body in self.calls]

    def named(self, name):
        return [row for row in self.snapshots if row['name'] == name]


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


def take(client, **options):
    return take_snapshot_safely(client, VM, 'before-kill', patience(client.clock, **options), expires=0)


def test_a_post_whose_answer_was_lost_after_it_was_applied_is_found_by_the_read_back_and_not_sent_again():
    client = SnapshotClient()
    client.fail('POST', applied=True)
    row, note = take(client)
    assert row['name'] == 'before-kill' and row['$key'] == 901 and 'not sent again' in note
    assert client.methods() == ['POST', 'GET']
    assert len(client.named('before-kill')) == 1 and client.clock.sleeps == []


def test_a_snapshot_that_shows_two_seconds_late_is_found_within_the_grace_and_not_sent_again():
    client = SnapshotClient()
    client.visible_after = 2.0
    client.fail('POST', applied=True)
    row, note = take(client)
    assert row['$key'] == 901 and 'not sent again' in note
    assert client.methods() == ['POST', 'GET', 'GET', 'GET']  # at 0 s, 1 s, 2 s
    assert client.clock.sleeps == [1.0, 1.0] and len(client.named('before-kill')) == 1


def test_a_read_back_that_fails_counts_as_not_seen_and_the_next_read_decides():
    client = SnapshotClient()
    client.fail('POST', applied=True)
    client.fail('GET', status=503, times=2)  # what the client raises once its own retries of a read are spent
    row, note = take(client)
    assert row['$key'] == 901 and 'not sent again' in note
    assert client.methods() == ['POST', 'GET', 'GET', 'GET'] and len(client.named('before-kill')) == 1


def test_a_lost_request_is_sent_again_after_the_grace_and_the_backoff():
    client = SnapshotClient()
    client.fail('POST', applied=False)
    row, note = take(client)
    assert row['$key'] == 901 and 'acknowledged at send 2' in note
    # one read at once and one a second for the 5 s grace, then the second send (its backoff was spent reading)
    assert client.methods() == ['POST'] + ['GET'] * 6 + ['POST']
    assert client.sent_at == [1000.0, 1005.0] and len(client.named('before-kill')) == 1


def test_the_backoff_waits_when_the_grace_was_shorter_than_it():
    client = SnapshotClient()
    client.fail('POST', status=502, times=2)
    row, _note = take(client, visible_grace=0)
    assert row['$key'] == 901
    # resend_delay with rand 0.5: 0.75 s after the first answer, 1.5 s after the second
    assert client.sent_at == [1000.0, 1000.75, 1002.25] and client.methods() == ['POST', 'GET', 'POST', 'GET', 'POST']


def test_a_write_that_never_gets_an_answer_fails_at_the_retry_deadline_with_the_number_of_sends():
    client = SnapshotClient()
    client.fail('POST', status=503, times=1000)
    with pytest.raises(VergeOSError) as raised:
        take(client, retry_timeout=60)
    # each answer is followed by 5 s of read-back, then the backoff from that answer (0.75, 1.5, 3, 6, 12, 22.5 s):
    # sends at 0, 5, 10, 15, 21, 33, 55.5 s; the next would fall at 85.5 s, past the 60 s
    assert client.sent_at == [1000.0, 1005.0, 1010.0, 1015.0, 1021.0, 1033.0, 1055.5]
    assert '7 send(s)' in str(raised.value) and 'retry_timeout (60s)' in str(raised.value)
    assert raised.value.status == 503 and 'trouble' in str(raised.value)
    assert client.sent_at[-1] <= 1060 and client.clock.now <= 1060 + 5  # no send after the deadline, only its read-back
    assert client.named('before-kill') == []


def test_a_definite_refusal_fails_at_once_with_one_send_and_no_read():
    for status in (422, 403, 507, 501):
        client = SnapshotClient()
        client.fail('POST', status=status)
        with pytest.raises(VergeOSError) as raised:
            take(client)
        assert raised.value.status == status and client.methods() == ['POST'] and client.clock.sleeps == []


def test_a_refusal_after_a_lost_send_is_not_sent_again_and_says_which_send():
    client = SnapshotClient()
    client.fail('POST', status=None)
    client.fail('POST', status=422)
    with pytest.raises(VergeOSError, match='refused at send 2') as raised:
        take(client)
    assert raised.value.status == 422 and client.methods().count('POST') == 2


def test_a_throttled_request_waits_for_the_servers_retry_after():
    client = SnapshotClient()
    client.fail('POST', status=429, retry_after=20)
    row, _note = take(client)
    assert row['$key'] == 901
    assert client.sent_at == [1000.0, 1020.0]  # 20 s from the answer, the 5 s of read-back included
    assert client.clock.sleeps == [1.0] * 5 + [15.0]


def test_a_retry_after_past_the_deadline_fails_without_waiting_for_it():
    client = SnapshotClient()
    client.fail('POST', status=503, retry_after=120)
    with pytest.raises(VergeOSError, match='1 send'):
        take(client, retry_timeout=60)
    assert client.methods().count('POST') == 1 and sum(client.clock.sleeps) == 5


def test_retry_timeout_zero_sends_once_and_reads_back_as_before():
    client = SnapshotClient()
    client.fail('POST', applied=True)
    row, note = take(client, retry_timeout=0, visible_grace=0)
    assert row['$key'] == 901 and 'not sent again' in note and client.methods() == ['POST', 'GET']
    client = SnapshotClient()
    client.fail('POST', applied=False)
    with pytest.raises(VergeOSError, match='retry_timeout 0 sends it once') as raised:
        take(client, retry_timeout=0, visible_grace=0)
    assert raised.value.status is None and 'no answer' in str(raised.value)
    assert client.methods() == ['POST', 'GET'] and client.clock.sleeps == []


def test_retry_timeout_zero_still_waits_the_grace_for_a_late_snapshot():
    client = SnapshotClient()
    client.visible_after = 3.0
    client.fail('POST', applied=True)
    row, _note = take(client, retry_timeout=0)
    assert row['$key'] == 901 and client.methods() == ['POST'] + ['GET'] * 4


def test_the_read_back_is_bounded_when_reads_are_slow():
    """A read that takes longer than the interval (the client retrying a read) does not add reads past the grace."""
    client = SnapshotClient()
    client.fail('POST', applied=False, times=1000)
    real_get = client.get

    def slow_get(path, params=None, attempted=None):
        client.clock.now += 4
        return real_get(path, params, attempted)
    client.get = slow_get
    with pytest.raises(VergeOSError):
        take(client, retry_timeout=0)
    assert client.methods() == ['POST', 'GET', 'GET']


def delete(client, row, **options):
    return delete_snapshot_safely(client, VM, row, patience(client.clock, **options))


def test_a_delete_whose_answer_was_lost_counts_when_the_read_back_shows_it_gone():
    row = {'$key': 5, 'name': 'x', 'machine': 107}
    client = SnapshotClient([row])
    client.fail('DELETE', applied=True)
    assert 'not sent again' in delete(client, row)
    assert client.methods() == ['DELETE', 'GET'] and client.snapshots == []


def test_a_lost_delete_is_sent_again_after_the_read_back_still_shows_the_snapshot():
    row = {'$key': 5, 'name': 'x', 'machine': 107}
    client = SnapshotClient([row])
    client.fail('DELETE', status=503, retry_after=2)
    assert 'acknowledged at send 2' in delete(client, row)
    assert client.methods() == ['DELETE'] + ['GET'] * 6 + ['DELETE'] and client.snapshots == []


def test_a_delete_sent_again_that_answers_404_means_the_first_was_carried_out():
    row = {'$key': 5, 'name': 'x', 'machine': 107}
    client = SnapshotClient([row])
    client.fail('DELETE', applied=True)
    client.fail('GET', status=503, times=6)  # the read-back cannot tell
    note = delete(client, row)
    assert 'refused send 2' in note and 'HTTP 404' in note and 'a read-back shows the snapshot is gone' in note
    # The 404 is not taken on its word: a read follows it.
    assert client.methods().count('DELETE') == 2 and client.methods()[-1] == 'GET' and client.snapshots == []


def test_a_refusal_at_the_first_send_is_not_read_back():
    row = {'$key': 5, 'name': 'x', 'machine': 107}
    client = SnapshotClient([row])
    client.fail('DELETE', status=404)
    with pytest.raises(VergeOSError, match='HTTP 404'):
        delete(client, row)
    assert client.methods() == ['DELETE']


def test_a_delete_that_never_gets_an_answer_fails_at_the_deadline_and_a_refused_one_at_once():
    row = {'$key': 5, 'name': 'x', 'machine': 107}
    client = SnapshotClient([row])
    client.fail('DELETE', status=None, times=1000)
    with pytest.raises(VergeOSError, match=r'\d send\(s\)'):
        delete(client, row, retry_timeout=20)
    assert client.methods().count('DELETE') > 1 and client.sent_at[-1] <= 1020 and client.snapshots == [row]
    client = SnapshotClient([row])
    client.fail('DELETE', status=403)
    with pytest.raises(VergeOSError):
        delete(client, row)
    assert client.methods() == ['DELETE']


def test_one_vms_deletes_share_its_deadline():
    rows = [{'$key': 5, 'name': 'x', 'machine': 107}, {'$key': 6, 'name': 'x', 'machine': 107}]
    client = SnapshotClient(rows)
    client.fail('DELETE', status=503, times=1000)
    result = run_snapshots(client, 'absent', 'x', selection={'name': 'web01'}, persistence=patience(client.clock, retry_timeout=30))
    assert result['failed'] is True and result['changed'] is False and 'send(s)' in result['msg']
    assert {path for method, path, _body in client.calls if method == 'DELETE'} == {'machine_snapshots/5'}


def test_run_snapshots_takes_through_a_lost_answer_and_reports_it():
    client = SnapshotClient()
    client.fail('POST', applied=True)
    result = run_snapshots(client, 'present', 'before-kill', selection={'name': 'web01'}, persistence=patience(client.clock))
    assert result['changed'] is True and result['failed'] is False and 'not sent again' in result['msg']
    assert result['snapshot']['id'] == 901 and client.methods().count('POST') == 1


def test_run_snapshots_fails_the_vm_at_the_deadline_and_the_other_vms_are_still_done():
    vms = [dict(VM), {'$key': 8, 'name': 'db01', 'machine': 108}]
    client = SnapshotClient(vms=vms)
    client.fail('POST', status=503, times=3)
    result = run_snapshots(client, 'present', 'snap', selection={'names': ['web01', 'db01']},
                           persistence=patience(client.clock, retry_timeout=5, visible_grace=1))
    by_name = {vm['name']: vm for vm in result['vms']}
    assert by_name['db01']['failed'] is True and 'send(s)' in by_name['db01']['msg']
    assert by_name['web01']['failed'] is False and by_name['web01']['changed'] is True


@pytest.mark.parametrize('name, value, words', [('retry_timeout', -1, 'retry_timeout'), ('visible_grace', -0.5, 'visible_grace'),
                                                ('visible_grace', float('nan'), 'visible_grace')])
def test_the_module_refuses_negative_retry_settings(name, value, words):
    params = {'snapshot_name': 's', 'expires': 0, 'max_targets': 1, 'retry_timeout': 60, 'visible_grace': 5.0}
    params[name] = value
    with pytest.raises(VergeOSError, match=words):
        check_snapshot_params(params)


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
    client.fail('POST', status=422)
    result = run_snapshots(client, 'present', 'snap', selection={'names': ['web01', 'db01']},
                           persistence=patience(client.clock))
    assert result['failed'] is True and result['changed'] is True
    # sorted by name: db01's POST (the first) is refused, web01's still goes out
    assert [(vm['name'], vm['failed']) for vm in result['vms']] == [('db01', True), ('web01', False)]
    assert client.methods().count('POST') == 2


def test_one_named_vm_is_at_the_top_level_without_the_keys_ansible_reserves():
    """async_status reads a top-level 'started' as "the job started": the VM's start time stays in vms[0] only."""
    client = SnapshotClient(vms=(dict(VM, started=1700000000),))
    result = run_snapshots(client, 'present', 'before-kill', selection={'vm_id': 7}, clock=lambda: 1000)
    assert result['id'] == 7 and result['snapshot']['name'] == 'before-kill'
    assert 'started' not in result and result['vms'][0]['started'] == 1700000000
