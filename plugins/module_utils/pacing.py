# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Adaptive pacing of one client's requests: find the rate VergeOS admits and send at it.

VergeOS answers a client over its API rate limit by dropping the connection (its
Go SDK's notes), proxies answer 429. A 429 is a throttle signal on its own; a
dropped connection is one when drops come together (at least ``DROP_SHARE`` of the
last ``WINDOW`` requests), as they do when a rate limit bites, and not when a lossy
network loses the odd request. Once the pacer paces (a limit was met), two drops
among the last ``WINDOW`` requests are enough (``PACED_DROPS``) while it probes above
the limit it measured (by more than ``PROBING``) or has measured none, and the client
is busy (it sent at least ``BUSY`` of its pace over the last second): a probe above
the limit is caught after few refusals, and a lone lost request, or one lost between
poll rounds, is still the network. Holding at or below a measured limit, where the
server's bucket refills, drops must come as often as before pacing (``DROP_SHARE``):
two random losses there would measure the pace itself as the limit, and each cut to
it would give up ``HEADROOM`` again (a limit with 5 % of requests lost on top wore the
pace down to a third of it in the unit tests' model).

The law, and why. A rate limit is a token bucket on the server: ``burst`` requests
at once, then ``rate`` a second. What the server admits is the only measure of its
rate; what the client sent is not (sending twice the limit gets the limit admitted
and the rest refused), so refused requests never count as throughput.

- **Cut to the admitted rate.** On a signal the pace becomes the rate of answers
  (not refusals) over the last second. When a refusal already came earlier in that
  second, at least ``MIN_GAP`` before, the bucket was empty then and is empty now,
  so the answers between the two refusals (``MIN_ANSWERS`` at least) over the time
  between them are the server's rate itself, without the burst it had saved up,
  provided the client sent without a pause in between (a pause lets the bucket
  refill): that is the measure then (so is the time since the last cut, when no
  Retry-After came between), the pacer calls it the *measured limit*, and it paces at
  ``HEADROOM`` of it so that the bucket refills a little and jitter in the sends is
  not refused. A signal counts once per overload: a refusal of a request sent before
  the last cut says nothing about the new pace (it only dates the bucket's emptiness).
- **Count what overflowed too.** After a pause (a Retry-After above all) the
  server's bucket fills up, and while the pace climbs back below its rate, tokens
  overflow that no answer shows: the answers then measure too low (38.6 a second for
  a limit of 50 with a burst of 20, in the unit tests' model). So the pacer models the
  bucket, from the send moments it knows: empty when the request refused at the last
  cut went out, fed at a rate R, its size the least that the first overload's
  admitted sends allow at R, a token taken by each request admitted since, and
  ``HELD`` tokens left when the refused one went out (it found less than one; the
  upper bound, one, measured the model's 10/s limit 8 % high and cost refusals).
  What the bucket holds then grows with R, so a bisection finds R (``STEPS`` steps
  over at most ``MAX_TAKEN`` sends). That is the measured limit when the model's
  bucket filled up on the way (the answers miss the overflow) or no direct measure
  above applies. It is not defined without a first overload seen, with too few sends,
  or when the sends since look so much like the first burst that a token less in it
  would raise R by more than ``CONDITION`` (a probe as fast as the burst only
  measures the burst again); then the answers since a Retry-After less ``burst`` (a
  lower bound) measure it, if anything does.
- **Grow smoothly, probe only after a quiet period.** With a measured limit the
  growth is CUBIC-like: the pace holds for ``HOLD`` seconds after the cut (the quiet
  period; ``PROBE_AFTER`` Retry-Afters once one came, since a failed probe then costs
  one, and a limit measured with what overflowed is seldom below the real one), then
  rises as the cube of the time since (``CUBIC`` of the pace per second cubed):
  slowly just above the measured limit, where the last overload was, faster the
  longer no signal comes (the limit may have risen). Additive growth would probe at
  the same speed right at the limit (refusals) as far from it (lost capacity); a cube
  spends its time near the limit and leaves it quickly once past it without trouble.
  Without a measured limit (the first cut after a burst, when the last second's
  answers are mostly the burst) the admitted rate is only a lower bound, so the pace
  doubles every ``DOUBLING`` seconds from the cut (or from the Retry-After's end):
  each moment below the rate while the server's bucket is full loses capacity, and
  the model measures the limit at the next signal however that probe went.
- **Retry-After is the pacer's.** A 429's ``Retry-After`` stops every request of
  this client until it expires (at most ``MAX_RETRY_AFTER`` seconds), not only the
  resend of the request it answered; a request already waiting for its turn waits
  for it too. The law's clock starts again when it expires.
- **No turn reserved ahead.** A request whose turn has not come sleeps until the
  earliest moment it may, then looks again: a pace that grew meanwhile counts at
  once. (Reserved turns, one per waiting thread at the pace of the moment, kept eight
  threads sending at the pace of 0.4 s before while the pace doubled after a
  Retry-After.) The client sends a request the limit refused again at its turn,
  without a backoff of its own (``limiting``): the pace is the backoff (for the
  first resend; one refused again backs off as any other).
- **Credit after a pause.** The pace is a token bucket of the client's own: after
  a pause (a Retry-After, a wait between poll rounds) up to ``CREDIT`` of the
  server's burst goes out at once, as the server's bucket refilled meanwhile.

``max_rate`` (``max_requests_per_second``) caps the pace whatever the law says. Far
above anything seen (``UNLIMITED_ABOVE``) the pacer stops pacing. It is per client,
and so per task process: several forks (hosts) each pace their own requests, and
their rates add up at the server. It is thread-safe: the engine sends the actions
of many VMs from several threads (up to ``concurrency`` at once).
"""

from __future__ import annotations

import collections
import threading
import time

MIN_RATE = 1.0
# Above this pace (requests per second) the pacer stops pacing: no limit was near.
UNLIMITED_ABOVE = 1000.0
# Dropped connections count as throttling, before any pacing, when they are at least this share of the last WINDOW requests.
WINDOW = 20
DROP_SHARE = 0.2
# Once pacing, a dropped connection is a signal when it is not alone among the last WINDOW requests.
PACED_DROPS = 2
# ... while probing: the pace above the measured limit by more than this factor (at or below it, DROP_SHARE as before pacing).
PROBING = 1.02
# ... and the client sent at least this share of its pace over the last second (busy, not between poll rounds).
BUSY = 0.25
# Requests the engine may have in flight at once (the pace, not this, is what a throttle changes).
MAX_CONCURRENCY = 8
# The admitted rate is counted over this many seconds.
SPAN = 1.0
# Two refusals at least this far apart (within SPAN), with at least MIN_ANSWERS answers between, measure the server's rate.
MIN_GAP = 0.5
MIN_ANSWERS = 8
# Share of a measured limit paced at, so the server's bucket refills a little.
HEADROOM = 0.95
# After a cut to a measured limit: seconds held, then growth of CUBIC of the pace per second cubed (+5 % in 0.7 s).
HOLD = 1.0
CUBIC = 0.15
# After a cut without a measured limit, the pace doubles every DOUBLING seconds.
DOUBLING = 0.5
MAX_RETRY_AFTER = 30.0
# After a Retry-After, a probe above a measured limit waits at least this many of them.
PROBE_AFTER = 6.0
# Share of the server's burst (as it showed) sent at once after a pause: the server's bucket refilled meanwhile.
CREDIT = 0.5
# The bucket model: admitted sends remembered since the last cut, the tokens left at the refused send (less than
# one: the middle), the bisection steps, and how far a token less in the first burst may raise its measure.
MAX_TAKEN = 2048
HELD = 0.5
STEPS = 30
CONDITION = 0.5


def burst_size(rate, moments, refused_at):
    """Return the least size a bucket fed at ``rate`` can have had, empty at ``refused_at`` after admitting ``moments``.

    ``moments``: when the requests it admitted before went out (ascending). Over any time from one of them to
    ``refused_at`` it gave at most its size and what ``rate`` added meanwhile; the most telling such time counts.
    """
    count = len(moments)
    return max([1.0] + [count - index - rate * (refused_at - moment) for index, moment in enumerate(moments)])


def bucket_tokens(rate, start, taken, refused_at, size):
    """Return the tokens a bucket of ``size`` fed at ``rate``, empty at ``start``, holds at ``refused_at``, and whether it filled up.

    It gave a token to each send of ``taken`` (moments after ``start``, ascending).
    """
    tokens, last, filled = 0.0, start, False
    for moment in taken:
        tokens += rate * (moment - last)
        if tokens >= size:
            tokens, filled = size, True
        tokens -= 1.0
        last = moment
    tokens += rate * (refused_at - last)
    return min(size, tokens), filled or tokens >= size


def bucket_rate(start, taken, refused_at, size):
    """Return the rate at which a bucket of ``size(rate)`` (see bucket_tokens) holds HELD tokens at ``refused_at``, or None.

    What it holds then grows with the rate (unless the sends were as fast as those that showed the size: the caller
    checks), so a bisection between MIN_RATE and UNLIMITED_ABOVE finds it.
    """
    def held(rate):
        return bucket_tokens(rate, start, taken, refused_at, size(rate))[0]

    low, high = MIN_RATE, UNLIMITED_ABOVE
    if held(low) >= HELD or held(high) < HELD:
        return None
    for _step in range(STEPS):
        middle = (low * high) ** 0.5
        if held(middle) >= HELD:
            high = middle
        else:
            low = middle
    return high


def _fastest(bounds):
    """Return the highest rate of ``bounds`` (answers, seconds), of those with MIN_ANSWERS answers at least (None: none)."""
    # A handful of answers measures the round trip more than the server's rate: too few, and the simpler law holds.
    rates = [count / seconds for count, seconds in bounds if count >= MIN_ANSWERS]
    return max(rates) if rates else None


class Pacer:
    """Paces requests: ``ticket = before()`` before each send, then ``answered(ticket)`` or ``throttled(..., ticket=ticket)``."""

    def __init__(self, max_rate=None, *, clock=time.monotonic, sleep=time.sleep, concurrency=MAX_CONCURRENCY):
        self.max_rate = float(max_rate) if max_rate else None
        self.rate = None  # None: no throttle seen (or recovered): only max_rate paces
        self.limit = None  # the measured limit (requests per second), once two refusals measured it
        self.concurrency = max(1, int(concurrency))
        self.throttle_signals = 0
        self.blocked_until = None  # no request before this moment (a Retry-After)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next_at = None
        self._admitted = collections.deque()  # when answers came back (within SPAN)
        self._refused = collections.deque()  # when refusals came back (within SPAN)
        self._sends = collections.deque()  # when requests were let go (within SPAN)
        self._outcomes = collections.deque(maxlen=WINDOW)  # True: a dropped connection or a 429
        self._cut_at = None
        self._cut_rate = None
        self._block_end = None
        self._answers = self._answers_at_cut = 0  # answers ever, and at the last cut
        self._longest_retry_after = 0.0
        self._last_send = self._busy_since = None  # the last send, and the first of the sends since the last second's pause
        self._sending_since = None  # the first of the sends since the last pause of more than MIN_GAP (or two turns)
        self._burst_took = 0.0
        self.burst = None  # the answers of the second before the first overload: the server's burst, as far as it shows
        self._anchor = None  # when the request refused at the last cut went out: the server's bucket was empty then
        self._taken = collections.deque(maxlen=MAX_TAKEN)  # when the requests admitted since went out
        self._taken_count = 0
        self._recent = collections.deque()  # when the requests answered within SPAN went out, until the first overload
        self._shown = None  # (when each request admitted in the first overload's second went out, when the refused one did)

    def limiting(self):
        """Return whether a rate limit was met and the pacer paces for it (a resend then waits its turn, no backoff)."""
        return self.rate is not None

    def pace(self):
        """Return the requests per second the pacer holds to now (None: not pacing)."""
        limits = [rate for rate in (self.rate, self.max_rate) if rate]
        return min(limits) if limits else None

    def before(self):
        """Wait, if needed, for the pace and any Retry-After; note the send; return its ticket (the moment it goes out).

        Nothing is reserved ahead: a thread whose turn has not come sleeps until the earliest moment it may come and
        looks again, so a pace that grew meanwhile, a cut or a Retry-After counts for it at once (several threads
        waiting at the old pace would otherwise send at it for their whole wait).
        """
        woke = None  # the moment the last sleep was until: the turn is taken then at the latest, whatever the clock says
        while True:
            with self._lock:
                now = max(self._clock(), woke or 0.0)
                pace = self.pace()
                turn = max(now, self.blocked_until or now)
                if pace is not None and self._next_at is not None:
                    # The pace as a token bucket of our own (a virtual scheduling): up to credit() requests at once after a pause.
                    turn = max(turn, self._next_at - (self.credit() - 1) / pace)
                if turn <= now:
                    self._sent(now, pace)
                    return now
            self._sleep(turn - now)
            woke = turn

    def _sent(self, now, pace):
        """Note a send let go ``now`` (under the lock) and the earliest moment of the next one."""
        if self._last_send is None or now - self._last_send > SPAN:
            self._busy_since = now
        if self._last_send is None or now - self._last_send > max(MIN_GAP, 2.0 / pace if pace else 0.0):
            self._sending_since = now  # a pause: the server's bucket refilled, what came before measures nothing
        self._last_send = now
        self._sends.append(now)
        while self._sends[0] <= now - SPAN:
            self._sends.popleft()
        if pace is not None:
            self._next_at = max(self._next_at or now, now) + 1.0 / pace

    def credit(self):
        """Return how many requests may go at once after a pause: half the burst the server showed (1 before any overload)."""
        return max(1.0, CREDIT * self.burst) if self.burst else 1.0

    def _forget(self, now):
        for moments in (self._admitted, self._refused, self._recent):
            while moments and moments[0] <= now - SPAN:
                moments.popleft()

    def answered(self, ticket=None):
        """An answer came back (whatever its status, but 429): it counts as admitted, whenever ``ticket`` sent it; the pace grows."""
        with self._lock:
            now = self._clock()
            sent = ticket if ticket is not None else now
            if self._anchor is not None and sent > self._anchor:
                self._taken.append(sent)
                self._taken_count += 1
            if self.burst is None:
                self._recent.append(sent)
            self._admitted.append(now)
            self._answers += 1
            self._outcomes.append(False)
            self._forget(now)
            if self.rate is None:
                return
            self.rate = max(self.rate, self._grown(now))
            if self.rate > UNLIMITED_ABOVE:
                self.rate = self.limit = self._cut_at = self._cut_rate = self.burst = self._anchor = self._shown = None
                self._taken.clear()

    def _grown(self, now):
        """Return the pace the law gives ``now`` after the last cut (never below the pace of the cut)."""
        # Time under a Retry-After is no evidence: the law's clock starts when the last one ended.
        since = now - max(self._cut_at, self.blocked_until or self._cut_at)
        if self.limit is not None:
            # A probe that fails under 429 costs a Retry-After of silence: probe less often there.
            hold = max(HOLD, PROBE_AFTER * self._longest_retry_after)
            if since <= hold:
                return self._cut_rate
            return self._cut_rate * (1.0 + CUBIC * (since - hold) ** 3)
        return self._cut_rate * 2.0 ** (max(0.0, since) / DOUBLING)

    def throttled(self, explicit=True, retry_after=None, ticket=None):
        """A 429 (``explicit``) or a dropped connection to the request sent at ``ticket``: the pace is cut (once per overload).

        ``retry_after`` (seconds, a 429's header) holds every request of this client until it expires.
        A dropped connection counts only when drops are frequent (DROP_SHARE of the last WINDOW; PACED_DROPS once pacing).
        """
        with self._lock:
            now = self._clock()
            previous_block = self._block_end
            if retry_after is not None and retry_after > 0:
                wait = min(float(retry_after), MAX_RETRY_AFTER)
                self._longest_retry_after = max(self._longest_retry_after, wait)
                self.blocked_until = self._block_end = max(self.blocked_until or now, now + wait)
            self._outcomes.append(True)
            self._forget(now)
            earlier = self._refused[0] if self._refused else None
            self._refused.append(now)
            if not explicit and sum(self._outcomes) < self._drops_needed():
                return
            if not explicit and self.rate is not None and len(self._sends) < BUSY * self.pace() * SPAN:
                return  # drops while the client sends far below its pace: the network, not the limit
            if ticket is not None and self._cut_at is not None and ticket <= self._cut_at:
                return  # sent before the last cut: the same overload
            self.throttle_signals += 1
            self._cut(now, earlier, previous_block, ticket if ticket is not None else now)

    def _drops_needed(self):
        """Return how many of the last WINDOW outcomes must be drops for a drop to be a throttle signal.

        Before pacing, and while holding at or below a measured limit's pace (not probing above it), a lossy network's
        lone drops must not pass for a limit: two of them between answers would "measure" the pace itself as the limit,
        and each cut to it would lose HEADROOM again. Only a probe above the measured limit drains the server's bucket,
        so only then (or before any limit is measured) are two drops enough.
        """
        if self.rate is None:
            return DROP_SHARE * WINDOW
        if self.limit is not None and self.rate <= self.limit * PROBING:
            return DROP_SHARE * WINDOW
        return PACED_DROPS

    def _cut(self, now, earlier, block_end, refused_at):
        """Cut the pace to the rate admitted; the refusal of the request sent at ``refused_at`` may measure the limit.

        Without a pause since an empty bucket (a refusal ``earlier`` in the last second, the last cut) the answers
        measure the server's rate directly; after one (a Retry-After, a pause in the sends) the bucket model does (see
        _modelled), and where it is not defined, the count less the burst the server showed.
        """
        direct, paused = [], []
        # Empty at both refusals: what came in between is at most the server's rate (exactly, unless its bucket overflowed).
        busy = self._sending_since if self._sending_since is not None else now
        if earlier is not None and now - earlier >= MIN_GAP and busy <= earlier:
            direct.append((sum(1 for moment in self._admitted if moment > earlier), now - earlier))
        if self._cut_at is not None and now - self._cut_at >= MIN_GAP:
            if block_end is None or block_end <= self._cut_at:
                if busy <= self._cut_at:  # sent without a pause since: the bucket stayed empty
                    direct.append((self._answers - self._answers_at_cut, now - self._cut_at))
            elif self.burst is not None and now - block_end - self._burst_took >= MIN_GAP and busy <= block_end + MIN_GAP:
                # A Retry-After since: the bucket filled meanwhile, at most to the burst the server showed, which was the
                # server's burst and its rate over the time that burst took. A lower bound: it misses what overflowed.
                paused.append((self._answers - self._answers_at_cut - self.burst, now - block_end - self._burst_took))
        measured, filled = self._modelled(refused_at)
        if not filled:
            # The model's bucket never filled up: no token overflowed unseen, and the answers counted measure it all.
            measured = _fastest(direct) or measured
        if measured is None:
            measured = _fastest(paused)
        if measured is not None:
            self.limit = max(MIN_RATE, measured)
            rate = HEADROOM * self.limit
        else:
            rate = len(self._admitted) / SPAN
            if self.burst is None:
                # The first overload: what got through in the second before it is the server's burst (and its rate meanwhile).
                self.burst = len(self._admitted)
                self._burst_took = max(0.0, now - self._busy_since) if self._busy_since is not None else 0.0
                self._shown = (sorted(moment for moment in self._recent if moment <= refused_at), refused_at)
            current = self.pace()
            if current is not None:
                rate = min(rate, current)
        self.rate = self._cut_rate = max(MIN_RATE, rate)
        self._cut_at, self._answers_at_cut = now, self._answers
        self._anchor, self._taken_count = refused_at, 0
        self._taken.clear()
        # The server's bucket is empty: the next request waits its turn at the new pace, with no credit, counted from now.
        self._next_at = now + 1.0 / self.rate + (self.credit() - 1) / self.rate

    def _modelled(self, refused_at):
        """Return (rate, filled): the bucket model's measure at the refusal of the send at ``refused_at``, and whether it filled up.

        The model: the server's bucket, empty when the request refused at the last cut went out, fed at the rate sought,
        of the least size the first overload allows at that rate (burst_size), gave a token to each request admitted
        since and held HELD tokens when this one went out. The rate is None before a first overload, with fewer than
        MIN_ANSWERS sends or MIN_GAP seconds since the last cut's refusal, or when a token less in the bucket would
        raise it by more than CONDITION.
        """
        if self._anchor is None or self._shown is None or self._taken_count > len(self._taken):
            return None, False
        taken = sorted(moment for moment in self._taken if moment <= refused_at)
        if len(taken) < MIN_ANSWERS or refused_at - self._anchor < MIN_GAP:
            return None, False

        def size(fed):
            return burst_size(fed, *self._shown)

        def smaller(fed):
            return max(1.0, size(fed) - 1.0)

        rate = bucket_rate(self._anchor, taken, refused_at, size)
        if rate is None:
            return None, False
        steeper = bucket_rate(self._anchor, taken, refused_at, smaller)
        if steeper is None or steeper > (1.0 + CONDITION) * rate:
            return None, False
        return rate, bucket_tokens(rate, self._anchor, taken, refused_at, size(rate))[1]
