# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The safe_shutdown role's decisions: the targets and their form, each VM's deadline, the stages, the tiers, who fails and with what."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vergeos.power.plugins.filter.role_internal import STEPS, FilterModule
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.power import per_vm_timeouts
from ansible_collections.vergeos.power.plugins.plugin_utils.shutdown_plan import (
    RUN_VARIABLES, failure_message, host_failure, kill_candidates, late_vms, record_ids, refusal, shutdown_plan, shutdown_stages, stop_order,
    tiers_failure, tiers_result,
)

ROLE_INTERNAL = FilterModule().filters()['role_internal']
# The role's defaults (defaults/main.yml), as run.yml passes them.
DEFAULTS = {
    'safe_shutdown_targets': [], 'safe_shutdown_filters': {}, 'safe_shutdown_max_targets': 50, 'safe_shutdown_timeout': 300,
    'safe_shutdown_timeouts': {}, 'safe_shutdown_escalate': True, 'safe_shutdown_kill_timeout': 60, 'safe_shutdown_snapshot_before_kill': False,
    'safe_shutdown_snapshot_name': '', 'safe_shutdown_snapshot_expires': 86400, 'safe_shutdown_snapshot_retry_timeout': 60,
    'safe_shutdown_before_kill_tasks': '', 'safe_shutdown_unsafe_mark_stopped': False, 'safe_shutdown_poll_interval': 2,
    'safe_shutdown_batch': True, 'safe_shutdown_record': '', 'safe_shutdown_record_note': '',
}
SYSTEM = 'vergeos.example.com'
HOSTVARS = {
    'web01': {'vergeos_id': 1, 'vergeos_url': 'https://vergeos.example.com'},
    'db01': {'vergeos_id': '3', 'vergeos_url': 'https://VERGEOS.example.com:443/'},
    'other01': {'vergeos_id': 2, 'vergeos_url': 'https://other.example.com'},
    'novm01': {},
}
HOSTS_RULE = ("safe_shutdown: without safe_shutdown_targets or safe_shutdown_filters the targets are the play's hosts, which must carry "
              "vergeos_id and vergeos_url (the vergeos.power.vergeos inventory sets them)")
VMS = [{'id': 1, 'name': 'web01', 'power_state': 'running'}, {'id': 2, 'name': 'web02', 'power_state': 'stopped'},
       {'id': 3, 'name': 'db01', 'power_state': 'starting'}, {'id': 4, 'name': '7', 'power_state': 'running'}]
NOW = 1767225600.0  # 2026-01-01 00:00:00 UTC


def plan(play_batch=('web01',), host='web01', system=SYSTEM, **variables):
    return shutdown_plan(dict(DEFAULTS, **variables), {'play_batch': list(play_batch), 'host': host, 'hostvars': HOSTVARS, 'system': system,
                                                       'tiers': [], 'tier_index': None})


def stages(given=None, **context):
    return shutdown_stages({'vms': VMS}, given or plan(safe_shutdown_targets=['web01']), dict({'check_mode': False, 'probe': {}, 'now': NOW},
                                                                                              **context))


# The one rule for a VM's own deadline (vergeos_vm_power's wait_timeouts, safe_shutdown_timeouts).

def test_a_deadline_key_names_an_id_first_then_a_name_and_a_whole_number_stays_whole():
    rows = [{'id': 1, 'name': 'web01'}, {'id': 4, 'name': '7'}, {'id': 7, 'name': 'db01'}]
    assert per_vm_timeouts(rows, {'web01': '30', 7: 90.0, ' 4 ': 1.5}, key='id') == {1: 30, 7: 90, 4: 1.5}
    assert per_vm_timeouts(rows, {'7': 5}, key='id') == {7: 5}  # id 7 is selected: the VM named '7' is not meant
    assert per_vm_timeouts(rows[:2], {'7': 5}, key='id') == {4: 5}


