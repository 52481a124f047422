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
- ``restoring``: the restore only (which finishes any stop still under way first, see
  ``stop_remaining``);
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
}


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
    return '%s: %s%s%s; %d VM(s): %s' % (record.get('name'), phase, age, owner, len(record.get('ids') or []), names)


def _duration(seconds):
    seconds = int(max(0, seconds))
    if seconds < 120:
        return '%d s' % seconds
    if seconds < 7200:
        return '%d min' % (seconds // 60)
    return '%d h %d min' % (seconds // 3600, seconds % 3600 // 60)
