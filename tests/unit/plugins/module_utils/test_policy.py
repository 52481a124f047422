# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine's pure policy, branch by branch: one VM's record, a row and the clock in, the next record and step out."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.policy import (
    DONE, ESCALATE, MARK, MARK_STOPPED, NOTHING, PLAN, SEND, SEND_ACTION, SETTLE, SNAPSHOT, TAKE_SNAPSHOT, WAIT_MODE, PowerOptions,
    after_failed_read, after_mark, after_send, after_snapshot, decide, new_record, next_event, resend_delay,
)

ON = {'status': 'running', 'running': True}
OFF = {'status': 'stopped', 'running': False}
STOPPING = {'status': 'stopping', 'running': True}
STARTING = {'status': 'starting', 'running': True}
QUEUED = {'status': 'waitingforresources', 'running': True}


def row(state, **extra):
    return dict(state, **{'$key': 7, 'name': 'web01'}, **extra)


def options(state='stopped', **kwargs):
    return PowerOptions(state=state, **kwargs)


def fresh(timeout=60.0, now=0.0, previous='running'):
    return new_record({'$key': 7}, timeout, now, previous)


def sent(record, now, error=None, opts=None, rand=lambda: 0.5):
    return after_send(record, now, error, opts or options(), rand)


LOST = VergeOSError('no answer', None, 'powering off')


# ---------------------------------------------------------------- planning


def test_a_running_vm_to_stop_is_sent_a_poweroff_and_has_no_deadline_before_it_is_acknowledged():
    record, step = decide(fresh(), row(ON), 0.0, options())
    assert step == SEND_ACTION and record.mode == SEND and record.action == 'poweroff' and record.deadline is None


def test_the_deadline_starts_at_the_acknowledgement():
    record, _step = decide(fresh(), row(ON), 0.0, options())
    record = sent(record, 5.0)
    assert record.mode == WAIT_MODE and record.deadline == 65.0 and record.actions == ('poweroff',)


@pytest.mark.parametrize('state, current, mode, target', [
    ('stopped', STOPPING, WAIT_MODE, 'stopped'),
    ('running', STARTING, WAIT_MODE, 'running'),
    ('stopped', STARTING, SETTLE, 'settled'),
])
def test_a_vm_already_on_its_way_is_waited_for_with_a_deadline_from_now(state, current, mode, target):
    record, step = decide(fresh(), row(current), 3.0, options(state))
    assert step == NOTHING and record.mode == mode and record.target == target and record.deadline == 63.0


def test_noop_and_refusal_finish_at_once():
    done, step = decide(fresh(), row(OFF), 0.0, options())
    assert step == NOTHING and done.mode == DONE and not done.failed and done.msg.startswith('already not running')
    refused, _step = decide(fresh(), row({'status': 'maintenance', 'running': False}), 0.0, options('running'))
    assert refused.failed and 'operator' in refused.msg


def test_wait_false_finishes_once_acknowledged():
    opts = options(wait=False)
    record, _step = decide(fresh(), row(ON), 0.0, opts)
    assert sent(record, 1.0, opts=opts).mode == DONE


def test_an_action_sent_already_is_not_sent_twice_by_a_new_plan():
    record, _step = decide(fresh(), row(ON), 0.0, options())
    record = sent(record, 0.0)
    # The VM came back on by itself after our poweroff was acknowledged and it was planned again: no second poweroff.
    again, step = decide(record.__class__(**dict(vars(record), mode=PLAN)), row(ON), 10.0, options())
    assert step == NOTHING and again.failed and 'not sent twice' in again.msg


# ---------------------------------------------------------------- an answer that says nothing


def test_a_lost_answer_then_a_read_that_shows_it_heading_there_is_success_and_starts_the_deadline():
    record, _step = decide(fresh(), row(ON), 0.0, options())
    record = sent(record, 0.0, LOST)
    assert record.mode == SEND and record.deadline is None and record.next_send == 0.75
    record, step = decide(record, row(STOPPING), 2.0, options())
    assert step == NOTHING and record.mode == WAIT_MODE and record.deadline == 62.0 and record.actions == ('poweroff',)


