# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The power engine against a fake VergeOS world driven by a fake clock, at real durations (nothing sleeps)."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.policy import PowerOptions
from ansible_collections.vergeos.power.plugins.module_utils.power import power_vms

ON = ('running', True)
OFF = ('stopped', False)


class World:
    """VMs with lazy transitions on a fake clock; the engine's ``ops`` (select, read, send, mark_stopped, node_key)."""

    def __init__(self, vms, shutdown=120.0, boot=30.0, kill=3.0):
        self.now = 1000.0
        self.durations = {'shutdown': shutdown, 'boot': boot, 'kill': kill}
        self.vms = {}
        for key, spec in enumerate(vms, start=1):
            status, running = spec.get('power', ON)
            self.vms[key] = {'$key': key, 'name': spec.get('name', 'vm%02d' % key), 'machine': 100 + key, 'cpu_cores': 2, 'ram': 2048,
                             'status': status, 'running': running, 'due': spec.get('due'), 'ignore_acpi': spec.get('ignore_acpi', False),
                             'stuck': spec.get('stuck', False), 'shutdown': spec.get('shutdown', shutdown),
                             'guest_agent': 'agent_delay' in spec, 'agent_delay': spec.get('agent_delay'), 'agent_at': None,
                             'lost_start': spec.get('lost_start', False)}
            if running and 'agent_delay' in spec:
                self.vms[key]['agent_at'] = self.now + spec['agent_delay']
        self.selects, self.reads, self.sent, self.marked = [], [], [], []
        self.post_errors = {}  # action -> [(applied anyway?, status), ...]
        self.hooks = []  # (time, key, status, running): another actor

    # -- the clock
    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.now += seconds

    # -- the model
    def _settle(self):
        for time_due, key, status, running in list(self.hooks):
            if self.now >= time_due:
                self.vms[key].update(status=status, running=running, due=None)
                self.hooks.remove((time_due, key, status, running))
        for vm in self.vms.values():
            if vm['due'] and self.now >= vm['due'][0]:
                vm['status'], vm['running'] = vm['due'][1]
                if vm['status'] == 'running' and vm['agent_delay'] is not None:
                    vm['agent_at'] = vm['due'][0] + vm['agent_delay']
                vm['due'] = None

    def _row(self, vm):
        row = {name: value for name, value in vm.items()
               if name not in ('due', 'ignore_acpi', 'stuck', 'shutdown', 'agent_delay', 'agent_at', 'lost_start')}
        answering = vm['status'] == 'running' and vm['agent_at'] is not None and self.now >= vm['agent_at']
        row['agent_version'] = 'qemu-guest-agent 8.2.2' if answering else ''
        return row

    def in_flight(self):
        return sum(1 for vm in self.vms.values() if vm['status'] in ('starting', 'stopping'))

    def select(self, max_targets=None, **selection):
        self._settle()
        self.selects.append(dict(selection, max_targets=max_targets))
        if selection.get('vm_id') is not None:
            if selection['vm_id'] not in self.vms:
                raise VergeOSError('no VM has id %s' % selection['vm_id'])
            return [self._row(self.vms[selection['vm_id']])]
        rows = [self._row(vm) for vm in self.vms.values()]
        if max_targets is not None and selection.get('filters') and len(rows) > max_targets:
            raise VergeOSError('the filters match %d VMs, more than max_targets (%d)' % (len(rows), max_targets))
        return rows

    def read(self, keys):
        self._settle()
        self.reads.append(list(keys))
        return {key: self._row(self.vms[key]) for key in keys if key in self.vms}

    def send(self, row, action, params):
        self._settle()
        key = row['$key']
        self.sent.append((self.now, key, action, params))
        vm = self.vms[key]
        if self.post_errors.get(action):
            # One entry per failing POST: (applied anyway?, HTTP status or None for no answer).
            applied, status = self.post_errors[action].pop(0)
            if applied:
                self._apply(vm, action)
            raise VergeOSError('no answer' if status is None else 'refused', status, 'sending %s' % action)
        self._apply(vm, action)

    def _apply(self, vm, action):
        if action == 'poweroff':
            vm['status'] = 'stopping'
            vm['due'] = None if vm['ignore_acpi'] else (self.now + vm['shutdown'], OFF)
        elif action == 'kill':
            vm['status'] = 'stopping'
            vm['due'] = None if vm['stuck'] else (self.now + self.durations['kill'], OFF)
        elif action == 'poweron' and vm['lost_start']:
            pass  # accepted, never carried out (recorded on a real system that lacked the resources)
        elif action == 'poweron':
            vm['status'], vm['running'] = 'starting', True
            vm['due'] = (self.now + self.durations['boot'], ON)
        elif action == 'reset':
            pass

    def send_width(self):
        return 1  # one at a time: the fake world's lists stay in order

    def mark_stopped(self, row):
        self.marked.append(row['$key'])
        self.vms[row['$key']].update(status='stopped', running=False, due=None)

    def capacity(self):
        """The nodes with their RAM and use (capacity.node_usage's shape); none unless a test gives some."""
        self.capacity_reads = getattr(self, 'capacity_reads', 0) + 1
        return getattr(self, 'nodes', [])

    def node_key(self, node):
        nodes = {'node1': 1, 'node2': 2}
        if node not in nodes:
            raise VergeOSError('preferred_node: 0 nodes are named %r' % node)
        return nodes[node]


