# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""VergeOSClient: host parsing, authentication, TLS settings, retry decisions and error text (HTTP faked)."""

from __future__ import annotations

import base64

import pytest
import requests

from ansible_collections.vergeos.power.plugins.module_utils.client import VergeOSClient, parse_host
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.pacing import Pacer
from ansible_collections.vergeos.power.plugins.module_utils.retry import RetryPolicy

PASSWORD = 'pa55:w0rd-Sekrit'
API_KEY = 'key-0123456789abcdef'


def make_client(session, sleeps=None, **kwargs):
    # Pacing has its own tests below; here its waits would mix with the retries' sleeps.
    options = {'username': 'admin', 'password': PASSWORD, 'rand': lambda: 0.5, 'clock': lambda: 1000.0, 'pacer': Pacer(sleep=lambda s: None)}
    options.update(kwargs)
    return VergeOSClient('vergeos.example.com', session=session, sleep=(sleeps.append if sleeps is not None else lambda s: None), **options)


# ---------------------------------------------------------------- host


@pytest.mark.parametrize('host, url', [
    ('vergeos.example.com', 'https://vergeos.example.com'),
    ('  vergeos.example.com  ', 'https://vergeos.example.com'),
    ('vergeos.example.com:8443', 'https://vergeos.example.com:8443'),
    ('https://vergeos.example.com', 'https://vergeos.example.com'),
    ('HTTPS://vergeos.example.com:8443/', 'https://vergeos.example.com:8443'),
    ('10.0.0.5', 'https://10.0.0.5'),
    ('[fd00::5]:8443', 'https://[fd00::5]:8443'),
])
def test_parse_host_accepts_host_port_and_https_urls(host, url):
    assert parse_host(host) == url


@pytest.mark.parametrize('host, words', [
    ('http://vergeos.example.com', 'only https'),
    ('ftp://vergeos.example.com', 'only https'),
    ('https://vergeos.example.com/api/v4', 'path'),
    ('vergeos.example.com/ui', 'path'),
    ('https://vergeos.example.com?x=1', 'path or query'),
    ('vergeos.example.com:99999', 'port'),
    ('vergeos.example.com:https', 'port'),
    ('', 'no VergeOS system given: set host (or the environment variable VERGEOS_HOST)'),
    (None, 'no VergeOS system given: set host (or the environment variable VERGEOS_HOST)'),
    ('https://', 'not a valid host'),
])
def test_parse_host_refuses_other_schemes_paths_and_garbage(host, words):
    with pytest.raises(VergeOSError) as caught:
        parse_host(host)
    assert words in str(caught.value)


def test_parse_host_with_credentials_does_not_repeat_them():
    with pytest.raises(VergeOSError) as caught:
        parse_host('https://admin:%s@vergeos.example.com' % PASSWORD)
    assert 'credentials' in str(caught.value)
    assert PASSWORD not in str(caught.value)


# ---------------------------------------------------------------- authentication and headers


def test_basic_auth_header_and_json_headers_on_the_session(fake_session, fake_response):
    session = fake_session([fake_response(200, [])])
    client = make_client(session)
    client.get('vms')
    headers = session.calls[0]['headers']
    assert headers['Authorization'] == 'Basic ' + base64.b64encode(('admin:' + PASSWORD).encode()).decode()
    assert headers['Content-Type'] == 'application/json'
    assert headers['Accept'] == 'application/json'
    assert client.auth_method == 'basic'


def test_api_key_is_a_bearer_token_and_wins_over_a_password(fake_session, fake_response):
    session = fake_session([fake_response(200, [])])
    client = make_client(session, api_key=API_KEY)
    client.get('vms')
    assert session.calls[0]['headers']['Authorization'] == 'Bearer ' + API_KEY
    assert client.auth_method == 'api_key'


