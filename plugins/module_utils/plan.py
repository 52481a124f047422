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
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.vergeos.power.plugins.module_utils.power_state import RAW_STATUSES, power_state_of

WANTED_STATES = ('running', 'stopped', 'restarted')

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


def plan_power(status, running, wanted, force=False):
    """Return the Plan for a VM with raw ``status`` and ``running`` flag, wanted state and force."""
    if wanted not in WANTED_STATES:
        raise ValueError('wanted state must be one of %s, not %r' % (', '.join(WANTED_STATES), wanted))
    phase = phase_of(status, running)
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


# What each raw machine_status.status means, in the words the module documentation uses.
STATUS_MEANINGS = {
    'running': 'powered on, the guest is executing',
    'needsrestart': 'powered on; a configuration change waits for a restart',
    'needsrefresh': 'powered on; VergeOS wants to refresh its view of the machine',
    'driversreloading': 'powered on; VergeOS is reloading its virtual drivers',
    'unresponsive': 'powered on, but the guest stopped answering (ACPI may be ignored)',
    'stopped': 'powered off',
    'hibernated': 'powered off with its memory saved; counts as not running',
    'hibernating': 'saving its memory before powering off (a stop in progress)',
    'initializing': 'being prepared to start',
    'starting': 'booting',
    'waitingforresources': 'waiting for a node with enough resources to start on',
    'stopping': 'shutting down (a guest ignoring ACPI can stay here until killed)',
    'initmigrate': 'a live migration is being prepared; the guest keeps running',
    'startmigrate': 'a live migration is starting; the guest keeps running',
    'migrating': 'being live-migrated to another node; the guest keeps running',
    'migratecomplete': 'a live migration is finishing; the guest keeps running',
    'importing': 'being imported; VergeOS settles it when the import ends',
    'maintenance': 'in maintenance; power actions wait for an operator',
    'leavingmaintenance': 'leaving maintenance; VergeOS settles it shortly',
    'unlicensed': 'not licensed to run; power on is refused until licensed',
    'error': 'VergeOS reports an error (see status_info); the running flag says whether it is on',
}


def describe_plan(plan):
    """Return a plan in a few words, as the documentation and messages show it."""
    if plan.decision == NOOP:
        return 'nothing to do'
    if plan.decision == WAIT:
        return 'wait until %s' % plan.target
    if plan.decision == WAIT_THEN_ACT:
        return 'wait until it settles, then decide again'
    if plan.decision == REFUSE:
        return 'fail'
    words = plan.action + (' (graceful)' if plan.params.get('graceful') else '')
    return words if plan.final else words + ', then decide again'


def _describe(wanted, force):
    """Return, for each raw status, the decision for one wanted state (documentation)."""
    table = {}
    for status in RAW_STATUSES:
        on, off = (describe_plan(plan_power(status, running, wanted, force)) for running in (True, False))
        table[status] = on if on == off else 'when on: %s; when off: %s' % (on, off)
    return table


def transition_table():
    """Return, for all 21 raw statuses, their power_state, meaning and decision per wanted state (module documentation).

    ``{status: {'power_state': ..., 'meaning': ..., 'running': ..., 'running, force': ..., 'stopped': ..., ...}}``;
    the decisions are computed from RULES, so the documentation cannot drift from the code.
    """
    columns = {}
    for wanted in WANTED_STATES:
        columns[wanted] = _describe(wanted, False)
        columns[wanted + ', force'] = _describe(wanted, True)
    table = {}
    for status in RAW_STATUSES:
        table[status] = {'power_state': power_state_of(status), 'meaning': STATUS_MEANINGS[status]}
        table[status].update((column, columns[column][status]) for column in columns)
    return table
