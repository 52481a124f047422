# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one exception of the collection's VergeOS layer, and the scrubbing of secrets from text."""

from __future__ import annotations

REDACTED = '********'
# A server message or a transport error is quoted, never dumped: long bodies are cut here.
MAX_DETAIL = 300


def redact(text, secrets):
    """Return ``text`` with every secret replaced by ``REDACTED`` (longest first, so none leaks in part)."""
    if not text:
        return text
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def server_message(body):
    """Return the message of a VergeOS error body; None if it carries none.

    Three shapes occur: ``{"err": "text"}``, ``{"err": true, "message": "text"}`` and
    ``{"err": {"message": "text"}}``; ``error`` and a bare ``message`` are read too. A flag
    (``err: true``) is never the message.
    """
    if not isinstance(body, dict):
        return None
    for name in ('err', 'error'):
        value = body.get(name)
        if isinstance(value, dict):
            nested = server_message(value) or value.get('msg')
            if nested:
                return nested
        elif isinstance(value, str) and value.strip():
            return value
    value = body.get('message')
    if value and not isinstance(value, bool):
        return value if isinstance(value, str) else str(value)
    return None


def shorten(text, limit=MAX_DETAIL):
    """Return ``text`` on one line and at most ``limit`` characters."""
    text = ' '.join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + '...'


class VergeOSError(Exception):
    """Anything that went wrong between the collection and a VergeOS system.

    ``status`` is the HTTP status code, or None when no answer arrived (connection
    refused, timeout, TLS failure) or when the problem is not an HTTP one (no VM
    has that name). ``message`` is what the server said (or what went wrong),
    ``attempted`` what was being done, in words ("powering off VM web01 (id 5)"),
    ``retry_after`` the server's Retry-After in seconds when it sent one, ``paced``
    whether the client's pacer paces its sends again (a refusal by a rate limit the
    pacer already slows down for: a resend needs no backoff of its own).
    The text is built by the client after scrubbing its credentials out of it.
    """

    def __init__(self, message, status=None, attempted=None, retry_after=None):
        self.message = message
        self.status = status
        self.attempted = attempted
        # The server's Retry-After in seconds, when its answer carried one (429, 503).
        self.retry_after = retry_after
        self.paced = False
        super().__init__(self._text())

    def _text(self):
        detail = self.message if self.status is None else 'HTTP %s: %s' % (self.status, self.message)
        return detail if not self.attempted else 'Error while %s: %s' % (self.attempted, detail)

    def to_dict(self):
        """Return the fields a module adds to ``fail_json`` next to ``msg``."""
        return {'status': self.status, 'attempted': self.attempted}
