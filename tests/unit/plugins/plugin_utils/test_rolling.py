# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import http.server
import importlib.util
import os
import socket
import threading

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vergeos.power.plugins.filter.role_internal import FilterModule
from ansible_collections.vergeos.power.plugins.plugin_utils.role_inputs import InputError
from ansible_collections.vergeos.power.plugins.plugin_utils.rolling import (
    batch_outcome, batch_sizes, batch_start, failure_budget, gate_vms, normalise, not_reached, rolling_plan, rolling_result,
)
from ansible_collections.vergeos.power.plugins.plugin_utils.startup import PlanError, health_gates, vm_url

ROLE_INTERNAL = FilterModule().filters()['role_internal']
GATES = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'safe_startup', 'files', 'health_gates.py')


def inputs(**given):
    variables = {'rolling_restart_targets': ['web01'], 'rolling_restart_batch': 1, 'rolling_restart_max_failed': 1,
                 'rolling_restart_up': 'running', 'rolling_restart_method': 'guest', 'rolling_restart_record': 'roll',
                 'rolling_restart_gate_timeout': 30, 'rolling_restart_max_targets': 50}
    variables.update({'rolling_restart_' + key: value for key, value in given.items()})
    return normalise(variables)


def vm(key, state='running', started=1000, ip=None):
    return {'id': key, 'name': 'web%02d' % key, 'power_state': state, 'started': started,
            'addresses': [{'ip': ip}] if ip else []}


def test_survey_strings_are_taken_as_awx_gives_them():
    found = inputs(batch='20%', max_failed='1', timeout='60.5', targets='web01\r\nweb02\r\n', url_status='200, 204', up='url',
                   url='https://{address}/health', force='yes', pause='5')
    assert found['batch'] == [{'percent': 20}] and found['max_failed'] == {'count': 1} and found['timeout'] == 61
    assert found['tiers'] == [{'name': 'targets', 'targets': ['web01', 'web02'], 'filters': {}}]
    assert found['url_status'] == [200, 204] and found['force'] is True and found['pause'] == 5
    assert inputs(batch='1, 20%')['batch'] == [{'count': 1}, {'percent': 20}]
    assert inputs(batch=[1, '50%', 10])['batch'] == [{'count': 1}, {'percent': 50}, {'count': 10}]
    assert inputs(max_failed='10%')['max_failed'] == {'percent': 10}


def test_every_bad_variable_is_named_at_once():
    with pytest.raises(InputError) as caught:
        inputs(batch='0', max_failed='some', url_status='OK', pause='-1', up='url', url='ftp://x', url_client_key='k.pem')
    text = str(caught.value)
    for words in ('rolling_restart_batch must be a number of VMs', 'rolling_restart_max_failed must be a number of VMs',
                  'rolling_restart_url_status must be an HTTP status', 'rolling_restart_pause must be a number of seconds',
                  'rolling_restart_url must be an http:// or https:// URL', 'rolling_restart_url_client_key needs rolling_restart_url_client_cert'):
        assert words in text
    with pytest.raises(InputError, match='a percentage must be above 0% and at most 100%'):
        inputs(batch='120%')
    with pytest.raises(InputError, match='rolling_restart_up is port, so it needs rolling_restart_port'):
        inputs(up='port')
    with pytest.raises(InputError, match='rolling_restart_up is url, so it needs rolling_restart_url'):
        inputs(up='url')
    with pytest.raises(InputError, match='give one of rolling_restart_targets, rolling_restart_filters, not several'):
        inputs(filters={'tags': ['web']})
    with pytest.raises(InputError, match='there is nothing to restart'):
        inputs(targets=[])
    with pytest.raises(InputError, match='tier 1 needs targets or filters'):
        inputs(targets=[], tiers=[{'name': 'db'}])
    with pytest.raises(InputError, match='tier 1 has unknown key'):
        inputs(targets=[], tiers=[{'targets': ['a'], 'up': 'port'}])
    with pytest.raises(InputError, match='must be a list of tiers'):
        inputs(targets=[], tiers='db01')
    with pytest.raises(InputError, match='must be a number, a percentage or a list'):
        inputs(batch=[])
    with pytest.raises(InputError, match='must be an HTTP status'):
        inputs(url_status=[])


@pytest.mark.parametrize('spec, total, sizes', [
    ([{'count': 5}], 30, [5] * 6),
    ([{'percent': 20}], 10, [2] * 5),
    ([{'percent': 10}], 5, [1] * 5),            # rounded down, at least 1, as serial
    ([{'count': 1}, {'percent': 50}], 5, [1, 2, 2]),
    ([{'count': 1}, {'count': 2}, {'count': 10}], 20, [1, 2, 10, 7]),
    ([{'count': 3}], 0, []),
])
def test_batches_are_cut_as_serial_cuts_them(spec, total, sizes):
    assert batch_sizes(spec, total) == sizes


