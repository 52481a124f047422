"""Two maintenance jobs on overlapping VMs, one crashed at a random step and relaunched: 200 seeded schedules.

Drives the collection's Python entry points (the lease, the record and its sets, the power
engine, ``round_trip.resume_plan`` and ``round_trip.restore_plan``) in the order
playbooks/maintenance.yml runs them, against the simulator over HTTPS, the two jobs' steps
interleaved at random. One job dies at a random step (nothing it would do next happens) and
is relaunched later, as an operator would relaunch a dead AWX job (naming the dead job's
owner to take its lease over). The three promises, after every step and at the end:

- no VM is running while an open record that stopped it still keeps it off (phase stopped or
  maintaining, the VM in its set covers);
- nothing is left down: once both jobs end, every VM that ran before runs, and no record is
  open;
- never a second outage: no graceful power-off of a VM already off since its last power-on
  (from the request log), and no power-on of a VM that was off before the jobs.

A failing schedule prints its seed; ``VERGEOS_SEED=<seed>`` replays that one alone.
"""

import concurrent.futures
import os
import random
import time

# collection_finder goes before the imports from ansible_collections.
import collection_finder  # noqa: F401  pylint: disable=unused-import
import pytest
from ansible_collections.vergeos.power.plugins.module_utils.client import VergeOSClient
from ansible_collections.vergeos.power.plugins.module_utils.lease import Keeper, release_lease, take_lease
from ansible_collections.vergeos.power.plugins.module_utils.maintenance import (
    close_record, close_set, open_record, open_set, read_record, read_records,
)
from ansible_collections.vergeos.power.plugins.module_utils.policy import PowerOptions
from ansible_collections.vergeos.power.plugins.module_utils.power import power_vms
from ansible_collections.vergeos.power.plugins.plugin_utils.round_trip import resume_plan, restore_plan

SCHEDULES = int(os.environ.get("VERGEOS_SCHEDULES", "200"))
VMS = [1, 2, 3, 4]
SIMULATORS = 3
LIFE = 30


class FakeTime:
    """The power engine's clock and sleep: a poll costs no wall time (the simulator's guests move at speed 1000)."""

    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        time.sleep(0.002)


def power(client, ids, state, keeper, check=False):
    """vergeos_vm_power's engine (``check``: its check mode, which reads the targets once and sends nothing)."""
    fake = FakeTime()
    options = PowerOptions(state=state, wait_timeout=20, poll_interval=0.1, on_timeout='force', kill_timeout=5)
    return power_vms(client, options, selection={'ids': ids}, clock=fake.clock, sleep=fake.sleep, keeper=keeper, check_mode=check)


def job(client, name, targets, owner, takeover=''):
    """playbooks/maintenance.yml's steps for one job; yields after each (a crash may come at any yield)."""
    plan = resume_plan(read_record(client, name), time.time())
    if plan['done']:
        return
    lease = take_lease(client, name, '%s #%d' % (owner, random.getrandbits(32)), owner, life=LIFE, takeover=takeover, wait=False)[1]
    keeper = Keeper(client, name, lease['holder'], LIFE)
    yield 'lease'
    if plan['finish_stops']:
        record = read_record(client, name)
        stopping = [vm['id'] for vm in record['vms'] if vm['power_state'] == 'stopping']
        if stopping:
            power(client, stopping, 'stopped', keeper)
        yield 'finished stops'
    if plan['stop']:
        open_record(client, name, [], note=owner, owner=owner)
        yield 'opened'
        open_set(client, name, 'covers', targets)
        yield 'covers'
        states = {vm['id']: vm['previous_power_state'] for vm in power(client, targets, 'stopped', keeper, check=True)['vms']}
        running = [vm_id for vm_id in targets if states.get(vm_id) in ('running', 'starting')]
        open_record(client, name, running, phase='stopping', owner=owner, policy={'timeout': 20, 'kill_timeout': 5, 'escalate': True})
        yield 'stopping'
        power(client, targets, 'stopped', keeper)
        yield 'stopped'
    if plan['maintain']:
        open_record(client, name, [], phase='maintaining')
        yield 'maintaining'
    yield from restore(client, name, keeper)
    release_lease(client, name, lease['holder'])
    yield 'released'