def run(world, state, **kwargs):
    """Run the engine on the fake world: the keywords are PowerOptions fields or power_vms arguments."""
    selection = kwargs.pop('selection', {'filters': {'name_regex': '.'}})
    engine = {name: kwargs.pop(name) for name in ('max_targets', 'wait_timeouts', 'check_mode', 'progress') if name in kwargs}
    kwargs.setdefault('poll_interval', 2.0)
    return power_vms(None, PowerOptions(state=state, **kwargs), selection=selection, clock=world.clock, sleep=world.sleep,
                     rand=lambda: 0.5, ops=world, **engine)


def test_noop_on_one_vm_is_one_read_and_returns_its_keys_at_the_top():
    world = World([{'power': OFF}])
    result = run(world, 'stopped', selection={'vm_id': 1})
    assert (len(world.selects), world.reads, world.sent) == (1, [], [])
    assert result['changed'] is False and result['failed'] is False
    assert result['id'] == 1 and result['previous_power_state'] == 'stopped' and result['actions'] == []
    assert result['vms'][0]['msg'].startswith('already not running')


def test_graceful_stop_of_120_seconds_is_one_poweroff_and_one_read_per_round():
    world = World([{}], shutdown=120)
    result = run(world, 'stopped', selection={'vm_id': 1})
    assert [action for _t, _k, action, _p in world.sent] == ['poweroff']
    assert result['changed'] is True and result['failed'] is False
    assert result['power_state'] == 'stopped' and result['escalated'] is False
    assert 120.0 <= result['elapsed'] <= 122.0
    assert len(world.reads) == 60  # one read every 2 s until stopped, nothing else
    assert result['diff'] == {'before': {'vms': {'vm01': 'running'}}, 'after': {'vms': {'vm01': 'stopped'}}}


def test_deadline_fails_with_the_last_seen_state_and_never_kills():
    world = World([{'ignore_acpi': True}])
    result = run(world, 'stopped', wait_timeout=300)
    vm = result['vms'][0]
    assert result['failed'] is True and vm['failed'] is True and vm['timed_out'] is True
    assert [action for _t, _k, action, _p in world.sent] == ['poweroff']
    assert 'status stopping' in vm['msg'] and 300.0 <= vm['elapsed'] <= 302.0


def test_on_timeout_force_kills_at_the_deadline_and_says_escalated():
    world = World([{'ignore_acpi': True}, {'shutdown': 30}])
    result = run(world, 'stopped', wait_timeout=300, on_timeout='force')
    stubborn, polite = result['vms']
    assert result['failed'] is False
    assert stubborn['actions'] == ['poweroff', 'kill'] and stubborn['escalated'] is True and stubborn['power_state'] == 'stopped'
    assert polite['actions'] == ['poweroff'] and polite['escalated'] is False
    kill_time = [when for when, _k, action, _p in world.sent if action == 'kill'][0]
    assert 1300.0 <= kill_time <= 1302.0
    assert 303.0 <= stubborn['elapsed'] <= 306.0


def test_on_timeout_report_returns_the_late_vms_without_failing():
    world = World([{'ignore_acpi': True, 'name': 'late'}, {'name': 'fine'}])
    result = run(world, 'stopped', wait_timeout=300, on_timeout='report')
    late, fine = result['vms']
    assert result['failed'] is False and result['timed_out'] == ['late']
    assert late['timed_out'] is True and late['failed'] is False and 'missed the deadline' in late['msg']
    assert fine['timed_out'] is False and fine['power_state'] == 'stopped'
    assert all(action != 'kill' for _t, _k, action, _p in world.sent)


