# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The power engine: select VMs, plan each from a fresh read, act once, wait for the whole set.

``power_vms()`` takes plain parameters and returns the result dict of
``vergeos_vm_power`` (a module or an action plugin can call it). Everything it does
over HTTP goes through an ``ops`` object (``ClientOps`` by default), so the unit
tests drive it with a fake world, a fake clock and a fake sleep.

The loop works in waves: plan every VM that needs a decision from its freshest row;
send at most ``max_concurrent_actions`` actions; wait for every VM of the wave with
ONE read per poll round (``waiter.wait_for``); VMs that settled and must be planned
again, VMs whose action could not be sent and the deferred ones form the next wave.
A POST is never re-sent blindly: after an error the VM is read again and planned
again. When that plan still wants the same action, it is sent again only if a second
one cannot change the outcome (``poweron``, ``poweroff``, ``kill``: VergeOS treats a
repeat as a no-op) and the first got no answer, a 5xx or a 429 (a 4xx is the system's
answer, not a lost one), at most ``MAX_SENDS`` times in all. A ``reset`` is never
repeated: a lost answer may hide a reboot that happened, and a second would reboot
the guest again.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ansible_collections.vergeos.power.plugins.module_utils.actions import mark_stopped, read_status_row, send_action
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.plan import ACT, NOOP, REFUSE, WAIT, WAIT_THEN_ACT, plan_power
from ansible_collections.vergeos.power.plugins.module_utils.power_state import power_state_of
from ansible_collections.vergeos.power.plugins.module_utils.query import condition, rows_of
from ansible_collections.vergeos.power.plugins.module_utils.retry import is_transient
from ansible_collections.vergeos.power.plugins.module_utils.results import describe_vm, vm_result, with_top_level
from ansible_collections.vergeos.power.plugins.module_utils.vms import is_single, select_vms, vm_reader
from ansible_collections.vergeos.power.plugins.module_utils.waiter import MOVED_AWAY, REACHED, TIMEOUT, WaitTarget, wait_for

ON_TIMEOUT = ('fail', 'report', 'force')
DEFAULT_WAIT_TIMEOUT = 300
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_MAX_TARGETS = 50
DEFAULT_MAX_CONCURRENT_ACTIONS = 20
ESCALATIONS = ('kill', 'reset')
# Actions whose repeat changes nothing the first did (see the module docstring), and how often one may go out.
REPEATABLE_ACTIONS = ('poweron', 'poweroff', 'kill')
MAX_SENDS = 3
MARK_STOPPED_ACTION = 'mark_stopped'

# What each wanted state leaves a VM as, for the diff of check mode.
_TARGET_POWER_STATE = {'running': 'running', 'restarted': 'running', 'stopped': 'stopped'}


class ClientOps:
    """The engine's HTTP side, over one VergeOSClient (the tests pass a fake with the same methods)."""

    def __init__(self, client):
        self.client = client
        self.read = vm_reader(client)
        self._nodes = {}

    def select(self, **selection):
        return select_vms(self.client, **selection)

    def send(self, row, action, params):
        send_action(self.client, row, action, params)

    def mark_stopped(self, row):
        mark_stopped(self.client, row, read_status_row(self.client, row))

    def node_key(self, node):
        """Return the key of a node given by key or name (one request per name, remembered)."""
        if isinstance(node, int) or (isinstance(node, str) and node.strip().isdigit()):
            return int(node)
        if node not in self._nodes:
            attempted = 'looking up node %r' % node
            rows = rows_of(self.client.get('nodes', {'filter': condition('name', 'eq', node), 'fields': '$key,name'},
                                           attempted=attempted), attempted)
            if len(rows) != 1:
                raise VergeOSError('preferred_node: %d nodes are named %r' % (len(rows), node), None, attempted)
            self._nodes[node] = rows[0]['$key']
        return self._nodes[node]