def restore(client, name, keeper):
    """playbooks/tasks/restore_from_record.yml's steps."""
    open_record(client, name, [], phase='restoring')
    yield 'restoring'
    cross = restore_plan(read_records(client), name)
    if cross['park']:
        open_set(client, name, 'waiting', cross['park'], cross['park_data'])
        close_record(client, name, cross['park'])
        yield 'parked'
    # Read again after parking: what the records no longer keep off starts now.
    cross = restore_plan(read_records(client), name)
    if cross['unpark']:
        open_record(client, name, cross['unpark'])
        close_set(client, name, 'waiting', cross['unpark'])
        yield 'unparked'
    if cross['adopt']:
        # The VMs other records parked for this one join it, then leave their sets waiting (a crash between: in both).
        open_record(client, name, cross['adopt_ids'])
        for other, ids in sorted(cross['adopt'].items()):
            close_set(client, other, 'waiting', ids)
            close_record(client, other, [])
        yield 'adopted'
    record = read_record(client, name)
    if record['open'] and record['ids']:
        result = power(client, record['ids'], 'running', keeper)
        close_record(client, name, [vm['id'] for vm in result['vms'] if not vm['failed']])
        yield 'started'
    after = read_record(client, name)
    if after['open'] and after['siblings'].get('waiting'):
        open_record(client, name, [], phase='waiting')
    elif after['open'] and not after['ids']:
        close_record(client, name)


def check_kept_off(sim):
    """Promise 1: no VM runs while an open record that finished stopping it (stopped, maintaining) covers it."""
    tags = sim.api('GET', '/api/v4/tags', params={'fields': '$key,name,description'}).json()
    holding = {}
    for tag in tags:
        if '+' not in tag['name'] and any('"phase":"%s"' % phase in tag['description'] for phase in ('stopped', 'maintaining')):
            holding[tag['name']] = None
    if not holding:
        return
    covers = {int(tag['$key']): tag['name'][:-len('+covers')] for tag in tags if tag['name'].endswith('+covers')
              and tag['name'][:-len('+covers')] in holding}
    members = sim.api('GET', '/api/v4/tag_members', params={'fields': 'tag,member'}).json()
    kept = {int(row['member'].split('/')[1]) for row in members if int(row['tag']) in covers}
    states = statuses(sim)
    running = sorted(vm_id for vm_id in kept if states.get(vm_id) in ('running', 'starting'))
    assert not running, 'VM(s) %s run while an open record keeps them off (%s)' % (running, sorted(holding))


def statuses(sim):
    rows = sim.api('GET', '/api/v4/vms', params={'fields': '$key,machine#status#status as status'}).json()
    return {int(row['$key']): row['status'] for row in rows}


def check_outages(log, stopped_before):
    """Promise 3, from the request log: no second power-off of a VM already off, no power-on of one that was off before."""
    off = set(stopped_before)
    for entry in log:
        if entry['method'] != 'POST' or entry['path'] != '/api/v4/vm_actions':
            continue
        vm_id, action = int(entry['body']['vm']), entry['body']['action']
        if action == 'poweroff':
            assert vm_id not in off, 'a second graceful power-off of VM %d, already off' % vm_id
            off.add(vm_id)
        elif action == 'poweron':
            assert vm_id not in stopped_before, 'VM %d, off before the jobs, was powered on' % vm_id
            off.discard(vm_id)


