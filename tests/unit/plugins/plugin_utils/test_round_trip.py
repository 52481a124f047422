# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where a relaunch of playbooks/maintenance.yml goes on from, decided from the record alone."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.plugin_utils.role_inputs import InputError
from ansible_collections.vergeos.power.plugins.plugin_utils.round_trip import resume_plan, status_line, stop_remaining

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


def test_a_status_line_names_the_phase_its_age_the_owner_and_the_vms():
    line = status_line(record('maintaining', since=NOW - 300, owner='AWX job 7', ids=[1, 2],
                              vms=[{'id': 1, 'name': 'db01'}, {'id': 2, 'name': 'web01'}]), NOW)
    assert line == 'rack7: maintaining for 5 min, run by AWX job 7; 2 VM(s): db01, web01'
    old = status_line({'name': 'old', 'open': True, 'phase': None, 'opened': NOW - 7300, 'ids': [9], 'vms': []}, NOW)
    assert old == 'old: unknown (first format) for 2 h 1 min; 1 VM(s): none that exists'
