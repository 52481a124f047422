# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The power engine's policy: for one VM, from its record, a fresh row and the clock, what happens next. Pure.

``plan.py`` decides what a VM needs from its status; this module decides how the
engine gets it there through an API that may throttle, drop answers or carry out a
request whose answer is lost. The engine (``power.py``) only reads, sends and waits:
each round it hands every VM's record and fresh row to ``decide`` and carries out the
step it returns, then reports how the send went with ``after_send`` / ``after_mark``.

A VM's record moves through named modes:

- PLAN: decide from the row (``plan.plan_power``); an escalation decides with force.
- SEND: an action was sent with no definite answer (no answer, 429, a 5xx but 501,
  505 and 507). The next round's read says whether it took effect (the VM is at its
  target or heading there: success); otherwise it is sent again after a backoff
  (exponential with jitter, the server's Retry-After honoured), as long as that VM's
  sending window allows. A ``reset`` is never sent twice: a lost answer may hide a
  reboot that happened.
- WAIT: the action was acknowledged (2xx) or seen taking effect; wait for the target
  until the VM's deadline.
- SETTLE: the VM is busy with another transition; wait until it settles, then PLAN.
- ESCALATE: the deadline passed with ``on_timeout: force``: PLAN with force.
- MARK: ``unsafe_mark_stopped`` after a kill that did not stop the VM.
- DONE: finished (``failed``, ``timed_out`` and ``msg`` say how).

A power-on that VergeOS acknowledges but never carries out (recorded on a real system that
lacked the resources: 201, and the VM stays off) is waited for and never sent again: the
deadline reports it as a start that never began, decided from the phases read (never from
``status_info``, whose wording is unknown).

Deadlines: a VM's deadline starts at its first acknowledged action or the first read
that shows it heading where it was asked, whichever comes first, and never restarts
(a resend does not move it): throttling never shortens a guest's graceful window. An
action that is neither acknowledged nor seen taking effect is sent for at most the
VM's timeout from the first try, then the VM fails: it is never escalated to a kill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from ansible_collections.vergeos.power.plugins.module_utils.capacity import PREFLIGHT_MODES
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.plan import (
    ACT, GUEST_REBOOTS, NOOP, OFF, ON, REFUSE, RESTART_METHODS, STARTING, STOPPING, WAIT, WAIT_THEN_ACT, WANTED_STATES, moved_away, phase_of,
    plan_power, reached,
)
from ansible_collections.vergeos.power.plugins.module_utils.retry import backoff, backoff_step, is_transient

ON_TIMEOUT = ('fail', 'report', 'force')
DEFAULT_WAIT_TIMEOUT = 300
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_PROGRESS_INTERVAL = 30.0
MIN_POLL_INTERVAL = 0.1
DEFAULT_MAX_TARGETS = 50
# The window for power-ons and restarts when the user sets none (boot storms); stops are not limited then.
DEFAULT_START_WINDOW = 20
ESCALATIONS = ('kill', 'reset')
# Actions whose repeat changes nothing the first did: VergeOS treats a second poweron of a starting VM as a no-op.
REPEATABLE_ACTIONS = ('poweron', 'poweroff', 'kill')
# Actions a default window limits: what makes a boot storm.
STORM_ACTIONS = ('poweron', 'reset', 'guestreset', 'guestreboot')
# Actions whose effect no read can show (a reboot keeps the VM running): never confirmed by a read, never re-sent.
REBOOT_ACTIONS = ('reset', 'guestreset', 'guestreboot')
# Answers that refuse a spelling of the graceful reboot as unknown: the next spelling is tried.
UNKNOWN_SPELLING = (400, 422)
MARK_STOPPED_ACTION = 'mark_stopped'
# A VergeOS status whose VM waits for resources: queued by VergeOS, it does not hold a slot of the window.
QUEUED_STATUS = 'waitingforresources'
# Backoff between sends of an action that got no definite answer.
RESEND_BASE = 1.0
RESEND_CAP = 30.0

PLAN, SEND, WAIT_MODE, SETTLE, ESCALATE, SNAPSHOT, MARK, DONE = 'plan', 'send', 'wait', 'settle', 'escalate', 'snapshot', 'mark', 'done'
MODES = (PLAN, SEND, WAIT_MODE, SETTLE, ESCALATE, SNAPSHOT, MARK, DONE)

# Steps the engine carries out for a VM.
NOTHING, SEND_ACTION, MARK_STOPPED, TAKE_SNAPSHOT = 'nothing', 'send', 'mark', 'snapshot'


def seconds(value, name):
    """Return a number of seconds (a number or numeric string, not a bool), zero or more, as a float; VergeOSError naming ``name``."""
    try:
        number = float(value) if not isinstance(value, bool) else float('nan')
    except (TypeError, ValueError):
        number = float('nan')
    if not math.isfinite(number) or number < 0:
        raise VergeOSError('%s must be a number of seconds, zero or more, not %r' % (name, value))
    return number


@dataclass(frozen=True)
class PowerOptions:
    """The options of one power task, validated once (``from_params`` or the constructor) and handed to the engine.

    ``max_concurrent_actions`` None means the default window: ``DEFAULT_START_WINDOW`` power-ons
    and restarts at a time, stops not limited. A number limits every action.
    """

    state: str
    force: bool = False
    on_timeout: str = 'fail'
    wait: bool = True
    wait_timeout: float = float(DEFAULT_WAIT_TIMEOUT)
    poll_interval: float = DEFAULT_POLL_INTERVAL
    max_concurrent_actions: int | None = None
    unsafe_mark_stopped: bool = False
    preferred_node: object = None
    wait_for_agent: bool = False
    max_requests_per_second: float | None = None
    progress_interval: float = 0.0
    kill_timeout: float | None = None
    snapshot_before_kill: dict | None = None
    restart_method: str = 'guest'
    preflight: str = 'warn'
    preflight_ram_reserve: int = 0
    preflight_core_ratio: float | None = None

    def __post_init__(self):
        if self.state not in WANTED_STATES:
            raise VergeOSError('state must be one of %s, not %r' % (', '.join(WANTED_STATES), self.state))
        if self.restart_method not in RESTART_METHODS:
            raise VergeOSError('restart_method must be one of %s, not %r' % (', '.join(RESTART_METHODS), self.restart_method))
        self._check_preflight()
        if self.on_timeout not in ON_TIMEOUT:
            raise VergeOSError('on_timeout must be one of %s, not %r' % (', '.join(ON_TIMEOUT), self.on_timeout))
        object.__setattr__(self, 'wait_timeout', seconds(self.wait_timeout, 'wait_timeout'))
        if self.poll_interval is None or isinstance(self.poll_interval, bool) or not _positive(self.poll_interval):
            raise VergeOSError('poll_interval must be more than zero, not %r' % (self.poll_interval,))
        object.__setattr__(self, 'poll_interval', max(MIN_POLL_INTERVAL, float(self.poll_interval)))
        window = self.max_concurrent_actions
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
            raise VergeOSError('max_concurrent_actions must be 1 or more, not %r' % (window,))
        rate = self.max_requests_per_second
        if rate is not None and (isinstance(rate, bool) or not _positive(rate)):
            raise VergeOSError('max_requests_per_second must be more than zero, not %r' % (rate,))
        object.__setattr__(self, 'progress_interval', seconds(self.progress_interval, 'progress_interval'))
        if self.wait_for_agent and self.state != 'running':
            raise VergeOSError('wait_for_agent applies to state=running only, not %s' % self.state)
        if self.kill_timeout is not None:
            object.__setattr__(self, 'kill_timeout', seconds(self.kill_timeout, 'kill_timeout'))
        if self.snapshot_before_kill:
            if self.on_timeout != 'force' or self.state != 'stopped':
                raise VergeOSError('snapshot_before_kill applies to state=stopped with on_timeout=force only (a snapshot before an '
                                   'escalation to a kill)')
            if not str(self.snapshot_before_kill.get('name') or '').strip():
                raise VergeOSError('snapshot_before_kill needs a name')
        else:
            object.__setattr__(self, 'snapshot_before_kill', None)

    def _check_preflight(self):
        if self.preflight not in PREFLIGHT_MODES:
            raise VergeOSError('preflight must be one of %s, not %r' % (', '.join(PREFLIGHT_MODES), self.preflight))
        reserve = self.preflight_ram_reserve
        if isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 0:
            raise VergeOSError('preflight_ram_reserve must be a whole number of MB, 0 or more, not %r' % (reserve,))
        ratio = self.preflight_core_ratio
        if ratio is not None and (isinstance(ratio, bool) or not _positive(ratio)):
            raise VergeOSError('preflight_core_ratio must be more than zero, not %r' % (ratio,))

    def warnings(self):
        """Return what the options ask for that cannot happen with the others (said, not refused)."""
        found = []
        kills = self.state == 'stopped' and (self.force or self.on_timeout == 'force')
        if self.unsafe_mark_stopped and not kills:
            found.append('unsafe_mark_stopped does nothing here: it applies after a kill, that is with state=stopped and force=true '
                         'or on_timeout=force')
        if self.preferred_node is not None and self.state == 'stopped':
            found.append('preferred_node does nothing with state=stopped: it is where a VM is powered on')
        if (self.preflight_ram_reserve or self.preflight_core_ratio) and (self.state == 'stopped' or self.preflight == 'off'):
            found.append('preflight_ram_reserve and preflight_core_ratio do nothing here: they shape the pre-flight check of power-ons '
                         '(state=running or restarted, preflight warn or refuse)')
        if self.kill_timeout is not None and not kills:
            found.append('kill_timeout does nothing here: it is the wait after a kill (force=true or on_timeout=force with state=stopped)')
        return found

    def kill_window(self, record):
        """Seconds an escalated VM gets from its kill (kill_timeout, else its own timeout)."""
        return record.timeout if self.kill_timeout is None else self.kill_timeout

    def window_for(self, action):
        """Return how many VMs may hold a slot for ``action`` at once (None: not limited)."""
        if self.max_concurrent_actions is not None:
            return self.max_concurrent_actions
        return DEFAULT_START_WINDOW if action in STORM_ACTIONS else None


def _positive(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number > 0


@dataclass(frozen=True)
class VMRecord:
    """One VM's way through the engine (replaced, never changed in place)."""

    key: int
    previous: str
    timeout: float
    started: float
    mode: str = PLAN
    action: str | None = None
    params: tuple = ()
    target: str | None = None
    final: bool = True
    agent: bool = False
    escalating: bool = False
    escalated: bool = False
    actions: tuple = ()
    sends: int = 0
    first_send: float | None = None
    next_send: float | None = None
    last_error: str = ''
    retry_after: float | None = None
    refused: tuple = ()  # (action, message, HTTP status) of a definite refusal, judged at the next decision
    refused_spellings: tuple = ()  # spellings of the graceful reboot VergeOS refused as unknown
    deadline: float | None = None
    seen: frozenset = field(default_factory=frozenset)
    sent_from: str | None = None  # the phase the action was decided on: a VM already stopping proves nothing about a kill
    snapshot: dict | None = None  # the snapshot taken before its kill (snapshot_before_kill)
    retries: int = 0
    failed: bool = False
    timed_out: bool = False
    msg: str = ''
    finished: float | None = None

    @property
    def done(self):
        return self.mode == DONE

    @property
    def elapsed(self):
        return 0.0 if self.finished is None else round(max(0.0, self.finished - self.started), 3)

    def holds_slot(self, row, options):
        """Whether this VM holds a slot of the window: an action of its sent and not settled, and VergeOS not queueing it."""
        in_flight = self.mode == WAIT_MODE or (self.mode == SEND and self.sends > 0)
        if not in_flight or self.action is None or options.window_for(self.action) is None:
            return False
        return not is_queued(row)


def is_queued(row):
    """Whether VergeOS queues this VM's start until resources free up (it then holds no slot of the window)."""
    return bool(row) and str(row.get('status') or '').lower() == QUEUED_STATUS


def new_record(row, timeout, now, previous):
    return VMRecord(key=row['$key'], previous=previous, timeout=float(timeout), started=now)


def finish(record, now, msg, *, failed=False, timed_out=False):
    """Return the record of a VM that is done: ``failed``, ``timed_out`` and ``msg`` say how."""
    return replace(record, mode=DONE, failed=failed, timed_out=timed_out, msg=msg, finished=now, next_send=None)


def _actions_words(record):
    return ', '.join(record.actions)


def _start_deadline(record, now):
    return record if record.deadline is not None else replace(record, deadline=now + record.timeout)


def resend_delay(sends, retry_after, rand, paced=False):
    """Return the wait before send number ``sends + 1``: exponential with jitter, or the server's Retry-After if longer.

    ``paced``: see ``retry.backoff_step``.
    """
    step = backoff_step(sends - 1, paced)
    return max(0.0 if step is None else backoff(step, RESEND_BASE, RESEND_CAP, rand), retry_after or 0.0)


def _agent_missing(record, row):
    return record.agent and not row.get('agent_version')


def _heading_to(row, target):
    """Whether a row shows a VM on its way to ``target`` (starting for running, stopping for stopped)."""
    phase = phase_of(row.get('status'), row.get('running'))
    return (target == 'running' and phase == STARTING) or (target == 'stopped' and phase == STOPPING)


def _took_effect(record, row, target):
    """Whether a row shows the unconfirmed action took effect: the VM is at its target, or newly heading there."""
    if reached(row.get('status'), row.get('running'), target):
        return True
    return _heading_to(row, target) and phase_of(row.get('status'), row.get('running')) != record.sent_from


def _status_words(row):
    words = 'status %s, running %s' % (row.get('status'), row.get('running'))
    # VergeOS says why in status_info (a failed start: "failed to start: ..."): pass it on.
    return words + (', status_info %r' % row['status_info'] if row.get('status_info') else '')


def decide(record, row, now, options):
    """Return (new record, step) for one VM from its fresh ``row`` (None: no fresh read this round).

    ``step`` is NOTHING, SEND_ACTION (send ``record.action`` with ``record.params``) or
    MARK_STOPPED. Without a fresh row nothing is decided but what time alone decides.
    """
    if record.done or row is None:
        return record, NOTHING
    return _BY_MODE[record.mode](record, row, now, options)


def _settling(record, row, now, options):
    if reached(row.get('status'), row.get('running'), 'settled'):
        return _plan(replace(record, mode=PLAN), row, now, options)
    return _maybe_late(record, row, now, options)


def _marking(record, _row, _now, _options):
    return record, MARK_STOPPED


def _snapshotting(record, _row, _now, _options):
    return record, NOTHING  # the engine reports the snapshot with after_snapshot


def _plan(record, row, now, options):  # noqa: PLR0911, PLR0912 (one return per plan decision)
    escalating = record.mode == ESCALATE
    plan = plan_power(row.get('status'), row.get('running'), options.state, options.force or escalating, options.restart_method)
    if escalating and plan.decision == NOOP:
        # It got there on its own just as its deadline passed (or while its snapshot was taken): nothing to escalate.
        return finish(record, now, '%s just after its deadline, before any escalation (%s)' % (options.state, _actions_words(record))), \
            NOTHING
    if escalating and not (plan.decision == ACT and plan.action in ESCALATIONS and plan.action not in record.actions):
        return _timed_out(record, now, options, 'not %s by the deadline and no escalation applies (status %s)'
                          % (options.state, row.get('status'))), NOTHING
    refused_action, refused_message, refused_status = record.refused or (None, '', None)
    if record.refused:
        record = replace(record, refused=())
    if plan.decision == ACT and _is_guest_reboot(plan.action, plan.params):
        record, plan = _respelled(record, plan, (refused_action, refused_message, refused_status))
        if plan is None:
            return finish(record, now, 'no spelling of a graceful reboot was accepted (%s); the last answer: %s. restart_method=power_cycle '
                          'restarts it with a graceful power off and a power on' % (', '.join(record.refused_spellings), refused_message),
                          failed=True), NOTHING
    if plan.decision == REFUSE:
        return finish(record, now, plan.reason, failed=True), NOTHING
    if plan.decision == NOOP:
        agent = options.wait_for_agent and bool(row.get('guest_agent'))
        if options.wait and agent and not row.get('agent_version'):
            return replace(_start_deadline(record, now), mode=WAIT_MODE, target='running', agent=True, final=True), NOTHING
        done = ('%s after %s' % (options.state, _actions_words(record))) if record.actions else plan.reason
        return finish(record, now, done), NOTHING
    if plan.decision == WAIT:
        if not options.wait:
            return finish(record, now, '%s; not waiting' % plan.reason), NOTHING
        agent = plan.target == 'running' and options.wait_for_agent and bool(row.get('guest_agent'))
        return replace(_start_deadline(record, now), mode=WAIT_MODE, target=plan.target, agent=agent, final=True), NOTHING
    if plan.decision == WAIT_THEN_ACT:
        return replace(_start_deadline(record, now), mode=SETTLE, target='settled'), NOTHING
    # ACT
    if escalating and plan.action == 'kill' and options.snapshot_before_kill and record.snapshot is None:
        return replace(record, mode=SNAPSHOT), TAKE_SNAPSHOT
    if refused_action == plan.action:
        return finish(record, now, refused_message, failed=True), NOTHING
    if plan.action in record.actions and not escalating:
        return finish(record, now, '%s was sent already and is wanted again (status %s); it is not sent twice'
                      % (plan.action, row.get('status')), failed=True), NOTHING
    agent = plan.target == 'running' and options.wait_for_agent and bool(row.get('guest_agent'))
    record = replace(record, mode=SEND, action=plan.action, params=tuple(sorted(plan.params.items())), target=plan.target,
                     final=plan.final, agent=agent, escalating=escalating, sends=0, first_send=None, next_send=now,
                     last_error='', retry_after=None, seen=frozenset(), sent_from=phase_of(row.get('status'), row.get('running')))
    return record, SEND_ACTION


def _is_guest_reboot(action, params):
    return action in ('guestreset', 'guestreboot') or (action == 'reset' and bool(dict(params).get('graceful')))


def _respelled(record, plan, refused):
    """Return (record, plan in the spelling to send): a spelling just refused as unknown is not sent again; plan None when none is left."""
    if refused[0] and _is_guest_reboot(refused[0], dict(record.params)) and refused[2] in UNKNOWN_SPELLING:
        record = replace(record, refused_spellings=record.refused_spellings + (refused[0],))
    return record, _spelled(plan, record)


def _spelled(plan, record):
    """Return the graceful reboot plan in the first spelling VergeOS has not refused as unknown; None when it refused them all."""
    for action, params in GUEST_REBOOTS:
        if action not in record.refused_spellings:
            return replace(plan, action=action, params=dict(params))
    return None


def _unconfirmed(record, row, now, options):
    """A VM whose action is out without a definite answer: success if the row shows it, else send again or give up."""
    status, running = row.get('status'), row.get('running')
    target = 'running' if record.target == 'restarted' else record.target
    if record.sends and record.action not in REBOOT_ACTIONS and _took_effect(record, row, target):
        return _waiting(_confirmed(record, now, options), row, now, options)
    plan = plan_power(status, running, options.state, options.force or record.escalating, options.restart_method)
    if plan.decision == ACT and _is_guest_reboot(plan.action, plan.params):
        plan = _spelled(plan, record) or plan
    if record.sends == 0 or not (plan.decision == ACT and plan.action == record.action):
        # Queued by the window, or the VM moved on its own (another actor, VergeOS acting late): decide afresh.
        return _plan(replace(record, mode=ESCALATE if record.escalating else PLAN), row, now, options)
    # Not seen taking effect: it may still have been carried out, so it counts as sent ("may have changed").
    record = replace(record, actions=record.actions if record.action in record.actions else record.actions + (record.action,))
    give_up = _give_up(record, now, options)
    if give_up:
        return finish(record, now, give_up, failed=True), NOTHING
    if now < record.next_send:
        return record, NOTHING
    return replace(record, retries=record.retries + 1), SEND_ACTION


def _give_up(record, now, options):
    """Return why an unconfirmed action is not sent again ('' while it may be)."""
    if record.action not in REPEATABLE_ACTIONS:
        return '%s was not confirmed and is not re-sent (a second one could act twice): %s' % (record.action, record.last_error)
    window = options.kill_window(record) if record.escalating else record.timeout
    if now >= record.first_send + window:
        return '%s was never acknowledged nor seen taking effect in %gs (%d sends; last: %s)%s' % (
            record.action, window, record.sends, record.last_error, '' if record.escalating else '; not escalated')
    return ''


def _confirmed(record, now, options):
    """The action took effect (2xx, or a read shows it): the deadline starts if it has not, the VM waits."""
    actions = record.actions if record.action in record.actions else record.actions + (record.action,)
    record = replace(record, mode=WAIT_MODE, actions=actions, next_send=None, seen=frozenset())
    if record.escalating:
        # An escalation gets its own window from its acknowledgement.
        return replace(record, escalated=True, escalating=False, deadline=now + options.kill_window(record))
    return _start_deadline(record, now)


def after_send(record, now, error, options, rand):
    """Return the record after sending its action: ``error`` None for a 2xx, else the VergeOSError of the POST."""
    record = replace(record, sends=record.sends + 1, first_send=record.first_send if record.first_send is not None else now)
    if error is None:
        record = _confirmed(record, now, options)
        if record.final and not options.wait:
            return finish(record, now, '%s sent; not waiting' % record.action)
        return record
    if not is_transient(error.status):
        # A definite answer: not carried out. The next read decides; the same action is not sent again.
        return replace(record, mode=ESCALATE if record.escalating else PLAN, next_send=None,
                       refused=(record.action, '%s was refused and is not re-sent: %s' % (record.action, error), error.status))
    retry_after = getattr(error, 'retry_after', None)
    return replace(record, last_error=str(error), retry_after=retry_after,
                   next_send=now + resend_delay(record.sends, retry_after, rand, getattr(error, 'paced', False)))


def _waiting(record, row, now, options):
    status, running = row.get('status'), row.get('running')
    target = record.target
    if reached(status, running, target) and not _agent_missing(record, row):
        if not record.final:
            return _plan(replace(record, mode=PLAN, action=None), row, now, options)
        words = _actions_words(record) or 'no action needed'
        if options.state == 'restarted' and _is_guest_reboot(record.action, record.params):
            spelling = 'reset with graceful' if record.action == 'reset' else record.action
            return finish(record, now, 'restarted: a graceful reboot was asked for (%s) and the VM runs; VergeOS shows nothing that tells a '
                          'guest reboot from a hard reset (restart_method=power_cycle makes every step visible)' % spelling), NOTHING
        return finish(record, now, '%s (%s)' % (options.state, words)), NOTHING
    if target in ('running', 'stopped') and moved_away(status, running, target, record.seen):
        return finish(record, now, 'after %s: moved away from %s (%s): another actor or a failed %s; not fighting it'
                      % (_actions_words(record) or 'waiting', target, _status_words(row), 'start' if target == 'running' else 'stop'),
                      failed=True), NOTHING
    record = replace(record, seen=record.seen | {phase_of(status, running)})
    return _maybe_late(record, row, now, options)


def _maybe_late(record, row, now, options):
    if record.deadline is None or now < record.deadline:
        return record, NOTHING
    if reached(row.get('status'), row.get('running'), record.target or 'settled') and _agent_missing(record, row):
        reason = '%s, but the guest agent did not answer by the deadline' % record.target
    elif is_queued(row):
        reason = ('not %s by the deadline: VergeOS queued the start until resources free up (it may still start later, unless '
                  'powered off); last seen: %s' % (record.target, _status_words(row)))
    elif _start_never_began(record, row):
        reason = ('not running by the deadline: VergeOS accepted the power-on but the VM never showed starting (VergeOS was recorded '
                  'accepting a start it lacked the resources for and leaving the VM off); the power-on was not sent again; last '
                  'seen: %s' % _status_words(row))
    else:
        reason = 'not %s by the deadline; last seen: %s' % (record.target, _status_words(row))
    if (options.unsafe_mark_stopped and options.state == 'stopped' and 'kill' in record.actions
            and MARK_STOPPED_ACTION not in record.actions):
        return replace(record, mode=MARK), MARK_STOPPED
    if 'kill' in record.actions and MARK_STOPPED_ACTION not in record.actions and options.state == 'stopped':
        reason += ('; even the kill did not stop it: if its node is gone, unsafe_mark_stopped (safe_shutdown_unsafe_mark_stopped in '
                   'the role) tells VergeOS it is stopped; dangerous, read its documentation first')
    if options.on_timeout == 'force' and not record.escalated:
        return _plan(replace(record, mode=ESCALATE), row, now, options)
    return _timed_out(record, now, options, reason), NOTHING


def _start_never_began(record, row):
    """Whether an acknowledged power-on left the VM off without one read showing it starting or on (decided from phases only)."""
    return (record.action == 'poweron' and 'poweron' in record.actions and record.target in ('running', 'restarted')
            and phase_of(row.get('status'), row.get('running')) == OFF and not record.seen & {STARTING, ON})


def _timed_out(record, now, options, reason):
    if options.on_timeout == 'report':
        return finish(record, now, 'missed the deadline (reported, not failed): %s' % reason, timed_out=True)
    return finish(record, now, reason, failed=True, timed_out=True)


def after_mark(record, now, error, options):
    """Return the record after the machine_status reset (``error`` None when it was written)."""
    if error is not None:
        return finish(record, now, 'still not stopped after kill; unsafe_mark_stopped could not mark it: %s' % error, failed=True)
    return replace(record, mode=WAIT_MODE, target='stopped', final=True, actions=record.actions + (MARK_STOPPED_ACTION,),
                   deadline=now + options.kill_window(record), seen=frozenset())


def after_snapshot(record, now, snapshot, error):
    """Return the record after the snapshot before its kill: taken (the kill is decided from the next read) or failed (no kill)."""
    if error is not None:
        return finish(record, now, 'still not stopped at its deadline; not killed because the snapshot before the kill failed: %s'
                      % error, failed=True, timed_out=True)
    return replace(record, mode=ESCALATE, snapshot=snapshot)


def after_failed_read(record, now, error, options):
    """A poll round whose read failed costs a round, not the VM: it fails only once its own deadline is well past.

    Past its deadline (or, before any deadline, its timeout from its first send) by two poll
    intervals with no fresh read, a VM fails: nothing is escalated without a fresh read.
    """
    if record.done:
        return record
    start = record.deadline if record.deadline is not None else (record.first_send + record.timeout if record.first_send is not None else None)
    if start is None or now < start + 2 * options.poll_interval:
        # Nothing sent to it yet (queued, or waiting for its turn): a failed read changes nothing for it.
        return record
    return finish(record, now, 'could not read the VM again by its deadline: %s' % error, failed=True,
                  timed_out=record.deadline is not None)


# While VMs wait for a slot of the window, the engine reads again when a slot is expected to free, but never sooner than this.
MIN_SLOT_INTERVAL = 0.2


def next_event(records, now, options):
    """Return when the engine should read again: the next poll, sooner for a resend, a deadline or a slot expected to free.

    ``records``: every VM's record, finished ones too (their times are what a slot is expected from).
    While a VM waits for a slot of the window, the slot of a VM in flight is expected to free
    when the shortest time a finished VM took from its acknowledgement to done (its guest's
    observed boot) has passed since that VM's acknowledgement; the read is then no sooner
    than ``MIN_SLOT_INTERVAL`` from now, and never later than the poll. A VM slower than
    expected is read again at the poll, not every ``MIN_SLOT_INTERVAL``.
    """
    wake = now + options.poll_interval
    for record in records:
        if record.done:
            continue
        for moment in (record.next_send if record.mode == SEND and record.sends else None, record.deadline):
            if moment is not None and now < moment < wake:
                wake = moment

    def windowed(record):
        return record.action is not None and options.window_for(record.action) is not None and not record.escalated and \
            record.deadline is not None

    if any(not record.done and record.mode == SEND and record.sends == 0 and record.action is not None
           and options.window_for(record.action) is not None for record in records):
        took = [record.finished - (record.deadline - record.timeout) for record in records
                if record.done and not record.failed and record.finished is not None and record.actions and windowed(record)]
        frees = [record.deadline - record.timeout + max(0.0, min(took)) for record in records
                 if took and not record.done and record.mode == WAIT_MODE and windowed(record)]
        frees = [moment for moment in frees if moment > now]  # one later than expected is read at the poll, not over and over
        if frees:
            wake = min(wake, max(min(frees), now + MIN_SLOT_INTERVAL))
    return wake


_BY_MODE = {PLAN: _plan, ESCALATE: _plan, SEND: _unconfirmed, SETTLE: _settling, WAIT_MODE: _waiting, MARK: _marking,
            SNAPSHOT: _snapshotting}