@dataclass
class _Track:
    """One VM's way through the engine."""

    row: dict
    previous: str
    actions: list = field(default_factory=list)
    failed_posts: dict = field(default_factory=dict)  # action -> the VergeOSError of its last failed POST
    sends: dict = field(default_factory=dict)  # action -> POSTs sent (failed ones included)
    escalated: bool = False
    deadline: float | None = None
    timeout: float | None = None  # this VM's own wait_timeout (None: the task's)
    mode: str = 'plan'  # 'plan', 'escalate' or 'mark' (what the next wave does with it)
    fresh: bool = True
    replan: bool = False
    done: bool = False
    changed: bool = False
    failed: bool = False
    timed_out: bool = False
    msg: str = ''
    elapsed: float = 0.0

    @property
    def key(self):
        return self.row['$key']


def _finish(track, now, start, msg, *, failed=False, timed_out=False):
    track.done, track.failed, track.timed_out, track.msg = True, failed, timed_out, msg
    track.elapsed = round(max(0.0, now - start), 3)


def _vm_entry(track, changed=None):
    entry = vm_result(track.row)
    entry.update(previous_power_state=track.previous, actions=list(track.actions), escalated=track.escalated,
                 elapsed=float(track.elapsed), changed=bool(track.actions) if changed is None else changed,
                 failed=track.failed, timed_out=track.timed_out, msg=track.msg)
    return entry


def _summary(entries, state, check_mode):
    failed = [entry for entry in entries if entry['failed']]
    late = [entry for entry in entries if entry['timed_out'] and not entry['failed']]
    changed = [entry for entry in entries if entry['changed']]
    if len(entries) == 1:
        return entries[0]['msg']
    words = '%d VM(s) %s %s: %d changed' % (len(entries), 'would be' if check_mode else 'wanted', state, len(changed))
    if failed:
        words += ', %d failed (%s)' % (len(failed), '; '.join('%s: %s' % (describe_vm(e), e['msg']) for e in failed[:5]))
    if late:
        words += ', %d missed the deadline (%s)' % (len(late), ', '.join(describe_vm(e) for e in late[:10]))
    return words


def _result(tracks, state, check_mode, single, after=None):
    entries = [_vm_entry(track, None if after is None else after[track.key][1]) for track in tracks]
    result = {
        'changed': any(entry['changed'] for entry in entries),
        'failed': any(entry['failed'] for entry in entries),
        'vms': entries,
        'timed_out': [entry['name'] for entry in entries if entry['timed_out']],
        'msg': _summary(entries, state, check_mode),
        'diff': {
            'before': {'vms': {str(track.row.get('name')): track.previous for track in tracks}},
            'after': {'vms': {str(entry['name']): (after[entry['id']][0] if after else entry['power_state']) for entry in entries}},
        },
    }
    return with_top_level(result, entries, single)


def _check_run(tracks, state, force, single):
    """Check mode: the plan of a real run from the same read; nothing is sent."""
    after = {}
    for track in tracks:
        plan = plan_power(track.row.get('status'), track.row.get('running'), state, force)
        if plan.decision == REFUSE:
            _finish(track, 0, 0, 'would fail: %s' % plan.reason, failed=True)
            after[track.key] = (track.previous, False)
            continue
        _finish(track, 0, 0, ('would %s: %s' % ('act' if plan.changed else 'wait', plan.reason)) if plan.decision != NOOP else plan.reason)
        predicted = track.previous if plan.decision == NOOP else _TARGET_POWER_STATE[state]
        after[track.key] = (predicted, plan.changed)
    return _result(tracks, state, True, single, after)


