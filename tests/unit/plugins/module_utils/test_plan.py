# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The power plan for every raw status x running flag x wanted state x force, written out independently of RULES.

The documentation generated from the rules is tested with its generator (tests/functional/tools/test_power_states_doc.py)."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.plan import (
    ACT, NOOP, REFUSE, WAIT, WAIT_THEN_ACT, moved_away, plan_power, reached,
)
from ansible_collections.vergeos.power.plugins.module_utils.power_state import RAW_STATUSES

# Columns: running, running+force, stopped, stopped+force, restarted, restarted+force.
COLUMNS = (('running', False), ('running', True), ('stopped', False), ('stopped', True), ('restarted', False), ('restarted', True))
NOOP_ = 'noop'
SETTLE = 'settle'
FAIL = 'refuse'
POWERON = 'act poweron -> running'
POWEROFF = 'act poweroff -> stopped'
KILL = 'act kill -> stopped'
KILL_AGAIN = 'act kill -> stopped, plan again'
REBOOT = 'act reset graceful -> restarted'
RESET = 'act reset -> restarted'

ON = (NOOP_, NOOP_, POWEROFF, KILL, REBOOT, RESET)
OFF = (POWERON, POWERON, NOOP_, NOOP_, POWERON, POWERON)
STARTING = ('wait running', 'wait running', SETTLE, KILL, 'wait running', 'wait running')
STOPPING = (SETTLE, KILL_AGAIN, 'wait stopped', KILL, SETTLE, KILL_AGAIN)
MIGRATING = (NOOP_, NOOP_, SETTLE, KILL, SETTLE, KILL_AGAIN)
SETTLING = (SETTLE,) * 6
BLOCKED_ON = (FAIL,) * 6
BLOCKED_OFF = (FAIL, FAIL, NOOP_, NOOP_, FAIL, FAIL)

# raw status -> (plans when the running flag is true, plans when it is false)
EXPECTED = {
    'running': (ON, OFF),
    'needsrestart': (ON, OFF),
    'needsrefresh': (ON, OFF),
    'driversreloading': (ON, OFF),
    'unresponsive': (ON, OFF),
    'stopped': (ON, OFF),
    'hibernated': (ON, OFF),
    'error': (ON, OFF),
    'initializing': (STARTING, STARTING),
    'starting': (STARTING, STARTING),
    'waitingforresources': (STARTING, STARTING),
    'stopping': (STOPPING, STOPPING),
    'hibernating': (STOPPING, STOPPING),
    'initmigrate': (MIGRATING, MIGRATING),
    'startmigrate': (MIGRATING, MIGRATING),
    'migrating': (MIGRATING, MIGRATING),
    'migratecomplete': (MIGRATING, MIGRATING),
    'importing': (SETTLING, SETTLING),
    'leavingmaintenance': (SETTLING, SETTLING),
    'maintenance': (BLOCKED_ON, BLOCKED_OFF),
    'unlicensed': (BLOCKED_ON, BLOCKED_OFF),
}


def short(plan):
    """Return a plan in the words of the table above."""
    if plan.decision == NOOP:
        return NOOP_
    if plan.decision == REFUSE:
        return FAIL
    if plan.decision == WAIT_THEN_ACT:
        assert plan.target == 'settled' and plan.action is None
        return SETTLE
    if plan.decision == WAIT:
        assert plan.action is None
        return 'wait %s' % plan.target
    assert plan.decision == ACT
    words = 'act %s%s -> %s' % (plan.action, ' graceful' if plan.params == {'graceful': True} else '', plan.target)
    assert plan.params in ({}, {'graceful': True})
    return words if plan.final else words + ', plan again'


CASES = [(status, running, wanted, force, EXPECTED[status][0 if running else 1][index])
         for status in EXPECTED for running in (True, False) for index, (wanted, force) in enumerate(COLUMNS)]


def test_the_table_covers_all_21_raw_statuses():
    assert sorted(EXPECTED) == sorted(RAW_STATUSES)
    assert len(CASES) == 21 * 2 * 6


@pytest.mark.parametrize('status, running, wanted, force, expected', CASES)
def test_plan_for_every_status_running_flag_wanted_state_and_force(status, running, wanted, force, expected):
    assert short(plan_power(status, running, wanted, force)) == expected


@pytest.mark.parametrize('status, running', [(None, None), ('running', None), (None, True), ('rebooting', True), ('', False)])
@pytest.mark.parametrize('wanted', ['running', 'stopped', 'restarted'])
@pytest.mark.parametrize('force', [False, True])
def test_unknown_state_is_never_acted_on(status, running, wanted, force):
    plan = plan_power(status, running, wanted, force)
    assert plan.decision == REFUSE
    assert 'unknown' in plan.reason


def test_status_is_case_insensitive_and_reason_names_it():
    plan = plan_power('Running', True, 'stopped')
    assert (plan.decision, plan.action) == (ACT, 'poweroff')
    assert 'Running' in plan.reason


def test_changed_is_true_exactly_when_an_action_will_be_sent():
    assert plan_power('running', True, 'stopped').changed
    assert plan_power('starting', True, 'stopped').changed  # waits, then powers off
    assert not plan_power('stopped', False, 'stopped').changed
    assert not plan_power('stopping', True, 'stopped').changed  # already heading there
    assert not plan_power('maintenance', True, 'running').changed


def test_a_wanted_state_outside_the_three_is_a_programming_error():
    with pytest.raises(ValueError):
        plan_power('running', True, 'paused')


@pytest.mark.parametrize('status, running, target, expected', [
    ('running', True, 'running', True),
    ('migrating', True, 'running', True),
    ('starting', True, 'running', False),
    ('stopped', False, 'running', False),
    ('stopped', False, 'stopped', True),
    ('hibernated', False, 'stopped', True),
    ('maintenance', False, 'stopped', True),
    ('stopping', True, 'stopped', False),
    ('running', True, 'stopped', False),
    ('running', True, 'restarted', True),
    ('starting', True, 'restarted', False),
    ('running', True, 'settled', True),
    ('stopped', False, 'settled', True),
    ('maintenance', False, 'settled', True),
    ('stopping', True, 'settled', False),
    ('migrating', True, 'settled', False),
    ('importing', False, 'settled', False),
    (None, None, 'settled', True),
])
def test_reached(status, running, target, expected):
    assert reached(status, running, target) is expected


@pytest.mark.parametrize('status, running, target, seen, expected', [
    # After a poweroff a guest may keep running for a while: slow, not away.
    ('running', True, 'stopped', set(), False),
    ('stopping', True, 'stopped', {'on'}, False),
    # Stopping, then on again, or starting: someone started it.
    ('running', True, 'stopped', {'on', 'stopping'}, True),
    ('starting', True, 'stopped', {'on'}, True),
    # After a poweron the VM shows off until the action lands: not away.
    ('stopped', False, 'running', set(), False),
    ('starting', True, 'running', {'off'}, False),
    # Started, then off again (someone stopped it, or the boot failed into error).
    ('stopped', False, 'running', {'off', 'starting'}, True),
    ('error', False, 'running', {'starting'}, True),
    ('stopping', True, 'running', {'off'}, True),
    # A restart is confirmed only by running afterwards.
    ('stopping', True, 'restarted', {'on'}, False),
    ('stopping', True, 'settled', set(), False),
])
def test_moved_away(status, running, target, seen, expected):
    assert moved_away(status, running, target, seen) is expected