@pytest.mark.parametrize('options, words', [
    ({'username': None, 'password': None}, 'no credentials'),
    ({'username': 'admin', 'password': ''}, 'no credentials'),
    ({'username': None, 'password': PASSWORD}, 'no credentials'),
    ({'username': 'ad:min'}, 'must not contain ":"'),
])
def test_missing_or_unusable_credentials_are_refused(fake_session, options, words):
    with pytest.raises(VergeOSError) as caught:
        make_client(fake_session([]), **options)
    assert words in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_api_key_that_no_header_can_carry_is_refused_without_showing_it(fake_session):
    key = 'abc\ndef' + API_KEY
    with pytest.raises(VergeOSError) as caught:
        make_client(fake_session([]), api_key=key)
    assert 'api_key' in str(caught.value)
    assert API_KEY not in str(caught.value)


# ---------------------------------------------------------------- TLS and timeouts


def test_verify_and_timeout_are_passed_on_every_request(fake_session, fake_response):
    session = fake_session([fake_response(200, []), fake_response(201), fake_response(200)])
    client = make_client(session, api_timeout=12)
    client.get('vms')
    client.post('vm_actions', {'vm': 1, 'action': 'poweron'})
    client.put('machine_status/7', {'running': False})
    assert [call['verify'] for call in session.calls] == [True, True, True]
    assert [call['timeout'] for call in session.calls] == [12.0, 12.0, 12.0]
    assert session.calls[1]['data'] == '{"vm": 1, "action": "poweron"}'
    assert session.calls[0]['url'] == 'https://vergeos.example.com/api/v4/vms'