def test_the_failure_budget_is_a_count_or_a_share_of_the_targets():
    assert failure_budget({'count': 3}, 10) == 3
    assert failure_budget({'percent': 25}, 10) == 2
    assert failure_budget({'percent': 1}, 10) == 1


def test_the_plan_skips_what_a_rollout_never_touches():
    records = [{'name': 'rack7', 'open': True, 'kind': 'maintenance', 'ids': [], 'siblings': {'covers': {'ids': [3], 'data': {}}}},
               {'name': 'other', 'open': True, 'kind': 'rolling_restart', 'ids': [4]}]
    found = [{'vms': [vm(1), vm(2, 'stopped'), vm(3), vm(4), vm(5, 'starting'), vm(6), vm(1)]}]
    plan = rolling_plan(inputs(batch=2), found, records)
    assert [[entry['id'] for entry in batch['vms']] for batch in plan['batches']] == [[1, 6]]
    why = {entry['id']: entry['why'] for entry in plan['skipped']}
    assert 'stopped, not running: a rollout never starts a VM (rolling_restart_start_stopped' in why[2]
    assert why[3] == 'under the open maintenance record rack7: left alone' and why[4] == 'in the rollout other, still open: left alone'
    assert why[5] == 'starting, not running: a rollout never starts a VM' and plan['ids'] == [1, 6] and plan['budget'] == 1
    assert plan['lines'][0].startswith('rolling_restart plan: 2 VM(s) to restart or check in 1 batch(es), 4 skipped; gate: running')
    started = rolling_plan(inputs(batch=5, start_stopped=True), found, [])
    assert [entry['id'] for entry in started['batches'][0]['vms']] == [1, 2, 3, 4, 6]


def test_the_plan_refuses_what_it_can_know_before_anything_is_sent():
    with pytest.raises(PlanError, match="rolling_restart_record 'roll' names an open record of kind maintenance"):
        rolling_plan(inputs(), [{'vms': [vm(1)]}], [{'name': 'roll', 'open': True, 'kind': 'maintenance', 'ids': [1]}])
    with pytest.raises(PlanError, match=r'rolling_restart_up is port, but web01 \(id 1\) show\(s\) no IP address'):
        rolling_plan(inputs(up='port', port=80), [{'vms': [vm(1)]}], [])
    with pytest.raises(PlanError, match='match 3 VMs, more than rolling_restart_max_targets'):
        rolling_plan(inputs(targets=[], filters={'tags': ['w']}, max_targets=2), [{'vms': [vm(1), vm(2), vm(3)]}], [])
    with pytest.raises(ValueError, match='1 tiers but 0 answers'):
        rolling_plan(inputs(), [], [])
    # A URL without {address} needs no address.
    assert rolling_plan(inputs(up='url', url='https://{name}.example.com/'), [{'vms': [vm(1)]}], [])['batches']


def test_tiers_each_cut_into_batches_of_their_own():
    plan = rolling_plan(inputs(targets=[], tiers=[{'name': 'db', 'targets': ['a']}, {'name': 'web', 'filters': {'tags': ['w']}}],
                               batch=[1, '50%']),
                        [{'vms': [vm(1), vm(2)]}, {'vms': [vm(2), vm(3), vm(4), vm(5)]}], [])
    assert [(batch['tier'], [entry['id'] for entry in batch['vms']]) for batch in plan['batches']] == [
        ('db', [1]), ('db', [2]), ('web', [3]), ('web', [4]), ('web', [5])]
    assert [batch['index'] for batch in plan['batches']] == [1, 2, 3, 4, 5]


def own_record(**sets):
    return {'name': 'roll', 'open': True, 'kind': 'rolling_restart', 'ids': [1, 2, 3, 4, 5, 6],
            'siblings': {name: {'ids': ids, 'data': data} for name, (ids, data) in sets.items()}}


