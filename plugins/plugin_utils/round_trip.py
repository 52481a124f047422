# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where a maintenance round trip goes on from: playbooks/maintenance.yml's decision, from the record alone. Pure.

A relaunch (AWX's Relaunch of a dead job, the same playbook run again) reads the record
first and runs only what the record says is not done (docs/maintenance.md, "A relaunch"):

- no open record, closed less than ``window`` seconds ago: the round trip is done; nothing
  is stopped again (``new_run`` starts a new one anyway);
- no open record otherwise: a new round trip, every phase;
- ``opened`` or ``stopping``: the stop again, first finishing the stops already under way
  (a VM the record holds that still shows stopping gets what remains of the recorded
  timeout, then the recorded escalation, never a second graceful power-off);
- ``stopped``: the maintenance, then the restore;
- ``maintaining``: the maintenance again (it was interrupted; maintenance tasks are to be
  written to run twice safely, as Ansible tasks are), then the restore;
- ``restoring`` or ``waiting``: the restore only (which finishes any stop still under way
  first, see ``stop_remaining``, and starts what no other open record covers any longer);
- a record of the first format (no phase): every phase, as that format always did.
"""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.plugin_utils.role_inputs import InputError, seconds

STEPS = ('finish_stops', 'stop', 'maintain', 'restore')
# Seconds after a close during which the same record name is a finished round trip (a relaunch), unless new_run.
DEFAULT_WINDOW = 21600


def _seconds(value, name):
    return seconds(name, value)


def _plan(steps, why, *, done=False, remaining=0.0):
    return {'steps': [step for step in STEPS if step in steps], 'done': done, 'why': why, 'finish_stops_within': remaining,
            **{step: step in steps for step in STEPS}}


# phase -> (the steps a relaunch runs, why in words); 'stopping' is decided in resume_plan (it carries the time left).
_BY_PHASE = {
    None: (('stop', 'maintain', 'restore'), 'the open record %s has no phase (the collection\'s first format): every phase runs, as before'),
    'opened': (('stop', 'maintain', 'restore'), 'the record %s was opened, nothing stopped yet: the round trip goes on from the stop'),
    'stopped': (('maintain', 'restore'), 'the record %s says the stop was done: the maintenance, then the restore'),
    'maintaining': (('maintain', 'restore'), 'the record %s says the maintenance was interrupted: it runs again, then the restore'),
    'restoring': (('restore',), 'the record %s was restoring: the restore only'),
    'waiting': (('restore',), 'the record %s waits for other maintenances to end: the restore only (it starts what they no longer cover)'),
}

# The phases in which a record keeps its VMs off (module_utils.maintenance.HOLDING_PHASES: kept in step by a unit test).
HOLDING = (None, 'opened', 'stopping', 'stopped', 'maintaining')
WAITING = 'waiting'


def _covered(record):
    """Return the VMs an open record keeps off: its own, and its covers set (every VM it acts on, running before or not)."""
    siblings = record.get('siblings') or {}
    return set(record.get('ids') or []) | set((siblings.get('covers') or {}).get('ids') or [])


def _holds(record):
    return bool(record.get('open')) and (record.get('kind') == 'rolling_restart' or record.get('phase') in HOLDING)


def _waiting(record):
    return set(((record.get('siblings') or {}).get(WAITING) or {}).get('ids') or [])


def restore_plan(records, name):
    """Return what the restore of the record ``name`` may start, and what it parks, by the cross-record rule.

    ``records``: every open record (vergeos_maintenance_record_info without a name). A VM that
    another open record still keeps off (its own VMs or its covers set, while that record is
    opened, stopping, stopped or maintaining, or any open rolling restart) is never started:
    it is parked in this record's set ``waiting`` (``park``), with the records it waits for.
    Parked VMs that nothing keeps off any longer go back to the record to start (``unpark``).
    VMs that another record parked, waiting for this one (the last to cover them), start with
    this restore (``adopt``: {record name: [VM ids]}): they join this record first (``adopt_ids``,
    those it does not hold yet), then leave the other's set waiting, so a crash in between leaves
    them in both, never in none; the record's start then starts them with its own. Closing a
    record never moves a VM. Returns {park, park_data, unpark, adopt, adopt_ids, waiting_for, lines}.

    A restore writes its phase (restoring), reads every record and parks, then reads them again
    and unparks what is free: of two restores that overlap, the later one to read sees either
    the other's parked VMs (and adopts them) or the other no longer keeping them off (and starts
    them), so a parked VM always has a record left that starts it.
    """
    if not isinstance(records, list):
        raise TypeError('records must be a list of maintenance records, not %r' % (records,))
    mine = next((record for record in records if record.get('name') == name and record.get('open')), None) or {}
    others = [record for record in records if record.get('name') != name and record.get('open')]
    holders = [record for record in others if _holds(record)]

    def blockers(vm_id):
        return sorted(str(record.get('name')) for record in holders if vm_id in _covered(record))
    own = sorted(set(mine.get('ids') or []))
    park = {vm_id: blockers(vm_id) for vm_id in own if blockers(vm_id)}
    unpark = sorted(vm_id for vm_id in _waiting(mine) if not blockers(vm_id))
    adopt = {}
    if mine:
        covered_here = _covered(mine) | _waiting(mine)
        for record in others:
            # Whatever its phase: a restore that parked VMs may still be running (it reads again after parking, see below).
            free = sorted(vm_id for vm_id in _waiting(record) if vm_id in covered_here and not blockers(vm_id))
            if free:
                adopt[str(record.get('name'))] = free
    adopt_ids = sorted({vm_id for ids in adopt.values() for vm_id in ids} - set(own) - set(unpark))
    still = sorted(set(park) | (_waiting(mine) - set(unpark)))
    waiting_for = sorted({holder for vm_id in still for holder in blockers(vm_id)})
    lines = ['VM %d stays off: the open record(s) %s still cover it (whichever closes last starts it)' % (vm_id, ', '.join(park[vm_id]))
             for vm_id in sorted(park)]
    lines += ['VM %d, parked before, starts: no other open record covers it now' % vm_id for vm_id in unpark]
    lines += ['VM(s) %s of the record %s, which waited for this one, start too' % (', '.join(str(vm_id) for vm_id in ids), other)
              for other, ids in sorted(adopt.items())]
    return {'park': sorted(park), 'park_data': {str(vm_id): ', '.join(park[vm_id]) for vm_id in park}, 'unpark': unpark,
            'adopt': adopt, 'adopt_ids': adopt_ids, 'waiting': still, 'waiting_for': waiting_for, 'lines': lines}


def resume_plan(record, now, window=DEFAULT_WINDOW, new_run=False):
    """Return what maintenance.yml runs: ``steps`` (in order), one bool per step, ``done``, ``why`` and ``finish_stops_within``.

    ``record``: vergeos_maintenance_record_info's ``record``; ``now``: unix seconds of the
    controller; ``window``: seconds a closed record counts as a finished round trip.
    """
    if not isinstance(record, dict):
        raise TypeError('the record must be a dict, not %r' % (record,))
    if not isinstance(new_run, bool):
        raise InputError('maintenance_new_run must be true or false, not %r' % (new_run,))
    now, window = _seconds(now, 'now'), _seconds(window, 'maintenance_relaunch_window')
    name = record.get('name')
    if not record.get('open'):
        closed = record.get('last_closed') or {}
        at = closed.get('at')
        if at is not None and not new_run and now - at < window:
            return _plan((), 'the round trip of the maintenance record %s finished %d s ago (closed at %d%s): nothing is stopped again. '
                         'Set maintenance_new_run=true to start a new round trip on the same record name'
                         % (name, max(0, now - at), at, (', opened by %s' % closed['owner']) if closed.get('owner') else ''), done=True)
        return _plan(('stop', 'maintain', 'restore'), 'a new round trip: no open maintenance record %s' % name)
    phase = record.get('phase')
    if phase == 'stopping':
        remaining = stop_remaining(record, now)
        return _plan(('finish_stops', 'stop', 'maintain', 'restore'),
                     'the record %s was stopping: the stops under way are finished by the recorded policy (%d s left of the timeout), '
                     'then the stop goes on' % (name, remaining), remaining=remaining)
    steps, why = _BY_PHASE[phase]
    return _plan(steps, why % name)


def stop_remaining(record, now):
    """Return the seconds left of the recorded stop timeout: counted from the phase's time while stopping, none after it."""
    policy = (record or {}).get('policy') or {}
    since, timeout = (record or {}).get('since'), policy.get('timeout')
    if (record or {}).get('phase') != 'stopping' or since is None or timeout is None:
        return 0.0
    return max(0.0, since + timeout - _seconds(now, 'now'))


