"""The API rate limit: a token bucket per authenticated user, on the wall clock.

VergeOS refuses a client over its API rate limit by closing the connection
without an answer (vergeos-api.md); the simulator does that, or answers 429
with Retry-After (mode "429"). The setting comes from the scenario's
`rate_limit`, else the command line (scenario.rate_limit_of); app.Simulator
installs it on every world load. api.handle asks admit() once the principal
is known, so requests that fail authentication are never charged.
README.md ("Rate limit") is the reference.
"""

import threading
import time

from wire import Response

MESSAGE = "Too many requests: API rate limit exceeded"


def refusal(setting):
    """Return the answer to a request over the limit: a dropped connection, or 429 with Retry-After."""
    if setting["mode"] == "drop":
        return Response(0, cut="drop")
    return Response(429, {"err": MESSAGE}, headers={"Retry-After": str(setting["retry_after"])})


class RateLimit:
    """Token buckets per user name, all with the current setting (None: no limit); thread-safe.

    A bucket holds up to `burst` tokens, starts full and refills at `rate`
    tokens a second of real time (time.monotonic, not the world's scaled
    clock: a rate limit is wall-clock). A request takes one token, or is
    refused when less than one is left (a refused request takes nothing).
    """

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._setting = None
        self._buckets = {}  # user name -> (tokens, clock reading they were counted at)

    @property
    def setting(self):
        """The current setting (rate, burst, mode, retry_after) or None when there is no limit."""
        with self._lock:
            return None if self._setting is None else dict(self._setting)

    def configure(self, setting):
        """Install a setting (None: no limit); every bucket starts full again."""
        with self._lock:
            self._setting = None if setting is None else dict(setting)
            self._buckets = {}

    def admit(self, name):
        """Charge one request to `name`: return None when it may go ahead, else (setting, refusal answer)."""
        with self._lock:
            setting = self._setting
            if setting is None:
                return None
            now = self._clock()
            burst = setting["burst"]
            tokens, counted_at = self._buckets.get(name, (burst, now))
            tokens = min(burst, tokens + (now - counted_at) * setting["rate"])
            admitted = tokens >= 1
            self._buckets[name] = (tokens - 1 if admitted else tokens, now)
        return None if admitted else (setting, refusal(setting))
