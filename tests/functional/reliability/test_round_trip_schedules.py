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

A failing schedule prints its seed; ``VERGEOS_SEED=<seed>`` replays that one alone (and prints
each step with the records it leaves), ``VERGEOS_SCHEDULES=<n>`` sets how many run.

The schedules run in WORKERS processes side by side (the collection's client spends most of
the time in Python: threads of one process would queue for its one interpreter lock). Each
process serves a simulator of its own from one of its threads (server.serve_in_thread):
the jobs talk HTTPS to it, each with its own sessions as two AWX jobs would, while the harness
loads each schedule's world and reads the answers it checks from the simulator's application
directly, the same API answers without a TLS client of its own.
"""

import base64
import concurrent.futures
import contextlib
import json
import multiprocessing
import os
import random
import sys
import time
import warnings
from urllib.parse import urlencode

# collection_finder goes before the imports from ansible_collections.
import collection_finder  # noqa: F401  pylint: disable=unused-import
import pytest
import scenario as scenarios
import server  # tests/simulator, on sys.path through tests/functional/pytest.ini
import wire
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
# Worker processes, each with its simulator; two would fill the two cores of a CI runner, a third fills their waits, and
# a fourth keeps the test's share of the cores when make test's other pytest workers are busy beside it (63 s with three).
WORKERS = 4
LIFE = 30
ADMIN = 'Basic ' + base64.b64encode(b'admin:admin').decode('ascii')


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
    tags = sim.get('tags', fields='$key,name,description')
    holding = {}
    for tag in tags:
        if '+' not in tag['name'] and any('"phase":"%s"' % phase in tag['description'] for phase in ('stopped', 'maintaining')):
            holding[tag['name']] = None
    if not holding:
        return
    covers = {int(tag['$key']): tag['name'][:-len('+covers')] for tag in tags if tag['name'].endswith('+covers')
              and tag['name'][:-len('+covers')] in holding}
    members = sim.get('tag_members', fields='tag,member')
    kept = {int(row['member'].split('/')[1]) for row in members if int(row['tag']) in covers}
    states = statuses(sim)
    running = sorted(vm_id for vm_id in kept if states.get(vm_id) in ('running', 'starting'))
    assert not running, 'VM(s) %s run while an open record keeps them off (%s)' % (running, sorted(holding))


def statuses(sim):
    rows = sim.get('vms', fields='$key,machine#status#status as status')
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
    tags = [tag['name'] for tag in sim.get('tags', fields='name')
            if not tag['name'].endswith(('+closed', '+lease'))]
    assert tags == [], 'left open: %s' % tags
    log = sim.requests()
    check_outages(log, stopped_before)
    return len(log)


class Simulator:
    """The harness's side of a simulator served from a thread of this process (server.serve_in_thread).

    The jobs' clients talk HTTPS to ``host``; the harness loads worlds, reads the request log and asks the API
    through the simulator's application itself: what POST /_sim/scenario, GET and DELETE /_sim/requests and an
    admin's GET /api/v4/... do, the same answers (logged like any request), without going through TLS.
    """

    def __init__(self, served):
        self.app, self.host, self.ca = served.app, served.host, served.ca

    def load(self, scenario):
        self.app.load(scenarios.validate(scenario))

    def clear_requests(self):
        self.app.log.clear()

    def requests(self):
        return self.app.log.entries()

    def get(self, table, **params):
        headers = wire.Headers([('Authorization', ADMIN)])
        response = self.app.handle(wire.make_request('GET', '/api/v4/%s?%s' % (table, urlencode(params)), headers, b''))
        body = json.loads(wire.payload_of(response))
        assert response.status == 200, 'GET %s: %s %s' % (table, response.status, body)
        return body


def replayable(sim, seed, trace=None):
    """run_schedule, a failure named by its seed with how to replay it."""
    replay = '(replay: VERGEOS_SEED=%d pytest %s)' % (seed, __file__)
    try:
        return run_schedule(sim, seed, trace=trace)
    except AssertionError as exc:
        raise AssertionError('schedule seed %d: %s %s' % (seed, exc, replay)) from None
    except Exception as exc:  # an error of the collection or of the harness: the seed replays it too
        raise RuntimeError('schedule seed %d: %s: %s %s' % (seed, type(exc).__name__, exc, replay)) from exc


WORKER = {}


def start_worker(state_root):
    """A worker process's start: its simulator, served from one of its threads for the life of the process."""
    state_dir = os.path.join(state_root, 'worker-%d' % os.getpid())
    os.mkdir(state_dir)
    WORKER['stack'] = stack = contextlib.ExitStack()
    WORKER['sim'] = Simulator(stack.enter_context(server.serve_in_thread(state_dir)))


def run_in_worker(seed):
    return replayable(WORKER['sim'], seed)


def workers(count, state_root):
    """Return a pool of ``count`` worker processes, each with its simulator.

    Forked on Linux: a worker starts with what this process imported, where a spawned one would
    import the collection, ansible-core and the simulator again (seconds of the two cores). A
    worker runs only this module's code, with locks of its own: the threads the fork leaves behind
    (pytest-xdist's) hold none it takes, which Python 3.12's warning about them cannot know.
    """
    method = 'fork' if sys.platform.startswith('linux') else 'spawn'
    return concurrent.futures.ProcessPoolExecutor(count, mp_context=multiprocessing.get_context(method), initializer=start_worker,
                                                  initargs=(state_root,))


def no_proxy_to_the_simulators(monkeypatch):
    """Add 127.0.0.1 to NO_PROXY (both spellings) for this test and its workers: no proxy is to carry the simulators' traffic.

    requests then answers the client's question of every request (client.environment_proxies) from NO_PROXY
    alone; without it, it reads the whole environment twice a request (urllib's getproxies_environment), a
    tenth of the client's time.
    """
    hosts = [host for host in (os.environ.get('no_proxy') or os.environ.get('NO_PROXY') or '').split(',') if host.strip()]
    for name in ('no_proxy', 'NO_PROXY'):
        monkeypatch.setenv(name, ','.join(hosts + ['127.0.0.1']))


@pytest.mark.xdist_group('round_trip_schedules')
def test_two_jobs_and_a_crash_keep_the_three_promises(tmp_path, monkeypatch):
    """The schedules run in WORKERS processes side by side, each schedule alone on a world of its own."""
    started = time.monotonic()
    no_proxy_to_the_simulators(monkeypatch)
    replay = os.environ.get('VERGEOS_SEED')
    if replay:
        with server.serve_in_thread(str(tmp_path)) as served:
            sent = replayable(Simulator(served), int(replay), trace=os.environ.get('VERGEOS_TRACE', 'steps'))
        count = 1
    else:
        with warnings.catch_warnings(), workers(max(1, min(WORKERS, SCHEDULES)), str(tmp_path)) as pool:
            warnings.filterwarnings('ignore', message='.*is multi-threaded, use of fork', category=DeprecationWarning)  # see workers()
            # In seed order: the first schedule that fails is the one named (those not started yet are cancelled).
            sent = sum(pool.map(run_in_worker, range(SCHEDULES)))
        count = SCHEDULES
    print('%d schedules, %d requests, in %.1f s' % (count, sent, time.monotonic() - started))
