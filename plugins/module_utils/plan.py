# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The power plan: (raw status, running flag, wanted state, force) -> what to do. Pure.

Every decision is one row of RULES, the first that matches. Check mode and a real
run call the same function, so check mode reports the same ``changed``.

A caller (vergeos_vm_power) runs this loop, from a fresh read of the VM:

- NOOP: already there. WAIT: already heading there, wait for ``target``.
- WAIT_THEN_ACT: heading elsewhere (or busy); wait until it ``settled``, read, plan again.
- ACT: send ``action`` with ``params``, wait for ``target``; if not ``final`` plan again
  with the same wanted state (a kill on the way to running is followed by a poweron).
- REFUSE: fail with ``reason``; no action can help.

The documentation generated from RULES (the module's notes by phase, docs/power-states.md)
is written by tools/power_states_doc.py from tools/power_states_docgen.py, which does not ship.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WANTED_STATES = ('running', 'stopped', 'restarted')
# How state=restarted restarts a running VM (RULES are the guest method's; plan_power applies the others).
RESTART_METHODS = ('guest', 'power_cycle', 'reset')
# The spellings of a graceful (guest) reboot, tried in this order while VergeOS refuses one as unknown (400/422):
# pyvergeos and the API seed send reset + graceful, the vendor's PowerShell module guestreset, the Go SDK guestreboot.
GUEST_REBOOTS = (('reset', (('graceful', True),)), ('guestreset', ()), ('guestreboot', ()))

NOOP = 'noop'
WAIT = 'wait'
WAIT_THEN_ACT = 'wait_then_act'
ACT = 'act'
REFUSE = 'refuse'
DECISIONS = (NOOP, WAIT, WAIT_THEN_ACT, ACT, REFUSE)

# Phases: where a VM is in its power cycle, from its raw status and its running flag.
# For settled statuses the running flag decides on/off (design: `running` says whether
# a VM is on, `status` tells transitions apart).
ON, OFF, STARTING, STOPPING, MIGRATING, SETTLING, BLOCKED, UNKNOWN = (
    'on', 'off', 'starting', 'stopping', 'migrating', 'settling', 'blocked', 'unknown')
PHASES = (ON, OFF, STARTING, STOPPING, MIGRATING, SETTLING, BLOCKED, UNKNOWN)
TRANSITIONS = (STARTING, STOPPING, MIGRATING, SETTLING)

_STATUS_PHASE = {
    'running': None, 'needsrestart': None, 'needsrefresh': None, 'driversreloading': None, 'unresponsive': None,
    'stopped': None, 'hibernated': None, 'error': None,
    'initializing': STARTING, 'starting': STARTING, 'waitingforresources': STARTING,
    'stopping': STOPPING, 'hibernating': STOPPING,
    'initmigrate': MIGRATING, 'startmigrate': MIGRATING, 'migrating': MIGRATING, 'migratecomplete': MIGRATING,
    'importing': SETTLING, 'leavingmaintenance': SETTLING,
    'maintenance': BLOCKED, 'unlicensed': BLOCKED,
}


def phase_of(status, running):
    """Return the phase of a VM from its raw ``status`` and ``running`` flag (UNKNOWN without a status row)."""
    if not isinstance(status, str) or running is None:
        return UNKNOWN
    key = status.strip().lower()
    if key not in _STATUS_PHASE:
        return UNKNOWN
    return _STATUS_PHASE[key] or (ON if running else OFF)


@dataclass(frozen=True)
class Plan:
    """What to do about one VM. ``target``: 'running', 'stopped', 'restarted' or 'settled' (what to wait for)."""

    decision: str
    action: str | None = None
    params: dict = field(default_factory=dict)
    target: str | None = None
    final: bool = True
    reason: str = ''

    @property
    def changed(self):
        """Whether following this plan sends an action (what check mode reports as changed)."""
        return self.decision in (ACT, WAIT_THEN_ACT)


def _noop(reason):
    return {'decision': NOOP, 'reason': reason}


def _wait(target, reason):
    return {'decision': WAIT, 'target': target, 'reason': reason}


def _settle(reason):
    return {'decision': WAIT_THEN_ACT, 'target': 'settled', 'reason': reason}


def _act(action, target, reason, params=None, final=True):
    return {'decision': ACT, 'action': action, 'target': target, 'params': params or {}, 'final': final, 'reason': reason}


def _refuse(reason):
    return {'decision': REFUSE, 'reason': reason}


ANY = None
_UP = ('running', 'restarted')

# (phases, wanted states, force, running) -> plan; ANY matches anything; first match wins.
# '{status}' in a reason is replaced by the raw status.
RULES = (
    ((UNKNOWN,), ANY, ANY, ANY, _refuse('its power state is unknown (status {status}): no decision is safe')),
    ((ON,), ('running',), ANY, ANY, _noop('already running (status {status})')),
    ((ON,), ('stopped',), False, ANY, _act('poweroff', 'stopped', 'running (status {status}): graceful ACPI power off')),
    ((ON,), ('stopped',), True, ANY, _act('kill', 'stopped', 'running (status {status}): force, so a hard power off (kill)')),
    ((ON,), ('restarted',), False, ANY, _act('reset', 'restarted', 'running (status {status}): graceful reboot', {'graceful': True})),
    ((ON,), ('restarted',), True, ANY, _act('reset', 'restarted', 'running (status {status}): force, so a hard reset')),
    ((OFF,), ('stopped',), ANY, ANY, _noop('already not running (status {status})')),
    ((OFF,), _UP, ANY, ANY, _act('poweron', 'running', 'not running (status {status}): power on')),
    ((STARTING,), _UP, ANY, ANY, _wait('running', 'already starting (status {status})')),
    ((STARTING,), ('stopped',), False, ANY, _settle('starting (status {status}): wait until it has started, then power off')),
    ((STARTING,), ('stopped',), True, ANY, _act('kill', 'stopped', 'starting (status {status}): force, so kill now')),
    ((STOPPING,), ('stopped',), False, ANY, _wait('stopped', 'already stopping (status {status})')),
    ((STOPPING,), ('stopped',), True, ANY, _act('kill', 'stopped', 'stopping (status {status}): force, so kill now')),
    ((STOPPING,), _UP, False, ANY, _settle('stopping (status {status}): wait until it has stopped, then power on')),
    ((STOPPING,), _UP, True, ANY, _act('kill', 'stopped', 'stopping (status {status}): force, so kill now, then power on', final=False)),
    ((MIGRATING,), ('running',), ANY, ANY, _noop('running and migrating (status {status})')),
    ((MIGRATING,), ('stopped', 'restarted'), False, ANY, _settle('migrating (status {status}): wait until the migration ends, then act')),
    ((MIGRATING,), ('stopped',), True, ANY, _act('kill', 'stopped', 'migrating (status {status}): force, so kill now')),
    ((MIGRATING,), ('restarted',), True, ANY, _act('kill', 'stopped', 'migrating (status {status}): force, so kill now, then power on', final=False)),
    ((SETTLING,), ANY, ANY, ANY, _settle('busy (status {status}): wait until VergeOS is done, then act')),
    ((BLOCKED,), ('stopped',), ANY, False, _noop('not running (status {status})')),
    ((BLOCKED,), ANY, ANY, ANY, _refuse('status {status}: VergeOS does not change its power state until an operator resolves that')),
)


def _matches(rule, phase, wanted, force, running):
    phases, wanted_states, rule_force, rule_running = rule[:4]
    return (phase in phases and (wanted_states is ANY or wanted in wanted_states)
            and (rule_force is ANY or rule_force == force) and (rule_running is ANY or rule_running == bool(running)))


def plan_power(status, running, wanted, force=False, restart_method='guest'):
    """Return the Plan for a VM with raw ``status`` and ``running`` flag, wanted state and force.

    ``restart_method`` changes what state=restarted does to a running VM: ``guest`` (RULES: a
    graceful reboot, a hard reset with force), ``power_cycle`` (a graceful power off, or a
    kill with force, then a power on: every step visible) or ``reset`` (a hard reset).
    """
    if wanted not in WANTED_STATES:
        raise ValueError('wanted state must be one of %s, not %r' % (', '.join(WANTED_STATES), wanted))
    if restart_method not in RESTART_METHODS:
        raise ValueError('restart_method must be one of %s, not %r' % (', '.join(RESTART_METHODS), restart_method))
    phase = phase_of(status, running)
    if wanted == 'restarted' and phase == ON and restart_method != 'guest':
        if restart_method == 'reset':
            return Plan(**_act('reset', 'restarted', 'running (status %s): restart_method reset, so a hard reset' % status))
        if force:
            return Plan(**_act('kill', 'stopped', 'running (status %s): power cycle with force, so kill, then power on' % status,
                               final=False))
        return Plan(**_act('poweroff', 'stopped', 'running (status %s): power cycle, so a graceful ACPI power off, then power on' % status,
                           final=False))
    for rule in RULES:
        if _matches(rule, phase, wanted, bool(force), running):
            spec = dict(rule[4])
            spec['reason'] = spec['reason'].format(status=status)
            return Plan(**spec)
    raise AssertionError('no power rule for phase %s, wanted %s, force %s' % (phase, wanted, force))  # RULES cover every case


def reached(status, running, target):
    """Return whether a VM is at ``target``: 'running', 'stopped', 'restarted' (= running) or 'settled'."""
    if target == 'settled':
        return phase_of(status, running) not in TRANSITIONS
    if target == 'restarted':
        target = 'running'
    return plan_power(status, running, target).decision == NOOP


def moved_away(status, running, target, seen):
    """Return whether a VM left the road to ``target`` (another actor, or a failed start).

    ``seen`` is the set of phases seen since the action: a VM that still shows ``on``
    after a poweroff is slow, not away; one that was stopping and is ``on`` again is away.
    A restart is confirmed only by the VM running afterwards, so it is never "away".
    """
    phase = phase_of(status, running)
    if target == 'stopped':
        return phase == STARTING or (phase == ON and STOPPING in seen)
    if target == 'running':
        return phase == STOPPING or (phase == OFF and bool({STARTING, ON} & set(seen)))
    return False
