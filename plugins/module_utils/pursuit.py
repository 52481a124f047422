# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Writes that are not safe to send twice, pursued through a throttled or lossy API.

A write that gets a definite refusal (a 4xx, or 501, 505, 507) is never sent again.
One without a definite answer (no answer, a dropped connection, 429, another 5xx)
may have been carried out: BEFORE anything is sent again, the object is read back
for up to ``visible_grace`` seconds; if the write shows, it is done and not sent
again. Otherwise it is sent again after the power engine's backoff
(``policy.resend_delay``, the server's Retry-After honoured) while ``retry_timeout``
seconds from the first send allow. Used by the snapshots and the maintenance record.

A definite refusal that may mean "already there" or "already gone" (404, 409, 422: VergeOS
refuses a name in use with 422 "This name is already in use", where others expect 409)
is never taken as done from its status code: the object is read back once, and the write
counts as done only when the read shows it. Which refusals are read back depends on who
else may write the object: ``shared`` objects (a maintenance record, which two jobs may
open at once) at every send; the others (a VM's snapshot) only after a send without a
definite answer, since only such a send can have done what the refusal finds. A refusal
that the read-back does not explain is raised in VergeOS's words.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.policy import resend_delay
from ansible_collections.vergeos.power.plugins.module_utils.retry import is_transient

# Refusals that may mean the write (ours, or another job's) is there already, or the object gone already.
MAYBE_DONE = (404, 409, 422)
# Seconds a write without a definite answer is sent again for, counted from its first send (0: sent once).
DEFAULT_RETRY_TIMEOUT = 60
# Seconds the read-back after such a write waits for a write that shows up late, and between its reads.
DEFAULT_VISIBLE_GRACE = 5.0
READ_BACK_INTERVAL = 1.0


@dataclass(frozen=True)
class Persistence:
    """How long a write is pursued through faults, and the clock, sleep and dice it uses (fakes in tests).

    ``retry_timeout``: seconds from the first send during which a write without a definite
    answer may be sent again (0: sent once). ``visible_grace``: seconds the read-back after
    such a write waits for it to show, one read every ``read_interval`` seconds.
    ``clock`` is a monotonic clock (deadlines), ``rand()`` in [0, 1) the backoff's jitter.
    """

    retry_timeout: float = DEFAULT_RETRY_TIMEOUT
    visible_grace: float = DEFAULT_VISIBLE_GRACE
    read_interval: float = READ_BACK_INTERVAL
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random

    def max_reads(self):
        """The most reads one read-back makes: the first, then one per interval of the grace."""
        if self.visible_grace <= 0:
            return 1
        return 1 + int(math.ceil(self.visible_grace / max(self.read_interval, 0.001)))


class Pursuit:
    """One object's writes through faults (a VM's snapshots, a maintenance record's tags): the deadline (from the first
    send) and the sends of the current write."""

    def __init__(self, persistence):
        self.persistence = persistence
        self.sends = 0
        self.deadline = None

    def _look(self, seen):
        """Read back until ``seen()`` returns something or the grace is spent; a failed read counts as not seen."""
        patience = self.persistence
        start = patience.clock()
        for read in range(patience.max_reads()):
            if read:
                left = start + patience.visible_grace - patience.clock()
                if left <= 0:
                    break
                patience.sleep(min(patience.read_interval, left))
            try:
                found = seen()
            except VergeOSError:
                found = None
            if found:
                return found
        return None

    def run(self, write, seen, what, *, shared=False):
        """Return (write()'s answer or seen()'s, note): ``write`` sent until acknowledged or seen done, within the deadline.

        A definite refusal is never sent again: it is raised at once, unless it may mean
        "already done" (``MAYBE_DONE``; at every send when ``shared``, else after an
        unanswered send) and one read-back shows the write done. Raises a VergeOSError that
        names the last error and the number of sends when the deadline leaves no other try.
        """
        patience = self.persistence
        unanswered = False
        self.sends = 0
        first = patience.clock()
        if self.deadline is None:
            self.deadline = first + max(0.0, float(patience.retry_timeout))
        while True:
            self.sends += 1
            try:
                answer = write()
            except VergeOSError as exc:
                if not is_transient(exc.status):
                    found = self._explained(exc, seen, shared or unanswered)
                    if found:
                        return found, 'VergeOS refused send %d (%s) and a read-back shows %s: counted as done' % (self.sends, exc, what)
                    raise self._refused(exc) from None
                error, answered, unanswered = exc, patience.clock(), True
            else:
                return answer, ('' if self.sends == 1 else 'acknowledged at send %d (the earlier sends got no definite answer and '
                                                           'the read-back did not show them)' % self.sends)
            found = self._look(seen)
            if found:
                which = '' if self.sends == 1 else ' (send %d)' % self.sends
                return found, 'the request%s got no definite answer (%s) but %s; it was not sent again' % (which, error, what)
            due = answered + resend_delay(self.sends, error.retry_after, patience.rand, error.paced)
            if patience.retry_timeout <= 0 or due > self.deadline:
                raise self._given_up(error, patience.clock() - first) from None
            patience.sleep(max(0.0, due - patience.clock()))

    @staticmethod
    def _explained(error, seen, may_be_done):
        """Return what one read-back finds when a refusal may mean "already done" (None otherwise, or when the read fails)."""
        if not may_be_done or error.status not in MAYBE_DONE:
            return None
        try:
            return seen()
        except VergeOSError:
            return None

    def _refused(self, error):
        if self.sends == 1:
            return error
        return VergeOSError('%s (refused at send %d; the earlier sends got no definite answer)' % (error.message, self.sends),
                            error.status, error.attempted, retry_after=error.retry_after)

    def _given_up(self, error, elapsed):
        patience = self.persistence
        if patience.retry_timeout <= 0:
            why = 'retry_timeout 0 sends it once'
        else:
            why = 'no send is left within retry_timeout (%gs)' % patience.retry_timeout
        return VergeOSError('%s; %d send(s) in %.1fs got no definite answer and the read-back (%gs) did not show it done; %s'
                            % (error.message, self.sends, elapsed, patience.visible_grace, why),
                            error.status, error.attempted, retry_after=error.retry_after)
