# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The backoff schedule, the budget and Retry-After parsing."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.retry import RetryPolicy, backoff, backoff_step, is_retryable_status, parse_retry_after


def test_backoff_doubles_between_half_and_full_of_the_ceiling_and_is_capped():
    policy = RetryPolicy(base=0.5, cap=3.0)
    low = [policy.backoff(n, lambda: 0.0) for n in range(5)]
    high = [policy.backoff(n, lambda: 0.999999) for n in range(5)]
    assert low == [0.25, 0.5, 1.0, 1.5, 1.5]
    assert high == pytest.approx([0.5, 1.0, 2.0, 3.0, 3.0], rel=1e-5)


def test_schedule_stops_after_the_number_of_retries():
    policy = RetryPolicy(retries=3, budget=1000)
    delays = [policy.next_delay(n, 0.0, rand=lambda: 0.5) for n in range(5)]
    assert delays[:3] == [0.375, 0.75, 1.5]
    assert delays[3:] == [None, None]


def test_schedule_stops_when_the_next_sleep_would_pass_the_budget():
    policy = RetryPolicy(retries=10, budget=2.0)
    assert policy.next_delay(0, 1.5, rand=lambda: 0.5) == 0.375
    assert policy.next_delay(1, 1.5, rand=lambda: 0.5) is None


def test_the_one_backoff_never_overflows_after_many_failures():
    # The event source backs off with it for as long as a system stays unreadable: retry numbers in the thousands.
    assert [backoff(retry, 2.0, 60.0, lambda: 1.0) for retry in (0, 1, 4, 5, 1100, 10 ** 6)] == [2.0, 4.0, 32.0, 60.0, 60.0, 60.0]
    assert backoff(-1, 2.0, 60.0, lambda: 0.0) == 1.0


def test_retry_after_wins_over_backoff_but_is_capped_and_counted():
    policy = RetryPolicy(retry_after_cap=10.0, budget=15.0)
    assert policy.next_delay(0, 0.0, retry_after=4.0) == 4.0
    assert policy.next_delay(0, 0.0, retry_after=3600.0) == 10.0
    assert policy.next_delay(0, 6.0, retry_after=3600.0) is None
    assert policy.next_delay(0, 0.0, retry_after=-5.0) == 0.0


@pytest.mark.parametrize('method, status, expected', [
    ('GET', 429, True), ('GET', 500, True), ('GET', 502, True), ('GET', 503, True), ('GET', 504, True), ('GET', 599, True),
    ('PUT', 503, True), ('get', 503, True),
    ('GET', 501, False), ('GET', 505, False), ('GET', 507, False),
    ('GET', 400, False), ('GET', 401, False), ('GET', 404, False), ('GET', 409, False), ('GET', 422, False),
    ('POST', 503, False), ('POST', 429, False), ('DELETE', 503, False),
])
def test_which_answers_are_retried(method, status, expected):
    assert is_retryable_status(method, status) is expected


@pytest.mark.parametrize('value, expected', [
    ('5', 5.0),
    (' 120 ', 120.0),
    ('Thu, 01 Jan 1970 00:01:40 GMT', 60.0),  # 100 s after the epoch, seen at 40 s
    ('Thu, 01 Jan 1970 00:00:10 GMT', 0.0),  # already past
    ('soon', None),
    ('', None),
    (None, None),
    ('-3', None),
])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=40.0) == expected


def test_a_paced_first_retry_waits_only_its_turn_and_later_ones_back_off_a_step_behind():
    assert [backoff_step(retry, False) for retry in (0, 1, 2)] == [0, 1, 2]
    assert [backoff_step(retry, True) for retry in (0, 1, 2)] == [None, 0, 1]
    policy = RetryPolicy(base=0.5, cap=8.0)
    assert policy.next_delay(0, 0.0, None, lambda: 0.0, paced=True) == 0.0
    assert policy.next_delay(1, 0.0, None, lambda: 0.0, paced=True) == policy.next_delay(0, 0.0, None, lambda: 0.0) == 0.25
    assert policy.next_delay(0, 0.0, 3.0, lambda: 0.0, paced=True) == 3.0  # a Retry-After still holds it