def test_a_vm_started_by_another_actor_after_our_poweroff_fails_and_is_not_fought():
    world = World([{}], shutdown=120)
    world.hooks.append((1040.0, 1, 'running', True))
    result = run(world, 'stopped', selection={'vm_id': 1})
    assert result['failed'] is True and 'moved away' in result['msg']
    assert [action for _t, _k, action, _p in world.sent] == ['poweroff']


def _with_peaks(world):
    """Record how many VMs are starting or stopping each time an action goes out."""
    peaks = []
    original = world.send

    def send(row, action, params):
        original(row, action, params)
        peaks.append(world.in_flight())
    world.send = send
    return peaks


def test_an_explicit_window_limits_stops_as_a_sliding_window_with_one_read_per_round():
    world = World([{}] * 30, shutdown=60)
    peaks = _with_peaks(world)
    result = run(world, 'stopped', max_concurrent_actions=10, max_targets=50)
    assert result['failed'] is False and len(result['vms']) == 30
    assert all(vm['power_state'] == 'stopped' and vm['actions'] == ['poweroff'] for vm in result['vms'])
    assert max(peaks) == 10
    assert 180.0 <= world.now - 1000.0 <= 190.0
    # ONE read per round covers every VM still in play, the queued ones included (each POST follows a fresh read).
    assert 90 <= len(world.reads) <= 96
    assert all(keys == sorted(keys) for keys in world.reads) and len(world.reads[0]) == 30


def test_a_vm_that_settles_frees_its_slot_at_once():
    world = World([{'name': 'fast', 'shutdown': 10}, {'name': 'slow', 'shutdown': 100}, {'name': 'next', 'shutdown': 10}])
    run(world, 'stopped', max_concurrent_actions=2)
    sent = {key: when - 1000.0 for when, key, _action, _params in world.sent}
    # 'next' goes out as soon as 'fast' is seen stopped (~10 s), not when the slow one is done (~100 s).
    assert sent[1] == 0.0 and sent[2] == 0.0 and 10.0 <= sent[3] <= 12.0


def test_by_default_stops_are_not_limited_and_starts_go_twenty_at_a_time():
    stops = World([{}] * 30, shutdown=60)
    run(stops, 'stopped', max_targets=50)
    assert len({when for when, _k, _a, _p in stops.sent}) == 1 and len(stops.sent) == 30
    starts = World([{'power': OFF}] * 30, boot=30)
    peaks = _with_peaks(starts)
    result = run(starts, 'running', max_targets=50)
    assert result['failed'] is False and max(peaks) == 20
    assert 60.0 <= starts.now - 1000.0 <= 66.0  # two boot times: 20, then 10 as slots free


def test_a_vm_vergeos_queues_holds_no_slot():
    world = World([{'power': OFF}] * 3, boot=30)
    original = world._apply

    def queue_first(vm, action):
        original(vm, action)
        if vm['$key'] == 1:
            vm['status'] = 'waitingforresources'  # VergeOS flags it to start when resources free up
            vm['due'] = (world.now + 100.0, ON)
    world._apply = queue_first
    result = run(world, 'running', max_concurrent_actions=1)
    sent = {key: when - 1000.0 for when, key, _action, _params in world.sent}
    assert result['failed'] is False
    assert sent[1] == 0.0 and sent[2] <= 2.0  # vm01 is queued by VergeOS: vm02 takes the slot at the first read
    assert 30.0 <= sent[3] <= 34.0


def test_wait_false_keeps_the_window_and_returns_once_the_last_action_is_out():
    world = World([{'power': OFF}] * 3, boot=30)
    result = run(world, 'running', wait=False, max_concurrent_actions=2)
    assert result['changed'] is True and result['failed'] is False
    sent = sorted(when - 1000.0 for when, _key, _action, _params in world.sent)
    assert sent[:2] == [0.0, 0.0] and 30.0 <= sent[2] <= 32.0
    assert world.now - sent[2] - 1000.0 <= 4.0  # no wait for the last one to boot


def test_check_mode_sends_nothing_and_reports_what_a_real_run_does():
    specs = [{'power': ON}, {'power': OFF}, {'power': ('starting', True), 'due': (1030.0, ON)}, {'power': ('stopping', True), 'due': (1020.0, OFF)}]
    checked_world, real_world = World(specs), World(specs)
    checked = run(checked_world, 'stopped', check_mode=True)
    real = run(real_world, 'stopped')
    assert checked_world.sent == [] and checked_world.reads == []
    assert [vm['changed'] for vm in checked['vms']] == [vm['changed'] for vm in real['vms']] == [True, False, True, False]
    assert checked['changed'] is real['changed'] is True
    assert checked['diff']['after']['vms'] == real['diff']['after']['vms']


