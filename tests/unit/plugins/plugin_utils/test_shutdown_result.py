# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""safe_shutdown_result from the role's stages: every way a VM can end, and the summary."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vergeos.power.plugins.filter.role_internal import FilterModule
from ansible_collections.vergeos.power.plugins.plugin_utils.shutdown_result import shutdown_result

CONTEXT = {'check_mode': False, 'escalate': True, 'snapshot_before_kill': False, 'timeout': 30, 'wait_timeouts': {'db01': 90},
           'started': 1000.0, 'kill_started': 1031.0, 'now': 1040.0, 'snapshot_name': 'safe-shutdown-x'}
VM = {'id': 5, 'name': 'web01', 'power_state': 'running'}


def stage(**entry):
    base = {'id': 5, 'name': 'web01', 'previous_power_state': 'running', 'power_state': 'stopped', 'elapsed': 4.04, 'actions': [],
            'failed': False, 'timed_out': False, 'changed': True, 'msg': 'stopped (poweroff)'}
    base.update(entry)
    return {'vms': [base], 'changed': base['changed']}


def final(state='stopped'):
    return {'vms': [{'id': 5, 'power_state': state, 'status': state}]}


def one(stages, **context):
    result = shutdown_result(dict({'info': {'vms': [VM]}}, **stages), dict(CONTEXT, **context))
    return result, result['vms'][0]


def first(stages, **context):
    return one(stages, **context)[1]


def test_a_graceful_stop():
    result, vm = one({'graceful': stage(actions=['poweroff']), 'final': final()})
    assert (vm['outcome'], vm['elapsed'], vm['deadline'], vm['was_running']) == ('graceful', 4.0, 30, True)
    assert result['graceful'] == ['web01'] and result['was_running_ids'] == [5] and not result['failed'] and result['changed']
    assert result['elapsed'] == 40.0 and result['snapshot_name'] is None and result['record'] is None
    assert result['summary'][0] == 'safe_shutdown: 1 VM(s) in 40.0s: 1 graceful'
    assert result['summary'][1] == 'web01 (id 5): graceful, 4.0s, was running: stopped (poweroff)'


def test_already_stopped():
    vm = first({'graceful': stage(previous_power_state='stopped', changed=False, msg='already not running'), 'final': final()})
    assert vm['outcome'] == 'already_stopped' and not vm['was_running']


def test_killed_in_one_stage_with_its_snapshot():
    result, vm = one({'graceful': stage(escalated=True, timed_out=True, actions=['poweroff', 'kill'], snapshot={'name': 'snap1'}),
                      'final': final()})
    assert (vm['outcome'], vm['snapshot']) == ('killed', 'snap1')
    assert result['snapshot_name'] == 'safe-shutdown-x' and 'snapshot snap1 taken before the kill' in result['summary'][1]


def test_marked_stopped_in_one_stage_and_a_failed_escalation():
    marked = first({'graceful': stage(escalated=True, actions=['poweroff', 'kill', 'mark_stopped']), 'final': final()})
    assert marked['outcome'] == 'marked_stopped'
    result, failed = one({'graceful': stage(escalated=True, failed=True, msg='still stopping'), 'final': final('stopping')})
    assert failed['outcome'] == 'failed' and failed['msg'] == 'still not stopped at its 30s deadline; after the kill: still stopping'
    assert result['failed'] and result['failed_vms'] == ['web01']


def test_two_stages_kill_and_its_offset():
    vm = first({'graceful': stage(timed_out=True, actions=['poweroff']), 'kill': stage(actions=['kill'], elapsed=2.0), 'final': final()})
    assert (vm['outcome'], vm['elapsed'], vm['actions']) == ('killed', 33.0, ['poweroff', 'kill'])


@pytest.mark.parametrize('kill, outcome, words', [
    (None, 'failed', 'the kill failed: not sent'),
    ({'failed': True, 'msg': 'HTTP 403'}, 'failed', 'after the kill: HTTP 403'),
    ({'actions': ['kill', 'mark_stopped']}, 'marked_stopped', 'marked stopped'),
    ({'actions': []}, 'graceful', 'stopped after its deadline, before the kill'),
])
def test_two_stages_every_kill_result(kill, outcome, words):
    vm = first({'graceful': stage(timed_out=True), 'kill': stage(**kill) if kill is not None else {'skipped': True}, 'final': final()})
    assert vm['outcome'] == outcome and words in vm['msg']


def test_no_escalation_and_a_failed_snapshot_keep_the_vm_alive():
    vm = first({'graceful': stage(timed_out=True), 'final': final('running')}, escalate=False)
    assert vm['outcome'] == 'failed' and 'not killed (safe_shutdown_escalate is false)' in vm['msg']
    stages = {'graceful': stage(timed_out=True), 'snapshot': stage(failed=True, msg='HTTP 507'), 'final': final('running')}
    vm = first(stages, snapshot_before_kill=True)
    assert vm['outcome'] == 'failed' and 'the snapshot before the kill failed: HTTP 507' in vm['msg']


def test_the_final_read_has_the_last_word():
    vm = first({'graceful': stage(), 'final': final('running')})
    assert vm['outcome'] == 'failed' and vm['msg'] == 'not stopped at the final check (status running)'
    vm = first({'graceful': stage()})
    assert vm['msg'] == 'not stopped at the final check (status unknown: the VM could not be read)'


def test_a_graceful_stage_that_did_not_run():
    vm = first({'graceful': {'msg': 'HTTP 401: bad credentials'}})
    assert vm['outcome'] == 'failed' and vm['msg'] == 'not stopped: HTTP 401: bad credentials'


def test_check_mode_says_what_would_happen_and_who_might_be_killed():
    result, vm = one({'graceful': stage()}, check_mode=True)
    assert vm['outcome'] == 'would_stop' and result['might_be_killed'] == ['web01']
    assert result['summary'][0].startswith('safe_shutdown (check mode, nothing sent): 1 VM(s)')
    assert 'killed if still running at their deadline: web01' in result['summary'][0]
    result = one({'graceful': stage()}, check_mode=True, escalate=False)[0]
    assert result['might_be_killed'] == []


def test_a_per_vm_deadline_and_the_record_in_the_summary():
    record = {'record': {'name': 'rack7', 'ids': [5, 6]}}
    vm = {'id': 7, 'name': 'db01', 'power_state': 'running'}
    result = shutdown_result({'info': {'vms': [vm]}, 'graceful': {'vms': [dict(stage()['vms'][0], id=7, name='db01')]},
                              'final': {'vms': [{'id': 7, 'power_state': 'stopped'}]}, 'record': record}, CONTEXT)
    assert result['vms'][0]['deadline'] == 90
    assert result['record'] == record['record'] and result['summary'][0].endswith('; maintenance record rack7 holds 2 VM(s)')


def test_the_filter_refuses_what_the_role_never_passes():
    role_internal = FilterModule().filters()['role_internal']

    def found(stages, context):
        return role_internal(stages, 'safe_shutdown_result', context)

    with pytest.raises(AnsibleFilterError, match="role_internal.'safe_shutdown_result'.: its input is not what the role passes"):
        found({'info': {'vms': [VM]}}, {})
    with pytest.raises(AnsibleFilterError, match='a dict of stage results'):
        found([], CONTEXT)
