# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""When to send a request again and how long to wait first (pure; the client does the sending)."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass

# Answers worth another try: 429 (throttled) and every 5xx (server or proxy trouble) but
# these definite ones: not implemented, HTTP version not supported, insufficient cluster resources.
DEFINITE_5XX = frozenset([501, 505, 507])
# Only requests that are safe to repeat. POST (power actions, snapshots) never is:
# the caller reads the state again and decides.
RETRY_METHODS = frozenset(['GET', 'PUT'])
# Doublings beyond this change no real ceiling (2**30 times any base is past any cap) and would overflow a float in the end.
MAX_DOUBLINGS = 30


def backoff(retry, base, cap, rand):
    """Return the jittered exponential backoff before retry number ``retry`` (0 for the first): the collection's one.

    The ceiling is ``min(cap, base * 2**retry)``; half of it is fixed and half random, ``rand()``
    being in [0, 1), so many clients throttled together do not come back together.
    """
    ceiling = min(cap, base * (2 ** min(max(retry, 0), MAX_DOUBLINGS)))
    return ceiling / 2 + ceiling / 2 * rand()


def backoff_step(retry, paced):
    """Return the backoff step of retry number ``retry`` (0 for the first), or None for no backoff at all.

    ``paced``: a rate limit refused the request and the client's pacer paces every send for that limit (and holds them
    for a Retry-After): the first resend waits only its turn there; one refused again backs off as any other, a step
    behind (a pacer that paces does not make an outage's resends free). The client's retries of reads and the power
    engine's resends of actions both follow this rule.
    """
    if not paced:
        return retry
    return retry - 1 if retry > 0 else None


@dataclass(frozen=True)
class RetryPolicy:
    """A bounded retry budget.

    ``retries``: sends after the first one. ``base`` and ``cap``: the backoff before
    retry n is ``min(cap, base * 2**n)``, half of it fixed and half random (jitter,
    so many clients throttled together do not come back together). ``budget``: the
    most time spent sleeping between tries of one request. ``retry_after_cap``: a
    server's Retry-After is honoured up to this many seconds.
    """

    retries: int = 4
    base: float = 0.5
    cap: float = 8.0
    budget: float = 30.0
    retry_after_cap: float = 30.0

    def backoff(self, retry, rand):
        """Return the sleep before retry number ``retry`` (0 for the first retry); ``rand()`` is in [0, 1)."""
        return backoff(retry, self.base, self.cap, rand)

    def next_delay(self, retry, slept, retry_after=None, rand=None, paced=False):
        """Return the sleep before retry number ``retry``, or None when the budget is spent.

        ``slept``: seconds already slept for this request. ``retry_after``: the server's
        Retry-After in seconds (None when absent); it wins over the backoff, capped.
        ``paced``: see ``backoff_step``.
        """
        if retry >= self.retries:
            return None
        step = backoff_step(retry, paced)
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), self.retry_after_cap)
        elif step is None:
            delay = 0.0
        else:
            delay = self.backoff(step, rand or (lambda: 0.5))
        if slept + delay > self.budget:
            return None
        return delay


def is_transient(status):
    """Return whether a failure with this HTTP status (None: no answer) says nothing definite: throttled, lost or server trouble."""
    return status is None or status == 429 or (500 <= status <= 599 and status not in DEFINITE_5XX)


def is_retryable_status(method, status):
    """Return whether an answer with this HTTP status to this method deserves another try."""
    return method.upper() in RETRY_METHODS and status is not None and is_transient(status)


def is_retryable_method(method):
    return method.upper() in RETRY_METHODS


def parse_retry_after(value, now):
    """Return a Retry-After header (seconds or an HTTP date) as seconds from ``now`` (unix time); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)