def test_a_starting_vm_is_powered_off_only_once_it_runs():
    world = World([{'power': ('starting', True), 'due': (1050.0, ON)}], shutdown=60)
    result = run(world, 'stopped', selection={'vm_id': 1})
    assert result['failed'] is False and result['actions'] == ['poweroff']
    assert world.sent[0][0] >= 1050.0
    assert result['power_state'] == 'stopped'


def test_force_on_a_stopping_vm_kills_then_powers_on():
    world = World([{'power': ('stopping', True), 'due': (1500.0, OFF)}], boot=30)
    result = run(world, 'running', selection={'vm_id': 1}, force=True, preferred_node='node2')
    assert result['actions'] == ['kill', 'poweron'] and result['power_state'] == 'running'
    assert world.sent[1][3] == {'preferred_node': 2}


def test_a_post_whose_answer_was_lost_after_it_was_applied_is_not_sent_again():
    world = World([{}], shutdown=20)
    world.post_errors['poweroff'] = [(True, None)]
    result = run(world, 'stopped', selection={'vm_id': 1})
    assert [action for _t, _k, action, _p in world.sent] == ['poweroff']
    assert world.reads[0] == [1]  # read again after the error: stopping, so only waited for
    assert result['failed'] is False and result['power_state'] == 'stopped' and result['actions'] == ['poweroff']


@pytest.mark.parametrize('status', [None, 503, 429])
def test_a_lost_poweroff_is_sent_again_after_a_fresh_read(status):
    world = World([{}], shutdown=20)
    world.post_errors['poweroff'] = [(False, status)]
    result = run(world, 'stopped', selection={'vm_id': 1})
    assert [action for _t, _k, action, _p in world.sent] == ['poweroff', 'poweroff']
    assert world.reads[0] == [1]
    assert result['failed'] is False and result['power_state'] == 'stopped' and result['actions'] == ['poweroff']


def test_a_post_that_fails_a_while_is_sent_again_with_backoff_until_it_is_acknowledged():
    world = World([{}], shutdown=20)
    world.post_errors['poweroff'] = [(False, None)] * 5
    result = run(world, 'stopped', selection={'vm_id': 1})
    sent = [when - 1000.0 for when, _k, action, _p in world.sent]
    assert len(sent) == 6 and result['failed'] is False and result['power_state'] == 'stopped'
    gaps = [later - earlier for earlier, later in zip(sent, sent[1:], strict=False)]
    assert gaps == sorted(gaps) and gaps[0] >= 0.75  # exponential backoff, never a burst


def test_an_action_never_acknowledged_nor_seen_fails_at_its_timeout_and_is_never_escalated():
    world = World([{}], shutdown=20)
    world.post_errors['poweroff'] = [(False, 503)] * 1000
    result = run(world, 'stopped', selection={'vm_id': 1}, on_timeout='force', wait_timeout=60)
    assert {action for _t, _k, action, _p in world.sent} == {'poweroff'}
    assert max(when for when, _k, _a, _p in world.sent) - 1000.0 <= 60.0
    assert result['failed'] is True and result['escalated'] is False and result['changed'] is True
    assert 'never acknowledged nor seen taking effect' in result['msg'] and 'not escalated' in result['msg']


def test_a_resend_never_moves_the_deadline_which_starts_at_the_first_acknowledgement():
    world = World([{'ignore_acpi': True}])
    world.post_errors['poweroff'] = [(False, None), (False, None)]
    result = run(world, 'stopped', selection={'vm_id': 1}, on_timeout='force', wait_timeout=30)
    sends = [(when - 1000.0, action) for when, _k, action, _p in world.sent]
    acked = sends[2][0]
    kill = [when for when, action in sends if action == 'kill'][0]
    assert [action for _when, action in sends] == ['poweroff', 'poweroff', 'poweroff', 'kill']
    assert acked + 30.0 <= kill <= acked + 32.0
    assert result['escalated'] is True and result['power_state'] == 'stopped'


