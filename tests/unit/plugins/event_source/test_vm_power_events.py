# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The event source plugin with a fake clock: the poll loop's schedule and backoff, its options, its documentation.

The plugin lives in extensions/eda/plugins/event_source/ (where ansible-rulebook loads it from a
collection); Ansible's collection loader imports it like any file of the collection. Its watch
(module_utils/watch.py) is tested in tests/unit/plugins/module_utils/test_watch.py; the end to end
tests with ansible-rulebook and the simulator are in tests/functional/eda/.
"""

from __future__ import annotations

import asyncio

import pytest
import yaml

from ansible_collections.vergeos.power.extensions.eda.plugins.event_source import vm_power_events as source
from ansible_collections.vergeos.power.plugins.module_utils import watch
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError

SYSTEM = 'https://vergeos.example.com'


def view(key, power_state='running'):
    return {'id': key, 'name': 'vm-%d' % key, 'power_state': power_state, 'status': power_state, 'status_info': None,
            'node': 'node1' if power_state == 'running' else None, 'cluster': 'cluster1', 'running': power_state == 'running',
            'tags': None, 'under_maintenance': None, 'maintenance_records': None}


def body(event):
    return event['vergeos_power']


def settings(**options):
    return watch.Settings(connection={}, selection=watch.Selection(**options.pop('selection', {})), **options)


# ---------------------------------------------------------------- the loop, with a fake clock


class Clock:
    def __init__(self, now=1000.0):
        self.now = now
        self.slept = []

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.slept.append(round(seconds, 6))
        self.now += seconds


class Queue:
    def __init__(self):
        self.events = []

    async def put(self, event):
        self.events.append(event)


async def inline(function):
    return function()


def run_watch(options, poll, clock, max_polls, rand=lambda: 1.0):
    queue = Queue()
    asyncio.run(source.watch(queue, settings(**options), poll, SYSTEM, clock=clock, sleep=clock.sleep, run_blocking=inline, rand=rand,
                             max_polls=max_polls))
    return queue.events


def test_a_read_starts_every_interval_from_the_start_of_the_previous_one():
    clock = Clock()

    def poll():
        clock.now += 0.25
        return [view(1)]
    assert run_watch({'interval': 2.0}, poll, clock, max_polls=4) == []
    assert clock.slept == [1.75, 1.75, 1.75, 1.75]


def test_a_read_longer_than_the_interval_is_followed_at_once():
    clock = Clock()

    def poll():
        clock.now += 3.0
        return []
    run_watch({'interval': 2.0}, poll, clock, max_polls=2)
    assert clock.slept == [0.0, 0.0]


def test_failed_reads_back_off_and_a_good_one_resets_the_pace():
    clock = Clock()
    script = ['fail'] * 6 + ['ok', 'fail', 'ok']

    def poll():
        if script.pop(0) == 'fail':
            raise VergeOSError('Service Unavailable (gave up after 5 tries)', 503, 'listing VMs')
        return [view(1)]
    events = run_watch({'interval': 2.0, 'max_retry_delay': 20.0, 'unreachable_after': 30.0}, poll, clock, max_polls=9)
    # rand() is 1: the whole ceiling; 2, 4, 8, 16, then capped at 20.
    assert clock.slept == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0, 2.0, 2.0, 2.0]
    assert [body(event)['type'] for event in events] == ['unreachable', 'reachable']
    assert body(events[0])['error'] == 'Error while listing VMs: HTTP 503: Service Unavailable (gave up after 5 tries)'


def test_refused_credentials_end_the_loop_after_one_event():
    clock = Clock()
    calls = []

    def poll():
        calls.append(1)
        raise VergeOSError('Unauthorized (check username and password)', 401, 'listing VMs')
    events = run_watch({'interval': 1.0}, poll, clock, max_polls=5)
    assert calls == [1]
    assert [body(event)['type'] for event in events] == ['source_failed']
    assert 'HTTP 401' in body(events[0])['error']


def test_an_unexpected_error_is_a_failed_read_never_a_traceback_and_never_shows_a_secret(caplog):
    clock = Clock()
    script = [KeyError('status for password hunter2'), ValueError('boom'), [view(1)]]

    def poll():
        item = script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item
    events = run_watch({'interval': 1.0, 'unreachable_after': 0.0, 'secrets': ('hunter2',)}, poll, clock, max_polls=3)
    assert [body(event)['type'] for event in events] == ['unreachable', 'reachable']
    assert body(events[0])['error'] == "KeyError: 'status for password ********'"
    assert 'hunter2' not in caplog.text


def test_the_loop_reports_changes_from_the_reads():
    clock = Clock()
    reads = [[view(1)], [view(1, 'stopping')], [view(1, 'stopped')]]

    def poll():
        clock.now += 0.1
        return reads.pop(0)
    events = run_watch({'interval': 5.0}, poll, clock, max_polls=3)
    assert [(body(event)['type'], body(event)['previous']['power_state'], body(event)['vm']['power_state']) for event in events] == [
        ('changed', 'running', 'stopping'), ('changed', 'stopping', 'stopped')]
    assert body(events[1])['in_state_for'] == 5.0


# ---------------------------------------------------------------- options


@pytest.fixture
def no_vergeos_env(monkeypatch):
    for name in ('HOST', 'USERNAME', 'PASSWORD', 'API_KEY', 'VALIDATE_CERTS', 'CA_PATH', 'API_TIMEOUT', 'INSECURE'):
        monkeypatch.delenv('VERGEOS_' + name, raising=False)
    return monkeypatch


def test_options_take_the_connection_from_the_environment_as_the_modules_do(no_vergeos_env):
    no_vergeos_env.setenv('VERGEOS_HOST', 'vergeos.example.com')
    no_vergeos_env.setenv('VERGEOS_USERNAME', 'eda')
    no_vergeos_env.setenv('VERGEOS_PASSWORD', 'from-env')
    no_vergeos_env.setenv('VERGEOS_INSECURE', 'true')
    parsed = source.parse_options({'interval': '0.5', 'include_tags': 'yes', 'eda_feedback_queue': object()})
    assert (parsed.connection['host'], parsed.connection['username'], parsed.connection['password']) == ('vergeos.example.com', 'eda', 'from-env')
    assert parsed.connection['validate_certs'] is False
    assert (parsed.interval, parsed.include_tags, parsed.include_maintenance, parsed.baseline) == (0.5, True, False, False)
    assert (parsed.stuck_after, parsed.unreachable_after, parsed.page_size) == (300.0, 60.0, 500)
    assert 'from-env' in parsed.secrets
    assert 'from-env' not in repr(parsed)


def test_options_select_the_watched_vms(no_vergeos_env):
    parsed = source.parse_options({'host': 'h', 'username': 'u', 'password': 'p', 'id': 4, 'ids': ['5'], 'names': ['web01']})
    assert (parsed.selection.ids, parsed.selection.names) == (frozenset([4, 5]), frozenset(['web01']))
    parsed = source.parse_options({'host': 'h', 'username': 'u', 'password': 'p',
                                   'filters': {'name_regex': '^web', 'tags': ['autorestart'], 'cluster': ['c1']}})
    assert (parsed.selection.name_regex, parsed.selection.tags, parsed.selection.clusters) == ('^web', ('autorestart',), frozenset(['c1']))
    assert parsed.read_tags


@pytest.mark.parametrize('options, words', [
    ({'filters': {'power_state': ['running']}}, 'filters.power_state cannot select'),
    ({'filters': {'node': ['node1'], 'power_state': ['stopped']}}, 'filters.power_state and filters.node'),
    ({'filters': {'name_regex': r'^\d+$'}}, 'POSIX'),
    ({'name': 'a', 'id': 3}, 'mutually exclusive'),
    ({'names': ['a'], 'filters': {'tags': ['x']}}, 'mutually exclusive'),
    ({'interval': 0}, 'interval must be a number of seconds greater than 0'),
    ({'interval': 'soon'}, 'interval'),
    ({'stuck_after': -1}, 'stuck_after'),
    ({'unreachable_after': float('nan')}, 'unreachable_after'),
    ({'page_size': -5}, 'page_size'),
    ({'colour': 'blue'}, 'colour'),
    ({'ids': [0]}, 'positive whole number'),
])
def test_bad_options_are_refused_naming_them_without_the_password(no_vergeos_env, options, words):
    with pytest.raises(watch.OptionsError) as failure:
        source.parse_options(dict({'host': 'h', 'username': 'u', 'password': 'Secret-Value'}, **options))
    assert words in str(failure.value)
    assert 'Secret-Value' not in str(failure.value)


def test_the_documented_options_are_the_options():
    documentation = yaml.safe_load(source.DOCUMENTATION)
    spec = source.argument_spec()
    documented = documentation['options']
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        assert documented[name]['type'] == option['type'], name
        assert documented[name].get('default') == option.get('default'), name
        if 'options' in option:
            assert sorted(documented[name]['suboptions']) == sorted(option['options']), name
    assert yaml.safe_load(source.EXAMPLES)[0] == {'vergeos.power.vm_power_events': None}


def test_a_read_the_detection_cannot_use_is_a_failed_read_too():
    clock = Clock()
    reads = [[{'id': 1, 'name': 'no power state'}], [view(1)]]
    events = run_watch({'interval': 1.0, 'unreachable_after': 0.0}, lambda: reads.pop(0), clock, max_polls=2)
    # Nothing of the bad read was remembered: the next good read is the first, so it gives no change.
    assert [body(event)['type'] for event in events] == ['unreachable', 'reachable']
    assert body(events[0])['error'] == 'ValueError: a read gave a VM without an id or a power state'
