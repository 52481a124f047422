"""Encoded answers to reads, kept per world version.

Many clients polling the same list (the inventory, the waiter of a role over
many VMs) ask the same question between two changes of the world. The first
request of a version computes the rows under the world lock and encodes them
after releasing it; requests for the same answer that arrive meanwhile wait for
that encoding instead of repeating it, and later ones get the bytes at once.
A change of the world (World.touch) makes every cached answer stale.
"""

import threading

from wire import encode

MAX_ENTRIES = 256
MAX_BYTES = 64 * 1024 * 1024
# How long a request waits for another thread's encoding before giving up (never reached in practice).
WAIT_SECONDS = 60


class Entry:
    """One answer: being encoded by one thread (ready unset), then its bytes (or None if the encoding failed)."""

    def __init__(self):
        self.ready = threading.Event()
        self.payload = None


class ResponseCache:
    """Answers of one world, for its current version only.

    claim() and forget() run under the world lock; store() runs outside it,
    hence the cache's own small lock for its byte count.
    """

    def __init__(self, max_entries=MAX_ENTRIES, max_bytes=MAX_BYTES):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._version = None
        self._entries = {}  # key -> Entry, oldest first
        self._bytes = 0
        self._lock = threading.Lock()

    def claim(self, version, key):
        """Return (entry, owner): owner is True when the caller must compute the answer and store() it."""
        with self._lock:
            if version != self._version:
                self._version = version
                self._entries = {}
                self._bytes = 0
            entry = self._entries.get(key)
            if entry is not None:
                return entry, False
            entry = Entry()
            self._entries[key] = entry
            while len(self._entries) > self.max_entries:
                self._evict_oldest()
            return entry, True

    def forget(self, key, entry):
        """Drop an entry whose answer turned out not to be cacheable (an error)."""
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]
        entry.ready.set()

    def store(self, entry, payload):
        """Give an entry its bytes and wake whoever waits for them."""
        entry.payload = payload
        entry.ready.set()
        with self._lock:
            if any(item is entry for item in self._entries.values()):
                self._bytes += len(payload or b"")
                while self._bytes > self.max_bytes and len(self._entries) > 1:
                    self._evict_oldest()

    def _evict_oldest(self):
        key = next(iter(self._entries))
        evicted = self._entries.pop(key)
        if evicted.ready.is_set():
            self._bytes -= len(evicted.payload or b"")


class Deferred:
    """The body of a read answer whose bytes are produced after the world lock is released."""

    def __init__(self, cache, entry, owner, rows=None):
        self.cache = cache
        self.entry = entry
        self.owner = owner
        self.rows = rows

    def payload(self):
        """Return the encoded answer: encode and store it (owner), or wait for the owner's bytes."""
        if self.owner:
            payload = None
            try:
                payload = encode(self.rows)
            finally:
                self.cache.store(self.entry, payload)
            return payload
        self.entry.ready.wait(WAIT_SECONDS)
        return self.entry.payload
