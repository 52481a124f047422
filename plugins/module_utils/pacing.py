# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Adaptive pacing of one client's requests: slow down when VergeOS throttles, speed up as answers come back.

VergeOS answers a client over its API rate limit by dropping the connection (its
Go SDK's notes), proxies answer 429. A 429 is a throttle signal on its own; a
dropped connection is one when drops come together (at least ``DROP_SHARE`` of the
last ``WINDOW`` requests), as they do when a rate limit bites, and not when a lossy
network loses the odd request.

On a signal (at most one a second, so one overload counts once) the pacer first
halves the requests it lets the engine have in flight at once (``concurrency``,
``MAX_CONCURRENCY`` at most), and once that is one, halves the pace: the rate of the
last second (multiplicative decrease). Every answer after that raises the pace a
little (additive increase, ``INCREASE`` requests per second for each second of
answers) until it is far enough above anything seen to count as no limit again, and
every ``WINDOW`` answers in a row without a signal give back one request in flight.
``max_rate`` caps the pace for users who know their system's limit.

It is per client, and so per task process: several forks (hosts) each pace their own
requests, and their rates add up at the server. It is thread-safe: the engine sends
the actions of many VMs from several threads.
"""

from __future__ import annotations

import collections
import threading
import time

MIN_RATE = 1.0
INCREASE = 5.0
# Above this pace (requests per second) the pacer stops pacing: no limit was near.
UNLIMITED_ABOVE = 1000.0
CUT_COOLDOWN = 1.0
# Dropped connections count as throttling when they are at least this share of the last WINDOW requests.
WINDOW = 20
DROP_SHARE = 0.2
MAX_CONCURRENCY = 8


class Pacer:
    """Paces requests: call ``before()`` before each send, then ``answered()`` or ``throttled()``."""

    def __init__(self, max_rate=None, *, clock=time.monotonic, sleep=time.sleep, concurrency=MAX_CONCURRENCY):
        self.max_rate = float(max_rate) if max_rate else None
        self.rate = None  # None: no throttle seen (or recovered): only max_rate paces
        self.concurrency = self.max_concurrency = max(1, int(concurrency))
        self.throttle_signals = 0
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next_at = None
        self._recent = collections.deque()
        self._outcomes = collections.deque(maxlen=WINDOW)  # True: a dropped connection or a 429
        self._clean = 0  # answers since the last signal
        self._last_cut = None

    def pace(self):
        """Return the requests per second the pacer holds to now (None: not pacing)."""
        limits = [rate for rate in (self.rate, self.max_rate) if rate]
        return min(limits) if limits else None

    def before(self):
        """Wait, if needed, so that requests go out at the current pace; note the send."""
        with self._lock:
            pace = self.pace()
            now = self._clock()
            wait = 0.0
            if pace is not None:
                turn = max(now, self._next_at or now)
                wait = turn - now
                self._next_at = turn + 1.0 / pace
            self._recent.append(now + wait)
            while self._recent and self._recent[0] < now - 1.0:
                self._recent.popleft()
        if wait > 0:
            self._sleep(wait)

    def answered(self):
        """An answer came back (whatever its status, but 429): raise the pace a little."""
        with self._lock:
            self._outcomes.append(False)
            self._clean += 1
            if self._clean >= WINDOW and self.concurrency < self.max_concurrency:
                self.concurrency += 1
                self._clean = 0
            if self.rate is None:
                return
            self.rate += INCREASE / self.rate
            if self.rate > UNLIMITED_ABOVE:
                self.rate = None

    def throttled(self, explicit=True):
        """A 429 (``explicit``) or a dropped connection: fewer requests in flight, then a slower pace (once per overload).

        A dropped connection counts only when drops are frequent (DROP_SHARE of the last WINDOW).
        """
        with self._lock:
            self._outcomes.append(True)
            if not explicit and sum(self._outcomes) < DROP_SHARE * WINDOW:
                return
            self.throttle_signals += 1
            self._clean = 0
            now = self._clock()
            if self._last_cut is not None and now - self._last_cut < CUT_COOLDOWN:
                return
            self._last_cut = now
            if self.concurrency > 1:
                self.concurrency = max(1, self.concurrency // 2)
                return
            observed = sum(1 for moment in self._recent if now - 1.0 <= moment <= now)
            current = min(self.rate or float('inf'), float(max(observed, 1)))
            self.rate = max(MIN_RATE, current / 2.0)
            # The next request waits its turn at the new pace, counted from now.
            self._next_at = max(self._next_at or now, now + 1.0 / self.rate)
