# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Wait for many VMs at once: one read per round for the whole set, nothing re-sent. Pure loop.

The clock, the sleep and the reader are passed in, so tests run it without time
passing or HTTP; modules pass ``vms.vm_reader(client)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.plan import moved_away, phase_of, reached

REACHED = 'reached'
MOVED_AWAY = 'moved_away'
TIMEOUT = 'timeout'
MISSING = 'missing'
ERROR = 'error'
DEFAULT_INTERVAL = 2.0


@dataclass(frozen=True)
class WaitTarget:
    """What one VM is waited for: ``target`` ('running', 'stopped', 'restarted', 'settled') by ``deadline`` (clock time).

    ``agent``: with target 'running', also until the guest agent answers (``agent_version`` not empty).
    """

    target: str
    deadline: float
    agent: bool = False


@dataclass(frozen=True)
class WaitOutcome:
    """How the wait for one VM ended; ``row`` is the last VM row seen (None if never read), ``elapsed`` in seconds."""

    outcome: str
    row: dict | None
    elapsed: float
    reason: str

    @property
    def ok(self):
        return self.outcome == REACHED


def _status_words(row):
    return 'status %s, running %s' % (row.get('status'), row.get('running'))


def _agent_missing(row, wanted):
    return wanted.agent and not row.get('agent_version')


def _late_words(row, wanted):
    if reached(row.get('status'), row.get('running'), wanted.target) and _agent_missing(row, wanted):
        return '%s, but the guest agent did not answer by the deadline' % wanted.target
    return 'not %s by the deadline; last seen: %s' % (wanted.target, _status_words(row))


def _judge(row, wanted, seen):
    """Return (outcome, reason) for one VM row, or None while it is still on its way."""
    status, running = row.get('status'), row.get('running')
    if reached(status, running, wanted.target) and not _agent_missing(row, wanted):
        return REACHED, '%s (%s)' % (wanted.target, _status_words(row))
    if moved_away(status, running, wanted.target, seen):
        return MOVED_AWAY, 'moved away from %s (%s): another actor or a failed %s; not fighting it' % (
            wanted.target, _status_words(row), 'start' if wanted.target == 'running' else 'stop')
    return None


def wait_for(reader, targets, *, clock=time.monotonic, sleep=time.sleep, interval=DEFAULT_INTERVAL, initial_delay=None):
    """Poll until every VM in ``targets`` ({key: WaitTarget}) reached its target, moved away, or its deadline passed.

    ``reader(keys)`` returns {key: VM row} for the keys still pending in ONE read
    (``vms.vm_reader``); a key it does not return is MISSING (deleted meanwhile).
    A VergeOSError from the reader (after the client's own retries) ends every pending
    VM with ERROR. The first read happens after ``initial_delay`` (default ``interval``):
    an action just sent has not shown yet. Returns {key: WaitOutcome}.
    """
    start = clock()
    pending = dict(targets)
    seen = {key: set() for key in pending}
    last = {}
    outcomes = {}
    delay = interval if initial_delay is None else initial_delay
    while pending:
        if delay > 0:
            sleep(delay)
        try:
            rows = reader(sorted(pending))
        except VergeOSError as exc:
            now = clock()
            for key in pending:
                outcomes[key] = WaitOutcome(ERROR, last.get(key), now - start, 'could not read the VM: %s' % exc)
            break
        now = clock()
        for key, wanted in sorted(pending.items()):
            row = rows.get(key)
            if row is None:
                outcomes[key] = WaitOutcome(MISSING, last.get(key), now - start, 'the VM no longer exists')
                continue
            last[key] = row
            judged = _judge(row, wanted, seen[key])
            seen[key].add(phase_of(row.get('status'), row.get('running')))
            if judged is None and now >= wanted.deadline:
                judged = TIMEOUT, _late_words(row, wanted)
            if judged is not None:
                outcomes[key] = WaitOutcome(judged[0], row, now - start, judged[1])
        pending = {key: wanted for key, wanted in pending.items() if key not in outcomes}
        if pending:
            nearest = min(wanted.deadline for wanted in pending.values())
            # Read once more right at the nearest deadline rather than sleeping past it.
            delay = max(0.0, min(interval, nearest - now))
    return outcomes
