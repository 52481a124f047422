# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The pacing law (pacing.Pacer) against small pure models of a rate limit, on a fake clock.

The models are a token bucket (``burst`` requests at once, then ``rate`` a second), as
VergeOS and the simulator limit a user, refusing either by dropping the connection or
with 429 and Retry-After. A client sends as fast as the pacer lets it, one request at a
time with a fixed round trip; every figure below is counted, none is timed.
"""

from __future__ import annotations

import random

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.pacing import DROP_SHARE, UNLIMITED_ABOVE, WINDOW, Pacer, bucket_rate


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class TokenBucket:
    """The server's limit: a request arriving with less than one token is refused and takes none."""

    def __init__(self, clock, rate, burst):
        self.clock, self.rate, self.burst = clock, float(rate), float(burst)
        self.tokens, self.counted_at = float(burst), clock()

    def admit(self):
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.counted_at) * self.rate)
        self.counted_at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Run:
    """A client sending ``count`` requests through ``pacer`` to ``server``; what the server saw, counted."""

    def __init__(self, pacer, clock, server, *, mode='drop', retry_after=1.0, rtt=0.0025):
        self.pacer, self.clock, self.server = pacer, clock, server
        self.mode, self.retry_after, self.rtt = mode, retry_after, rtt
        self.arrivals = []  # (moment, admitted)
        self.blocked = []  # (from, until) of every Retry-After given

    def send(self, count):
        for _request in range(count):
            self.one()
        return self

    def one(self):
        ticket = self.pacer.before()
        admitted = self.server.admit()
        self.arrivals.append((self.clock(), admitted))
        self.clock.now += self.rtt
        if admitted:
            self.pacer.answered(ticket)
        elif self.mode == 'drop':
            self.pacer.throttled(explicit=False, ticket=ticket)
        else:
            self.blocked.append((self.clock(), self.clock() + self.retry_after))
            self.pacer.throttled(retry_after=self.retry_after, ticket=ticket)
        return admitted

    @property
    def refused(self):
        return sum(1 for _moment, admitted in self.arrivals if not admitted)

    def admitted_rate(self):
        """Admitted requests a second, from the first send to the last admitted one."""
        admitted = [moment for moment, ok in self.arrivals if ok]
        return len(admitted) / (admitted[-1] - self.arrivals[0][0])


@pytest.mark.parametrize('rate, burst', [(50, 20), (50, 50), (10, 5), (200, 200)])
def test_under_a_dropping_token_bucket_almost_nothing_is_refused_and_almost_all_the_limit_is_used(rate, burst):
    clock = Clock()
    run = Run(Pacer(clock=clock, sleep=clock.sleep), clock, TokenBucket(clock, rate, burst), mode='drop')
    run.send(int(rate * 8))
    assert run.refused <= 0.10 * len(run.arrivals)
    assert run.admitted_rate() >= 0.85 * rate
    assert run.pacer.limit == pytest.approx(rate, rel=0.15)


@pytest.mark.parametrize('rate, burst', [(50, 20), (50, 50), (10, 5), (200, 20)])
def test_under_a_429_token_bucket_almost_nothing_is_refused(rate, burst):
    clock = Clock()
    run = Run(Pacer(clock=clock, sleep=clock.sleep), clock, TokenBucket(clock, rate, burst), mode='429', retry_after=1.0)
    run.send(int(rate * 8))
    assert run.refused <= 0.10 * len(run.arrivals)
    # Each refusal costs a second of silence (Retry-After), so the limit is used less than under drops: two refusals
    # (the first burst, the first probe) are the least that finds an unknown limit, and in each second of silence
    # the server saves only its burst (200 a second with a burst of 20: 20 of 200).
    assert run.admitted_rate() >= 0.70 * rate


@pytest.mark.parametrize('rate, burst', [(50, 20), (10, 5), (100, 20), (50, 50)])
def test_under_429_the_limit_is_measured_though_the_bucket_filled_up_during_the_retry_after(rate, burst):
    clock = Clock()
    run = Run(Pacer(clock=clock, sleep=clock.sleep), clock, TokenBucket(clock, rate, burst), mode='429', retry_after=1.0)
    while run.pacer.throttle_signals < 2:  # the first burst, then the first probe: the second measures the limit
        run.one()
    assert len(run.blocked) == 2
    assert run.pacer.limit == pytest.approx(rate, rel=0.15)


@pytest.mark.parametrize('mode', ['drop', '429'])
def test_the_first_cut_is_to_what_was_admitted_not_to_a_fraction_of_what_was_sent(mode):
    clock = Clock()
    run = Run(Pacer(clock=clock, sleep=clock.sleep), clock, TokenBucket(clock, 50, 20), mode=mode)
    while run.pacer.rate is None:
        run.one()
    sent = len(run.arrivals) / clock.now  # hundreds a second
    assert sent > 200
    admitted = sum(1 for _moment, ok in run.arrivals if ok)
    assert run.pacer.rate == pytest.approx(admitted)  # the answers of the last second: the burst of 20
    assert run.pacer.throttle_signals == 1