def test_a_deadline_key_that_names_no_vm_is_refused_or_left_out():
    rows = [{'$key': 1, 'name': 'web01'}]
    with pytest.raises(VergeOSError, match='wait_timeouts names VMs that are not selected: web1'):
        per_vm_timeouts(rows, {'web1': 30})
    assert per_vm_timeouts(rows, {'web1': 30, 'web01': 20}, unknown='ignore') == {1: 20}
    with pytest.raises(VergeOSError, match="wait_timeouts\\['web01'\\] must be a number of seconds, zero or more"):
        per_vm_timeouts(rows, {'web01': -1}, unknown='ignore')


# The plan: the variables checked, the form of the targets, what to read.

def test_a_list_is_read_by_ids_and_names_and_the_batch_fails_as_one():
    found = plan(safe_shutdown_targets=['web01', 42, ' vm-001'])
    assert (found['form'], found['read'], found['refusal'], found['fail']) == ('list', {'ids': [42], 'names': ['web01', ' vm-001']}, '', 'batch')
    assert found['spaced'] == [' vm-001'] and found['timeout'] == 300


def test_filters_are_read_as_given():
    found = plan(safe_shutdown_filters={'tags': ['rack7']}, safe_shutdown_batch='no')
    assert (found['form'], found['read'], found['fail'], found['hosts']) == ('filters', {'filters': {'tags': ['rack7']}}, 'host', ['web01'])


def test_the_play_hosts_are_read_by_their_vergeos_id_and_fail_each_for_its_own_vm():
    found = plan(play_batch=['web01', 'db01'])
    assert (found['form'], found['read'], found['refusal'], found['fail']) == ('hosts', {'ids': [1, 3]}, '', 'hosts')
    alone = plan(play_batch=['web01', 'db01'], host='db01', safe_shutdown_batch=False)
    assert (alone['read'], alone['fail']) == ({'ids': [3]}, 'host')


def test_play_hosts_without_a_vm_or_of_another_system_are_refused_naming_them():
    found = plan(play_batch=['web01', 'other01', 'novm01'])
    assert found['refusal'] == HOSTS_RULE + (' - these do not: novm01.  These hosts are VMs of another VergeOS system than '
                                             'vergeos.example.com: other01 (run the role once per system).')
    assert found['read'] == {'ids': []}
    assert plan(play_batch=['novm01'])['refusal'] == HOSTS_RULE + ' - these do not: novm01.  '


def test_play_hosts_are_refused_when_the_role_cannot_tell_which_system_it_talks_to():
    assert plan(play_batch=['web01'], system='')['refusal'] == HOSTS_RULE + (
        '. To check each host belongs to the system the role talks to, set safe_shutdown_host or VERGEOS_HOST.  '
        'These hosts are VMs of another VergeOS system than : web01 (run the role once per system).')


def test_a_tier_stands_for_the_targets_and_filters():
    tiers = stop_order({'safe_shutdown_tiers': [{'name': 'db', 'targets': ['db01']}, {'filters': {'tags': ['web']}}],
                        'safe_shutdown_targets': [], 'safe_shutdown_filters': {}})
    assert [tier['name'] for tier in tiers] == ['tier 2', 'db']
    context = {'play_batch': ['localhost'], 'host': 'localhost', 'hostvars': {}, 'system': '', 'tiers': tiers}
    assert shutdown_plan(DEFAULTS, dict(context, tier_index=0))['read'] == {'filters': {'tags': ['web']}}
    assert shutdown_plan(DEFAULTS, dict(context, tier_index=1))['read'] == {'ids': [], 'names': ['db01']}


