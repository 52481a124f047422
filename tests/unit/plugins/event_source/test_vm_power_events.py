# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The event source's pure parts with a fake clock: change detection, the poll loop's schedule and backoff, its options.

The plugin lives in extensions/eda/plugins/event_source/ (where ansible-rulebook loads it from a
collection); Ansible's collection loader imports it like any file of the collection. The end to end
tests with ansible-rulebook and the simulator are in tests/functional/eda/.
"""

from __future__ import annotations

import asyncio

import pytest
import yaml

from ansible_collections.vergeos.power.extensions.eda.plugins.event_source import vm_power_events as source
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.maintenance import CATEGORY

SYSTEM = 'https://vergeos.example.com'


def view(key, power_state='running', status=None, name=None, **extra):
    result = {'id': key, 'name': name or 'vm-%d' % key, 'power_state': power_state, 'status': status or power_state, 'status_info': None,
              'node': 'node1' if power_state == 'running' else None, 'cluster': 'cluster1', 'running': power_state == 'running',
              'tags': None, 'under_maintenance': None, 'maintenance_records': None}
    result.update(extra)
    return result


def kinds(events):
    return [(event['vergeos_power']['type'], event['vergeos_power'].get('vm', {}).get('id')) for event in events]


def body(event):
    return event['vergeos_power']


# ---------------------------------------------------------------- change detection


def test_the_first_read_only_sets_what_later_reads_are_compared_with():
    watch = source.PowerWatch(stuck_after=60, unreachable_after=30, system=SYSTEM)
    assert watch.observe([view(1), view(2, 'stopped')], 100.0) == []
    assert watch.observe([view(1), view(2, 'stopped')], 110.0) == []


def test_baseline_gives_one_event_per_vm_in_id_order():
    watch = source.PowerWatch(stuck_after=60, unreachable_after=30, baseline=True, system=SYSTEM)
    events = watch.observe([view(7, 'stopped'), view(3)], 100.0)
    assert kinds(events) == [('baseline', 3), ('baseline', 7)]
    assert body(events[1])['vm']['power_state'] == 'stopped'
    assert watch.observe([view(7, 'stopped'), view(3)], 110.0) == []


def test_a_change_says_what_it_was_before_and_since_when():
    watch = source.PowerWatch(stuck_after=600, unreachable_after=30, system=SYSTEM)
    watch.observe([view(1, node='node2'), view(2)], 1000.0)
    events = watch.observe([view(1, 'stopped', status_info='powered off by the guest'), view(2)], 1012.5)
    assert kinds(events) == [('changed', 1)]
    event = body(events[0])
    assert event['previous'] == {'power_state': 'running', 'status': 'running', 'status_info': None, 'node': 'node2'}
    assert (event['vm']['power_state'], event['vm']['status_info'], event['vm']['node']) == ('stopped', 'powered off by the guest', None)
    assert event['in_state_for'] == 12.5
    assert (event['time'], event['timestamp'], event['system']) == ('1970-01-01T00:16:52.500Z', 1012.5, SYSTEM)


def test_a_raw_status_within_the_same_power_state_is_no_event_but_is_remembered():
    watch = source.PowerWatch(stuck_after=600, unreachable_after=30)
    watch.observe([view(1)], 0.0)
    assert watch.observe([view(1, status='needsrestart')], 10.0) == []
    events = watch.observe([view(1, 'stopped')], 20.0)
    assert body(events[0])['previous']['status'] == 'needsrestart'
    # The time in the state counts from when the power state changed, not the raw status.
    assert body(events[0])['in_state_for'] == 20.0


def test_entering_error_is_its_own_kind_of_change():
    watch = source.PowerWatch(stuck_after=600, unreachable_after=30)
    watch.observe([view(1, 'starting')], 0.0)
    events = watch.observe([view(1, 'error', status_info='failed to start: no boot disk')], 5.0)
    assert kinds(events) == [('entered_error', 1)]
    assert body(events[0])['previous']['power_state'] == 'starting'


def test_a_vm_stuck_in_a_transition_gives_one_event_not_one_per_read():
    watch = source.PowerWatch(stuck_after=60, unreachable_after=30)
    watch.observe([view(1)], 0.0)
    assert kinds(watch.observe([view(1, 'stopping')], 10.0)) == [('changed', 1)]
    for now in (20.0, 40.0, 69.9):
        assert watch.observe([view(1, 'stopping')], now) == []
    events = watch.observe([view(1, 'stopping')], 70.0)
    assert kinds(events) == [('stuck', 1)]
    assert (body(events[0])['in_state_for'], body(events[0])['since'], body(events[0])['stuck_after']) == (60.0, '1970-01-01T00:00:10.000Z', 60)
    for now in range(80, 2000, 10):
        assert watch.observe([view(1, 'stopping')], float(now)) == []
    # Left and entered again: a new stay, a new event after the threshold.
    assert kinds(watch.observe([view(1, 'stopped')], 2000.0)) == [('changed', 1)]
    assert kinds(watch.observe([view(1, 'starting')], 2010.0)) == [('changed', 1)]
    assert watch.observe([view(1, 'starting')], 2069.0) == []
    assert kinds(watch.observe([view(1, 'starting')], 2070.0)) == [('stuck', 1)]


@pytest.mark.parametrize('state', ['running', 'stopped', 'error', 'hibernated', 'maintenance', 'unknown'])
def test_only_transitions_can_be_stuck(state):
    watch = source.PowerWatch(stuck_after=60, unreachable_after=30)
    watch.observe([view(1, state)], 0.0)
    assert watch.observe([view(1, state)], 10000.0) == []


def test_a_vm_already_in_a_transition_at_the_start_is_counted_from_the_first_read():
    watch = source.PowerWatch(stuck_after=60, unreachable_after=30)
    watch.observe([view(1, 'migrating')], 100.0)
    assert watch.observe([view(1, 'migrating')], 159.0) == []
    assert kinds(watch.observe([view(1, 'migrating')], 160.0)) == [('stuck', 1)]


def test_vms_appear_and_vanish():
    watch = source.PowerWatch(stuck_after=60, unreachable_after=30)
    watch.observe([view(1), view(2)], 0.0)
    events = watch.observe([view(2), view(3, 'stopped')], 10.0)
    assert kinds(events) == [('vanished', 1), ('appeared', 3)]
    assert body(events[0])['vm']['name'] == 'vm-1'
    assert watch.observe([view(2), view(3, 'stopped')], 20.0) == []


def test_an_unreadable_system_gives_one_event_after_the_threshold_and_one_when_it_is_back():
    watch = source.PowerWatch(stuck_after=600, unreachable_after=60, system=SYSTEM)
    watch.observe([view(1)], 0.0)
    for now in (10.0, 40.0, 69.9):
        assert watch.failed('HTTP 503: Service Unavailable', now) == []
    events = watch.failed('HTTP 503: Service Unavailable (gave up after 5 tries)', 70.0)
    assert kinds(events) == [('unreachable', None)]
    assert (body(events[0])['error'], body(events[0])['unreadable_for'], body(events[0])['since']) == (
        'HTTP 503: Service Unavailable (gave up after 5 tries)', 60.0, '1970-01-01T00:00:10.000Z')
    assert 'vm' not in body(events[0])
    for now in (100.0, 400.0, 4000.0):
        assert watch.failed('cannot connect', now) == []
    assert watch.unreachable
    # Back: one event, then what changed meanwhile.
    events = watch.observe([view(1, 'stopped')], 4010.0)
    assert kinds(events) == [('reachable', None), ('changed', 1)]
    assert body(events[0])['unreadable_for'] == 4000.0
    assert not watch.unreachable
    assert watch.observe([view(1, 'stopped')], 4020.0) == []


def test_failures_shorter_than_the_threshold_give_no_event_at_all():
    watch = source.PowerWatch(stuck_after=600, unreachable_after=60)
    watch.observe([view(1)], 0.0)
    assert watch.failed('x', 10.0) == [] and watch.failed('x', 50.0) == []
    assert watch.observe([view(1)], 60.0) == []
    # The next outage is counted from its own start.
    assert watch.failed('x', 100.0) == []
    assert watch.failed('x', 159.0) == []
    assert kinds(watch.failed('x', 160.0)) == [('unreachable', None)]


def test_unreachable_after_zero_reports_the_first_failed_read():
    watch = source.PowerWatch(stuck_after=600, unreachable_after=0)
    assert kinds(watch.failed('x', 5.0)) == [('unreachable', None)]
    assert watch.failed('x', 6.0) == []


def test_an_unreadable_start_gives_the_event_and_the_first_read_sets_the_baseline():
    watch = source.PowerWatch(stuck_after=600, unreachable_after=10, baseline=True)
    assert kinds(watch.failed('x', 0.0) + watch.failed('x', 10.0)) == [('unreachable', None)]
    assert kinds(watch.observe([view(1)], 20.0)) == [('reachable', None), ('baseline', 1)]


# ---------------------------------------------------------------- what a row says


def test_vm_view_from_a_listing_row_with_and_without_tags_and_records():
    row = {'$key': 5, 'name': 'web01', 'status': 'Stopping', 'status_info': '', 'node_name': 'node2', 'cluster_name': 'c1', 'running': True}
    plain = source.vm_view(row)
    assert plain == {'id': 5, 'name': 'web01', 'power_state': 'stopping', 'status': 'Stopping', 'status_info': None, 'node': 'node2',
                     'cluster': 'c1', 'running': True, 'tags': None, 'under_maintenance': None, 'maintenance_records': None}
    tags = {5: [{'name': 'web', 'category': 'app'}, {'name': 'autorestart', 'category': 'policy'}], 6: [{'name': 'db', 'category': 'app'}]}
    full = source.vm_view(row, tags, {5: ['rack7']})
    assert (full['tags'], full['under_maintenance'], full['maintenance_records']) == (['autorestart', 'web'], True, ['rack7'])
    other = source.vm_view(dict(row, **{'$key': 9}), tags, {5: ['rack7']})
    assert (other['tags'], other['under_maintenance'], other['maintenance_records']) == ([], False, [])


@pytest.mark.parametrize('selection, expected', [
    ({}, [1, 2, 3]),
    ({'ids': frozenset([2])}, [2]),
    ({'names': frozenset(['vm-3'])}, [3]),
    ({'ids': frozenset([1]), 'names': frozenset(['vm-3'])}, [1, 3]),
    ({'clusters': frozenset(['c2'])}, [2]),
    ({'tags': ('a', 'b')}, [3]),
])
def test_selection(selection, expected):
    views = [view(1, cluster='c1', tags=['a']), view(2, cluster='c2', tags=[]), view(3, cluster='c1', tags=['b', 'a'])]
    chosen = source.Selection(**selection)
    assert [item['id'] for item in views if chosen.matches(item)] == expected


# ---------------------------------------------------------------- the reads, against a fake client


class FakeClient:
    """Answers GETs from a function of (path, params) and records them."""

    url = SYSTEM

    def __init__(self, answer):
        self.answer = answer
        self.gets = []

    def get(self, path, params=None, attempted=None):
        self.gets.append((path, dict(params or {})))
        return self.answer(path, dict(params or {}))


ROWS = [{'$key': 1, 'name': 'web01', 'status': 'running', 'node_name': 'node1', 'cluster_name': 'c1', 'running': True, 'is_snapshot': False},
        {'$key': 2, 'name': 'db01', 'status': 'stopped', 'node_name': None, 'cluster_name': 'c1', 'running': False, 'is_snapshot': False}]


def answers(path, params):
    if path == 'vms':
        return ROWS
    if path == 'tag_members' and 'tag eq' in params.get('filter', ''):
        return [{'$key': 70, 'tag': 9, 'member': 'vms/2'}]
    if path == 'tag_members':
        return [{'tag': 3, 'member': 'vms/1', 'tag_name': 'autorestart', 'category_name': 'policy'}]
    if path == 'tag_categories':
        return [{'$key': 4, 'name': CATEGORY}]
    if path == 'tags':
        return [{'$key': 9, 'name': 'rack7', 'category': 4, 'description': '{}'}]
    raise AssertionError(path)


def settings(**options):
    return source.Settings(connection={}, selection=source.Selection(**options.pop('selection', {})), **options)


def test_a_poll_is_one_listing_and_nothing_else_by_default():
    client = FakeClient(answers)
    views = source.Poller(settings(page_size=0), client)()
    assert [call[0] for call in client.gets] == ['vms']
    assert client.gets[0][1]['filter'] == 'is_snapshot eq false'
    assert [(item['id'], item['power_state'], item['tags'], item['under_maintenance']) for item in views] == [
        (1, 'running', None, None), (2, 'stopped', None, None)]


def test_tags_and_records_are_read_after_the_listing_when_asked_for():
    client = FakeClient(answers)
    views = source.Poller(settings(page_size=0, include_tags=True, include_maintenance=True), client)()
    assert [call[0] for call in client.gets] == ['vms', 'tag_members', 'tag_categories', 'tags', 'tag_members']
    assert [(item['id'], item['tags'], item['under_maintenance'], item['maintenance_records']) for item in views] == [
        (1, ['autorestart'], False, []), (2, [], True, ['rack7'])]


def test_a_tags_filter_reads_the_tags_and_keeps_the_tagged_vms():
    client = FakeClient(answers)
    views = source.Poller(settings(page_size=0, selection={'tags': ('autorestart',)}), client)()
    assert [call[0] for call in client.gets] == ['vms', 'tag_members']
    assert [item['id'] for item in views] == [1]


def test_no_record_category_yet_costs_one_request_and_holds_no_vm():
    def empty(path, params):
        return [] if path == 'tag_categories' else answers(path, params)
    client = FakeClient(empty)
    assert source.maintenance_by_vm(client) == {}
    assert [call[0] for call in client.gets] == ['tag_categories']


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


def test_jitter_keeps_half_of_the_backoff():
    values = [settings(interval=4.0, max_retry_delay=60.0).retry_delay(failures, rand=lambda: 0.0) for failures in (1, 2, 3, 10)]
    assert values == [2.0, 4.0, 8.0, 30.0]
    # max_retry_delay below the interval: never less than the interval.
    assert settings(interval=10.0, max_retry_delay=1.0).retry_delay(5, rand=lambda: 1.0) == 10.0


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
    with pytest.raises(source.OptionsError) as failure:
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


def test_the_collections_folder_is_found_from_the_plugin_path():
    path = '/srv/c/ansible_collections/vergeos/power/extensions/eda/plugins/event_source/vm_power_events.py'
    assert source.collections_root(path) == '/srv/c'
    assert source.collections_root('/work/checkout/extensions/eda/plugins/event_source/vm_power_events.py') is None


def test_a_read_the_detection_cannot_use_is_a_failed_read_too():
    clock = Clock()
    reads = [[{'id': 1, 'name': 'no power state'}], [view(1)]]
    events = run_watch({'interval': 1.0, 'unreachable_after': 0.0}, lambda: reads.pop(0), clock, max_polls=2)
    # Nothing of the bad read was remembered: the next good read is the first, so it gives no change.
    assert [body(event)['type'] for event in events] == ['unreachable', 'reachable']
    assert body(events[0])['error'] == 'ValueError: a read gave a VM without an id or a power state'
