# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The EDA event source's watch (module_utils/watch.py): change detection with a given clock, the views, the selection, the reads
against a fake client, the backoff, the options it checks after the argument spec.

The plugin's loop and its options are tested in tests/unit/plugins/event_source/; the end to end
tests with ansible-rulebook and the simulator are in tests/functional/eda/.
"""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils import watch as source
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
    ({'tags': ('a',), 'clusters': frozenset(['c1']), 'ids': frozenset([1, 2])}, [1]),
])
def test_selection(selection, expected):
    rows = [{'$key': 1, 'name': 'vm-1', 'cluster_name': 'c1'}, {'$key': 2, 'name': 'vm-2', 'cluster_name': 'c2'},
            {'$key': 3, 'name': 'vm-3', 'cluster_name': 'c1'}]
    tags = {1: [{'name': 'a', 'category': 'x'}], 3: [{'name': 'b', 'category': 'x'}, {'name': 'a', 'category': 'x'}]}
    assert [row['$key'] for row in source.Selection(**selection).rows(rows, tags)] == expected


def test_every_event_type_is_a_named_constant_and_documented():
    assert source.EVENT_TYPES == ('baseline', 'changed', 'entered_error', 'stuck', 'appeared', 'vanished', 'unreachable', 'reachable',
                                  'source_failed')
    for kind in source.EVENT_TYPES:
        assert kind.upper() in source.__doc__, kind


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


def test_jitter_keeps_half_of_the_backoff():
    values = [settings(interval=4.0, max_retry_delay=60.0).retry_delay(failures, lambda: 0.0) for failures in (1, 2, 3, 10)]
    assert values == [2.0, 4.0, 8.0, 30.0]
    # max_retry_delay below the interval: never less than the interval.
    assert settings(interval=10.0, max_retry_delay=1.0).retry_delay(5, lambda: 1.0) == 10.0
