"""The client against a scripted HTTPS server: cut-off and non-JSON answers, 503/Retry-After, POST never re-sent.

The simulator answers correctly by design; these faults need a server that misbehaves
on purpose. Each connection gets the next scripted raw answer, then is closed.
"""

import json
import socket
import ssl
import threading

import pytest

import tls  # tests/simulator, on sys.path through tests/functional/pytest.ini
from ansible_collections.vergeos.power.plugins.module_utils.client import VergeOSClient
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.retry import RetryPolicy

PASSWORD = 'wire-Secret-42'
CLOSE = b''  # scripted "answer": close the connection without a word


def answer(status, body=b'', content_type='application/json', extra=(), length=None):
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = ['HTTP/1.1 %s' % status, 'Content-Type: %s' % content_type, 'Content-Length: %d' % (len(body) if length is None else length),
            'Connection: close', *extra]
    return ('\r\n'.join(head) + '\r\n\r\n').encode() + body


class ScriptedServer:
    def __init__(self, state_dir):
        ca, cert, key = tls.write_certificates(state_dir)
        self.ca = ca
        self.context = tls.server_context(cert, key)
        self.script = []
        self.requests = []
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.host = '127.0.0.1:%d' % self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read_request(self, conn):
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _separator, body = data.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        headers = dict(line.split(': ', 1) for line in lines[1:] if ': ' in line)
        length = int(headers.get('Content-Length', 0))
        while len(body) < length:
            body += conn.recv(65536)
        return {'line': lines[0], 'headers': headers, 'body': body}

    def _serve(self):
        while True:
            try:
                raw, _address = self.listener.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    request = self._read_request(conn)
                    if request is None:
                        continue
                    self.requests.append(request)
                    reply = self.script.pop(0) if self.script else answer('500 Internal Server Error', {'err': 'script ran out'})
                    if reply:
                        conn.sendall(reply)
            except (ssl.SSLError, OSError):
                continue

    def close(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
        except OSError:
            pass
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def server(tmp_path):
    scripted = ScriptedServer(str(tmp_path))
    yield scripted
    scripted.close()


def make_client(server, sleeps, **options):
    settings = {'username': 'admin', 'password': PASSWORD, 'ca_path': server.ca, 'api_timeout': 5,
                'retry': RetryPolicy(retries=2, base=0.01, budget=5), 'sleep': sleeps.append}
    settings.update(options)
    return VergeOSClient(server.host, **settings)


def test_a_cut_off_answer_is_a_clear_error_and_a_get_is_retried(server):
    sleeps = []
    server.script = [answer('200 OK', b'[{"$key": 1, "na', length=400)] * 3
    with pytest.raises(VergeOSError) as caught:
        make_client(server, sleeps).get('vms', attempted='reading VMs')
    assert len(server.requests) == 3 and len(sleeps) == 2
    assert 'cut off' in str(caught.value) and 'gave up after 3 tries' in str(caught.value)
    assert caught.value.status is None and PASSWORD not in str(caught.value)


def test_non_json_answer_is_a_clear_error(server):
    server.script = [answer('200 OK', b'<html><body>Portal login</body></html>', content_type='text/html')]
    with pytest.raises(VergeOSError) as caught:
        make_client(server, []).get('vms', attempted='reading VMs')
    assert str(caught.value).startswith('Error while reading VMs: HTTP 200: the answer is not valid JSON (text/html')


def test_503_with_retry_after_then_success(server):
    sleeps = []
    server.script = [answer('503 Service Unavailable', {'err': 'busy'}, extra=['Retry-After: 1']), answer('200 OK', [{'$key': 1}])]
    assert make_client(server, sleeps).get('vms') == [{'$key': 1}]
    assert sleeps == [1.0]
    assert len(server.requests) == 2
    assert all(request['headers']['Authorization'].startswith('Basic ') for request in server.requests)
    assert server.requests[0]['headers']['Accept'] == 'application/json'


def test_post_is_sent_once_on_503(server):
    server.script = [answer('503 Service Unavailable', {'err': 'busy'}), answer('201 Created')]
    with pytest.raises(VergeOSError) as caught:
        make_client(server, []).post('vm_actions', {'vm': 1, 'action': 'poweroff'}, attempted='powering off VM web01 (id 1)')
    assert caught.value.status == 503
    assert len(server.requests) == 1
    assert json.loads(server.requests[0]['body']) == {'vm': 1, 'action': 'poweroff'}


def test_post_without_an_answer_is_sent_once_and_says_the_outcome_is_unknown(server):
    server.script = [CLOSE, answer('201 Created')]
    with pytest.raises(VergeOSError) as caught:
        make_client(server, []).post('vm_actions', {'vm': 1, 'action': 'kill'}, attempted='killing VM web01 (id 1)')
    assert len(server.requests) == 1
    assert caught.value.status is None
    assert 'may or may not have been carried out' in str(caught.value)
    # The request went out: a connection closed before the answer is not "cannot connect".
    assert 'closed before an answer' in str(caught.value) and 'cannot connect' not in str(caught.value)


def test_a_get_without_an_answer_is_retried(server):
    sleeps = []
    server.script = [CLOSE, answer('200 OK', [])]
    assert make_client(server, sleeps).get('vms') == []
    assert len(server.requests) == 2 and len(sleeps) == 1


def test_connection_refused_is_a_transport_error_without_secrets(server):
    with socket.create_server(('127.0.0.1', 0)) as probe:
        server.host = '127.0.0.1:%d' % probe.getsockname()[1]  # a port nobody listens on once closed
    with pytest.raises(VergeOSError) as caught:
        make_client(server, [], retry=RetryPolicy(retries=0)).get('vms', attempted='reading VMs')
    assert caught.value.status is None
    assert 'cannot connect to https://%s' % server.host in str(caught.value)
    assert PASSWORD not in str(caught.value)