@pytest.mark.parametrize('variables, message', [
    ({'safe_shutdown_timeouts': {'web01': 'soon', 'db01': -1, 'ok': '30'}},
     "safe_shutdown: safe_shutdown_timeouts values must be numbers of seconds, 0 or more; not 'web01': 'soon', 'db01': -1"),
    ({'safe_shutdown_filters': {'tags': ['x']}}, 'safe_shutdown: give safe_shutdown_targets or safe_shutdown_filters, not both'),
    ({'safe_shutdown_timeout': '-5'}, "safe_shutdown: safe_shutdown_timeout must be a number of seconds, 0 or more; not '-5'"),
])
def test_bad_variables_are_refused_with_the_role_inputs_message(variables, message):
    with pytest.raises(AnsibleFilterError) as caught:
        ROLE_INTERNAL(dict(DEFAULTS, safe_shutdown_targets=['web01'], **variables), 'safe_shutdown_plan',
                      {'play_batch': ['localhost'], 'host': 'localhost', 'hostvars': {}, 'system': '', 'tiers': [], 'tier_index': None})
    assert caught.value.message == message


def test_a_plan_needs_every_variable_of_the_run():
    with pytest.raises(AnsibleFilterError, match="role_internal.'safe_shutdown_plan'.: its input is not what the role passes"):
        ROLE_INTERNAL({'safe_shutdown_targets': ['web01']}, 'safe_shutdown_plan', {})
    assert set(RUN_VARIABLES) == set(DEFAULTS)


# The stages, once the targets are read.

def test_each_target_gets_its_deadline_by_id_and_keys_for_other_vms_are_left_out():
    found = stages(plan(safe_shutdown_targets=['web01'], safe_shutdown_timeouts={'db01': 900, '7': 60, 'elsewhere': 5000, '2': 20}))
    assert found['wait_timeouts'] == {'3': 900, '4': 60, '2': 20} and found['warning'] == ''
    assert found['context']['wait_timeouts'] == found['wait_timeouts'] and found['ids'] == [1, 2, 3, 4]


def test_the_record_gets_the_running_targets_and_the_longest_deadline_given():
    assert record_ids({'vms': VMS}) == [1, 3, 4] and record_ids({'skipped': True}) == []
    # For any VM, this run's or not: a relaunch kills nothing sooner than this run would.
    given = plan(safe_shutdown_targets=['web01'], safe_shutdown_timeouts={'db01': 900, 'elsewhere': '5000.5'}, safe_shutdown_escalate='no')
    assert given['record_policy'] == {'timeout': 5000, 'kill_timeout': 60, 'escalate': False}
    assert plan(safe_shutdown_targets=['web01'], safe_shutdown_timeout='30')['record_policy']['timeout'] == 30


def test_timeouts_that_name_no_target_are_said_to_be_a_likely_typo():
    found = stages(plan(safe_shutdown_targets=['web01'], safe_shutdown_timeout=2, safe_shutdown_timeouts={'web1': 9, '42': 3}))
    assert found['wait_timeouts'] == {}
    assert found['warning'] == ('WARNING: safe_shutdown: none of the keys of safe_shutdown_timeouts (web1, 42) names a target of this run, '
                                'so every target gets safe_shutdown_timeout (2s): a typo?')


def test_more_filter_matches_than_max_targets_are_refused_naming_them():
    read = {'vms': VMS}
    assert refusal(read, plan(safe_shutdown_filters={'tags': ['staging']}, safe_shutdown_max_targets=3)) == (
        'safe_shutdown: the filters match 4 VMs, more than safe_shutdown_max_targets (3): ["web01", "web02", "db01", "7"]; '
        'narrow the filters or raise it.')
    assert refusal(read, plan(safe_shutdown_filters={'tags': ['staging']}, safe_shutdown_max_targets=4)) == ''
    assert refusal(read, plan(safe_shutdown_targets=['web01'], safe_shutdown_max_targets=1)) == ''  # a list is what it names
    refused = plan(play_batch=['novm01'])
    assert refusal({'skipped': True}, refused) == refused['refusal'] != ''


