# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""At most one failed login per system, user and credentials in one Ansible run, across forks.

VergeOS locks an account after repeated failed logins. A play over 200 hosts with a
mistyped password runs 200 tasks in up to ``forks`` processes at once, each with a client
of its own: without a guard, that is 200 failed logins and a locked account, for the
operator and for everyone else using it.

Every request carries the credentials, so a client's first request is its login. Before
it, the client takes a lock shared by every process of the run (a file lock in a directory
of the run), and reads what the run already knows about these credentials on this system:

- proven good: the lock is released and the client goes on;
- refused (401): nothing is sent; the client fails with the first refusal's message;
- unknown: the client sends its first request while holding the lock, so the other
  processes wait for its answer, then records it (401: refused; any other answer: good).

A run is one ``ansible-playbook`` (or ``ansible``, ``ansible-inventory``) process and its
worker processes. The directory lives in the system's temporary directory,
mode 0700. Credentials are never written: a record names the system and user through a
hash, and the credentials through a keyed hash (a random key of the run, in a file of the
directory, mode 0600), so a different password for the same user is tried on its own.

Anything that goes wrong with the files (no ``fcntl``, a read-only temporary directory)
turns the guard off for that client: it never stops work it cannot protect.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import multiprocessing
import os
import tempfile

try:
    import fcntl
except ImportError:  # not a POSIX controller: no guard
    fcntl = None

GOOD, REFUSED = 'good', 'refused'


def _run_id():
    """Return an id of this run: the Ansible process whose workers run the tasks, with its start time where /proc has it.

    Ansible's workers are ``multiprocessing`` children of the main process (``ansible-playbook``,
    ``ansible``); the inventory plugin runs in the main process itself. The start time tells a
    reused process id from the run that had it.
    """
    parent = multiprocessing.parent_process()
    pid = parent.pid if parent is not None and parent.pid else os.getpid()
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
            started = handle.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        started = '0'
    return '%d-%s' % (pid, started)


def _secure_dir(path):
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OSError('%s is not a private directory of this user' % path)
    return path


class LoginGuard:
    """What this run knows about one system's credentials; ``first`` wraps a client's first request."""

    def __init__(self, url, user, authorization, base_dir=None, run_id=None):
        self.url, self.user = url, user
        base = base_dir or os.path.join(tempfile.gettempdir(), 'vergeos-power-logins-%d' % os.getuid())
        self.directory = _secure_dir(os.path.join(_secure_dir(base), run_id or _run_id()))
        name = hashlib.sha256(('%s\0%s' % (url, user)).encode('utf-8')).hexdigest()[:32]
        self.lock_path = os.path.join(self.directory, name + '.lock')
        self.record_path = os.path.join(self.directory, name + '.record')
        self.fingerprint = hmac.new(self._key(), authorization.encode('utf-8'), hashlib.sha256).hexdigest()

    def _key(self):
        path = os.path.join(self.directory, 'key')
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, 'wb') as handle:
                handle.write(os.urandom(32))
        with open(path, 'rb') as handle:
            key = handle.read()
        if len(key) != 32:
            raise OSError('the key of the login guard is not readable yet')
        return key

    def _known(self):
        """Return (outcome, message) recorded for these credentials, or (None, '')."""
        try:
            with open(self.record_path, encoding='utf-8') as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:
            return None, ''
        for line in lines:
            fingerprint, rest = (line.split(' ', 1) + [''])[:2]
            outcome, message = (rest.split(' ', 1) + [''])[:2]
            if hmac.compare_digest(fingerprint, self.fingerprint):
                return outcome, message
        return None, ''

    def _record(self, outcome, message):
        with open(self.record_path, 'a', encoding='utf-8') as handle:
            handle.write('%s %s %s\n' % (self.fingerprint, outcome, ' '.join(message.split())))

    def acquire(self):
        """Take the run's lock for these credentials; return (outcome, message) the run already knows, or (None, '').

        With (None, ''), the caller sends its first request, then calls ``answered`` and ``release``.
        Raises OSError when the files cannot be used (the caller then goes unguarded).
        """
        # Held until release(), so no with block.
        self._lock = open(self.lock_path, 'a', encoding='utf-8')  # pylint: disable=consider-using-with
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX)
            return self._known()
        except OSError:
            self.release()
            raise

    def release(self):
        lock, self._lock = getattr(self, '_lock', None), None
        if lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
            lock.close()

    def answered(self, status, message):
        """Record the answer to the first request sent under the lock: a 401 refuses these credentials, another answer proves them."""
        with contextlib.suppress(OSError):
            if status == 401:
                self._record(REFUSED, message)
            elif status is not None:
                self._record(GOOD, '')


def guard_for(url, user, authorization):
    """Return a LoginGuard, or None where files and locks are not available (the client then goes unguarded)."""
    if fcntl is None:
        return None
    try:
        return LoginGuard(url, user, authorization)
    except OSError:
        return None
