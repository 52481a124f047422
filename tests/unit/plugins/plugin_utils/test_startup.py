# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The safe_startup role's decisions: tiers checked, the plan, each tier's outcome and the summary."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vergeos.power.plugins.filter.role_internal import FilterModule
from ansible_collections.vergeos.power.plugins.plugin_utils.role_inputs import InputError, normalise
from ansible_collections.vergeos.power.plugins.plugin_utils.startup import PlanError, host_tier, skipped_tier, startup_plan, startup_result, tier_outcome

DEFAULTS = {'safe_startup_up': 'running', 'safe_startup_port': None, 'safe_startup_delay': 0, 'safe_startup_timeout': 300,
            'safe_startup_on_failure': 'stop', 'safe_startup_max_concurrent': 20}
ROLE_INTERNAL = FilterModule().filters()['role_internal']


def tiers_of(given, **overrides):
    return normalise(dict(DEFAULTS, safe_startup_tiers=given, **overrides), 'safe_startup')['tiers']


def test_tiers_take_the_role_defaults_unless_they_say():
    tiers = tiers_of([{'targets': 'db01\ndb02', 'up': 'agent'}, {'name': 'web', 'filters': {'tags': ['web']}, 'timeout': '60', 'delay': '5'}])
    assert tiers[0] == {'name': 'tier 1', 'targets': ['db01', 'db02'], 'filters': None, 'up': 'agent', 'port': None, 'url': None,
                        'status': None, 'delay': 0, 'timeout': 300, 'on_failure': 'stop', 'max_concurrent': 20}
    assert (tiers[1]['name'], tiers[1]['timeout'], tiers[1]['delay'], tiers[1]['up']) == ('web', 60, 5, 'running')


@pytest.mark.parametrize('given, words', [
    ('db01', 'must be a list of tiers'),
    (['db01'], 'tier 1 must be a dict'),
    ([{'targets': ['a'], 'filters': {'tags': ['x']}}], 'tier 1 needs targets or filters (one of them)'),
    ([{}], 'tier 1 needs targets or filters'),
    ([{'targets': ['a'], 'up': 'ping'}], 'tier 1 up must be one of running, agent, port'),
    ([{'targets': ['a'], 'wait': 3}], 'unknown key(s) wait'),
    ([{'targets': ['a'], 'up': 'port'}], 'up is port, so it needs a port'),
    ([{'targets': ['a'], 'up': 'port', 'port': 70000}], 'must be a TCP port'),
    ([{'targets': ['a'], 'on_failure': 'ignore'}], 'on_failure must be one of stop, continue'),
])
def test_bad_tiers_are_named(given, words):
    with pytest.raises(InputError, match='safe_startup') as caught:
        tiers_of(given)
    assert words in str(caught.value)


def answer(*vms):
    return {'vms': [dict({'power_state': 'stopped', 'addresses': []}, **vm) for vm in vms]}