def test_without_before_kill_tasks_one_task_stops_snapshots_and_kills_each_vm_at_its_deadline():
    found = stages(plan(safe_shutdown_targets=['web01'], safe_shutdown_snapshot_before_kill='yes', safe_shutdown_unsafe_mark_stopped=True,
                        safe_shutdown_kill_timeout='30'))
    assert found['one_stage'] and found['graceful'] == {
        'on_timeout': 'force', 'unsafe_mark_stopped': True, 'kill_timeout': 30,
        'snapshot_before_kill': {'name': 'safe-shutdown-20260101-000000', 'expires': 86400, 'retry_timeout': 60,
                                 'description': 'Taken by vergeos.power.safe_shutdown before a kill: the guest ignored ACPI past its deadline.'}}
    assert found['context']['snapshot_name'] == 'safe-shutdown-20260101-000000' and found['context']['started'] == NOW


def test_before_kill_tasks_need_a_stage_of_their_own():
    found = stages(plan(safe_shutdown_targets=['web01'], safe_shutdown_before_kill_tasks='before_kill.yml', safe_shutdown_snapshot_name='pre',
                        safe_shutdown_snapshot_before_kill=True, safe_shutdown_unsafe_mark_stopped=True))
    assert not found['one_stage'] and found['before_kill'] and found['escalate']
    assert found['graceful'] == {'on_timeout': 'report', 'unsafe_mark_stopped': False}
    assert found['snapshot'] == {'name': 'pre', 'expires': 86400, 'retry_timeout': 60}
    assert found['kill'] == {'wait_timeout': 60, 'unsafe_mark_stopped': True}


def test_without_escalation_nothing_is_killed_and_the_late_vms_fail():
    found = stages(plan(safe_shutdown_targets=['web01'], safe_shutdown_escalate='false', safe_shutdown_before_kill_tasks='x.yml'))
    assert (found['one_stage'], found['escalate'], found['before_kill']) == (False, False, False)
    assert found['graceful'] == {'on_timeout': 'report', 'unsafe_mark_stopped': False}


@pytest.mark.parametrize('check_mode, probe, expected', [(False, {}, False), (True, {}, True), (False, {'skipped': True}, True)])
def test_check_mode_is_the_command_line_or_a_check_mode_keyword(check_mode, probe, expected):
    found = stages(check_mode=check_mode, probe=probe)
    assert found['check_mode'] is expected and found['context']['check_mode'] is expected


# Between the graceful stage and the kills of a two-stage run.

def test_the_late_vms_are_those_that_timed_out_without_failing():
    graceful = {'vms': [{'id': 1, 'timed_out': True}, {'id': 2, 'timed_out': True, 'failed': True}, {'id': 3, 'timed_out': False}]}
    late = late_vms(graceful, plan(safe_shutdown_targets=['web01'], safe_shutdown_snapshot_before_kill=True), NOW)
    assert (late['ids'], late['kill_started'], late['snapshot']) == ([1], NOW, True)
    assert late_vms(graceful, plan(safe_shutdown_targets=['web01']), NOW)['snapshot'] is False
    assert late_vms({'skipped': True}, plan(safe_shutdown_targets=['web01'], safe_shutdown_snapshot_before_kill=True), NOW) == {
        'vms': [], 'ids': [], 'kill_started': NOW, 'snapshot': False}


def test_with_a_snapshot_asked_for_only_the_vms_whose_snapshot_was_taken_are_killed():
    late = {'vms': [{'id': 1, 'name': 'web01'}, {'id': 2, 'name': 'web02'}]}
    snapshot = {'vms': [{'id': 1, 'failed': False}, {'id': 2, 'failed': True}]}
    assert kill_candidates(late, snapshot, plan(safe_shutdown_targets=['web01'], safe_shutdown_snapshot_before_kill=True)) == [late['vms'][0]]
    assert kill_candidates(late, {'skipped': True}, plan(safe_shutdown_targets=['web01'])) == late['vms']


# Who fails, and with what.

RESULT = {'failed_vms': ['web02'], 'vms': [{'id': 1, 'name': 'web01', 'outcome': 'graceful', 'msg': 'stopped (poweroff)'},
                                           {'id': 2, 'name': 'web02', 'outcome': 'failed', 'msg': 'still not stopped'}]}


