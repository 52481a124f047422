# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The power engine: select VMs, then read, decide and send in rounds until every VM is where it was asked.

``power_vms()`` takes a client and a ``policy.PowerOptions`` and returns the result dict
of ``vergeos_vm_power`` (a module or an action plugin can call it). Everything it does
over HTTP goes through an ``ops`` object (``ClientOps`` by default), so the unit tests
drive it with a fake world, a fake clock and a fake sleep.

Every decision is ``policy.decide`` (pure); the engine only reads, sends and waits:

- one read per round for every VM still in play (``vms.vm_reader``: one request per
  chunk of keys), never a read of its own for one VM;
- every VM decided from that fresh row, and its action sent (each POST through the
  client's pacer, which slows down when VergeOS throttles);
- ``max_concurrent_actions`` as a sliding window: a VM holds a slot from its action
  until it settles (or VergeOS queues it, ``waitingforresources``), and the next VM
  takes the slot in the same round; by default the window (20) limits power-ons and
  restarts only;
- a sleep until the next round: the poll interval, sooner when a resend's backoff or
  a deadline falls earlier, or, while VMs wait for a slot of the window, when a slot is
  expected to free (the guests' observed boot times, ``policy.next_event``).

A failed read costs a round, not the VMs it covered (``policy.after_failed_read``).
"""

from __future__ import annotations

import concurrent.futures
import random
import time

from ansible_collections.vergeos.power.plugins.module_utils.actions import mark_stopped, read_status_row, send_action
from ansible_collections.vergeos.power.plugins.module_utils.capacity import describe_misfits, fit, read_capacity
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.plan import NOOP, REFUSE, plan_power, reached
from ansible_collections.vergeos.power.plugins.module_utils.policy import (
    DEFAULT_MAX_TARGETS, MARK_STOPPED, SEND_ACTION, TAKE_SNAPSHOT, after_failed_read, after_mark, after_send, after_snapshot, decide,
    finish, is_queued, new_record, next_event, seconds,
)
from ansible_collections.vergeos.power.plugins.module_utils.power_state import power_state_of
from ansible_collections.vergeos.power.plugins.module_utils.query import condition, rows_of
from ansible_collections.vergeos.power.plugins.module_utils.results import describe_vm, vm_result, with_top_level
from ansible_collections.vergeos.power.plugins.module_utils.snapshots import Persistence, expiry_time, snapshot_result, take_snapshot_safely
from ansible_collections.vergeos.power.plugins.module_utils.vms import is_single, select_vms, vm_reader

# Snapshots before kills taken at once (each one's own retries and read-backs run in its thread).
SNAPSHOT_WORKERS = 16
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

    def snapshot(self, row, spec):
        """Take the snapshot before a kill (read back and sent again through faults, see snapshots.py); return its result dict."""
        taken, _note = take_snapshot_safely(
            self.client, row, spec['name'], Persistence(retry_timeout=spec.get('retry_timeout', 60)),
            expires=expiry_time(int(spec.get('expires', 0)), time.time()), description=spec.get('description') or '')
        return snapshot_result(taken)

    def send_width(self):
        """How many actions may be in flight at once: the client's pacer says (fewer when VergeOS throttles)."""
        return self.client.pacer.concurrency

    def mark_stopped(self, row):
        mark_stopped(self.client, row, read_status_row(self.client, row))

    def capacity(self):
        """Return the nodes with their RAM, cores and what the running VMs use (two reads; see capacity.py)."""
        return read_capacity(self.client)

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


def _vm_entry(record, row, changed=None):
    entry = vm_result(row)
    entry.update(previous_power_state=record.previous, actions=list(record.actions), escalated=record.escalated,
                 elapsed=float(record.elapsed), changed=bool(record.actions or record.snapshot) if changed is None else changed,
                 failed=record.failed, timed_out=record.timed_out, msg=record.msg, snapshot=record.snapshot)
    return entry


# A task's message names at most this many failed VMs, one a line (every VM is in ``vms`` anyway).
MSG_FAILED_LINES = 50


def _summary(entries, state, check_mode):
    """Return the task's message: one line of counts, then each failed VM on a line of its own."""
    failed = [entry for entry in entries if entry['failed']]
    late = [entry for entry in entries if entry['timed_out'] and not entry['failed']]
    changed = [entry for entry in entries if entry['changed']]
    if len(entries) == 1:
        return entries[0]['msg']
    words = '%d VM(s) %s %s: %d changed' % (len(entries), 'would be' if check_mode else 'wanted', state, len(changed))
    if failed:
        words += ', %d failed' % len(failed)
    if late:
        words += ', %d missed the deadline (%s)' % (len(late), ', '.join(describe_vm(e) for e in late[:10]))
    lines = [words] + ['%s: %s' % (describe_vm(entry), entry['msg']) for entry in failed[:MSG_FAILED_LINES]]
    if len(failed) > MSG_FAILED_LINES:
        lines.append('... and %d more failed VM(s): see vms' % (len(failed) - MSG_FAILED_LINES))
    return '\n'.join(lines)


def _result(records, rows, first_rows, options, *, single, after=None):
    """Return the module result; ``after`` ({key: (predicted power state, changed)}) only in check mode."""
    check_mode = after is not None
    entries = [_vm_entry(record, rows[record.key], after[record.key][1] if check_mode else None) for record in records]
    result = {
        'changed': any(entry['changed'] for entry in entries),
        'failed': any(entry['failed'] for entry in entries),
        'vms': entries,
        'timed_out': [entry['name'] for entry in entries if entry['timed_out']],
        'msg': _summary(entries, options.state, check_mode),
        'diff': {
            'before': {'vms': {str(first_rows[record.key].get('name')): record.previous for record in records}},
            'after': {'vms': {str(entry['name']): (after[entry['id']][0] if check_mode else entry['power_state']) for entry in entries}},
        },
    }
    return with_top_level(result, entries, single)


def _check_run(records, rows, options, single):
    """Check mode: the plan of a real run from the same read; nothing is sent."""
    after, finished = {}, []
    for record in records:
        row = rows[record.key]
        plan = plan_power(row.get('status'), row.get('running'), options.state, options.force, options.restart_method)
        if plan.decision == REFUSE:
            finished.append(finish(record, record.started, 'would fail: %s' % plan.reason, failed=True))
            after[record.key] = (record.previous, False)
            continue
        msg = ('would %s: %s' % ('act' if plan.changed else 'wait', plan.reason)) if plan.decision != NOOP else plan.reason
        finished.append(finish(record, record.started, msg))
        after[record.key] = (record.previous if plan.decision == NOOP else _TARGET_POWER_STATE[options.state], plan.changed)
    return _result(finished, rows, rows, options, single=single, after=after)


def per_vm_timeouts(rows, wait_timeouts, *, key='$key', unknown='refuse'):
    """Return {VM key: seconds} from ``wait_timeouts`` ({VM name or id: seconds}) for the selected rows.

    The collection's one rule for a VM's own deadline: vergeos_vm_power's ``wait_timeouts``, and
    safe_shutdown's ``safe_shutdown_timeouts`` (its plan, ``shutdown_plan.shutdown_stages``). A key that is a
    whole number (or its string) names the VM with that id when one is selected, else the VM(s)
    with that name, matched exactly; a value is a number of seconds, 0 or more (``policy.seconds``;
    a whole number stays an int). ``key``: the field that holds a row's id (``'$key'`` for rows
    read from VergeOS, ``'id'`` for the VMs a module returns). Raises VergeOSError, before
    anything is sent, for a value that is not a number of seconds and, with ``unknown='refuse'``,
    for a key that names none of the rows (a typo there would put the wrong deadline on a VM);
    ``unknown='ignore'`` leaves such a key out (one dict for the VMs of many runs).
    """
    if not wait_timeouts:
        return {}
    if not isinstance(wait_timeouts, dict):
        raise VergeOSError('wait_timeouts must be a dict of VM name or id to seconds, not %r' % (wait_timeouts,))
    by_id = {str(row[key]): row[key] for row in rows}
    by_name = {}
    for row in rows:
        by_name.setdefault(str(row.get('name')), []).append(row[key])
    found, unknown_keys = {}, []
    for name, given in wait_timeouts.items():
        value = seconds(given, 'wait_timeouts[%r]' % (name,))
        text = str(name)
        keys = [by_id[text.strip()]] if text.strip() in by_id else by_name.get(text, [])
        if not keys:
            unknown_keys.append(text)
        for vm_key in keys:
            found[vm_key] = int(value) if value.is_integer() else value
    if unknown_keys and unknown == 'refuse':
        raise VergeOSError('wait_timeouts names VMs that are not selected: %s' % ', '.join(sorted(unknown_keys)))
    return found


def power_vms(client, options, *, selection=None, max_targets=DEFAULT_MAX_TARGETS, wait_timeouts=None, check_mode=False,
              clock=time.monotonic, sleep=time.sleep, rand=random.random, ops=None, progress=None, keeper=None):
    """Bring the selected VMs to ``options.state``; return the module result dict.

    ``options``: a ``policy.PowerOptions`` (validated when built). ``selection``: keyword
    arguments of ``vms.select_vms`` (``argspec.selection_from_params``); ``max_targets``
    applies to filter selections only. ``wait_timeouts`` ({VM name or id: seconds})
    overrides ``options.wait_timeout`` per VM (see ``per_vm_timeouts``). ``progress``, when
    given, is called once per round with ``progress_report()``'s dict. ``keeper`` (a
    ``lease.Keeper``), when given, keeps the maintenance record's lease alive once per round
    and is asked before each round of actions. Raises VergeOSError
    when the selection fails (no VM was touched then); a VM that fails later is reported
    in ``vms`` with ``failed`` true and makes the result's ``failed`` true.
    """
    ops = ops or ClientOps(client)
    selection = dict(selection or {})
    single = is_single(selection)
    rows = ops.select(max_targets=max_targets, **selection)
    timeouts = per_vm_timeouts(rows, wait_timeouts)
    now = clock()
    records = [new_record(row, timeouts.get(row['$key'], options.wait_timeout), now, power_state_of(row.get('status'))) for row in rows]
    first = {row['$key']: row for row in rows}
    preflight = _preflight(ops, rows, options)
    if preflight.get('refused'):
        result = _refused(records, first, options, preflight, single=single, check_mode=check_mode)
    elif check_mode:
        result = _check_run(records, first, options, single)
    else:
        engine = _Engine(ops, options, clock=clock, sleep=sleep, rand=rand, progress=progress)
        engine.keeper = keeper
        records = engine.run(records, dict(first))
        result = _result(records, engine.latest, first, options, single=single)
    warnings = options.warnings()
    if preflight.get('misfits') and not preflight.get('refused'):
        warnings.append(describe_misfits(preflight))
    if preflight.get('skipped') and not preflight.get('refused'):
        warnings.append(preflight['reason'])
    if warnings:
        result['warnings'] = warnings
    result['preflight'] = preflight
    return result


def _starts(rows, options):
    """Return the rows of the VMs this task would power on."""
    if options.state == 'stopped':
        return []
    return [row for row in rows
            if plan_power(row.get('status'), row.get('running'), options.state, options.force, options.restart_method).action == 'poweron']


def _preflight(ops, rows, options):
    """Return the pre-flight result for the VMs this task powers on ({'checked': False, 'reason'} when there is nothing to check)."""
    if options.preflight == 'off':
        return {'checked': False, 'reason': 'preflight is off'}
    starts = _starts(rows, options)
    if not starts:
        return {'checked': False, 'reason': 'no VM to power on'}
    try:
        nodes = ops.capacity()
    except VergeOSError as exc:
        # Advisory: a user who may not read the nodes (403), or a read that fails, costs the check, not the start.
        what = (exc.attempted or 'reading the nodes').replace('reading ', '', 1)
        detail = exc.message if exc.status is None else 'HTTP %s: %s' % (exc.status, exc.message)
        return _unchecked(options, 'could not read %s (%s)' % (what, detail))
    if not any(node['ram'] for node in nodes):
        return _unchecked(options, 'the nodes show no RAM to check against')
    preferred = options.preferred_node
    if isinstance(preferred, str) and preferred.strip().isdigit():
        preferred = int(preferred)
    vms = [{'id': row['$key'], 'name': row.get('name'), 'ram': row.get('ram'), 'cores': row.get('cpu_cores'),
            'cluster': row.get('cluster_name')} for row in starts]
    result = fit(nodes, vms, ram_reserve=options.preflight_ram_reserve, core_ratio=options.preflight_core_ratio, preferred_node=preferred)
    result['refused'] = bool(result['misfits']) and options.preflight == 'refuse'
    return result


def _unchecked(options, why):
    """Return the pre-flight result of a check that could not be made: a warning with preflight=warn, a refusal with refuse."""
    if options.preflight == 'refuse':
        return {'checked': False, 'skipped': True, 'refused': True, 'misfits': [], 'reason': 'pre-flight refused: %s' % why}
    return {'checked': False, 'skipped': True, 'reason': 'pre-flight skipped: %s; the VMs are started unchecked' % why}


def _refused(records, rows, options, preflight, *, single, check_mode):
    """The pre-flight refused the task: every VM fails before anything is sent, the misfits (or the unread nodes) saying why."""
    why = {vm['id']: vm for vm in preflight['misfits']}
    finished = []
    for record in records:
        misfit = why.get(record.key)
        if misfit:
            msg = 'pre-flight refused (preflight=refuse): %s; short by %d MB' % (misfit['why'], misfit['short_by_mb'])
        elif preflight.get('skipped'):
            msg = '%s; nothing was sent (preflight=refuse)' % preflight['reason']
        else:
            msg = 'not sent: the pre-flight refused the task (%d VM(s) do not fit; preflight=refuse)' % len(why)
        finished.append(finish(record, record.started, msg, failed=True))
    after = {record.key: (record.previous, False) for record in records} if check_mode else None
    return _result(finished, rows, rows, options, single=single, after=after)


def progress_report(records, rows, now, throttled=0):
    """Return what a progress line says about a task still waiting: counts per power state, VMs waited for, time left."""
    active = [record for record in records if not record.done]
    states = {}
    for record in active:
        state = power_state_of(rows[record.key].get('status'))
        states[state] = states.get(state, 0) + 1
    deadlines = [record.deadline for record in active if record.deadline is not None]
    return {
        'waiting': len(active),
        'done': len(records) - len(active),
        'failed': sum(1 for record in records if record.failed),
        'states': dict(sorted(states.items())),
        'nearest_deadline': round(max(0.0, min(deadlines) - now), 1) if deadlines else None,
        'retries': sum(record.retries for record in records),
        'throttled': throttled,
    }


class _Engine:
    """Rounds of read, decide, send and sleep (the state of one run; every decision is policy.decide)."""

    def __init__(self, ops, options, *, clock, sleep, rand, progress):
        self.ops, self.options = ops, options
        self.clock, self.sleep, self.rand, self.progress = clock, sleep, rand, progress
        self.latest = {}
        # With wait: false a VM is done once its action is acknowledged, but keeps its slot of the
        # window until it is seen at its target: {key: (target, until)}.
        self.holding = {}
        # Snapshots before kills run beside the rounds ({key: future}), so one VM's snapshot never holds the others' deadlines.
        self.snapshots = {}
        self._pool = None
        # A maintenance record's lease (lease.Keeper): beaten from this loop, read before each round of actions.
        self.keeper = None

    def run(self, records, rows):
        try:
            return self._rounds(records, rows)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)

    def _rounds(self, records, rows):
        self.latest = rows
        order = [record.key for record in records]
        records = {record.key: record for record in records}
        fresh = dict(rows)
        while True:
            self._collect_snapshots(records)
            now = self.clock()
            sends, marks = [], []
            for key in sorted(records):
                records[key], step = decide(records[key], fresh.get(key), now, self.options)
                if step == SEND_ACTION:
                    sends.append(key)
                elif step == MARK_STOPPED:
                    marks.append(key)
                elif step == TAKE_SNAPSHOT:
                    self._start_snapshot(key)
            self._release(fresh, now)
            if not self._lease_kept(records, bool(sends or marks)):
                sends, marks = [], []
            self._send(records, sends)
            for key in marks:
                records[key] = self._mark(records[key])
            active = sorted(key for key, record in records.items() if not record.done)
            if not active:
                # The slots held by VMs finished without waiting matter only to VMs still waiting for one.
                return [records[key] for key in order]
            if self.progress is not None:
                self.progress(progress_report(list(records.values()), self.latest, self.clock(), self._throttled()))
            # Every record: the finished ones' times tell when a slot of the window is expected to free.
            wake = next_event(list(records.values()), now, self.options)
            pause = wake - self.clock()
            if pause > 0:
                self.sleep(pause)
            fresh = self._read(records, sorted(set(active) | set(self.holding)))

    def _lease_kept(self, records, sending):
        """Keep the lease (if any); False while it cannot be confirmed (no action this round); another holder ends the run."""
        if self.keeper is None:
            return True
        try:
            return self.keeper.keep(sending)
        except VergeOSError as exc:
            now = self.clock()
            for key, record in records.items():
                if not record.done:
                    records[key] = finish(record, now, str(exc), failed=True)
            return False

    def _throttled(self):
        pacer = getattr(getattr(self.ops, 'client', None), 'pacer', None)
        return pacer.throttle_signals if pacer is not None else 0

    def _read(self, records, keys):
        """ONE read (a request per chunk of keys) for every VM still in play; a failure costs the round."""
        try:
            fresh = self.ops.read(keys)
        except VergeOSError as exc:
            now = self.clock()
            for key in keys:
                if key in records:
                    records[key] = after_failed_read(records[key], now, exc, self.options)
            return {}
        now = self.clock()
        for key in keys:
            if key in fresh:
                self.latest[key] = fresh[key]
            elif key in records and not records[key].done:
                records[key] = finish(records[key], now, 'the VM no longer exists', failed=True)
        return fresh

    def _slots_taken(self, records):
        """Return the VMs holding a slot of the window now (VergeOS's own queue holds none)."""
        taken = sum(1 for record in records.values() if record.holds_slot(self.latest.get(record.key), self.options))
        return taken + sum(1 for key in self.holding if not is_queued(self.latest.get(key)))

    def _send(self, records, keys):
        """Send the due actions: queued VMs wait for a slot of the window; the others go out, several in flight at once."""
        taken = self._slots_taken(records)
        going = []
        for key in keys:
            record = records[key]
            window = self.options.window_for(record.action)
            if window is not None and record.sends == 0 and taken >= window:
                continue  # queued: decided again from the next round's read, when a slot may be free
            if record.sends == 0 and window is not None:
                taken += 1
            going.append(record)
        node = self._preferred_node(records, going)
        while going:
            width = max(1, self.ops.send_width())
            batch, going = going[:width], going[width:]
            if width == 1 or len(batch) == 1:
                sent = [self._send_one(record, node) for record in batch]
            else:
                with concurrent.futures.ThreadPoolExecutor(max_workers=len(batch), thread_name_prefix='vergeos-send') as pool:
                    sent = list(pool.map(lambda record: self._send_one(record, node), batch))
            for record in sent:
                records[record.key] = record
                if record.done and record.actions and self.options.window_for(record.action) is not None and not record.failed:
                    self.holding[record.key] = (record.target, self.clock() + record.timeout)

    def _preferred_node(self, records, going):
        """Return the node key for power-ons (None without preferred_node); a node that does not resolve fails those VMs."""
        if self.options.preferred_node is None or not any(record.action == 'poweron' for record in going):
            return None
        try:
            return self.ops.node_key(self.options.preferred_node)
        except VergeOSError as exc:
            for record in [record for record in going if record.action == 'poweron']:
                records[record.key] = finish(record, self.clock(), str(exc), failed=True)
                going.remove(record)
            return None

    def _send_one(self, record, node):
        params = dict(record.params)
        if record.action == 'poweron' and node is not None:
            params['preferred_node'] = node
        error = None
        try:
            self.ops.send(self.latest[record.key], record.action, params or None)
        except VergeOSError as exc:
            error = exc
        return after_send(record, self.clock(), error, self.options, self.rand)

    def _mark(self, record):
        error = None
        try:
            self.ops.mark_stopped(self.latest[record.key])
        except VergeOSError as exc:
            error = exc
        return after_mark(record, self.clock(), error, self.options)

    def _start_snapshot(self, key):
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=SNAPSHOT_WORKERS, thread_name_prefix='vergeos-snapshot')
        self.snapshots[key] = self._pool.submit(self.ops.snapshot, self.latest[key], self.options.snapshot_before_kill)

    def _collect_snapshots(self, records):
        """Hand the snapshots that are done to the policy (the kill is then decided from the next fresh read)."""
        for key, future in list(self.snapshots.items()):
            if not future.done():
                continue
            del self.snapshots[key]
            try:
                taken, error = future.result(), None
            except VergeOSError as exc:
                taken, error = None, exc
            records[key] = after_snapshot(records[key], self.clock(), taken, error)

    def _release(self, fresh, now):
        """Free the slots of VMs finished without waiting once they are seen at their target (or their time is up)."""
        for key, (target, until) in list(self.holding.items()):
            row = fresh.get(key)
            if now >= until or (row is not None and reached(row.get('status'), row.get('running'), target)):
                del self.holding[key]