def test_retry_after_is_honoured_before_a_resend():
    world = World([{}], shutdown=20)
    original = world.send

    def throttled_once(row, action, params):
        if not world.sent:
            world.sent.append((world.now, row['$key'], action, params))
            raise VergeOSError('slow down', 429, 'powering off', retry_after=7.0)
        original(row, action, params)
    world.send = throttled_once
    run(world, 'stopped', selection={'vm_id': 1})
    assert world.sent[1][0] - world.sent[0][0] >= 7.0


def test_a_failed_read_costs_a_round_not_the_vms():
    world = World([{}, {}], shutdown=20)
    original = world.read
    failures = iter([True, True, False] + [False] * 100)

    def flaky(keys):
        if next(failures):
            world.reads.append(list(keys))
            raise VergeOSError('no answer', None, 'polling')
        return original(keys)
    world.read = flaky
    result = run(world, 'stopped')
    assert result['failed'] is False and all(vm['power_state'] == 'stopped' for vm in result['vms'])


def test_reads_that_keep_failing_fail_a_vm_only_past_its_own_deadline():
    world = World([{}], shutdown=20)

    def down(keys):
        world.reads.append(list(keys))
        raise VergeOSError('no answer', None, 'polling')
    world.read = down
    result = run(world, 'stopped', selection={'vm_id': 1}, wait_timeout=30, on_timeout='force')
    assert result['failed'] is True and 'could not read the VM again by its deadline' in result['msg']
    assert 30.0 <= result['elapsed'] <= 36.0
    assert [action for _t, _k, action, _p in world.sent] == ['poweroff']  # nothing escalated without a fresh read


@pytest.mark.parametrize('status', [403, 409, 422, 507])
def test_an_answered_refusal_is_not_sent_again(status):
    world = World([{}], shutdown=20)
    world.post_errors['poweroff'] = [(False, status)]
    result = run(world, 'stopped', selection={'vm_id': 1})
    assert len(world.sent) == 1
    assert result['failed'] is True and 'was refused and is not re-sent' in result['msg'] and 'HTTP %d' % status in result['msg']


def test_a_lost_reset_is_never_repeated():
    world = World([{}])
    world.post_errors['reset'] = [(False, None)]
    result = run(world, 'restarted', selection={'vm_id': 1})
    assert [action for _t, _k, action, _p in world.sent] == ['reset']
    assert result['failed'] is True and 'reset was not confirmed and is not re-sent' in result['msg']


def test_unsafe_mark_stopped_only_after_a_kill_that_did_not_stop_the_vm():
    world = World([{'ignore_acpi': True, 'stuck': True}])
    result = run(world, 'stopped', selection={'vm_id': 1}, on_timeout='force', unsafe_mark_stopped=True, wait_timeout=60)
    assert result['actions'] == ['poweroff', 'kill', 'mark_stopped'] and world.marked == [1]
    assert result['failed'] is False and result['power_state'] == 'stopped'
    plain = World([{'ignore_acpi': True, 'stuck': True}])
    result = run(plain, 'stopped', selection={'vm_id': 1}, on_timeout='force', wait_timeout=60)
    assert plain.marked == [] and result['failed'] is True and result['escalated'] is True


def test_wait_false_sends_and_returns_changed():
    world = World([{}, {}])
    result = run(world, 'stopped', wait=False)
    assert result['changed'] is True and len(world.sent) == 2 and world.reads == []
    assert world.now == 1000.0


def test_restarted_resets_gracefully_and_powers_on_a_stopped_vm():
    world = World([{'power': ON}, {'power': OFF}])
    result = run(world, 'restarted')
    assert [vm['actions'] for vm in result['vms']] == [['reset'], ['poweron']]
    assert world.sent[0][3] == {'graceful': True}
    assert all(vm['power_state'] == 'running' for vm in result['vms'])


def test_refused_vm_fails_and_others_are_still_reported():
    world = World([{'power': ('maintenance', False)}, {}])
    result = run(world, 'running')
    assert result['failed'] is True
    assert [vm['failed'] for vm in result['vms']] == [True, False]


@pytest.mark.parametrize('options, words', [
    ({'on_timeout': 'later'}, 'on_timeout must be one of'),
    ({'state': 'paused'}, 'state must be one of'),
    ({'max_concurrent_actions': 0}, 'max_concurrent_actions must be 1 or more'),
    ({'poll_interval': 0}, 'poll_interval must be more than zero'),
    ({'wait_timeout': -1}, 'wait_timeout must be a number of seconds, zero or more'),
    ({'max_requests_per_second': 0}, 'max_requests_per_second must be more than zero'),
])
def test_bad_options_are_refused_before_any_request(options, words):
    world = World([{}])
    state = options.pop('state', 'stopped')
    with pytest.raises(VergeOSError, match=words):
        run(world, state, **options)
    assert world.selects == []