def _seconds(value):
    """Return a number of seconds (int, float or numeric string, 0 or more) as a float; None otherwise."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def per_vm_timeouts(rows, wait_timeouts):
    """Return {VM key: seconds} from ``wait_timeouts`` ({VM name or id: seconds}) for the selected rows.

    A key that is a whole number (or its string) names the VM with that id when one is
    selected, else the VM with that name. Raises VergeOSError, before anything is sent,
    for a value that is not a number of seconds (0 or more) and for a key that names
    none of the selected VMs (a typo there would put the wrong deadline on a VM).
    """
    if not wait_timeouts:
        return {}
    if not isinstance(wait_timeouts, dict):
        raise VergeOSError('wait_timeouts must be a dict of VM name or id to seconds, not %r' % (wait_timeouts,))
    by_id = {str(row['$key']): row['$key'] for row in rows}
    by_name = {}
    for row in rows:
        by_name.setdefault(str(row.get('name')), []).append(row['$key'])
    found, unknown = {}, []
    for name, seconds in wait_timeouts.items():
        value = _seconds(seconds)
        if value is None:
            raise VergeOSError('wait_timeouts[%r] must be a number of seconds, 0 or more, not %r' % (name, seconds))
        text = str(name)
        keys = [by_id[text.strip()]] if text.strip() in by_id else by_name.get(text, [])
        if not keys:
            unknown.append(text)
        for key in keys:
            found[key] = value
    if unknown:
        raise VergeOSError('wait_timeouts names VMs that are not selected: %s' % ', '.join(sorted(unknown)))
    return found


def power_vms(client, state, *, selection=None, force=False, on_timeout='fail', wait=True, wait_timeout=DEFAULT_WAIT_TIMEOUT,
              wait_timeouts=None, poll_interval=DEFAULT_POLL_INTERVAL, max_targets=DEFAULT_MAX_TARGETS,
              max_concurrent_actions=DEFAULT_MAX_CONCURRENT_ACTIONS, unsafe_mark_stopped=False, preferred_node=None,
              wait_for_agent=False, check_mode=False, clock=time.monotonic, sleep=time.sleep, ops=None):
    """Bring the selected VMs to ``state`` ('running', 'stopped', 'restarted'); return the module result dict.

    ``selection``: keyword arguments of ``vms.select_vms`` (``argspec.selection_from_params``);
    ``max_targets`` applies to filter selections only. ``wait_timeouts`` ({VM name or id:
    seconds}) overrides ``wait_timeout`` per VM (see ``per_vm_timeouts``). Raises VergeOSError when the
    selection fails (no VM was touched then); a VM that fails later is reported in
    ``vms`` with ``failed`` true and makes the result's ``failed`` true.
    """
    if on_timeout not in ON_TIMEOUT:
        raise VergeOSError('on_timeout must be one of %s, not %r' % (', '.join(ON_TIMEOUT), on_timeout))
    if max_concurrent_actions is None or max_concurrent_actions < 1:
        raise VergeOSError('max_concurrent_actions must be 1 or more')
    if wait_for_agent and state != 'running':
        raise VergeOSError('wait_for_agent applies to state=running only, not %s' % state)
    plan_power('stopped', False, state)  # validates the wanted state before any request
    ops = ops or ClientOps(client)
    selection = dict(selection or {})
    single = is_single(selection)
    rows = ops.select(max_targets=max_targets, **selection)
    timeouts = per_vm_timeouts(rows, wait_timeouts)
    tracks = [_Track(row=row, previous=power_state_of(row.get('status')), timeout=timeouts.get(row['$key'])) for row in rows]
    if check_mode:
        return _check_run(tracks, state, force, single)
    engine = _Engine(ops, state, force=force, on_timeout=on_timeout, wait=wait, wait_timeout=wait_timeout, poll_interval=poll_interval,
                     max_concurrent=max_concurrent_actions, unsafe_mark_stopped=unsafe_mark_stopped, preferred_node=preferred_node,
                     wait_for_agent=wait_for_agent, clock=clock, sleep=sleep)
    engine.run(tracks)
    return _result(tracks, state, False, single)


def _resend_refusal(track, action, escalating):
    """Return why ``action`` must not be sent to this VM now, or '' when it may be."""
    error = track.failed_posts.get(action)
    if error is None:
        if action in track.actions and not escalating:
            return '%s was sent already and is wanted again (status %s); it is not sent twice' % (action, track.row.get('status'))
        return ''
    if action not in REPEATABLE_ACTIONS or not is_transient(error.status):
        return '%s was not confirmed and is not re-sent: %s' % (action, error)
    if track.sends.get(action, 0) >= MAX_SENDS:
        return '%s failed %d times: %s' % (action, track.sends[action], error)
    return ''


class _Engine:
    """The waves of a real run (state kept here so the steps stay small)."""

    def __init__(self, ops, state, *, force, on_timeout, wait, wait_timeout, poll_interval, max_concurrent, unsafe_mark_stopped,
                 preferred_node, wait_for_agent, clock, sleep):
        self.ops, self.state, self.force, self.on_timeout, self.wait = ops, state, bool(force), on_timeout, wait
        self.wait_timeout, self.poll_interval, self.max_concurrent = float(wait_timeout), float(poll_interval), max_concurrent
        self.unsafe_mark_stopped, self.preferred_node, self.wait_for_agent = unsafe_mark_stopped, preferred_node, wait_for_agent
        self.clock, self.sleep = clock, sleep
        self.start = clock()

    def run(self, tracks):
        queue = list(tracks)
        while queue:
            self._refresh([track for track in queue if not track.fresh])
            queue = [track for track in queue if not track.done]
            waiting, later = {}, []
            sent = 0
            for track in queue:
                target, counts = self._step(track, sent < self.max_concurrent)
                sent += counts
                if target is not None:
                    agent = target == 'running' and not track.replan and self._agent_wanted(track)
                    waiting[track.key] = WaitTarget(target, track.deadline, agent=agent)
                elif not track.done:
                    later.append(track)
            queue = later + self._wait(tracks, waiting)

    def _refresh(self, stale):
        """Read the VMs whose row is not fresh: ONE read for all of them."""
        if not stale:
            return
        try:
            rows = self.ops.read(sorted(track.key for track in stale))
        except VergeOSError as exc:
            for track in stale:
                _finish(track, self.clock(), self.start, 'could not read the VM again: %s' % exc, failed=True)
            return
        for track in stale:
            row = rows.get(track.key)
            if row is None:
                _finish(track, self.clock(), self.start, 'the VM no longer exists', failed=True)
            else:
                track.row, track.fresh = row, True

    def _step(self, track, may_send):  # noqa: PLR0911 (one return per plan decision)
        """Decide for one VM of a wave; return (what to wait for or None, number of actions sent)."""
        if track.mode == 'mark':
            return self._mark(track), 0
        escalating = track.mode == 'escalate'
        plan = plan_power(track.row.get('status'), track.row.get('running'), self.state, self.force or escalating)
        escalation_left = plan.action not in track.actions or plan.action in track.failed_posts
        if escalating and not (plan.decision == ACT and plan.action in ESCALATIONS and escalation_left):
            self._timed_out(track, 'not %s by the deadline and no escalation applies (status %s)' % (self.state, track.row.get('status')))
            return None, 0
        if plan.decision == REFUSE:
            _finish(track, self.clock(), self.start, plan.reason, failed=True)
            return None, 0
        if plan.decision == NOOP:
            if self.wait and self._agent_wanted(track) and not track.row.get('agent_version'):
                self._start_clock(track)  # on already, but its agent has not answered yet: only waited for
                track.replan = False
                return 'running', 0
            _finish(track, self.clock(), self.start, ('%s after %s' % (self.state, ', '.join(track.actions))) if track.actions else plan.reason)
            return None, 0
        if plan.decision == WAIT:
            if not self.wait:
                _finish(track, self.clock(), self.start, '%s; not waiting' % plan.reason)
                return None, 0
            self._start_clock(track)
            track.replan = False
            return plan.target, 0
        if plan.decision == WAIT_THEN_ACT:
            self._start_clock(track)
            track.replan = True
            return 'settled', 0
        if not may_send:
            track.fresh = False  # planned again from a fresh read in the next wave
            return None, 0
        return self._act(track, plan, escalating)

    def _timeout_of(self, track):
        return self.wait_timeout if track.timeout is None else track.timeout

    def _agent_wanted(self, track):
        """Whether to wait for this VM's guest agent too (only VMs with the agent enabled can answer)."""
        return self.wait_for_agent and bool(track.row.get('guest_agent'))

    def _start_clock(self, track):
        if track.deadline is None:
            track.deadline = self.clock() + self._timeout_of(track)

    def _act(self, track, plan, escalating):
        refusal = _resend_refusal(track, plan.action, escalating)
        if refusal:
            _finish(track, self.clock(), self.start, refusal, failed=True)
            return None, 0
        params = dict(plan.params)
        if plan.action == 'poweron' and self.preferred_node is not None:
            try:
                params['preferred_node'] = self.ops.node_key(self.preferred_node)
            except VergeOSError as exc:
                _finish(track, self.clock(), self.start, str(exc), failed=True)
                return None, 0
        track.sends[plan.action] = track.sends.get(plan.action, 0) + 1
        try:
            self.ops.send(track.row, plan.action, params or None)
        except VergeOSError as exc:
            # Maybe VergeOS acted anyway: read again and plan (_resend_refusal says whether it may go out again).
            track.failed_posts[plan.action] = exc
            track.fresh = False
            if is_transient(exc.status) and plan.action not in track.actions:
                # No definite answer: it may have been carried out, so it counts as sent (and the VM as changed,
                # as Ansible's convention wants for "may have changed"). A 4xx says it was not.
                track.actions.append(plan.action)
            return None, 1
        if plan.action not in track.actions:
            track.actions.append(plan.action)
        track.failed_posts.pop(plan.action, None)
        if escalating:
            track.escalated = True
            track.deadline = None
        track.mode = 'plan'
        self._start_clock(track)
        if plan.final and not self.wait:
            _finish(track, self.clock(), self.start, '%s sent; not waiting (%s)' % (plan.action, plan.reason))
            return None, 1
        track.replan = not plan.final
        return plan.target, 1

    def _mark(self, track):
        try:
            self.ops.mark_stopped(track.row)
        except VergeOSError as exc:
            _finish(track, self.clock(), self.start, 'still not stopped after kill; unsafe_mark_stopped could not mark it: %s' % exc, failed=True)
            return None
        track.actions.append(MARK_STOPPED_ACTION)
        track.mode, track.replan = 'plan', False
        track.deadline = self.clock() + self._timeout_of(track)
        return 'stopped'

    def _wait(self, tracks, waiting):
        """Wait for one wave; return the VMs for the next wave."""
        if not waiting:
            return []
        started = self.clock()
        outcomes = wait_for(self.ops.read, waiting, clock=self.clock, sleep=self.sleep, interval=self.poll_interval)
        by_key = {track.key: track for track in tracks}
        again = []
        for key, outcome in sorted(outcomes.items()):
            track = by_key[key]
            # When this VM's wait ended (reached, deadline...), not when the slowest of the wave did.
            at = started + outcome.elapsed
            if outcome.row is not None:
                track.row = outcome.row
            if outcome.outcome == REACHED:
                if track.replan:
                    track.fresh, track.replan = True, False
                    again.append(track)
                else:
                    _finish(track, at, self.start, '%s (%s)' % (self.state, ', '.join(track.actions) or 'no action needed'))
            elif outcome.outcome == TIMEOUT:
                if self._after_timeout(track, outcome.reason, at):
                    again.append(track)
            elif outcome.outcome == MOVED_AWAY:
                _finish(track, at, self.start, 'after %s: %s' % (', '.join(track.actions) or 'waiting', outcome.reason), failed=True)
            else:
                _finish(track, at, self.start, outcome.reason, failed=True)
        return again

    def _after_timeout(self, track, reason, at):
        """Return whether the VM goes on (escalation or the last resort) after missing its deadline."""
        if self.unsafe_mark_stopped and self.state == 'stopped' and 'kill' in track.actions and MARK_STOPPED_ACTION not in track.actions:
            track.mode, track.fresh = 'mark', True
            return True
        if self.on_timeout == 'force' and not track.escalated:
            track.mode, track.fresh = 'escalate', True
            return True
        self._timed_out(track, reason, at)
        return False

    def _timed_out(self, track, reason, at=None):
        at = self.clock() if at is None else at
        if self.on_timeout == 'report':
            _finish(track, at, self.start, 'missed the deadline (reported, not failed): %s' % reason, timed_out=True)
        else:
            _finish(track, at, self.start, reason, failed=True, timed_out=True)