def status_line(record, now):
    """Return one line about an open record for people: name, phase and its age, owner, the VMs it holds."""
    now = _seconds(now, 'now')
    phase = record.get('phase') or 'unknown (first format)'
    since = record.get('since') if record.get('since') is not None else record.get('opened')
    age = (' for %s' % _duration(now - since)) if since is not None else ''
    owner = (', run by %s' % record['owner']) if record.get('owner') else ''
    names = ', '.join(str(vm.get('name')) for vm in record.get('vms') or []) or 'none that exists'
    lease = record.get('lease') or {}
    held = '; no lease held'
    if lease.get('holder'):
        held = '; lease held by %s, last heartbeat %s ago (life %d s)' % (
            lease.get('owner') or lease.get('holder'), _duration(now - (lease.get('beat') or 0)), lease.get('life') or 0)
    waiting = ((record.get('siblings') or {}).get('waiting') or {}).get('ids') or []
    parked = ('; %d parked, waiting for other records' % len(waiting)) if waiting else ''
    return '%s: %s%s%s; %d VM(s): %s%s%s' % (record.get('name'), phase, age, owner, len(record.get('ids') or []), names, parked, held)


def _duration(seconds):
    seconds = int(max(0, seconds))
    if seconds < 120:
        return '%d s' % seconds
    if seconds < 7200:
        return '%d min' % (seconds // 60)
    return '%d h %d min' % (seconds // 3600, seconds % 3600 // 60)