def test_a_429s_retry_after_holds_every_request_until_it_expires():
    clock = Clock()
    run = Run(Pacer(clock=clock, sleep=clock.sleep), clock, TokenBucket(clock, 50, 20), mode='429', retry_after=1.0)
    run.send(400)
    assert run.blocked
    for start, until in run.blocked:
        assert not [moment for moment, _ok in run.arrivals if start <= moment < until]
    assert len(run.blocked) == run.refused <= 0.10 * len(run.arrivals)


def test_refused_requests_do_not_count_as_throughput():
    clock = Clock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    tickets = [pacer.before() for _turn in range(40)]  # 40 in flight at once
    clock.now += 0.01
    for ticket in tickets[:10]:
        pacer.answered(ticket)
    for ticket in tickets[10:]:
        pacer.throttled(ticket=ticket)
    assert pacer.rate == 10.0  # 10 answered in the last second; 30 refused count for nothing


def test_a_signal_counts_once_per_overload():
    clock = Clock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    tickets = [pacer.before() for _turn in range(8)]
    for ticket in tickets[:4]:
        pacer.answered(ticket)
    for ticket in tickets[4:]:
        pacer.throttled(ticket=ticket)  # all sent before the first cut: one overload
    assert pacer.throttle_signals == 1 and pacer.rate == 4.0
    clock.now += 0.5
    pacer.throttled(ticket=pacer.before())  # sent after the cut: the pace is still too fast
    assert pacer.throttle_signals == 2


def test_two_refusals_apart_measure_the_limit_without_the_burst():
    clock = Clock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    for _turn in range(20):  # a burst of 20, then a refusal
        pacer.answered(pacer.before())
    pacer.throttled(ticket=pacer.before())
    assert pacer.rate == 20.0 and pacer.limit is None
    for _turn in range(30):  # then answers over 0.6 s: 50 a second, and a refusal again
        clock.now += 0.02
        pacer.answered()
    clock.now += 0.02
    pacer.throttled(ticket=clock.now)
    assert pacer.limit == pytest.approx(30 / 0.62)
    assert pacer.rate == pytest.approx(0.95 * 30 / 0.62)


def test_what_overflowed_unseen_counts_in_the_measured_limit():
    clock = Clock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    server = TokenBucket(clock, 50, 20)
    answers = []

    def send(moment):
        clock.now = moment
        admitted = server.admit()
        clock.now += 0.0025
        if admitted:
            answers.append(moment)
            pacer.answered(moment)
        else:
            pacer.throttled(retry_after=1.0, ticket=moment)
        return admitted

    moment = 0.0
    while send(moment):  # the server's burst of 20 (and a little of its rate), then a 429
        moment += 0.0025
    burst, took, block_end = len(answers), clock.now, pacer.blocked_until
    assert pacer.rate == burst == 22 and pacer.limit is None
    for turn in range(50):  # 2 s at 25 a second: all admitted, the server's full bucket overflows 25 tokens a second
        assert send(block_end + turn / 25)
    moment = block_end + 2.0
    while send(moment):  # then 100 a second until its bucket is empty
        moment += 0.01
    # Counted from the answers (those since the Retry-After, less the first burst and the time it took), the rate
    # is far too low; the bucket model counts the overflow too.
    counted = (len(answers) - 2 * burst) / (moment - block_end - took)
    assert counted < 0.7 * 50
    assert pacer.limit == pytest.approx(50, rel=0.05)


def test_the_bucket_model_finds_the_rate_through_overflow_and_a_pause():
    # Empty at 0: 30 sends at 10 a second (a bucket of 20 fed at 50 a second fills up, then overflows), a pause of a
    # second, then 40 sends at 100 a second: the bucket is empty at the next one.
    taken = [0.1 * turn for turn in range(1, 31)] + [4.0 + 0.01 * turn for turn in range(40)]
    assert bucket_rate(0.0, taken, 4.4, lambda rate: 20.0) == pytest.approx(50, rel=0.05)
    # A bucket one token larger: one token over the last 0.4 s, the rate moves by 2.5 a second.
    assert bucket_rate(0.0, taken, 4.4, lambda rate: 21.0) == pytest.approx(50, rel=0.1)


def test_growth_holds_after_a_cut_then_rises_as_a_cube():
    clock = Clock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    pacer.throttled(ticket=pacer.before())
    for _turn in range(25):
        clock.now += 0.02
        pacer.answered()
    clock.now += 0.02
    pacer.throttled(ticket=clock.now)
    cut = pacer.rate
    paces = []
    for step in range(1, 31):
        clock.now += 0.1
        pacer.answered()
        paces.append((round(0.1 * step, 1), pacer.rate))
    held = [rate for moment, rate in paces if moment <= 1.0]
    assert held == [cut] * len(held)  # the quiet period: no probing
    later = [rate for moment, rate in paces if moment > 1.0]
    steps = [after - before for before, after in zip([cut] + later, later, strict=False)]
    assert all(step > 0 for step in steps) and steps == sorted(steps)  # convex: slow near the limit, faster away from it
    assert later[0] < 1.01 * cut and later[-1] < 5.0 * cut


