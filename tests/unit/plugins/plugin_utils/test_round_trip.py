# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where a relaunch of playbooks/maintenance.yml goes on from, decided from the record alone."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.plugin_utils.role_inputs import InputError
from ansible_collections.vergeos.power.plugins.module_utils.maintenance import HOLDING_PHASES, PHASES
from ansible_collections.vergeos.power.plugins.plugin_utils.round_trip import HOLDING, restore_plan, resume_plan, status_line, stop_remaining

NOW = 1767230000
POLICY = {'timeout': 300, 'kill_timeout': 60, 'escalate': True}


def record(phase, since=NOW - 100, **extra):
    return dict({'name': 'rack7', 'open': True, 'phase': phase, 'since': since, 'policy': POLICY, 'vms': []}, **extra)


@pytest.mark.parametrize('phase, steps', [
    (None, ['stop', 'maintain', 'restore']),
    ('opened', ['stop', 'maintain', 'restore']),
    ('stopping', ['finish_stops', 'stop', 'maintain', 'restore']),
    ('stopped', ['maintain', 'restore']),
    ('maintaining', ['maintain', 'restore']),
    ('restoring', ['restore']),
    ('waiting', ['restore']),
])
def test_each_phase_goes_on_from_where_it_stood(phase, steps):
    plan = resume_plan(record(phase), NOW)
    assert plan['steps'] == steps and not plan['done']
    assert all(plan[step] == (step in steps) for step in ('finish_stops', 'stop', 'maintain', 'restore'))


def test_a_relaunch_while_stopping_gets_what_remains_of_the_recorded_timeout():
    assert resume_plan(record('stopping', since=NOW - 100), NOW)['finish_stops_within'] == 200
    assert resume_plan(record('stopping', since=NOW - 1000), NOW)['finish_stops_within'] == 0
    assert stop_remaining(record('maintaining', since=NOW - 10), NOW) == 0
    assert stop_remaining(record('stopping', policy={}), NOW) == 0


def test_a_finished_round_trip_is_not_run_again_inside_the_window():
    closed = {'name': 'rack7', 'open': False, 'last_closed': {'at': NOW - 600, 'owner': 'AWX job 7'}}
    plan = resume_plan(closed, NOW)
    assert plan['done'] and plan['steps'] == [] and 'finished 600 s ago' in plan['why'] and 'AWX job 7' in plan['why']
    assert 'maintenance_new_run=true' in plan['why']
    assert resume_plan(closed, NOW, new_run=True)['steps'] == ['stop', 'maintain', 'restore']
    assert resume_plan(closed, NOW, window=300)['steps'] == ['stop', 'maintain', 'restore']
    assert resume_plan({'name': 'rack7', 'open': False, 'last_closed': None}, NOW)['steps'] == ['stop', 'maintain', 'restore']


@pytest.mark.parametrize('bad', [-1, 'soon', True, float('nan')])
def test_a_bad_window_is_refused(bad):
    with pytest.raises(InputError, match='maintenance_relaunch_window'):
        resume_plan(record('opened'), NOW, window=bad)


def test_a_status_line_names_the_phase_its_age_the_owner_the_vms_and_the_lease():
    line = status_line(record('maintaining', since=NOW - 300, owner='AWX job 7', ids=[1, 2],
                              vms=[{'id': 1, 'name': 'db01'}, {'id': 2, 'name': 'web01'}],
                              lease={'holder': 'AWX job 7 #ab', 'owner': 'AWX job 7', 'life': 300, 'beat': NOW - 42}), NOW)
    assert line == ('rack7: maintaining for 5 min, run by AWX job 7; 2 VM(s): db01, web01; lease held by AWX job 7, '
                    'last heartbeat 42 s ago (life 300 s)')
    old = status_line({'name': 'old', 'open': True, 'phase': None, 'opened': NOW - 7300, 'ids': [9], 'vms': [],
                       'siblings': {'waiting': {'ids': [9]}}}, NOW)
    assert old == 'old: unknown (first format) for 2 h 1 min; 1 VM(s): none that exists; 1 parked, waiting for other records; no lease held'


def rec(name, phase, *, ids=(), covers=(), waiting=(), kind='maintenance'):
    siblings = {}
    if covers:
        siblings['covers'] = {'ids': list(covers), 'data': {}}
    if waiting:
        siblings['waiting'] = {'ids': list(waiting), 'data': {}}
    return {'name': name, 'open': True, 'phase': phase, 'kind': kind, 'ids': list(ids), 'siblings': siblings}


def test_the_holding_phases_are_the_records_own():
    assert HOLDING == HOLDING_PHASES and set(HOLDING) - {None} <= set(PHASES)


@pytest.mark.parametrize('phase', ['opened', 'stopping', 'stopped', 'maintaining', None])
def test_a_vm_another_record_still_keeps_off_is_parked_naming_it(phase):
    plan = restore_plan([rec('a', 'restoring', ids=[1, 2]), rec('b', phase, covers=[2, 3])], 'a')
    assert plan['park'] == [2] and plan['park_data'] == {'2': 'b'} and plan['waiting_for'] == ['b']
    assert plan['unpark'] == [] and plan['adopt'] == {}


@pytest.mark.parametrize('phase', ['restoring', 'waiting'])
def test_a_record_past_its_maintenance_keeps_nothing_off(phase):
    assert restore_plan([rec('a', 'restoring', ids=[1, 2]), rec('b', phase, ids=[2], covers=[2])], 'a')['park'] == []


def test_an_open_rolling_restart_keeps_its_vms_whatever_its_phase():
    plan = restore_plan([rec('a', 'restoring', ids=[1, 2]), rec('r', 'opened', ids=[1], kind='rolling_restart')], 'a')
    assert plan['park'] == [1]


def test_parked_vms_start_once_nothing_covers_them_and_the_last_record_takes_in_what_waited_for_it():
    records = [rec('a', 'restoring', ids=[1], covers=[1, 4], waiting=[2]), rec('b', 'waiting', covers=[3, 4], waiting=[3, 4]),
               rec('c', 'maintaining', covers=[3])]
    plan = restore_plan(records, 'a')
    # 2 waited for a record that has closed; 4, parked by b, is covered by a (the last) and by no holding record; 3 still by c.
    assert plan['unpark'] == [2] and plan['adopt'] == {'b': [4]} and plan['adopt_ids'] == [4] and plan['park'] == []
    assert plan['waiting'] == [] and plan['waiting_for'] == []


def test_a_record_that_is_not_open_starts_nothing_and_takes_nothing_in():
    plan = restore_plan([rec('b', 'waiting', covers=[3], waiting=[3])], 'a')
    assert plan == dict(plan, park=[], unpark=[], adopt={}, adopt_ids=[])


def test_the_records_must_be_a_list():
    with pytest.raises(TypeError):
        restore_plan({'name': 'a'}, 'a')