def world(rand):
    stopped = {vm_id for vm_id in VMS if rand.random() < 0.2}
    return {'speed': 1000, 'timings': {'shutdown': 5, 'boot': 5}, 'switches': {'no_resources': 'refuse'},
            'vms': [{'key': vm_id, 'name': 'vm%d' % vm_id, 'power': 'stopped' if vm_id in stopped else 'running'} for vm_id in VMS]}, stopped


def run_schedule(sim, seed, trace=False):
    rand = random.Random(seed)
    scenario, stopped_before = world(rand)
    sim.load(scenario)
    sim.clear_requests()
    shared = rand.sample(VMS, 2)
    targets = {'ra': sorted(set(rand.sample(VMS, 3)) | set(shared)), 'rb': sorted(set(rand.sample(VMS, 2)) | set(shared))}
    with VergeOSClient(sim.host, username='admin', password='admin', ca_path=sim.ca) as client_a, \
            VergeOSClient(sim.host, username='admin', password='admin', ca_path=sim.ca) as client_b:
        clients = {'ra': client_a, 'rb': client_b}
        running = {name: job(clients[name], name, targets[name], 'job %s' % name) for name in targets}
        doomed, crash_at = rand.choice(sorted(targets)), rand.randrange(1, 12)
        steps = {name: 0 for name in targets}
        dead = None
        while running or dead:
            if dead and (not running or rand.random() < 0.3):
                # The operator relaunches the dead job (now, or once the other has ended), taking its lease over.
                running[dead] = job(clients[dead], dead, targets[dead], 'job %s' % dead, takeover='job %s' % dead)
                dead = None
            name = rand.choice(sorted(running))
            if name == doomed and steps[name] == crash_at:
                del running[name]  # the job dies here: nothing it would do next happens
                dead, doomed = name, None
                if trace:
                    print('%s dies' % name)
                continue
            try:
                step = next(running[name])
                steps[name] += 1
            except StopIteration:
                step = 'ended'
                del running[name]
            if trace == 'steps':
                print('%s: %s; records %s' % (name, step, {record['name']: (record['phase'], record['ids'], {
                    word: value['ids'] for word, value in record['siblings'].items()}) for record in read_records(client_a)}))
            if step == 'started':
                check_kept_off(sim)  # the only step that powers VMs on
    states = statuses(sim)
    left_down = sorted(vm_id for vm_id in VMS if vm_id not in stopped_before and states[vm_id] != 'running')
    assert not left_down, 'VM(s) %s left down' % left_down
    # A job that died after its restore leaves its lease, stale once its life is over (the next take replaces it): not a record.
    tags = [tag['name'] for tag in sim.api('GET', '/api/v4/tags', params={'fields': 'name'}).json()
            if not tag['name'].endswith(('+closed', '+lease'))]
    assert tags == [], 'left open: %s' % tags
    log = sim.requests()
    check_outages(log, stopped_before)
    return len(log)


def seeds():
    replay = os.environ.get('VERGEOS_SEED')
    return [int(replay)] if replay else list(range(SCHEDULES))


@pytest.mark.xdist_group('round_trip_schedules')
def test_two_jobs_and_a_crash_keep_the_three_promises(simulator_factory):
    """The schedules run on SIMULATORS simulators side by side (each schedule alone on its own world)."""
    todo = seeds()
    sims = [simulator_factory() for index in range(min(SIMULATORS, len(todo)))]
    started = time.monotonic()
    trace = os.environ.get('VERGEOS_TRACE', 'steps') if os.environ.get('VERGEOS_SEED') else None

    def work(index):
        sent = 0
        for seed in todo[index::len(sims)]:
            try:
                sent += run_schedule(sims[index], seed, trace=trace)
            except AssertionError as exc:
                raise AssertionError('schedule seed %d: %s (replay: VERGEOS_SEED=%d pytest %s)' % (seed, exc, seed, __file__)) from None
        return sent
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(sims)) as pool:
        sent = sum(pool.map(work, range(len(sims))))
    print('%d schedules, %d requests, in %.1f s' % (len(todo), sent, time.monotonic() - started))