def test_poll_interval_has_a_floor():
    assert PowerOptions(state='stopped', poll_interval=0.001).poll_interval == 0.1


def test_a_lost_kill_at_the_deadline_is_sent_again_and_escalation_completes():
    world = World([{'ignore_acpi': True}])
    world.post_errors['kill'] = [(False, 502)]
    result = run(world, 'stopped', selection={'vm_id': 1}, on_timeout='force', wait_timeout=60)
    assert [action for _t, _k, action, _p in world.sent] == ['poweroff', 'kill', 'kill']
    assert result['failed'] is False and result['escalated'] is True and result['actions'] == ['poweroff', 'kill']
    assert result['power_state'] == 'stopped'


def test_a_preferred_node_that_does_not_resolve_fails_the_vm_without_a_post():
    world = World([{'power': OFF}])
    result = run(world, 'running', selection={'vm_id': 1}, preferred_node='node9')
    assert world.sent == [] and result['failed'] is True and result['actions'] == []


def test_a_refused_post_is_not_an_action_and_changes_nothing():
    world = World([{}])
    world.post_errors['poweroff'] = [(False, 403)]
    result = run(world, 'stopped', selection={'vm_id': 1})
    assert result['failed'] is True and result['changed'] is False and result['actions'] == []


def test_a_post_without_answer_counts_as_sent_and_changed():
    world = World([{}])
    world.post_errors['poweroff'] = [(False, None)] * 1000
    result = run(world, 'stopped', selection={'vm_id': 1}, wait_timeout=20)
    assert result['failed'] is True and result['changed'] is True and result['actions'] == ['poweroff']


def test_wait_timeouts_give_each_vm_its_own_deadline_by_name_or_id():
    world = World([{'name': 'quick', 'ignore_acpi': True}, {'name': 'slow', 'ignore_acpi': True}, {'name': 'plain', 'ignore_acpi': True}])
    result = run(world, 'stopped', wait_timeout=300, wait_timeouts={'quick': 20, '2': 600}, on_timeout='report')
    by_name = {vm['name']: vm for vm in result['vms']}
    assert all(vm['timed_out'] for vm in by_name.values())
    assert 20.0 <= by_name['quick']['elapsed'] <= 22.0
    assert 600.0 <= by_name['slow']['elapsed'] <= 602.0
    assert 300.0 <= by_name['plain']['elapsed'] <= 302.0
    assert [action for _t, _k, action, _p in world.sent] == ['poweroff'] * 3
    # the whole set is still one read per round: never more reads than 2 s rounds up to the last deadline
    assert len(world.reads) <= 600 / 2 + 3


def test_wait_timeouts_escalate_at_the_vm_deadline_not_the_task_one():
    world = World([{'name': 'a', 'ignore_acpi': True}, {'name': 'b', 'shutdown': 30}])
    result = run(world, 'stopped', wait_timeout=300, wait_timeouts={'a': 10}, on_timeout='force')
    kills = [(when - 1000.0, key) for when, key, action, _p in world.sent if action == 'kill']
    # The kill goes out at a's own deadline, whatever b is doing.
    assert len(kills) == 1 and kills[0][1] == 1 and 10.0 <= kills[0][0] <= 12.0
    assert [vm['escalated'] for vm in result['vms']] == [True, False]


def test_each_vm_elapsed_is_its_own_not_the_slowest_of_its_wave():
    world = World([{'name': 'fast', 'shutdown': 10}, {'name': 'slow', 'shutdown': 100}])
    result = run(world, 'stopped')
    elapsed = {vm['name']: vm['elapsed'] for vm in result['vms']}
    assert 10.0 <= elapsed['fast'] <= 12.0 and 100.0 <= elapsed['slow'] <= 102.0


def test_wait_timeouts_id_wins_over_a_vm_named_like_it():
    world = World([{'name': '2', 'ignore_acpi': True}, {'name': 'other', 'ignore_acpi': True}])
    result = run(world, 'stopped', wait_timeout=50, wait_timeouts={2: 10}, on_timeout='report')
    by_name = {vm['name']: vm['elapsed'] for vm in result['vms']}
    assert by_name['other'] <= 12.0 and by_name['2'] >= 50.0