def test_a_lost_answer_and_no_effect_is_sent_again_only_after_its_backoff():
    record, _step = decide(fresh(), row(ON), 0.0, options())
    record = sent(record, 0.0, LOST)
    waiting, step = decide(record, row(ON), 0.5, options())
    assert step == NOTHING and waiting.mode == SEND
    again, step = decide(waiting, row(ON), 0.75, options())
    assert step == SEND_ACTION and again.retries == 1 and again.deadline is None


def test_backoff_doubles_with_jitter_and_honours_retry_after():
    assert [resend_delay(sends, None, lambda: 0.0) for sends in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert [resend_delay(sends, None, lambda: 0.999) for sends in (1, 10)] == [pytest.approx(0.9995), pytest.approx(29.985)]
    assert resend_delay(1, 12.0, lambda: 0.5) == 12.0
    record, _step = decide(fresh(), row(ON), 0.0, options())
    throttled = sent(record, 0.0, VergeOSError('slow down', 429, 'x', retry_after=9.0))
    assert throttled.next_send == 9.0 and throttled.retry_after == 9.0


def test_a_resend_never_moves_the_deadline():
    record, _step = decide(fresh(), row(ON), 0.0, options())
    record = sent(record, 0.0, LOST)
    record, _step = decide(record, row(ON), 1.0, options())
    record = sent(record, 1.0)
    assert record.deadline == 61.0  # from the acknowledgement of the second send; never reset afterwards
    record, _step = decide(record, row(STOPPING), 30.0, options())
    assert record.deadline == 61.0


def test_an_action_never_acknowledged_nor_seen_gives_up_at_its_timeout_and_is_not_escalated():
    opts = options(on_timeout='force')
    record, _step = decide(fresh(timeout=10.0), row(ON), 0.0, opts)
    record = sent(record, 0.0, LOST, opts)
    record, step = decide(record, row(ON), 10.0, opts)
    assert step == NOTHING and record.failed and not record.timed_out and not record.escalated
    assert 'never acknowledged nor seen taking effect' in record.msg and record.actions == ('poweroff',)


def test_a_lost_reset_is_never_sent_again():
    opts = options('restarted')
    record, _step = decide(fresh(), row(ON), 0.0, opts)
    record = sent(record, 0.0, LOST, opts)
    record, step = decide(record, row(ON), 2.0, opts)
    assert step == NOTHING and record.failed and 'reset was not confirmed and is not re-sent' in record.msg


def test_a_refusal_is_judged_at_the_next_read_and_never_repeated():
    record, _step = decide(fresh(), row(ON), 0.0, options())
    refused = sent(record, 0.0, VergeOSError('denied', 403, 'x'))
    assert refused.mode == PLAN and refused.actions == ()
    record, step = decide(refused, row(ON), 2.0, options())
    assert step == NOTHING and record.failed and 'poweroff was refused and is not re-sent' in record.msg
    # Refused while another actor stopped it: the next read shows it stopping, so it is only waited for.
    record, step = decide(refused, row(STOPPING), 2.0, options())
    assert step == NOTHING and record.mode == WAIT_MODE and not record.failed


def test_a_kill_on_a_vm_already_stopping_needs_it_stopped_as_proof():
    opts = options(force=True)
    record, _step = decide(fresh(), row(STOPPING), 0.0, opts)
    assert record.action == 'kill'
    record = sent(record, 0.0, LOST, opts)
    record, step = decide(record, row(STOPPING), 1.0, opts)
    assert step == SEND_ACTION and record.mode == SEND
    record = sent(record, 1.0, LOST, opts)
    record, step = decide(record, row(OFF), 3.0, opts)
    assert record.mode == DONE and not record.failed


def test_a_queued_vm_is_planned_again_from_each_fresh_row():
    record, _step = decide(fresh(), row(ON), 0.0, options())  # no slot: the engine did not send it
    record, step = decide(record, row(STOPPING), 2.0, options())  # someone else stopped it meanwhile
    assert step == NOTHING and record.mode == WAIT_MODE


# ---------------------------------------------------------------- waiting and deadlines


def _waiting(state='stopped', opts=None, timeout=60.0):
    opts = opts or options(state)
    current = ON if state == 'stopped' else OFF
    record, _step = decide(fresh(timeout=timeout), row(current), 0.0, opts)
    return sent(record, 0.0, opts=opts)


def test_reached_finishes():
    record, _step = decide(_waiting(), row(OFF), 20.0, options())
    assert record.mode == DONE and record.msg == 'stopped (poweroff)' and record.elapsed == 20.0


def test_moved_away_fails_without_a_fight():
    record, _step = decide(_waiting(), row(STOPPING), 2.0, options())
    record, step = decide(record, row(ON), 4.0, options())
    assert step == NOTHING and record.failed and 'moved away from stopped' in record.msg


def test_a_failed_start_is_moved_away():
    opts = options('running')
    record, _step = decide(_waiting('running', opts), row(STARTING), 2.0, opts)
    record, _step = decide(record, row({'status': 'error', 'running': False}), 4.0, opts)
    assert record.failed and 'failed start' in record.msg


@pytest.mark.parametrize('on_timeout, failed, timed_out, words', [
    ('fail', True, True, 'not stopped by the deadline; last seen: status running'),
    ('report', False, True, 'missed the deadline (reported, not failed)'),
])
def test_the_deadline_fails_or_reports(on_timeout, failed, timed_out, words):
    opts = options(on_timeout=on_timeout)
    record, _step = decide(_waiting(opts=opts), row(ON), 59.0, opts)
    assert record.mode == WAIT_MODE
    record, _step = decide(record, row(ON), 60.0, opts)
    assert (record.failed, record.timed_out) == (failed, timed_out) and words in record.msg


def test_force_escalates_at_the_deadline_with_its_own_window():
    opts = options(on_timeout='force')
    record, step = decide(_waiting(opts=opts), row(ON), 60.0, opts)
    assert step == SEND_ACTION and record.action == 'kill' and record.escalating
    record = sent(record, 61.0, opts=opts)
    assert record.escalated and record.deadline == 121.0 and record.actions == ('poweroff', 'kill')
    record, _step = decide(record, row(STOPPING), 121.0, opts)
    assert record.failed and record.timed_out  # escalated once: no second escalation


def test_unsafe_mark_stopped_after_a_kill_that_did_not_help():
    opts = options(force=True, unsafe_mark_stopped=True)
    record, _step = decide(fresh(), row(ON), 0.0, opts)
    record = sent(record, 0.0, opts=opts)
    record, step = decide(record, row(STOPPING), 60.0, opts)
    assert step == MARK_STOPPED and record.mode == MARK
    marked = after_mark(record, 61.0, None, opts)
    assert marked.mode == WAIT_MODE and marked.actions == ('kill', 'mark_stopped') and marked.deadline == 121.0
    refused = after_mark(record, 61.0, VergeOSError('refusing', None, 'x'), opts)
    assert refused.failed and 'could not mark it' in refused.msg


def test_wait_for_agent_waits_past_running():
    opts = options('running', wait_for_agent=True)
    record, _step = decide(fresh(), row(OFF, guest_agent=True), 0.0, opts)
    record = sent(record, 0.0, opts=opts)
    record, _step = decide(record, row(ON, guest_agent=True, agent_version=''), 30.0, opts)
    assert record.mode == WAIT_MODE
    record, _step = decide(record, row(ON, guest_agent=True, agent_version=''), 60.0, opts)
    assert record.failed and 'guest agent did not answer by the deadline' in record.msg


def test_a_settling_vm_is_planned_once_settled_under_the_same_deadline():
    record, _step = decide(fresh(), row(STARTING), 0.0, options())
    record, step = decide(record, row(ON), 30.0, options())
    assert step == SEND_ACTION and record.action == 'poweroff'
    assert sent(record, 30.0).deadline == 60.0


# ---------------------------------------------------------------- failed reads, slots, timing


def test_a_failed_read_costs_a_round_not_the_vm():
    record = _waiting()
    error = VergeOSError('no answer', None, 'polling')
    assert after_failed_read(record, 30.0, error, options()) == record
    assert after_failed_read(record, 63.9, error, options()) == record  # grace: two poll intervals past the deadline
    failed = after_failed_read(record, 64.0, error, options())
    assert failed.failed and failed.timed_out and 'could not read the VM again by its deadline' in failed.msg


def test_a_failed_read_never_fails_a_vm_nothing_was_sent_to():
    record, _step = decide(fresh(), row(ON), 0.0, options())
    assert after_failed_read(record, 10_000.0, LOST, options()) == record


def test_slots_are_held_from_the_first_send_until_settled_and_not_while_vergeos_queues():
    opts = options('running', max_concurrent_actions=2)
    queued, _step = decide(fresh(), row(OFF), 0.0, opts)
    assert not queued.holds_slot(row(OFF), opts)
    in_flight = sent(queued, 0.0, opts=opts)
    assert in_flight.holds_slot(row(STARTING), opts)
    assert not in_flight.holds_slot(row(QUEUED), opts)
    done, _step = decide(in_flight, row(ON), 30.0, opts)
    assert not done.holds_slot(row(ON), opts)


def test_the_default_window_limits_starts_and_restarts_not_stops():
    assert options('running').window_for('poweron') == 20 and options('restarted').window_for('reset') == 20
    assert options().window_for('poweroff') is None and options().window_for('kill') is None
    assert options(max_concurrent_actions=5).window_for('poweroff') == 5


def test_next_event_wakes_for_a_resend_or_a_deadline_sooner_than_the_poll():
    record, _step = decide(fresh(), row(ON), 0.0, options())
    lost = sent(record, 0.0, LOST)
    assert next_event([lost], 0.0, options()) == 0.75
    assert next_event([_waiting(timeout=1.0)], 0.0, options()) == 1.0
    assert next_event([_waiting()], 0.0, options()) == 2.0


def test_next_event_reads_when_a_slot_is_expected_to_free_while_vms_wait_for_one():
    opts = options('running', max_concurrent_actions=1)
    booted, _step = decide(fresh(), row(OFF), 0.0, opts)
    booted, _step = decide(sent(booted, 0.0, opts=opts), row(ON), 1.5, opts)  # acknowledged at 0, up at 1.5: 1.5 s
    assert booted.done and not booted.failed
    booting, _step = decide(fresh(), row(OFF), 1.0, opts)
    booting = sent(booting, 1.0, opts=opts)  # acknowledged at 1.0: its slot is expected to free at 2.5
    queued, _step = decide(fresh(), row(OFF), 2.0, opts)
    assert queued.sends == 0
    assert next_event([booted, booting, queued], 2.0, opts) == 2.5
    assert next_event([booted, booting], 2.0, opts) == 4.0  # nobody waits for a slot: the poll
    assert next_event([booting, queued], 2.0, opts) == 4.0  # no boot seen yet: nothing to expect from
    assert next_event([booted, booting, queued], 2.45, opts) == pytest.approx(2.65)  # never sooner than MIN_SLOT_INTERVAL
    assert next_event([booted, booting, queued], 3.0, opts) == 5.0  # later than expected: read at the poll, not over and over


def test_a_record_without_a_fresh_row_decides_nothing():
    record = _waiting()
    assert decide(record, None, 1000.0, options()) == (record, NOTHING)


def test_an_escalation_that_does_not_apply_times_out():
    opts = options(on_timeout='force')
    record = _waiting(opts=opts)
    record = record.__class__(**dict(vars(record), mode=ESCALATE))
    done, _step = decide(record, row({'status': 'maintenance', 'running': True}), 70.0, opts)
    assert done.timed_out and 'no escalation applies' in done.msg


# ---------------------------------------------------------------- a snapshot before the kill, at the VM's own deadline


SNAP = {'name': 'before-kill', 'expires': 3600}


def test_the_escalation_takes_the_snapshot_first_then_kills_with_its_kill_window():
    opts = options(on_timeout='force', snapshot_before_kill=SNAP, kill_timeout=15)
    record, step = decide(_waiting(opts=opts), row(ON), 60.0, opts)
    assert step == TAKE_SNAPSHOT and record.mode == SNAPSHOT
    assert decide(record, row(ON), 61.0, opts) == (record, NOTHING)  # nothing while the engine takes it
    record = after_snapshot(record, 62.0, {'id': 9, 'name': 'before-kill'}, None)
    record, step = decide(record, row(ON), 63.0, opts)
    assert step == SEND_ACTION and record.action == 'kill' and record.snapshot == {'id': 9, 'name': 'before-kill'}
    assert sent(record, 63.0, opts=opts).deadline == 78.0


def test_a_vm_whose_snapshot_failed_is_not_killed():
    opts = options(on_timeout='force', snapshot_before_kill=SNAP)
    record, _step = decide(_waiting(opts=opts), row(ON), 60.0, opts)
    record = after_snapshot(record, 70.0, None, VergeOSError('no answer', None, 'snapshot'))
    assert record.failed and record.timed_out and 'not killed because the snapshot before the kill failed' in record.msg


@pytest.mark.parametrize('wrong', [{'on_timeout': 'report'}, {'state': 'running', 'on_timeout': 'force'}])
def test_snapshot_before_kill_only_with_an_escalation_to_a_kill(wrong):
    state = wrong.pop('state', 'stopped')
    with pytest.raises(VergeOSError, match='snapshot_before_kill applies to state=stopped with on_timeout=force only'):
        PowerOptions(state=state, snapshot_before_kill=SNAP, **wrong)


# ---------------------------------------------------------------- messages that help, options that would do nothing


def test_a_failed_start_carries_vergeos_status_info():
    opts = options('running')
    record, _step = decide(_waiting('running', opts), row(STARTING), 2.0, opts)
    record, _step = decide(record, row({'status': 'error', 'running': False}, status_info='failed to start: no disk'), 4.0, opts)
    assert record.failed and "status_info 'failed to start: no disk'" in record.msg


def test_a_vm_the_kill_did_not_stop_points_to_unsafe_mark_stopped():
    opts = options(force=True)
    record, _step = decide(fresh(), row(ON), 0.0, opts)
    record = sent(record, 0.0, opts=opts)
    record, _step = decide(record, row(STOPPING), 60.0, opts)
    assert record.failed and 'even the kill did not stop it' in record.msg and 'unsafe_mark_stopped' in record.msg


@pytest.mark.parametrize('given, words', [
    ({'state': 'stopped', 'unsafe_mark_stopped': True}, 'unsafe_mark_stopped does nothing here'),
    ({'state': 'running', 'unsafe_mark_stopped': True}, 'unsafe_mark_stopped does nothing here'),
    ({'state': 'stopped', 'preferred_node': 'node1'}, 'preferred_node does nothing with state=stopped'),
    ({'state': 'stopped', 'kill_timeout': 30}, 'kill_timeout does nothing here'),
])
def test_options_that_would_do_nothing_say_so(given, words):
    assert any(words in warning for warning in PowerOptions(**given).warnings())


@pytest.mark.parametrize('given', [
    {'state': 'stopped', 'force': True, 'unsafe_mark_stopped': True},
    {'state': 'stopped', 'on_timeout': 'force', 'unsafe_mark_stopped': True, 'kill_timeout': 30},
    {'state': 'running', 'preferred_node': 'node1'},
])
def test_options_that_apply_say_nothing(given):
    assert PowerOptions(**given).warnings() == []


def test_a_vm_that_stops_on_its_own_while_its_escalation_starts_is_not_a_failure():
    opts = options(on_timeout='force', snapshot_before_kill=SNAP)
    record, _step = decide(_waiting(opts=opts), row(ON), 60.0, opts)
    record = after_snapshot(record, 62.0, {'id': 9, 'name': 'before-kill'}, None)
    record, step = decide(record, row(OFF), 63.0, opts)
    assert step == NOTHING and record.mode == DONE and not record.failed and not record.timed_out
    assert 'just after its deadline, before any escalation' in record.msg and record.snapshot


# ---------------------------------------------------------------- restart methods


def test_a_guest_restart_says_it_was_asked_for_never_that_it_happened():
    opts = options('restarted')
    record, step = decide(fresh(), row(ON), 0.0, opts)
    assert step == SEND_ACTION and (record.action, dict(record.params)) == ('reset', {'graceful': True})
    record, _step = decide(sent(record, 0.0, opts=opts), row(ON), 3.0, opts)
    assert record.mode == DONE and not record.failed
    assert 'a graceful reboot was asked for (reset with graceful)' in record.msg and 'nothing that tells' in record.msg


def test_a_refused_spelling_of_the_guest_reboot_is_followed_by_the_next_one():
    opts = options('restarted')
    record, _step = decide(fresh(), row(ON), 0.0, opts)
    unknown = VergeOSError("field 'graceful' is not supported", 422, 'x')
    spellings = [record.action]
    for _attempt in range(2):
        record, step = decide(sent(record, 0.0, unknown, opts), row(ON), 1.0, opts)
        assert step == SEND_ACTION
        spellings.append(record.action)
    assert spellings == ['reset', 'guestreset', 'guestreboot'] and dict(record.params) == {}
    record, step = decide(sent(record, 0.0, unknown, opts), row(ON), 2.0, opts)
    assert step == NOTHING and record.failed and 'no spelling of a graceful reboot was accepted (reset, guestreset, guestreboot)' in record.msg
    assert 'restart_method=power_cycle' in record.msg


def test_a_guest_reboot_refused_for_another_reason_is_not_spelled_again():
    opts = options('restarted')
    record, _step = decide(fresh(), row(ON), 0.0, opts)
    record, step = decide(sent(record, 0.0, VergeOSError('Forbidden', 403, 'x'), opts), row(ON), 1.0, opts)
    assert step == NOTHING and record.failed and 'reset was refused and is not re-sent' in record.msg


def test_a_power_cycle_is_a_graceful_stop_then_a_start_each_seen():
    opts = options('restarted', restart_method='power_cycle')
    record, step = decide(fresh(), row(ON), 0.0, opts)
    assert step == SEND_ACTION and record.action == 'poweroff' and not record.final
    record, step = decide(sent(record, 0.0, opts=opts), row(OFF), 10.0, opts)
    assert step == SEND_ACTION and record.action == 'poweron'
    record, step = decide(sent(record, 10.0, opts=opts), row(ON), 20.0, opts)
    assert record.mode == DONE and not record.failed and record.actions == ('poweroff', 'poweron') and 'nothing that tells' not in record.msg


def test_a_power_cycle_with_force_kills_and_one_at_the_deadline_escalates_to_a_kill():
    record, _step = decide(fresh(), row(ON), 0.0, options('restarted', restart_method='power_cycle', force=True))
    assert record.action == 'kill'
    opts = options('restarted', restart_method='power_cycle', on_timeout='force')
    record, _step = decide(fresh(timeout=30.0), row(ON), 0.0, opts)
    record, step = decide(sent(record, 0.0, opts=opts), row(ON), 31.0, opts)
    assert step == SEND_ACTION and record.action == 'kill'


def test_restart_method_reset_is_always_hard():
    record, _step = decide(fresh(), row(ON), 0.0, options('restarted', restart_method='reset'))
    assert record.action == 'reset' and dict(record.params) == {}


def test_a_queued_start_at_its_deadline_says_vergeos_queued_it():
    opts = options('running')
    record, _step = decide(_waiting('running', opts, timeout=30.0), row(QUEUED, status_info='Insufficient cluster resources'), 31.0, opts)
    assert record.failed and 'VergeOS queued the start until resources free up' in record.msg and 'Insufficient cluster resources' in record.msg


def test_an_unknown_restart_method_is_refused():
    with pytest.raises(VergeOSError, match='restart_method must be one of guest, power_cycle, reset'):
        options('restarted', restart_method='cycle')


def test_a_refusal_the_pacer_paces_is_resent_at_its_turn_with_only_the_retry_after():
    assert resend_delay(1, None, lambda: 0.999, paced=True) == 0.0
    assert resend_delay(1, 1.0, lambda: 0.999, paced=True) == 1.0
    assert resend_delay(1, None, lambda: 0.0) == 0.5  # not paced: the backoff stays
    # Refused again: the backoff, a step behind the unpaced one (an outage's resends are not free).
    assert [resend_delay(sends, None, lambda: 0.0, paced=True) for sends in (2, 3, 4)] == [0.5, 1.0, 2.0]
    assert resend_delay(3, 0.5, lambda: 0.0, paced=True) == 1.0 and resend_delay(3, 7.0, lambda: 0.0, paced=True) == 7.0
