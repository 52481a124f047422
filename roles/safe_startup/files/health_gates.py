# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The health gates of the roles safe_startup and rolling_restart: every VM's TCP port or HTTP(S) URL, side by side.

Run on the controller by roles/safe_startup/tasks/gates.yml (one process for all the VMs of a
tier or a batch). Reads one JSON document on stdin:

    {"timeout": 300, "interval": 1, "attempt_timeout": 5,
     "tls": {"validate_certs": true, "ca_path": "", "client_cert": "", "client_key": ""},
     "checks": [{"id": 12, "name": "web01", "host": "10.0.0.5", "port": 443},
                {"id": 13, "name": "web02", "url": "https://10.0.0.6/health", "status": [200]}]}

and writes one: {"checks": [{"id", "name", "ok", "at", "attempts", "status", "msg"}], "started", "ended"}.
Each VM is tried every ``interval`` seconds until it answers (a TCP connection; an HTTP GET
whose status is one of ``status``) or ``timeout`` seconds have passed; ``at`` is the unix time
of its answer. An attempt waits at most ``attempt_timeout`` seconds, so a server that never
answers (a hung health endpoint) fails at the deadline. Only the standard library: it runs with
the controller's Python. Exit status 0 whatever the gates say; 2 for input it cannot read.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request


def tls_context(tls):
    """Return the TLS context of the URL checks, as ansible.builtin.uri takes its options."""
    tls = tls or {}
    if tls.get('validate_certs', True):
        context = ssl.create_default_context(cafile=tls.get('ca_path') or None)
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.get('client_cert'):
        context.load_cert_chain(tls['client_cert'], tls.get('client_key') or None)
    return context


def try_port(check, timeout):
    """Return (ok, status, msg) of one TCP connection attempt."""
    try:
        with socket.create_connection((check['host'], int(check['port'])), timeout=timeout):
            return True, None, 'port %s on %s answers' % (check['port'], check['host'])
    except OSError as exc:
        return False, None, 'port %s on %s: %s' % (check['port'], check['host'], exc.strerror or exc.__class__.__name__)


def try_url(check, timeout, context):
    """Return (ok, status, msg) of one HTTP GET."""
    wanted = [int(code) for code in check.get('status') or [200]]
    request = urllib.request.Request(check['url'], method='GET', headers={'User-Agent': 'vergeos.power health gate'})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:  # noqa: S310 (http and https only, checked by the role)
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        reason = getattr(exc, 'reason', None) or exc
        return False, None, 'GET %s: %s' % (check['url'], reason)
    if status in wanted:
        return True, status, 'GET %s answers %s' % (check['url'], status)
    return False, status, 'GET %s answers %s, not %s' % (check['url'], status, '/'.join(str(code) for code in wanted))


def wait_one(check, spec, context, answer):
    """Try one VM until it answers or its deadline passes; fill ``answer``."""
    deadline = spec['started'] + float(spec.get('timeout', 300))
    interval = max(0.05, float(spec.get('interval', 1)))
    attempt_timeout = max(0.1, float(spec.get('attempt_timeout', 5)))
    attempts, last = 0, 'not tried'
    while True:
        attempts += 1
        left = max(0.1, min(attempt_timeout, deadline - time.time()))
        if 'url' in check:
            ok, status, last = try_url(check, left, context)
        else:
            ok, status, last = try_port(check, left)
        if ok:
            answer.update(ok=True, at=time.time(), attempts=attempts, status=status, msg=last)
            return
        if time.time() + interval >= deadline:
            answer.update(ok=False, at=None, attempts=attempts, status=status,
                          msg='no answer within %gs (%d attempt(s); last: %s)' % (float(spec.get('timeout', 300)), attempts, last))
            return
        time.sleep(interval)


def run(spec):
    """Return the answers of every check of ``spec``, all tried side by side."""
    spec = dict(spec, started=time.time())
    context = tls_context(spec.get('tls')) if any('url' in check for check in spec.get('checks') or []) else None
    answers, threads = [], []
    for check in spec.get('checks') or []:
        answer = {'id': check.get('id'), 'name': check.get('name'), 'ok': False, 'at': None, 'attempts': 0, 'status': None, 'msg': ''}
        answers.append(answer)
        thread = threading.Thread(target=wait_one, args=(check, spec, context, answer), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return {'checks': answers, 'started': spec['started'], 'ended': time.time()}


def main():
    try:
        spec = json.load(sys.stdin)
        result = run(spec)
    except (ValueError, KeyError, TypeError, ssl.SSLError, OSError) as exc:
        sys.stdout.write(json.dumps({'failed': True, 'msg': 'health gates: %s' % exc}))
        return 2
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