@pytest.mark.parametrize('timeouts, words', [
    ({'typo01': 10}, 'not selected: typo01'),
    ({'vm01': -1}, 'must be a number of seconds'),
    ({'vm01': 'soon'}, 'must be a number of seconds'),
    ({'vm01': True}, 'must be a number of seconds'),
    (['vm01'], 'must be a dict'),
])
def test_bad_wait_timeouts_are_refused_before_any_action(timeouts, words):
    world = World([{}])
    with pytest.raises(VergeOSError, match=words):
        run(world, 'stopped', wait_timeouts=timeouts)
    assert world.sent == []


def test_wait_for_agent_waits_past_running_until_the_agent_answers():
    world = World([{'power': OFF, 'agent_delay': 20}], boot=30)
    result = run(world, 'running', selection={'vm_id': 1}, wait_for_agent=True)
    assert result['failed'] is False and result['actions'] == ['poweron']
    assert 50.0 <= result['elapsed'] <= 53.0 and result['agent_version']
    plain = World([{'power': OFF, 'agent_delay': 20}], boot=30)
    assert 30.0 <= run(plain, 'running', selection={'vm_id': 1})['elapsed'] <= 33.0


def test_wait_for_agent_on_a_running_vm_only_waits():
    world = World([{'power': ON, 'agent_delay': 40}])
    result = run(world, 'running', selection={'vm_id': 1}, wait_for_agent=True)
    assert world.sent == [] and result['changed'] is False and result['failed'] is False
    assert 40.0 <= result['elapsed'] <= 43.0


def test_an_agent_that_never_answers_fails_at_the_deadline_saying_so():
    world = World([{'power': OFF, 'agent_delay': 10_000}], boot=30)
    result = run(world, 'running', selection={'vm_id': 1}, wait_for_agent=True, wait_timeout=120)
    assert result['failed'] is True and result['vms'][0]['timed_out'] is True and result['timed_out'] == ['vm01']
    assert 'guest agent did not answer by the deadline' in result['msg']


def test_a_vm_without_a_guest_agent_counts_as_running():
    world = World([{'power': OFF}], boot=30)
    result = run(world, 'running', selection={'vm_id': 1}, wait_for_agent=True)
    assert result['failed'] is False and 30.0 <= result['elapsed'] <= 33.0


def test_wait_for_agent_is_only_for_running():
    world = World([{}])
    with pytest.raises(VergeOSError, match='wait_for_agent applies to state=running only'):
        run(world, 'stopped', wait_for_agent=True)
    assert world.selects == []


# ---------------------------------------------------------------- pre-flight


def _nodes(*free_mb):
    return [{'key': index, 'name': 'node%d' % index, 'cluster': None, 'ram': ram, 'cores': 8, 'ram_used': 0, 'cores_used': 0}
            for index, ram in enumerate(free_mb, start=1)]


def _off_world(count):
    return World([{'power': OFF} for _key in range(count)], boot=5.0)


def test_a_start_that_fits_is_checked_once_and_goes():
    world = _off_world(3)
    world.nodes = _nodes(4096, 4096)
    result = run(world, 'running')
    assert result['preflight']['fits'] and world.capacity_reads == 1 and 'warnings' not in result
    assert sorted(key for _t, key, action, _p in world.sent if action == 'poweron') == [1, 2, 3]


def test_a_start_that_does_not_fit_warns_by_default_and_still_goes():
    world = _off_world(3)
    world.nodes = _nodes(4096)
    result = run(world, 'running')
    assert not result['preflight']['fits'] and [vm['id'] for vm in result['preflight']['misfits']] == [3]
    assert 'pre-flight: 1 VM(s) may not fit' in result['warnings'][0] and 'short by 2048 MB' in result['warnings'][0]
    assert len([1 for _t, _key, action, _p in world.sent if action == 'poweron']) == 3


def test_preflight_refuse_sends_nothing_and_says_why_per_vm():
    world = _off_world(3)
    world.nodes = _nodes(4096)
    result = run(world, 'running', preflight='refuse')
    assert result['failed'] and world.sent == []
    by_id = {vm['id']: vm['msg'] for vm in result['vms']}
    assert by_id[3].startswith('pre-flight refused (preflight=refuse): needs 2048 MB of RAM') and 'not sent' in by_id[1]