def test_the_plan_gives_each_vm_to_its_first_tier():
    tiers = tiers_of([{'targets': ['a', 'b']}, {'targets': ['b', 'c']}])
    plan = startup_plan(tiers, [answer({'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}), answer({'id': 2, 'name': 'b'}, {'id': 3, 'name': 'c'})])
    assert [[vm['id'] for vm in tier['vms']] for tier in plan] == [[1, 2], [3]]


def test_a_record_limits_the_plan_and_its_other_vms_start_last():
    tiers = tiers_of([{'targets': ['a', 'b'], 'up': 'agent'}])
    record = {'open': True, 'ids': [1, 5], 'vms': [{'id': 1, 'name': 'a'}, {'id': 5, 'name': 'e', 'power_state': 'stopped'}]}
    plan = startup_plan(tiers, [answer({'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'})], record, defaults={'up': 'agent', 'timeout': 60})
    assert [[vm['id'] for vm in tier['vms']] for tier in plan] == [[1], [5]]
    assert (plan[1]['name'], plan[1]['up'], plan[1]['timeout'], plan[1]['on_failure'], plan[1]['always'], plan[0]['always']) == (
        'the rest of the maintenance record', 'agent', 60, 'continue', True, False)
    assert startup_plan(tiers, [answer({'id': 1, 'name': 'a'})], {'open': False})[0]['vms'] == []


def test_a_filter_matching_too_many_vms_is_refused():
    tiers = tiers_of([{'filters': {'tags': ['web']}}])
    with pytest.raises(AnsibleFilterError, match='match 3 VMs, more than safe_startup_max_targets .2.'):
        ROLE_INTERNAL(tiers, 'safe_startup_plan', [answer({'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}, {'id': 3, 'name': 'c'})], None, 2)


def test_a_restore_is_bounded_by_its_record_not_by_max_targets():
    """Tiers by tags that span the estate: only the record's VMs start, and no blast-radius check refuses the restore."""
    tiers = tiers_of([{'filters': {'tags': ['web']}}])
    record = {'open': True, 'ids': [2], 'vms': [{'id': 2, 'name': 'b'}, ]}
    plan = ROLE_INTERNAL(tiers, 'safe_startup_plan', [answer({'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}, {'id': 3, 'name': 'c'})],
                         record, 2)
    assert [[vm['id'] for vm in tier['vms']] for tier in plan] == [[2]]


def test_tier_outcomes():
    tier = dict(tiers_of([{'targets': ['a'], 'up': 'port', 'port': 22}])[0],
                vms=[{'id': 1, 'name': 'a', 'address': '10.0.0.1'}, {'id': 2, 'name': 'b', 'address': None},
                     {'id': 3, 'name': 'c', 'address': '10.0.0.3'}, {'id': 4, 'name': 'd', 'address': '10.0.0.4'}])
    power = {'vms': [{'id': 1, 'actions': ['poweron'], 'msg': 'running (poweron)'}, {'id': 2, 'actions': [], 'msg': 'already running'},
                     {'id': 3, 'actions': [], 'msg': 'ok'}, {'id': 4, 'failed': True, 'msg': 'HTTP 507: Insufficient'}]}
    ports = {'checks': [{'id': 1, 'ok': True}, {'id': 3, 'ok': False, 'msg': 'Timeout when waiting'}]}
    outcome = tier_outcome(tier, power, ports, 100.0, 112.5)
    assert [(vm['name'], vm['outcome']) for vm in outcome['vms']] == [('a', 'started'), ('b', 'failed'), ('c', 'failed'), ('d', 'failed')]
    assert 'shows no IP address' in outcome['vms'][1]['msg'] and 'port 22 on 10.0.0.3 did not answer' in outcome['vms'][2]['msg']
    assert outcome['failed'] and outcome['up_at'] is None and outcome['elapsed'] == 12.5
    assert skipped_tier(tier, 'not started')['why'] == 'not started'
    assert skipped_tier(tier, 'not started')['vms'][0] == {'id': 1, 'name': 'a', 'tier': 'tier 1', 'outcome': 'skipped', 'msg': 'not started'}


def test_the_summary_names_each_tier_and_what_failed():
    plan = [dict(tier, vms=[{'id': 1, 'name': 'a', 'address': None}]) for tier in tiers_of([{'targets': ['a']}, {'targets': ['b'], 'delay': 5}])]
    done = [tier_outcome(plan[0], {'vms': [{'id': 1, 'failed': True, 'msg': 'boom'}]}, None, 0, 1), skipped_tier(plan[1], 'stopped')]
    result = startup_result(plan, done, {'checked': True, 'fits': True}, False, {'name': 'm', 'open': True, 'ids': [1], 'vms': [{'name': 'a'}]})
    assert result['summary'] == ['safe_startup: 2 VM(s) in 2 tier(s): 1 failed, 1 skipped; pre-flight: fits', '1. tier 1 (1 VM(s), up = running): failed',
                                 '   a (id 1): failed: boom', '2. tier 2 (1 VM(s), up = running, then 5s): skipped', '   a (id 1): skipped: stopped',
                                 'maintenance record m: stays open with 1 VM(s): a']
    assert result['failed'] and result['failed_vms'] == ['a'] and result['skipped'] == ['a']
    assert result['skipped_tiers'] == [{'name': 'tier 2', 'why': 'stopped'}] and result['warnings'] == []


def test_a_failed_named_tier_never_strands_the_rest_of_the_record():
    tiers = tiers_of([{'targets': ['a']}, {'targets': ['b']}])
    record = {'open': True, 'ids': [1, 2, 3], 'vms': [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}, {'id': 3, 'name': 'c'}]}
    plan = startup_plan(tiers, [answer({'id': 1, 'name': 'a'}), answer({'id': 2, 'name': 'b'})], record)
    assert [tier['always'] for tier in plan] == [False, False, True]
    done = [tier_outcome(plan[0], {'vms': [{'id': 1, 'failed': True, 'msg': 'error'}]}, None, 0, 1), skipped_tier(plan[1], 'tier 1 failed'),
            tier_outcome(plan[2], {'vms': [{'id': 3, 'actions': ['poweron']}]}, None, 1, 2)]
    result = startup_result(plan, done, None, False)
    assert result['skipped_tiers'] == [{'name': 'tier 2', 'why': 'tier 1 failed'}] and result['started'] == ['c']
    assert '3. the rest of the maintenance record (1 VM(s), up = running): up' in result['summary']
    assert 'the rest of the maintenance record started all the same: a failed tier stops only the named tiers after it' in result['summary']


def test_a_port_check_on_a_vm_without_an_address_is_refused_in_the_plan():
    tiers = tiers_of([{'targets': ['a']}, {'name': 'services', 'targets': ['b', 'c'], 'up': 'port', 'port': 8080}])
    found = [answer({'id': 1, 'name': 'a'}), answer({'id': 2, 'name': 'b', 'addresses': [{'ip': None}, {'ip': '10.0.0.2'}]}, {'id': 3, 'name': 'c'})]
    with pytest.raises(PlanError, match=r'safe_startup_tiers tier 2 \(services\) has up = port .*but c \(id 3\) show\(s\) no IP address.*port 8080'):
        startup_plan(tiers, found)
    assert startup_plan(tiers, found[:1] + [answer({'id': 2, 'name': 'b', 'addresses': [{'ip': '10.0.0.2'}]})])[1]['vms'][0]['address'] == '10.0.0.2'


def test_the_pre_flight_warning_is_in_the_result_and_its_head_line():
    plan = [dict(tier, vms=[{'id': 1, 'name': 'a', 'address': None}]) for tier in tiers_of([{'targets': ['a']}])]
    done = [tier_outcome(plan[0], {'vms': [{'id': 1, 'actions': ['poweron']}]}, None, 0, 1)]
    reason = 'pre-flight skipped: could not read nodes (HTTP 403: Permission denied); the VMs are started unchecked'
    result = startup_result(plan, done, {'checked': False, 'skipped': True, 'reason': reason}, False, None, [reason, 'another warning'])
    assert result['warnings'] == [reason, 'another warning']
    assert result['summary'][0] == 'safe_startup: 1 VM(s) in 1 tier(s): 1 started; ' + reason
    assert result['summary'][-1] == 'WARNING: another warning' and len(result['summary']) == 3
    quiet = startup_result(plan, done, {'checked': False, 'reason': 'preflight is off'}, False)
    assert quiet['summary'][0] == 'safe_startup: 1 VM(s) in 1 tier(s): 1 started' and quiet['warnings'] == []


def test_a_host_tier_holds_the_ids_of_its_hosts():
    hosts = [{'vergeos_id': '3', 'rank': 1}, {'vergeos_id': 4, 'rank': '2'}, {'rank': 1}]
    assert host_tier(1, hosts, 'rank') == {'name': 'tier 1', 'targets': [3]}
    assert ROLE_INTERNAL('2', 'safe_startup_host_tier', hosts, 'rank') == {'name': 'tier 2', 'targets': [4]}
