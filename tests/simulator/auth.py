"""The auth room: users and their passwords, API keys, session tokens, and who a credential names.

Failed logins and lockouts are counted in logins.py (switches `lockout_after`,
`lockout_seconds`); this room asks it before a password is checked and tells
it the outcome. How credentials arrive (Basic, Bearer, token header or cookie)
is the HTTP layer's business (api.authenticate).
"""

import secrets
from dataclasses import dataclass

import scenario as scenarios
from logins import LOCKED, LOGIN_REQUIRED, Logins
from wire import ApiError


@dataclass(frozen=True)
class Principal:
    """Who sent a request: a name for the log and a role for permissions."""

    name: str
    role: str


class Identities:
    """The users, API keys and session tokens of one world, and its failed-login counts."""

    def __init__(self, definition, switches, speed):
        self.users = {user["name"]: user for user in scenarios.users_of(definition)}
        self.api_keys = {entry["key"]: Principal(entry.get("user", "apikey"), entry.get("role", "admin"))
                         for entry in definition.get("api_keys", [])}
        self.tokens = {}  # session token -> user name
        self.logins = Logins(switches["lockout_after"], switches["lockout_seconds"] / speed)

    def login(self, name, password):
        """Return a new session token for valid credentials, else None."""
        user = self.users.get(name)
        if user is None or user["password"] != password:
            return None
        token = secrets.token_hex(20)
        self.tokens[token] = name
        return token

    def check_password(self, name, password, now):
        """Return the principal of a user logging in with a password, or raise ApiError(401) (counted; locks: logins.py)."""
        if self.logins.locked(name, now):
            if not self._password_matches(name, password):
                self.logins.failure(name, now)
            raise ApiError(401, LOCKED)
        principal = self.user_principal(name, password)
        if principal is None:
            self.logins.failure(name, now)
            raise ApiError(401, LOGIN_REQUIRED)
        self.logins.success(name)
        return principal

    def _password_matches(self, name, password):
        user = self.users.get(name)
        return user is not None and user["password"] == password

    def user_principal(self, name, password):
        if not self._password_matches(name, password):
            return None
        return Principal(name, self.users[name].get("role", "admin"))

    def token_principal(self, token):
        name = self.tokens.get(token)
        return None if name is None else Principal(name, self.users[name].get("role", "admin"))
