# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one HTTP client of the collection: a requests session to one VergeOS system.

Everything else (lookup, listing, power actions, the inventory) calls the
``get``/``put``/``post``/``delete`` methods here and handles ``VergeOSError``.
"""

from __future__ import annotations

import base64
import email.utils
import json
import os
import random
import ssl
import time
import traceback
import warnings
from urllib.parse import urlsplit

try:
    import requests
    from requests.adapters import HTTPAdapter
    from requests.utils import get_environ_proxies
except ImportError:
    requests = None
    HTTPAdapter = object
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

from ansible_collections.vergeos.power.plugins.module_utils.errors import MAX_DETAIL, VergeOSError, redact, server_message, shorten
from ansible_collections.vergeos.power.plugins.module_utils.logins import REFUSED, guard_for
from ansible_collections.vergeos.power.plugins.module_utils.pacing import Pacer
from ansible_collections.vergeos.power.plugins.module_utils.retry import RetryPolicy, is_retryable_method, is_retryable_status, parse_retry_after

API_PREFIX = '/api/v4/'
DEFAULT_TIMEOUT = 30
USER_AGENT = 'ansible-collection-vergeos.power'
JSON_HEADERS = {'Content-Type': 'application/json', 'Accept': 'application/json'}


def parse_host(host):
    """Return the base URL ``https://host[:port]`` for a host, host:port or https URL; VergeOSError otherwise.

    A URL with another scheme, a path, a query or credentials in it is refused with
    a message saying what to give instead (credentials are never repeated).
    """
    text = (host or '').strip() if isinstance(host, str) else ''
    if not text:
        raise VergeOSError('no VergeOS system given: set host (or the environment variable VERGEOS_HOST) to host, host:port or '
                           'https://host[:port]')
    if '@' in text:
        raise VergeOSError('host must not carry credentials (user:password@host): give username and password, or api_key')
    if '://' in text:
        scheme, rest = text.split('://', 1)
        if scheme.lower() != 'https':
            raise VergeOSError('host %r: only https:// is supported (VergeOS serves its API over HTTPS only)' % text)
    else:
        rest = text
    parts = urlsplit('https://' + rest)
    if parts.path not in ('', '/') or parts.query or parts.fragment or '?' in rest or '#' in rest:
        raise VergeOSError('host %r must not contain a path or query: give only host[:port], the collection adds /api/v4' % text)
    try:
        port = parts.port
    except ValueError:
        raise VergeOSError('host %r: the port must be a number from 1 to 65535' % text) from None
    if not parts.hostname or port == 0:
        raise VergeOSError('host %r is not a valid host, host:port or https://host[:port]' % text)
    return 'https://' + parts.netloc


def endpoint_url(base_url, path):
    """Return the URL of an API path (``vms``, ``vms/5``) on the system whose base URL parse_host returned."""
    return base_url + API_PREFIX + path.lstrip('/')


def same_system(one, other):
    """Return whether two hosts (host, host:port or https URL) name the same VergeOS system.

    Host names compare without case and port 443 is the default, so ``VERGEOS.example.com``,
    ``vergeos.example.com:443`` and ``https://vergeos.example.com`` are one system. Anything
    parse_host refuses is never the same system.
    """
    try:
        first, second = urlsplit(parse_host(one)), urlsplit(parse_host(other))
    except VergeOSError:
        return False
    return (first.hostname, first.port or 443) == (second.hostname, second.port or 443)


def _verify_setting(validate_certs, ca_path):
    """Return requests' ``verify``: False, the CA path, or True (the operating system's trust store, see SystemTrustAdapter)."""
    if not validate_certs:
        return False
    if ca_path:
        path = os.path.expanduser(ca_path)
        if not os.path.exists(path):
            raise VergeOSError('ca_path %s does not exist: give a PEM file (or a directory of them) with the CA that signed the VergeOS certificate' % path)
        return path
    return True


class SystemTrustAdapter(HTTPAdapter):
    """An HTTPS transport that verifies certificates against the operating system's trust store, as curl and ansible.builtin.uri do.

    Told ``verify=True``, requests points every connection at certifi's bundle (its own copy of Mozilla's list),
    so a CA the operating system trusts (the internal CA many VergeOS sites install there) would not be trusted.
    This adapter gives its connections one context made by ``ssl.create_default_context()``, which loads
    OpenSSL's default verify locations (the environment variables ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` honoured
    as OpenSSL honours them), and never adds a CA file to it: the context alone decides.
    """

    def __init__(self, *args, **kwargs):
        # Before HTTPAdapter.__init__, which calls init_poolmanager.
        self.ssl_context = ssl.create_default_context()
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs['ssl_context'] = self.ssl_context
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        proxy_kwargs.setdefault('ssl_context', self.ssl_context)
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def cert_verify(self, conn, url, verify, cert):
        if verify is True and url.lower().startswith('https'):
            # What HTTPAdapter.cert_verify does for True, minus the CA file it would add (certifi's). The client
            # sends no client certificate (cert is always None).
            conn.cert_reqs = 'CERT_REQUIRED'
            conn.ca_certs = None
            conn.ca_cert_dir = None
            return
        super().cert_verify(conn, url, verify, cert)


def trusting_session(verify):
    """Return a requests session whose TLS trust is ``verify`` alone (False, a CA path, or True: the operating system's trust store).

    ``trust_env`` is off, so requests consults neither ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` (which it would put
    in place of ``verify=True``) nor ``~/.netrc`` (which would replace the Authorization header); the proxy variables
    (``HTTPS_PROXY``, ``NO_PROXY``...) still apply, through ``environment_proxies`` (read once per client and system).
    """
    session = requests.Session()
    session.trust_env = False
    if verify is True:
        session.mount('https://', SystemTrustAdapter())
    return session


def environment_proxies(url):
    """Return the proxies the environment names for url (none when NO_PROXY covers it), as requests reads them with trust_env."""
    return get_environ_proxies(url)


def timeout_seconds(api_timeout):
    """Return ``api_timeout`` (a number or numeric string; None: the default) as float seconds; VergeOSError unless above 0.

    The one rule for every caller: the modules' option, the inventory's option and each of its ``sites``.
    """
    try:
        value = float(DEFAULT_TIMEOUT if api_timeout is None else api_timeout) if not isinstance(api_timeout, bool) else 0.0
    except (TypeError, ValueError):
        value = 0.0
    if not 0 < value < float('inf'):
        raise VergeOSError('api_timeout must be a number of seconds greater than 0, not %r' % (api_timeout,))
    return value


def _dropped(exc):
    """Whether a transport error is a connection closed after the request went out (not a failure to connect)."""
    text = str(exc)
    return any(words in text for words in ('Connection aborted', 'RemoteDisconnected', 'Connection reset by peer', 'BadStatusLine'))


class VergeOSClient:
    """A session to one VergeOS system: authentication, TLS, timeouts, retries and error translation.

    ``get`` and ``put`` are retried (with backoff and jitter, within ``retry``'s
    budget) on connection errors, 429 and 5xx; ``post`` and ``delete`` are sent
    once. Every failure is a VergeOSError whose text never contains a credential.
    """

    def __init__(self, host, *, username=None, password=None, api_key=None, validate_certs=True, ca_path=None,
                 api_timeout=DEFAULT_TIMEOUT, retry=None, session=None, sleep=time.sleep, rand=random.random, clock=time.time,
                 pacer=None):
        if session is None and not HAS_REQUESTS:
            raise VergeOSError('the Python library requests is required to talk to VergeOS')
        self.url = parse_host(host)
        self._secrets = []
        self.auth_method, authorization = self._authorization(username, password, api_key)
        self.verify = _verify_setting(validate_certs, ca_path)
        self.timeout = timeout_seconds(api_timeout)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rand = rand
        self._clock = clock
        # VergeOS's clock: the HTTP Date of the latest answer (unix seconds) and this client's clock when it came (server_now).
        self.server_date, self._server_date_at = None, None
        # Every request of this client, reads and writes, goes out at the pacer's pace (see pacing.py).
        self.pacer = pacer if pacer is not None else Pacer(sleep=sleep)
        # A session of our own: TLS trust from verify alone, proxies from the environment (see trusting_session), read
        # once per origin ({'https://host:port': proxies}): requests reads the whole environment twice to answer.
        self._environment_proxies = session is None
        self._proxies = {}
        self.session = session if session is not None else trusting_session(self.verify)
        self.session.headers.update(JSON_HEADERS)
        self.session.headers['User-Agent'] = USER_AGENT
        self.session.headers['Authorization'] = authorization
        # The first request is the login: at most one per run may fail for these credentials (logins.py). A session given
        # by the caller (the unit tests) is not guarded.
        self._login_guard = guard_for(self.url, username if not api_key else 'api key', authorization) if session is None else None

    # ------------------------------------------------------------ setup

    def _authorization(self, username, password, api_key):
        """Return (method, Authorization header); an API key wins over a user name and password."""
        if api_key:
            if not api_key.isascii() or not api_key.isprintable() or any(c.isspace() for c in api_key):
                raise VergeOSError('api_key contains characters an HTTP header cannot carry (spaces, line breaks or non-ASCII)')
            header = 'Bearer ' + api_key
            self._secrets += [api_key, header]
            return 'api_key', header
        if not username or password is None or password == '':
            raise VergeOSError('no credentials: give username and password, or api_key')
        if ':' in username:
            raise VergeOSError('username must not contain ":" (HTTP Basic authentication cannot carry it)')
        token = base64.b64encode(('%s:%s' % (username, password)).encode('utf-8')).decode('ascii')
        header = 'Basic ' + token
        self._secrets += [password, token, header]
        return 'basic', header

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ------------------------------------------------------------ errors

    def _clean(self, text, limit=MAX_DETAIL):
        """Return text with credentials scrubbed, then shortened (in that order, so no part of a secret survives a cut)."""
        return shorten(redact(str(text), self._secrets), limit)

    def _transport_reason(self, exc):
        """Return the root cause of a requests transport error, without its long wrapper text."""
        cause = exc.args[0] if exc.args else exc
        return self._clean(getattr(cause, 'reason', cause))

    def error(self, message, status=None, attempted=None):
        """Return a VergeOSError with this client's credentials scrubbed from its text."""
        return VergeOSError(redact(str(message), self._secrets), status, redact(attempted, self._secrets) if attempted else attempted)

    def _http_error(self, response, attempted):
        try:
            body = json.loads(response.content.decode('utf-8')) if response.content else None
        except ValueError:
            body = None
        text = response.content.decode('utf-8', 'replace') if response.content else ''
        message = self._clean(server_message(body) or text or response.reason or 'no message')
        if response.status_code == 401:
            message = '%s (check %s)' % (message, 'api_key' if self.auth_method == 'api_key' else 'username and password')
        failure = self.error(message, response.status_code, attempted)
        # The error body as it came (decoded JSON, else the text): the read-only probe reports its shape (probe.py).
        failure.body = body if body is not None else text
        return failure

    def _transport_error(self, exc, method, attempted):
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            message = 'timed out after %gs connecting to %s' % (self.timeout, self.url)
        elif isinstance(exc, requests.exceptions.Timeout):
            message = 'no answer from %s within %gs' % (self.url, self.timeout)
        elif isinstance(exc, requests.exceptions.ChunkedEncodingError):
            message = 'the answer from %s was cut off: %s' % (self.url, self._transport_reason(exc))
        elif _dropped(exc):
            # The connection was made and the request sent; the answer never came (VergeOS drops the
            # connections of a client over its rate limit, proxies drop them under load).
            message = 'the connection to %s was closed before an answer: %s' % (self.url, self._transport_reason(exc))
        else:
            message = 'cannot connect to %s: %s' % (self.url, self._transport_reason(exc))
        if not is_retryable_method(method) and not isinstance(exc, requests.exceptions.ConnectTimeout):
            message += ' (the request may or may not have been carried out: read the state again before deciding)'
        return self.error(message, None, attempted)

    def _tls_error(self, exc, attempted):
        reason = self._transport_reason(exc)
        if self.verify is False:
            return self.error('TLS error with %s: %s' % (self.url, reason), None, attempted)
        return self.error('TLS certificate verification of %s failed: %s; %s' % (self.url, reason, self._tls_hint(reason)), None, attempted)

    def _tls_hint(self, reason):
        """Return what to do about a failed verification: the certificate's own fault first, then the CA."""
        text = reason.lower()
        if 'expired' in text or 'not yet valid' in text:
            return 'the certificate of the VergeOS system is outside its validity dates: renew it (or check the clock of this controller)'
        if 'hostname' in text or "doesn't match" in text or 'ip address mismatch' in text:
            return ('the certificate of the VergeOS system was issued for another name: give host as a name the certificate holds '
                    '(its subject alternative names)')
        if isinstance(self.verify, str):
            return 'check ca_path (the CA that signed the VergeOS certificate)'
        return ('the CA that signed it is not in the trust store of this controller\'s operating system (or of SSL_CERT_FILE / '
                'SSL_CERT_DIR): give that CA in ca_path, or set validate_certs to false (insecure)')

    # ------------------------------------------------------------ requests

    def _proxies_for(self, url):
        """Return the proxies the environment names for url's origin, read at the client's first request there.

        The environment does not change under a task, and every request of a client goes to one system: reading it
        per request cost a tenth of the client's time over many small requests.
        """
        origin = '/'.join(url.split('/', 3)[:3])
        if origin not in self._proxies:
            self._proxies[origin] = environment_proxies(url)
        return self._proxies[origin]

    def _send(self, method, url, params, body):
        kwargs = {'params': params, 'timeout': self.timeout, 'verify': self.verify}
        if self._environment_proxies:
            kwargs['proxies'] = self._proxies_for(url)
        if body is not None:
            kwargs['data'] = json.dumps(body)
        if self.verify is False:
            # The user chose validate_certs: false; one warning per request would drown the output.
            with warnings.catch_warnings():
                warnings.filterwarnings('ignore', message='Unverified HTTPS request')
                return self.session.request(method, url, **kwargs)
        # verify= on every request: a session given by the caller may trust the environment, and then REQUESTS_CA_BUNDLE
        # replaces session.verify.
        return self.session.request(method, url, **kwargs)

    def _decode(self, response, attempted):
        if not response.content or not response.content.strip():
            return None
        try:
            return json.loads(response.content.decode('utf-8'))
        except ValueError:
            kind = response.headers.get('Content-Type') or 'no Content-Type'
            snippet = self._clean(response.content.decode('utf-8', 'replace'), 120)
            raise self.error('the answer is not valid JSON (%s, %d bytes): %s' % (kind, len(response.content), snippet),
                             response.status_code, attempted) from None

    def _attempt(self, method, url, params, body, attempted):
        """Send once; return (decoded body, None, None) or (None, error, Retry-After seconds).

        A dropped connection and a 429 tell the pacer to slow down (VergeOS drops the
        connections of a client over its rate limit; a 429's Retry-After holds the pacer);
        any other answer counts as admitted and lets it speed up.
        """
        ticket = self.pacer.before()
        try:
            response = self._send(method, url, params, body)
        except requests.exceptions.SSLError as exc:
            raise self._tls_error(exc, attempted) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            if isinstance(exc, requests.exceptions.ConnectionError):
                # No answer: a throttle signal once such drops come together (pacing.py), never throughput.
                self.pacer.throttled(explicit=False, ticket=ticket)
            failure = self._transport_error(exc, method, attempted)
            failure.paced = isinstance(exc, requests.exceptions.ConnectionError) and self.pacer.limiting()
            return None, failure, None
        except requests.exceptions.RequestException as exc:
            raise self.error('request to %s failed: %s' % (self.url, self._clean(exc)), None, attempted) from None
        retry_after = parse_retry_after(response.headers.get('Retry-After'), self._clock())
        self._note_date(response.headers.get('Date'))
        if response.status_code == 429:
            # The pacer holds every request of this client until Retry-After expires, not only this one's resend.
            self.pacer.throttled(retry_after=retry_after, ticket=ticket)
        else:
            self.pacer.answered(ticket)
        if 200 <= response.status_code < 300:
            return self._decode(response, attempted), None, None
        failure = self._http_error(response, attempted)
        failure.retry_after = retry_after
        failure.paced = response.status_code == 429  # the pacer holds this client for its Retry-After and paces it after
        if not is_retryable_status(method, response.status_code):
            raise failure
        return None, failure, failure.retry_after

    def _note_date(self, text):
        try:
            stamp = email.utils.parsedate_to_datetime(text).timestamp() if text else None
        except (TypeError, ValueError, IndexError, OverflowError):
            stamp = None
        if stamp is not None:
            self.server_date, self._server_date_at = stamp, self._clock()

    def server_now(self):
        """Return VergeOS's time now (unix seconds) by its latest answer's Date, or None before any answer carried one."""
        if self.server_date is None:
            return None
        return self.server_date + max(0.0, self._clock() - self._server_date_at)

    def request(self, method, path, params=None, body=None, attempted=None):
        """Send ``method`` to ``/api/v4/<path>`` and return the decoded JSON answer (None for an empty one).

        ``attempted`` says in words what this is for; it prefixes every error.
        """
        method = method.upper()
        if self._login_guard is not None:
            return self._first_request(method, path, params, body, attempted)
        url = endpoint_url(self.url, path)
        retry, slept = 0, 0.0
        while True:
            result, failure, retry_after = self._attempt(method, url, params, body, attempted)
            if failure is None:
                return result
            delay = self.retry.next_delay(retry, slept, retry_after, self._rand, failure.paced) if is_retryable_method(method) else None
            if delay is None:
                if retry:
                    gave_up = self.error('%s (gave up after %d tries)' % (failure.message, retry + 1), failure.status, attempted)
                    gave_up.retry_after, gave_up.paced = failure.retry_after, failure.paced
                    raise gave_up
                raise failure
            self._sleep(delay)
            slept += delay
            retry += 1

    def _first_request(self, method, path, params, body, attempted):
        """Send the first request under the run's login lock (see logins.py): never a second failed login per run."""
        guard, self._login_guard = self._login_guard, None
        try:
            outcome, message = guard.acquire()
        except OSError:
            return self.request(method, path, params, body, attempted)
        try:
            if outcome == REFUSED:
                raise self.error('not sent: an earlier task of this run already failed to log in with these credentials (%s); '
                                 'another try could lock the account' % message, 401, attempted)
            if outcome is not None:
                return self.request(method, path, params, body, attempted)
            try:
                answer = self.request(method, path, params, body, attempted)
            except VergeOSError as exc:
                guard.answered(exc.status, exc.message)
                raise
            guard.answered(200, '')
            return answer
        finally:
            guard.release()

    def get(self, path, params=None, attempted=None):
        return self.request('GET', path, params=params, attempted=attempted)

    def put(self, path, body, attempted=None):
        return self.request('PUT', path, body=body, attempted=attempted)

    def post(self, path, body, attempted=None):
        """Send once, never again: the caller reads the state and decides after a failure."""
        return self.request('POST', path, body=body, attempted=attempted)

    def delete(self, path, attempted=None):
        return self.request('DELETE', path, attempted=attempted)

    def about(self):
        """Return the system row (``$key``, ``yb_version``, ``os_version``, ``cloud_name``): a cheap connection check."""
        rows = self.get('system', {'fields': '$key,yb_version,os_version,cloud_name'}, attempted='reading the VergeOS system')
        if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
            raise self.error('unexpected answer to GET system: %s' % shorten(rows), None, 'reading the VergeOS system')
        return rows[0]
