# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The waiter with a fake clock and a scripted reader: one read per round, per-VM outcomes and deadlines."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.waiter import (
    ERROR, MISSING, MOVED_AWAY, REACHED, TIMEOUT, WaitTarget, wait_for,
)

ON = {'status': 'running', 'running': True}
OFF = {'status': 'stopped', 'running': False}
STARTING = {'status': 'starting', 'running': True}
STOPPING = {'status': 'stopping', 'running': True}


class Clock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedReader:
    """Answers round n with script[n] (the last round repeats); records the keys of every read."""

    def __init__(self, script):
        self.script = script
        self.reads = []

    def __call__(self, keys):
        answer = self.script[min(len(self.reads), len(self.script) - 1)]
        self.reads.append(list(keys))
        if isinstance(answer, Exception):
            raise answer
        return {key: dict(row, **{'$key': key}) for key, row in answer.items() if key in keys}


def test_many_vms_one_read_per_round_until_each_reached():
    clock = Clock()
    reader = ScriptedReader([
        {1: STOPPING, 2: ON, 3: STOPPING},
        {1: OFF, 2: STOPPING, 3: STOPPING},
        {2: OFF, 3: OFF},
    ])
    targets = {key: WaitTarget('stopped', clock.now + 60) for key in (1, 2, 3)}
    outcomes = wait_for(reader, targets, clock=clock, sleep=clock.sleep, interval=2.0)
    assert reader.reads == [[1, 2, 3], [1, 2, 3], [2, 3]]
    assert {key: outcome.outcome for key, outcome in outcomes.items()} == {1: REACHED, 2: REACHED, 3: REACHED}
    assert outcomes[1].elapsed == 4.0 and outcomes[2].elapsed == 6.0
    assert outcomes[2].row['status'] == 'stopped'
    assert all(outcome.ok for outcome in outcomes.values())


def test_a_vm_started_by_someone_else_after_our_poweroff_fails_without_a_fight():
    clock = Clock()
    reader = ScriptedReader([{1: STOPPING}, {1: ON}])
    outcomes = wait_for(reader, {1: WaitTarget('stopped', clock.now + 60)}, clock=clock, sleep=clock.sleep)
    assert outcomes[1].outcome == MOVED_AWAY
    assert 'moved away from stopped' in outcomes[1].reason
    assert len(reader.reads) == 2


def test_a_failed_start_is_moved_away_not_a_timeout():
    clock = Clock()
    reader = ScriptedReader([{1: OFF}, {1: STARTING}, {1: {'status': 'error', 'running': False}}])
    outcomes = wait_for(reader, {1: WaitTarget('running', clock.now + 60)}, clock=clock, sleep=clock.sleep)
    assert outcomes[1].outcome == MOVED_AWAY
    assert outcomes[1].row['status'] == 'error'


def test_deadlines_are_per_vm_with_a_last_read_at_the_deadline():
    clock = Clock()
    reader = ScriptedReader([{1: ON, 2: ON}])  # a guest that ignores ACPI
    targets = {1: WaitTarget('stopped', clock.now + 5), 2: WaitTarget('stopped', clock.now + 9)}
    outcomes = wait_for(reader, targets, clock=clock, sleep=clock.sleep, interval=2.0)
    assert outcomes[1].outcome == TIMEOUT and outcomes[1].elapsed == 5.0
    assert outcomes[2].outcome == TIMEOUT and outcomes[2].elapsed == 9.0
    assert 'last seen: status running' in outcomes[1].reason
    assert clock.sleeps == [2.0, 2.0, 1.0, 2.0, 2.0]  # reads at +2, +4, +5 (deadline 1), +7, +9 (deadline 2)
    assert len(reader.reads) == 5


def test_nothing_is_sent_while_waiting_only_reads():
    clock = Clock()
    reader = ScriptedReader([{1: STOPPING}, {1: STOPPING}, {1: OFF}])
    wait_for(reader, {1: WaitTarget('stopped', clock.now + 60)}, clock=clock, sleep=clock.sleep)
    assert len(reader.reads) == 3  # the reader is the only thing the waiter calls


def test_a_deleted_vm_is_missing():
    clock = Clock()
    reader = ScriptedReader([{1: STOPPING, 2: STOPPING}, {2: OFF}])
    outcomes = wait_for(reader, {1: WaitTarget('stopped', 200.0), 2: WaitTarget('stopped', 200.0)}, clock=clock, sleep=clock.sleep)
    assert outcomes[1].outcome == MISSING and outcomes[1].row['status'] == 'stopping'
    assert outcomes[2].outcome == REACHED


def test_a_read_error_ends_every_pending_vm_with_the_error():
    clock = Clock()
    reader = ScriptedReader([{1: STOPPING, 2: OFF}, VergeOSError('down', 503, 'polling')])
    outcomes = wait_for(reader, {1: WaitTarget('stopped', 200.0), 2: WaitTarget('stopped', 200.0)}, clock=clock, sleep=clock.sleep)
    assert outcomes[2].outcome == REACHED
    assert outcomes[1].outcome == ERROR and 'HTTP 503' in outcomes[1].reason


def test_settled_and_restarted_targets():
    clock = Clock()
    reader = ScriptedReader([{1: STARTING, 2: ON}, {1: ON}])
    targets = {1: WaitTarget('settled', 200.0), 2: WaitTarget('restarted', 200.0)}
    outcomes = wait_for(reader, targets, clock=clock, sleep=clock.sleep, initial_delay=0)
    assert outcomes[2].outcome == REACHED and outcomes[2].elapsed == 0.0
    assert outcomes[1].outcome == REACHED and outcomes[1].elapsed == 2.0


@pytest.mark.parametrize('initial_delay, first_sleep', [(None, 3.0), (0, None), (0.5, 0.5)])
def test_first_read_waits_for_the_action_to_show(initial_delay, first_sleep):
    clock = Clock()
    reader = ScriptedReader([{1: OFF}])
    wait_for(reader, {1: WaitTarget('stopped', 200.0)}, clock=clock, sleep=clock.sleep, interval=3.0, initial_delay=initial_delay)
    assert clock.sleeps == ([] if first_sleep is None else [first_sleep])


def test_nothing_to_wait_for_reads_nothing():
    reader = ScriptedReader([{}])
    assert not wait_for(reader, {}, sleep=lambda s: None)
    assert not reader.reads