@pytest.mark.parametrize('method, unconfirmed, actions', [
    ('guest', False, {2: 'confirmed', 3: 'unconfirmed', 4: 'check', 5: 'check'}),
    ('guest', True, {2: 'confirmed', 3: 'restart', 4: 'check', 5: 'check'}),
    ('power_cycle', False, {2: 'confirmed', 3: 'restart', 4: 'poweron', 5: 'check'}),
    ('reset', False, {2: 'confirmed', 3: 'restart', 4: 'check', 5: 'check'}),
])
def test_a_relaunch_goes_on_from_the_record(method, unconfirmed, actions):
    record = own_record(done=([1], {}), restarting=([2, 3, 4], {'2': 1000, '3': 1000, '4': 1000}), failed=([5], {}))
    found = [{'vms': [vm(1), vm(2, started=2000), vm(3), vm(4, 'stopped'), vm(5), vm(6)]}]
    plan = rolling_plan(inputs(batch=2, method=method, restart_unconfirmed=unconfirmed), found, [record])
    assert plan['resumed'] and [entry['id'] for entry in plan['done_before']] == [1]
    assert plan['batches'][0]['tier'] == 'relaunch'
    assert {entry['id']: entry['action'] for entry in plan['batches'][0]['vms']} == actions
    assert [entry['id'] for entry in plan['batches'][1]['vms']] == [6] and plan['ids'] == [1, 2, 3, 4, 5, 6]
    fresh = rolling_plan(inputs(batch=2, method=method, new_run=True), found, [record])
    assert fresh['new_run'] and not fresh['resumed'] and [len(batch['vms']) for batch in fresh['batches']] == [2, 2, 1]


def test_a_batch_leaves_a_vm_stopped_since_the_plan_and_records_the_intent():
    plan = rolling_plan(inputs(batch=3), [{'vms': [vm(1), vm(2), vm(3)]}], [])
    read = {'vms': [vm(1, started=1111), vm(2, 'stopped')]}
    start = batch_start(plan['batches'][0], read, inputs())
    assert [entry['id'] for entry in start['restart']] == [1] and start['data'] == {'1': 1111} and start['acted_ids'] == [1]
    assert {entry['id']: entry['why'] for entry in start['skipped']} == {
        2: 'stopped since the plan was made, not running: a rollout never starts a VM', 3: 'no longer found'}
    assert gate_vms(start, [{'vms': [{'id': 1, 'failed': True}]}, {'skipped': True}]) == []
    assert [entry['id'] for entry in gate_vms(start, [{'vms': [{'id': 1}]}])] == [1]


def test_a_batch_outcome_per_gate():
    plan = rolling_plan(inputs(batch=4, up='port', port=80),
                        [{'vms': [vm(1, ip='10.0.0.1'), vm(2, ip='10.0.0.2'), vm(3, ip='10.0.0.3'), vm(4, ip='10.0.0.4')]}], [])
    read = {'vms': [vm(key, ip='10.0.0.%d' % key) for key in (1, 2, 3, 4)]}
    start = batch_start(plan['batches'][0], read, inputs(up='port', port=80))
    power = {'vms': [{'id': 1, 'started': 2000}, {'id': 2, 'started': 1000}, {'id': 3, 'failed': True, 'msg': 'HTTP 409: busy'}]}
    gates = {'checks': [{'id': 1, 'ok': True, 'at': 5.0, 'msg': 'port 80 on 10.0.0.1 answers'},
                        {'id': 2, 'ok': False, 'msg': 'no answer within 30s'}]}
    outcome = batch_outcome(start, inputs(up='port', port=80), [power, {'skipped': True}], gates, None, {'started': 1.0, 'ended': 9.0})
    by_id = {entry['id']: entry for entry in outcome['vms']}
    assert by_id[1]['outcome'] == 'restarted' and by_id[1]['healthy_at'] == 5.0 and by_id[1]['confirmed'] is True
    assert by_id[2]['outcome'] == 'failed' and by_id[2]['msg'] == 'unhealthy: no answer within 30s'
    assert by_id[3]['msg'] == 'restart failed: HTTP 409: busy'
    assert by_id[4]['msg'] == 'restart failed: the power action did not run'
    assert outcome['failed'] == 3 and outcome['done_ids'] == [1] and outcome['failed_ids'] == [2, 3, 4] and outcome['elapsed'] == 8.0


def test_agent_and_running_gates_and_the_relaunch_outcomes():
    record = own_record(restarting=([1, 2], {'1': 1000, '2': 1000}), failed=([3], {}))
    found = [{'vms': [vm(1, started=2000), vm(2), vm(3)]}]
    plan = rolling_plan(inputs(up='agent'), found, [record])
    start = batch_start(plan['batches'][0], found[0], inputs(up='agent'))
    agent = {'vms': [{'id': 1, 'power_state': 'running', 'guest_agent': True, 'agent_version': '8.2'},
                     {'id': 2, 'power_state': 'running', 'guest_agent': False, 'agent_version': ''},
                     {'id': 3, 'power_state': 'running', 'guest_agent': True, 'agent_version': ''}]}
    outcome = batch_outcome(start, inputs(up='agent', gate_timeout=30), [], None, agent, {'started': 1.0, 'ended': 2.0})
    assert [(entry['id'], entry['outcome']) for entry in outcome['vms']] == [(1, 'restarted'), (2, 'unconfirmed'), (3, 'failed')]
    assert outcome['vms'][2]['msg'] == 'unhealthy: its guest agent did not answer within 30s (running)'
    running = batch_outcome(dict(start, gated=start['gated']), inputs(), [], None, None, {})
    assert [entry['outcome'] for entry in running['vms']] == ['restarted', 'unconfirmed', 'healthy']