def test_lone_drops_are_the_network_frequent_drops_a_limit():
    clock = Clock()
    lossy = Pacer(clock=clock, sleep=clock.sleep)
    for turn in range(200):
        ticket = lossy.before()
        if turn % 10 == 0:
            lossy.throttled(explicit=False, ticket=ticket)
        else:
            lossy.answered(ticket)
    assert lossy.pace() is None and lossy.throttle_signals == 0 and clock.sleeps == []
    limited = Pacer(clock=clock, sleep=clock.sleep)
    drops = 0
    while limited.pace() is None:
        limited.throttled(explicit=False, ticket=limited.before())
        drops += 1
    assert drops == DROP_SHARE * WINDOW


def test_max_requests_per_second_caps_the_pace():
    clock = Clock()
    run = Run(Pacer(max_rate=20, clock=clock, sleep=clock.sleep), clock, TokenBucket(clock, 50, 20))
    run.send(101)
    assert run.refused == 0
    assert clock.now == pytest.approx(100 / 20 + 0.0025)


def test_far_above_anything_seen_the_pacer_stops_pacing():
    clock = Clock()
    run = Run(Pacer(clock=clock, sleep=clock.sleep), clock, TokenBucket(clock, 50, 20))
    run.send(300)
    assert run.pacer.rate is not None
    run.server = TokenBucket(clock, 1e9, 1e9)  # the limit is lifted
    run.send(int(UNLIMITED_ABOVE) * 3)
    assert run.pacer.pace() is None and run.refused <= 30


class Lossy:
    """A network that loses every ``every``-th request in front of a server."""

    def __init__(self, server, every):
        self.server, self.every, self.seen = server, every, 0

    def admit(self):
        self.seen += 1
        return self.seen % self.every != 0 and self.server.admit()


def test_once_pacing_the_odd_lost_request_does_not_wear_the_pace_down():
    clock = Clock()
    run = Run(Pacer(clock=clock, sleep=clock.sleep), clock, TokenBucket(clock, 50, 20))
    run.send(400)
    assert run.pacer.limit == pytest.approx(50, rel=0.15)
    run.server = Lossy(run.server, 40)  # 2.5 % lost, alone each time, on top of the limit
    start, before = clock.now, len(run.arrivals)
    run.send(1000)
    admitted = sum(1 for _moment, ok in run.arrivals[before:] if ok)
    assert admitted / (clock.now - start) >= 0.85 * 50
    assert run.pacer.pace() >= 0.8 * 50


def test_drops_between_poll_rounds_are_the_network_not_the_limit():
    clock = Clock()
    run = Run(Pacer(clock=clock, sleep=clock.sleep), clock, TokenBucket(clock, 50, 20))
    run.send(400)
    pace, signals = run.pacer.pace(), run.pacer.throttle_signals
    run.server = Lossy(run.server, 10)  # one request in ten lost, and only one a poll round goes out
    for _round in range(60):
        clock.now += 0.5
        run.one()
        assert run.pacer.throttle_signals == signals
        assert run.pacer.pace() is None or run.pacer.pace() >= pace  # grown back to no pacing at all, in the end


class RandomLoss:
    """A network that loses each request with probability ``share`` (seeded) in front of a server."""

    def __init__(self, server, share, seed):
        self.server, self.share, self.random = server, share, random.Random(seed)

    def admit(self):
        return self.random.random() >= self.share and self.server.admit()


@pytest.mark.parametrize('rate, burst, loss, least', [(50, 20, 0.02, 0.90), (50, 20, 0.05, 0.60), (10, 5, 0.05, 0.88), (50, 50, 0.05, 0.80)])
def test_random_losses_on_top_of_a_limit_do_not_pass_for_the_limit_while_the_pace_holds_below_it(rate, burst, loss, least):
    # Below a measured limit the server's bucket refills, so drops there are the network's: two of them between answers
    # measured the pace itself as the limit and each cut lost the headroom again (the pace wore down to a third of the
    # limit at 5 % lost). Averaged over eight seeds, as a single seed's losses may fall in a clump.
    shares = []
    for seed in range(8):
        clock = Clock()
        run = Run(Pacer(clock=clock, sleep=clock.sleep), clock, RandomLoss(TokenBucket(clock, rate, burst), loss, seed))
        run.send(400)
        shares.append(run.admitted_rate() / rate)
        assert run.refused <= (loss + 0.06) * len(run.arrivals)
    assert sum(shares) / len(shares) >= least


def test_a_wait_ends_when_its_sleep_ends_even_by_a_clock_that_did_not_move():
    sleeps = []
    pacer = Pacer(clock=lambda: 100.0, sleep=sleeps.append)
    pacer.throttled(retry_after=3)
    assert pacer.before() == 103.0
    assert sleeps == [3.0]