def test_no_preflight_for_stops_or_when_off_or_without_node_ram():
    world = _off_world(2)
    world.nodes = _nodes(1024)
    assert run(world, 'running', preflight='off')['preflight'] == {'checked': False, 'reason': 'preflight is off'}
    assert run(World([{'power': ON}]), 'stopped')['preflight'] == {'checked': False, 'reason': 'no VM to power on'}


def _unreadable(world, error):
    def capacity():
        world.capacity_reads = getattr(world, 'capacity_reads', 0) + 1
        raise error
    world.capacity = capacity
    return world


@pytest.mark.parametrize('error', [
    VergeOSError('Permission denied', 403, 'reading the nodes for the pre-flight check'),
    VergeOSError('Service Unavailable', 503, 'reading the running VMs for the pre-flight check'),
    VergeOSError('connection reset by peer', None, 'reading the nodes for the pre-flight check'),
])
def test_an_unreadable_preflight_warns_once_and_starts_with_warn(error):
    world = _unreadable(_off_world(2), error)
    result = run(world, 'running')
    assert not result['failed'] and world.capacity_reads == 1
    assert sorted(key for _t, key, action, _p in world.sent if action == 'poweron') == [1, 2]
    assert result['preflight']['checked'] is False and result['preflight']['skipped'] is True
    assert result['warnings'] == [result['preflight']['reason']]
    assert result['preflight']['reason'].startswith('pre-flight skipped: could not read the ')
    assert error.message in result['preflight']['reason']


def test_an_unreadable_preflight_refuses_before_any_write_with_refuse():
    world = _unreadable(_off_world(2), VergeOSError('Permission denied', 403, 'reading the nodes for the pre-flight check'))
    result = run(world, 'running', preflight='refuse')
    assert result['failed'] and world.sent == [] and 'warnings' not in result
    assert all(vm['msg'].startswith('pre-flight refused: could not read the nodes for the pre-flight check (HTTP 403: Permission denied)')
               for vm in result['vms'])


def test_nodes_without_ram_skip_the_check_with_a_warning_or_refuse():
    world = _off_world(2)
    world.nodes = _nodes(0, 0)
    warned = run(world, 'running')
    assert warned['preflight']['checked'] is False and 'no RAM' in warned['warnings'][0] and not warned['failed']
    world = _off_world(2)
    world.nodes = _nodes(0, 0)
    refused = run(world, 'running', preflight='refuse')
    assert refused['failed'] and world.sent == [] and refused['preflight']['refused'] is True


def test_an_accepted_start_that_never_begins_is_waited_for_not_resent_and_reported_at_the_deadline():
    world = World([{'power': OFF, 'lost_start': True}, {'power': OFF}])
    result = run(world, 'running', wait_timeout=60)
    by_name = {vm['name']: vm for vm in result['vms']}
    lost = by_name['vm01']
    assert lost['failed'] and lost['timed_out'] and lost['power_state'] == 'stopped'
    assert 'accepted the power-on but the VM never showed starting' in lost['msg'] and 'not sent again' in lost['msg']
    assert not by_name['vm02']['failed']
    # One poweron each, the lost one not sent again however long the wait.
    assert sorted((key, action) for _t, key, action, _p in world.sent) == [(1, 'poweron'), (2, 'poweron')]
    assert result['timed_out'] == ['vm01'] and world.now >= 1000.0 + 60


def test_a_start_seen_starting_then_off_is_a_failed_start_not_a_lost_one():
    world = World([{'power': OFF}])
    world.hooks.append((1005.0, 1, 'stopped', False))
    result = run(world, 'running', wait_timeout=60)
    assert result['failed'] and 'never showed starting' not in result['vms'][0]['msg']


@pytest.mark.parametrize('paced, soonest', [(True, 0.0), (False, 0.5)])
def test_a_poweroff_refused_by_a_paced_rate_limit_is_resent_in_the_next_round_without_a_backoff(paced, soonest):
    world = World([{}], shutdown=5)
    original = world.send
    failed = []

    def send(row, action, params):
        if not failed:
            failed.append(world.now)
            world.now += 0.01  # the connection closed 10 ms after the send
            error = VergeOSError('the connection was closed before an answer', None, 'sending %s' % action)
            error.paced = paced  # what the client says when its pacer paces this system (pacing.Pacer.limiting)
            raise error
        original(row, action, params)
    world.send = send
    result = run(world, 'stopped', poll_interval=2.0)
    assert not result['failed']
    resent = world.sent[0][0] - failed[0]
    assert resent >= soonest and (resent < 0.5 if paced else resent < 2.0 + 1.0)