def test_the_result_names_what_was_not_reached_and_says_where_the_record_stands():
    plan = rolling_plan(inputs(batch=1), [{'vms': [vm(1), vm(2), vm(3, 'stopped')]}], [])
    start = batch_start(plan['batches'][0], {'vms': [vm(1)]}, inputs())
    first = batch_outcome(start, inputs(), [{'vms': [{'id': 1, 'failed': True, 'msg': 'refused'}]}], None, None, {})
    second = not_reached(plan['batches'][1], 'not reached: the budget')
    result = rolling_result(plan, [first, second], 'the failure budget (1) was reached after batch 1', {'open': True})
    assert result['failed_vms'] == ['web01'] and result['not_reached'] == ['web02'] and result['skipped'] == ['web03']
    assert result['summary'][0] == 'rolling_restart: 3 VM(s) in 2 batch(es): 1 failed, 1 not reached, 1 skipped'
    assert 'STOPPED: the failure budget (1) was reached after batch 1; not reached: web02' in result['summary']
    assert '2. targets: web02: not reached' in result['summary'] and result['summary'][-1].startswith('rollout record roll: stays open')
    planned = rolling_result(dict(plan, check_mode=True), [])
    assert planned['summary'][0] == 'rolling_restart (check mode, nothing sent): 3 VM(s) in 2 batch(es): 2 planned, 1 skipped'
    assert planned['batches'][0]['planned'] == ['web01'] and 'rollout record' not in planned['summary'][-1]


def test_the_steps_are_reached_through_the_filter():
    with pytest.raises(AnsibleFilterError, match='rolling_restart_batch must be'):
        ROLE_INTERNAL({'rolling_restart_targets': ['a'], 'rolling_restart_batch': 'x'}, 'rolling_restart_inputs')
    spec = ROLE_INTERNAL([{'id': 1, 'name': 'web01', 'address': '10.0.0.1'}], 'health_gates',
                         {'up': 'url', 'url': 'https://{address}/{name}?id={id}', 'status': [204], 'timeout': 2, 'tls': {'validate_certs': False}})
    assert spec['checks'] == [{'id': 1, 'name': 'web01', 'url': 'https://10.0.0.1/web01?id=1', 'status': [204]}]
    assert spec['tls']['validate_certs'] is False and spec['attempt_timeout'] == 2.0
    assert health_gates([{'id': 1, 'address': '10.0.0.1'}], {'up': 'port', 'port': '22'})['checks'][0]['port'] == 22
    assert vm_url('http://{name}/', {'name': None}) == 'http:///'
    with pytest.raises(ValueError):
        health_gates([], {'up': 'agent'})


# ------------------------------------------------------------------------------------- the gate script, on the loopback


def load_gates():
    spec = importlib.util.spec_from_file_location('health_gates', GATES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the standard library's name)
        self.send_response(204 if self.path == '/ok' else 503)
        self.end_headers()

    def log_message(self, *args):
        return


def test_the_gate_script_checks_ports_and_urls_side_by_side():
    gates = load_gates()
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as closed:
        closed.bind(('127.0.0.1', 0))
        dead = closed.getsockname()[1]
    base = 'http://127.0.0.1:%d' % server.server_address[1]
    try:
        answer = gates.run({'timeout': 0.6, 'interval': 0.1, 'checks': [
            {'id': 1, 'name': 'a', 'url': base + '/ok', 'status': [204]},
            {'id': 2, 'name': 'b', 'url': base + '/bad', 'status': [200]},
            {'id': 3, 'name': 'c', 'host': '127.0.0.1', 'port': server.server_address[1]},
            {'id': 4, 'name': 'd', 'host': '127.0.0.1', 'port': dead}]})
    finally:
        server.shutdown()
        server.server_close()
    by_id = {check['id']: check for check in answer['checks']}
    assert by_id[1]['ok'] and by_id[1]['status'] == 204 and by_id[1]['attempts'] == 1 and by_id[1]['at'] >= answer['started']
    assert not by_id[2]['ok'] and 'answers 503, not 200' in by_id[2]['msg'] and by_id[2]['attempts'] > 1
    assert by_id[3]['ok'] and not by_id[4]['ok'] and by_id[4]['msg'].startswith('no answer within 0.6s')
    assert gates.tls_context({'validate_certs': False}).verify_mode == 0
