"""Failed logins and account lockout (switches `lockout_after`, `lockout_seconds`).

A failed login is a Basic request or a `POST /api/sys/tokens` naming a user
with a wrong password (or naming no known user). Every one is counted, so the
tests can see how many a client caused (`GET /_sim/logins`). With
`lockout_after` N > 0, N consecutive failures lock that user: every request
made as that user (Basic, login, session token, API key naming it) answers
401 LOCKED, even with the right password, until `DELETE /_sim/logins` or,
with `lockout_seconds`, until that time has passed. A successful login
resets the consecutive count. All calls are made under the world lock.
"""

# What VergeOS answers a request without valid credentials (recorded); a locked account has its own message.
LOGIN_REQUIRED = "Login required"
LOCKED = "Account is locked: too many failed login attempts"


class Logins:
    """Failed-login counts and lockouts of one world."""

    def __init__(self, lockout_after=0, lockout_seconds=0.0):
        self.lockout_after = lockout_after
        self.lockout_seconds = lockout_seconds  # world seconds (already divided by speed); 0: until reset
        self.failed = 0  # failed logins of every user since the world was built or reset
        self.refused = 0  # requests refused because their user was locked
        self._users = {}  # name -> {"failed", "consecutive", "locked_at"}

    def _entry(self, name):
        return self._users.setdefault(name, {"failed": 0, "consecutive": 0, "locked_at": None})

    def locked(self, name, now):
        """Return whether `name` is locked out at `now` (a lockout whose time is up is lifted here)."""
        entry = self._users.get(name) if self._users else None
        if entry is None or entry["locked_at"] is None:
            return False
        if self.lockout_seconds and now >= entry["locked_at"] + self.lockout_seconds:
            entry.update(locked_at=None, consecutive=0)
            return False
        self.refused += 1
        return True

    def failure(self, name, now):
        """Count a failed login of `name`; lock it when that makes lockout_after in a row."""
        self.failed += 1
        entry = self._entry(name)
        entry["failed"] += 1
        entry["consecutive"] += 1
        if self.lockout_after and entry["consecutive"] >= self.lockout_after and entry["locked_at"] is None:
            entry["locked_at"] = now

    def success(self, name):
        """A login with the right password: the consecutive count starts again."""
        entry = self._users.get(name) if self._users else None
        if entry is not None:
            entry["consecutive"] = 0

    def reset(self, name=None):
        """Unlock and forget the counts of one user (or of every user); return how many users were forgotten."""
        if name is None:
            count = len(self._users)
            self._users = {}
            self.failed = 0
            self.refused = 0
            return count
        return 1 if self._users.pop(name, None) is not None else 0

    def listing(self, now):
        """Return what GET /_sim/logins shows."""
        users = {}
        for name, entry in sorted(self._users.items()):
            locked = entry["locked_at"] is not None and not (
                self.lockout_seconds and now >= entry["locked_at"] + self.lockout_seconds)
            users[name] = {"failed": entry["failed"], "consecutive": entry["consecutive"], "locked": locked}
        return {"failed": self.failed, "refused": self.refused, "lockout_after": self.lockout_after, "users": users}