def test_the_batch_fails_naming_each_vm_and_why():
    assert failure_message(RESULT) == 'safe_shutdown: 1 VM(s) could not be stopped: web02: still not stopped'


@pytest.mark.parametrize('context, message', [
    ({'vergeos_id': '2'}, 'safe_shutdown: VM web02 (id 2) could not be stopped: still not stopped'),
    ({'vergeos_id': 1}, ''),
    ({'vergeos_id': None}, ''),
    ({'vergeos_id': 2, 'batch': 'no'}, ''),  # each host ran for itself, and failed there
    ({'vergeos_id': 2, 'targets': 'web02'}, ''),  # a list fails as a whole, on the first host
    ({'vergeos_id': 2, 'filters': {'tags': ['x']}}, ''),
])
def test_an_inventory_host_fails_for_its_own_vm_only(context, message):
    assert host_failure(RESULT, dict({'batch': True, 'targets': [], 'filters': {}}, **context)) == message
    assert host_failure(None, dict({'batch': True, 'targets': [], 'filters': {}}, **context)) == ''


# safe_shutdown_tiers.

TIERS = [{'name': 'web', 'targets': ['web01'], 'filters': None}, {'name': 'mid', 'targets': ['mid01'], 'filters': None},
         {'name': 'db', 'targets': ['db01'], 'filters': None}]
WEB = {'tier': 'web', 'changed': True, 'check_mode': False, 'summary': ['safe_shutdown: 2 VM(s) in 3.0s: 1 graceful, 1 failed'],
       'vms': [{'id': 1, 'name': 'web01', 'outcome': 'graceful', 'was_running': True},
               {'id': 8, 'name': 'stuck01', 'outcome': 'failed', 'was_running': True}]}


def test_a_tier_that_could_not_be_stopped_leaves_the_tiers_below_it_running():
    failure = {'tier': 'web', 'index': 0, 'why': 'safe_shutdown: 1 VM(s) could not be stopped: stuck01: still stopping'}
    result = tiers_result([WEB], TIERS, failure)
    assert [entry['tier'] for entry in result['tiers']] == ['web', 'mid', 'db'] and result['failed']
    assert result['tiers'][1] == {'tier': 'mid', 'skipped': True, 'vms': [], 'summary': ['mid: not stopped, tier web above it could not be stopped']}
    assert (result['failed_vms'], result['graceful'], result['killed'], result['was_running_ids']) == (['stuck01'], ['web01'], [], [1, 8])
    assert (result['changed'], result['check_mode'], len(result['summary'])) == (True, False, 3)
    assert tiers_failure([WEB], TIERS, failure) == (
        'safe_shutdown: tier web could not be stopped (stuck01), so the tiers it needs were left running: mid, db. '
        'safe_shutdown: 1 VM(s) could not be stopped: stuck01: still stopping')


def test_a_tier_refused_before_its_stop_has_no_result_of_its_own():
    failure = {'tier': 'db', 'index': 2, 'why': None}
    assert tiers_failure([WEB], TIERS, failure) == (
        'safe_shutdown: tier db could not be stopped (stuck01), so the tiers it needs were left running: none.')
    assert tiers_failure([], TIERS, dict(failure, why=['first', None, ['second']])).endswith('running: none. first second')
    assert tiers_result([], TIERS, {})['failed'] is False


def test_every_step_of_the_plan_is_a_step_of_the_filter():
    # test_role_internal.py checks that every step is documented.
    for step in ('safe_shutdown_plan', 'safe_shutdown_refusal', 'safe_shutdown_record_ids', 'safe_shutdown_stages', 'safe_shutdown_late',
                 'safe_shutdown_kill_candidates', 'safe_shutdown_failure', 'safe_shutdown_host_failure', 'safe_shutdown_tiers',
                 'safe_shutdown_tiers_result', 'safe_shutdown_tiers_failure'):
        assert step in STEPS
    assert ROLE_INTERNAL(RESULT, 'safe_shutdown_failure') == failure_message(RESULT)