def test_ca_path_is_the_verify_value(fake_session, fake_response, tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text('not checked here')
    session = fake_session([fake_response(200, [])])
    make_client(session, ca_path=str(ca)).get('vms')
    assert session.calls[0]['verify'] == str(ca)


def test_validate_certs_false_wins_over_ca_path(fake_session, fake_response, tmp_path):
    session = fake_session([fake_response(200, [])])
    make_client(session, validate_certs=False, ca_path=str(tmp_path / 'missing.pem')).get('vms')
    assert session.calls[0]['verify'] is False


def test_missing_ca_path_is_a_clear_error(fake_session, tmp_path):
    with pytest.raises(VergeOSError) as caught:
        make_client(fake_session([]), ca_path=str(tmp_path / 'missing.pem'))
    assert 'ca_path' in str(caught.value) and 'does not exist' in str(caught.value)


@pytest.mark.parametrize('timeout', [0, -1, 'soon', True, 'nan', float('inf')])
def test_bad_api_timeout_is_refused(fake_session, timeout):
    with pytest.raises(VergeOSError, match='api_timeout'):
        make_client(fake_session([]), api_timeout=timeout)


def test_tls_failure_is_not_retried_and_says_what_to_do(fake_session):
    session = fake_session([requests.exceptions.SSLError('certificate verify failed: self-signed certificate')])
    with pytest.raises(VergeOSError) as caught:
        make_client(session).get('vms', attempted='reading VMs')
    assert len(session.calls) == 1
    assert caught.value.status is None
    assert 'ca_path' in str(caught.value) and 'validate_certs' in str(caught.value)
    assert str(caught.value).startswith('Error while reading VMs: TLS certificate verification')


# ---------------------------------------------------------------- answers


def test_json_answer_is_decoded_and_empty_answer_is_none(fake_session, fake_response):
    session = fake_session([fake_response(200, [{'$key': 1}]), fake_response(201, raw=b'')])
    client = make_client(session)
    assert client.get('vms') == [{'$key': 1}]
    assert client.post('vm_actions', {'vm': 1, 'action': 'kill'}) is None


@pytest.mark.parametrize('raw', ['<html>Bad gateway page</html>', '[{"$key": 1, "name": "web', 'null garbage'])
def test_non_json_or_truncated_answer_is_a_clear_error(fake_session, fake_response, raw):
    session = fake_session([fake_response(200, raw=raw, headers={'Content-Type': 'text/html'})])
    with pytest.raises(VergeOSError) as caught:
        make_client(session).get('vms', attempted='reading VMs')
    assert 'not valid JSON' in str(caught.value)
    assert caught.value.status == 200
    assert caught.value.attempted == 'reading VMs'


@pytest.mark.parametrize('body, raw, message', [
    ({'err': 'value is not in list'}, None, 'value is not in list'),
    ({'error': 'from error'}, None, 'from error'),
    ({'message': 'from message'}, None, 'from message'),
    ({'err': 'err wins', 'error': 'not this', 'message': 'nor this'}, None, 'err wins'),
    ({'err': True, 'message': 'a flag and a message'}, None, 'a flag and a message'),
    ({'err': {'message': 'nested message'}}, None, 'nested message'),
    ({'error': {'msg': 'nested msg'}}, None, 'nested msg'),
    (None, '<h1>502 Bad Gateway</h1>', '<h1>502 Bad Gateway</h1>'),
])
def test_http_error_carries_status_and_server_message(fake_session, fake_response, body, raw, message):
    session = fake_session([fake_response(422, body, raw=raw, reason='Unprocessable')])
    with pytest.raises(VergeOSError) as caught:
        make_client(session).post('vm_actions', {'vm': 5, 'action': 'x'}, attempted='powering off VM web01 (id 5)')
    error = caught.value
    assert error.status == 422
    assert error.message == message
    assert str(error) == 'Error while powering off VM web01 (id 5): HTTP 422: %s' % message
    assert error.to_dict() == {'status': 422, 'attempted': 'powering off VM web01 (id 5)'}


# ---------------------------------------------------------------- retries


def test_get_is_retried_on_503_then_succeeds(fake_session, fake_response):
    sleeps = []
    session = fake_session([fake_response(503, {'err': 'busy'}), fake_response(502), fake_response(200, [])])
    assert make_client(session, sleeps).get('vms') == []
    assert len(session.calls) == 3
    assert sleeps == [0.375, 0.75]  # base 0.5: half fixed, half jitter (rand 0.5)


def test_retry_after_is_honoured_and_capped(fake_session, fake_response):
    sleeps = []
    session = fake_session([fake_response(429, headers={'Retry-After': '7'}), fake_response(429, headers={'Retry-After': '600'}),
                            fake_response(200, [])])
    make_client(session, sleeps, retry=RetryPolicy(budget=100)).get('vms')
    assert sleeps == [7.0, 30.0]


def test_get_gives_up_when_the_budget_is_spent(fake_session, fake_response):
    sleeps = []
    session = fake_session([fake_response(503, {'err': 'down'})] * 10)
    with pytest.raises(VergeOSError) as caught:
        make_client(session, sleeps, retry=RetryPolicy(retries=3)).get('vms', attempted='reading VMs')
    assert len(session.calls) == 4
    assert len(sleeps) == 3
    assert caught.value.status == 503
    assert 'gave up after 4 tries' in str(caught.value)


def test_a_read_dropped_while_the_pacer_paces_is_sent_again_at_its_turn_without_a_backoff(fake_session, fake_response):
    sleeps = []
    pacer = Pacer(sleep=lambda s: None)
    drops = [requests.exceptions.ConnectionError('reset')] * 2
    client = make_client(fake_session(drops + [fake_response(200, [])]), sleeps, pacer=pacer)
    pacer.throttled()  # a 429 before: the pacer paces this system
    assert pacer.limiting()
    assert client.get('vms') == []
    assert sleeps[0] == 0.0 and sleeps[1] > 0  # the first resend at its turn; dropped again, the backoff as ever
    unpaced = []
    make_client(fake_session([requests.exceptions.ConnectionError('reset'), fake_response(200, [])]), unpaced).get('vms')
    assert unpaced and unpaced[0] > 0  # no limit met: the backoff stays


def test_get_is_retried_on_connection_errors_and_cut_off_answers(fake_session, fake_response):
    sleeps = []
    session = fake_session([requests.exceptions.ConnectionError('refused'), requests.exceptions.ReadTimeout('slow'),
                            requests.exceptions.ChunkedEncodingError('IncompleteRead(10 bytes read, 90 more expected)'),
                            fake_response(200, [{'$key': 3}])])
    assert make_client(session, sleeps).get('vms') == [{'$key': 3}]
    assert len(sleeps) == 3


def test_put_is_retried_like_get(fake_session, fake_response):
    session = fake_session([fake_response(500, {'err': 'oops'}), fake_response(200)])
    make_client(session).put('machine_status/5003', {'running': False})
    assert [call['method'] for call in session.calls] == ['PUT', 'PUT']


def test_post_is_never_re_sent_after_a_server_error(fake_session, fake_response):
    session = fake_session([fake_response(503, {'err': 'busy'}), fake_response(201)])
    with pytest.raises(VergeOSError) as caught:
        make_client(session).post('vm_actions', {'vm': 1, 'action': 'poweroff'})
    assert len(session.calls) == 1
    assert caught.value.status == 503


def test_post_without_an_answer_is_not_re_sent_and_says_the_outcome_is_unknown(fake_session):
    session = fake_session([requests.exceptions.ReadTimeout('read timed out'), None])
    with pytest.raises(VergeOSError) as caught:
        make_client(session).post('vm_actions', {'vm': 1, 'action': 'kill'}, attempted='killing VM db (id 1)')
    assert len(session.calls) == 1
    assert caught.value.status is None
    assert 'may or may not have been carried out' in str(caught.value)


@pytest.mark.parametrize('status', [400, 401, 403, 404, 409, 422, 501, 507])
def test_definite_answers_are_not_retried(fake_session, fake_response, status):
    session = fake_session([fake_response(status, {'err': 'no'}), fake_response(200, [])])
    with pytest.raises(VergeOSError) as caught:
        make_client(session).get('vms')
    assert len(session.calls) == 1
    assert caught.value.status == status


# ---------------------------------------------------------------- secrets never in error text


def _assert_no_secret(error):
    for text in (str(error), repr(error), error.message, str(error.attempted)):
        assert PASSWORD not in text
        assert API_KEY not in text
        assert base64.b64encode(('admin:' + PASSWORD).encode()).decode() not in text
        assert 'Basic ' not in text and 'Bearer ' not in text


def test_401_message_does_not_contain_the_password(fake_session, fake_response):
    session = fake_session([fake_response(401, {'err': 'Invalid username or password'})])
    with pytest.raises(VergeOSError) as caught:
        make_client(session).get('system')
    assert caught.value.status == 401
    assert 'check username and password' in str(caught.value)
    _assert_no_secret(caught.value)


def test_server_echoing_credentials_is_redacted(fake_session, fake_response):
    header = 'Basic ' + base64.b64encode(('admin:' + PASSWORD).encode()).decode()
    session = fake_session([fake_response(400, {'err': 'bad login %s, header %s' % (PASSWORD, header)})])
    with pytest.raises(VergeOSError) as caught:
        make_client(session).get('vms', attempted='reading VMs as %s' % PASSWORD)
    _assert_no_secret(caught.value)
    assert '********' in caught.value.message


def test_transport_error_mentioning_the_api_key_is_redacted(fake_session):
    session = fake_session([requests.exceptions.InvalidHeader('Invalid header value Bearer %s' % API_KEY)])
    with pytest.raises(VergeOSError) as caught:
        make_client(session, api_key=API_KEY).get('vms')
    _assert_no_secret(caught.value)


def test_connection_error_text_is_redacted_and_short(fake_session):
    long_reason = 'connection to admin:%s@host failed ' % PASSWORD + 'x' * 1000
    session = fake_session([requests.exceptions.ConnectionError(long_reason)])
    with pytest.raises(VergeOSError) as caught:
        make_client(session, retry=RetryPolicy(retries=0)).get('vms')
    _assert_no_secret(caught.value)
    assert len(str(caught.value)) < 500


def test_close_closes_the_session(fake_session):
    session = fake_session([])
    with make_client(session):
        pass
    assert session.closed


def test_a_secret_at_the_cut_of_a_long_message_does_not_leak_in_part(fake_session, fake_response):
    session = fake_session([fake_response(400, {'err': 'x' * 290 + PASSWORD + 'y' * 100})])
    with pytest.raises(VergeOSError) as caught:
        make_client(session).get('vms')
    assert PASSWORD[:6] not in str(caught.value)


# ---------------------------------------------------------------- pacing


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_a_429_slows_the_client_down(fake_session, fake_response):
    clock = Clock()
    session = fake_session([fake_response(429, {'err': 'slow down'}), fake_response(200, [])] + [fake_response(200, [])] * 3)
    client = make_client(session, pacer=Pacer(clock=clock, sleep=clock.sleep, concurrency=1), retry=RetryPolicy(base=0.0))
    client.get('vms')
    assert client.pacer.throttle_signals == 1
    # One request in the last second, halved (floor 1/s): the retry waited a whole second, then answers raise the pace.
    assert clock.sleeps == [1.0] and 1.0 < client.pacer.pace() < 10.0
    client.get('vms')
    client.get('vms')
    assert len(clock.sleeps) == 3 and all(pause <= 1.0 for pause in clock.sleeps)


def test_dropped_connections_slow_the_client_down_only_when_they_come_together(fake_session, fake_response):
    drop = requests.exceptions.ConnectionError('Connection aborted: RemoteDisconnected')
    clock = Clock()
    lossy = make_client(fake_session([drop] + [fake_response(200, [])] * 30), pacer=Pacer(clock=clock, sleep=clock.sleep),
                        retry=RetryPolicy(base=0.0))
    for _turn in range(30):
        lossy.get('vms')
    assert lossy.pacer.pace() is None and clock.sleeps == []  # the odd lost request is the network, not a rate limit
    limited = make_client(fake_session(([drop] * 2 + [fake_response(200, [])]) * 4), pacer=Pacer(clock=clock, sleep=clock.sleep),
                          retry=RetryPolicy(base=0.0, budget=100))
    for _turn in range(4):
        limited.get('vms')
    assert limited.pacer.throttle_signals >= 1 and limited.pacer.pace() is not None  # a slower pace, at once


def test_a_429s_retry_after_holds_the_whole_client_not_only_that_request(fake_session, fake_response):
    clock = Clock()
    session = fake_session([fake_response(429, {'err': 'slow down'}, headers={'Retry-After': '3'})] + [fake_response(200, [])] * 2)
    client = make_client(session, pacer=Pacer(clock=clock, sleep=clock.sleep), retry=RetryPolicy(retries=0))
    with pytest.raises(VergeOSError):
        client.post('vm_actions', {'vm': 1, 'action': 'poweroff'})  # never resent by the client
    assert client.pacer.blocked_until == pytest.approx(3.0)
    client.get('vms')  # another request: it waits for the Retry-After too
    assert clock.now >= 3.0 and len(session.calls) == 2


def test_max_requests_per_second_caps_the_pace(fake_session, fake_response):
    clock = Clock()
    client = make_client(fake_session([fake_response(200, [])] * 5), pacer=Pacer(max_rate=2, clock=clock, sleep=clock.sleep))
    for _turn in range(5):
        client.get('vms')
    assert clock.now == pytest.approx(2.0)  # 5 requests at 2 per second: 4 gaps of 0.5 s


def test_a_429_answer_to_a_post_carries_retry_after(fake_session, fake_response):
    session = fake_session([fake_response(429, {'err': 'slow down'}, headers={'Retry-After': '3'})])
    with pytest.raises(VergeOSError) as caught:
        make_client(session).post('vm_actions', {'vm': 1, 'action': 'poweroff'})
    assert caught.value.status == 429 and caught.value.retry_after == 3.0
    assert len(session.calls) == 1
