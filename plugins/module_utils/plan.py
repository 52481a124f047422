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

from dataclasses import dataclass, field, replace

from ansible_collections.vergeos.power.plugins.module_utils.power_state import RAW_STATUSES, power_state_of

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
    words = plan.action + (' (graceful)' if plan.params.get('graceful') else ' (hard)' if plan.action == 'reset' else '')
    return words if plan.final else words + ', then decide again'


def _by_flag(on, off):
    """Return two decisions that follow the running flag in a few words (one if they are the same)."""
    return on if on == off else '%s when on, %s when off' % (on, off)


def _describe(wanted, force):
    """Return, for each raw status, the decision for one wanted state (documentation)."""
    table = {}
    for status in RAW_STATUSES:
        on, off = (describe_plan(plan_power(status, running, wanted, force)) for running in (True, False))
        table[status] = _by_flag(on, off)
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


# The documentation by phase (module notes) and the page docs/power-states.md, both generated from RULES.

PHASE_MEANINGS = {
    ON: 'powered on',
    OFF: 'powered off',
    STARTING: 'on its way up',
    STOPPING: 'on its way down',
    MIGRATING: 'being live-migrated, the guest keeps running',
    SETTLING: 'VergeOS is busy with the VM and settles it by itself',
    BLOCKED: 'VergeOS leaves the power state alone until an operator acts',
    UNKNOWN: 'its state cannot be told',
}

# Where a VM in a transition goes when left alone: where "wait until it settles" ends (for the diagram;
# the wait itself only checks that the phase is no longer a transition, see reached()).
SETTLES_TO = {STARTING: (ON,), STOPPING: (OFF,), MIGRATING: (ON,), SETTLING: (ON, OFF)}
_TARGET_PHASE = {'running': ON, 'restarted': ON, 'stopped': OFF}
_FORCES = (False, True)


def _phase_statuses(phase):
    """Return the raw statuses that can be in ``phase`` (for on and off: those whose phase the running flag decides)."""
    if phase in (ON, OFF):
        return [status for status in RAW_STATUSES if _STATUS_PHASE[status] is None]
    return [status for status in RAW_STATUSES if _STATUS_PHASE[status] == phase]


def _members(phase, code):
    """Return the raw statuses of ``phase`` in words, each formatted with ``code`` (for on and off without the flag)."""
    if phase == UNKNOWN:
        return 'any other status, or no status row'
    statuses = [code % status for status in _phase_statuses(phase)]
    return statuses[0] if len(statuses) == 1 else '%s and %s' % (', '.join(statuses[:-1]), statuses[-1])


def _phase_plans(phase, wanted, force):
    """Return ``{running flag: Plan}`` for the VMs in ``phase`` (a status of None stands for no status row).

    Every status of a phase must get the same plan: RULES match phases, not statuses.
    """
    plans = {}
    for status in RAW_STATUSES + (None,):
        for running in (True, False):
            if phase_of(status, running) == phase:
                plan = replace(plan_power(status, running, wanted, force), reason='')
                if plans.setdefault(running, plan) != plan:
                    raise AssertionError('the statuses of phase %s get different plans for %s' % (phase, wanted))
    return plans


def _phase_decision(phase, wanted, force):
    """Return what the module does in ``phase`` for one wanted state and force, in a few words."""
    words = {running: describe_plan(plan) for running, plan in _phase_plans(phase, wanted, force).items()}
    return _by_flag(words.get(True), words.get(False)) if len(words) == 2 else next(iter(words.values()))


def _phase_decisions(phase, state, force):
    """Return, per wanted state, what the module does in ``phase``, or one item if that is the same for all.

    ``state`` formats a wanted state (``None``: any) and ``force`` the decision with force when it differs.
    """
    decisions = {(wanted, forced): _phase_decision(phase, wanted, forced) for wanted in WANTED_STATES for forced in _FORCES}
    if len(set(decisions.values())) == 1:
        return ['%s: %s' % (state(None), decisions[WANTED_STATES[0], False])]
    items = []
    for wanted in WANTED_STATES:
        plain, forced = decisions[wanted, False], decisions[wanted, True]
        items.append('%s: %s' % (state(wanted), plain) + ('' if forced == plain else force % forced))
    return items


def _note_state(wanted):
    return 'Any O(state), with or without O(force)' if wanted is None else 'O(state=%s)' % wanted


def phase_notes():
    """Return the module documentation's notes on the raw statuses: one per phase, in ansible-doc markup.

    Each names the raw statuses of its phase (every status in exactly one note) and what the module
    does there for each wanted state, with and without force, as RULES say.
    """
    notes = []
    for phase in PHASES:
        if phase == ON:
            members = _members(ON, 'C(%s)') + ' when the running flag is true'
        elif phase == OFF:
            members = 'the statuses of phase on when the running flag is false'
        else:
            members = _members(phase, 'C(%s)')
        decisions = _phase_decisions(phase, _note_state, '; with O(force=true): %s')
        notes.append('Phase %s (%s): %s. %s.' % (phase, PHASE_MEANINGS[phase], members, '. '.join(decisions)))
    return notes


def _plan_arrows(phase, plan):
    """Return ``(phases, words)``: where following ``plan`` from ``phase`` ends, and what the arrows say (no phase: no arrow)."""
    if plan.decision == WAIT:
        return (_TARGET_PHASE[plan.target],), 'wait'
    if plan.decision == WAIT_THEN_ACT:
        return SETTLES_TO[phase], 'wait'
    if plan.decision == ACT:
        return (_TARGET_PHASE[plan.target],), describe_plan(replace(plan, final=True))
    return (), ''


def _diagram_parts():
    """Return ``({(from phase, to phase): [label, ...]}, {phase: [note line, ...]})``: the diagram's arrows and notes.

    An action or a wait becomes an arrow to the phase it ends in; one that ends where it started (a reset)
    becomes a note, as does a phase where the module fails.
    """
    found = {}
    for phase in PHASES:
        for wanted in WANTED_STATES:
            for force in _FORCES:
                for plan in _phase_plans(phase, wanted, force).values():
                    ends, words = _plan_arrows(phase, plan)
                    for end in ends:
                        found.setdefault((phase, end, wanted if end == phase else None), {}).setdefault(words, set()).add(force)
    arrows, notes = {}, {}
    for (start, end, wanted), labels in found.items():
        words = [label if False in forces else label + ' with force' for label, forces in labels.items()]
        if start == end:  # self transitions render badly in Mermaid
            notes.setdefault(start, []).append('state=%s: %s' % (wanted, ' or '.join(words)))
        else:
            arrows[start, end] = words
    for phase in PHASES:
        if any(plan.decision == REFUSE for wanted in WANTED_STATES for force in _FORCES for plan in _phase_plans(phase, wanted, force).values()):
            notes.setdefault(phase, []).extend(_phase_decisions(phase, lambda wanted: 'any state' if wanted is None else 'state=%s' % wanted,
                                                                ', with force %s'))
    return arrows, notes


def power_states_diagram():
    """Return the lines of a Mermaid state diagram of the phases and the actions and waits between them."""
    arrows, notes = _diagram_parts()
    lines = ['stateDiagram-v2']
    for phase in PHASES:
        flag = {ON: 'running flag true - ', OFF: 'running flag false - '}.get(phase, '')
        lines.append('    %s : %s%s' % (phase, flag, _members(phase, '%s')))
    lines.extend('    %s --> %s : %s' % (start, end, ' or '.join(labels)) for (start, end), labels in arrows.items())
    for phase in PHASES:
        if phase in notes:
            lines.append('    note right of %s' % phase)
            lines.extend('        %s' % line for line in notes[phase])
            lines.append('    end note')
    return lines


POWER_STATES_PAGE_HEAD = """\
# Power states: what vergeos_vm_power does with each VergeOS status

<!-- Generated from the rules in plugins/module_utils/plan.py by tools/power_states_doc.py; do not edit.
     A unit test fails when this page and the rules differ. -->

`vergeos.power.vergeos_vm_power` decides from a fresh read of the VM's machine
status: its raw `status` (one of VergeOS's 21) and its `running` flag. Together
they put the VM in one of eight phases, and the plan's rules are written per
phase, so every status of a phase gets the same decision. `power_state` is the
normalised name the modules and the inventory return next to the raw status.

The decisions, in the words of the tables below:

- **nothing to do**: the VM is there already; the task reports `ok`.
- **wait until running**, **wait until stopped**: the VM is heading there; no
  action is sent, and the module waits (with `wait: true`).
- **wait until it settles, then decide again**: the VM is heading elsewhere or
  VergeOS is busy with it; the module waits until that ends, reads the VM
  again and decides again.
- **poweron**, **poweroff** (graceful ACPI), **kill** (hard power off),
  **reset (graceful)** (guest reboot), **reset (hard)**: the action sent; the
  module then waits for the wanted state.
- **kill, then decide again**: after the kill and its wait the module decides
  again (on the way to running, a poweron follows).
- **fail**: no action can help; the task fails and says why.
- **... when on, ... when off**: the decision follows the `running` flag.

`force: true` does not wait for a VM starting, stopping or migrating: it acts at once.
"""

POWER_STATES_DIAGRAM_TEXT = """\
An arrow goes to the phase the module waits for after an action (VergeOS may
pass through `starting` or `stopping` on the way). `wait` arrows end where
VergeOS takes a VM in a transition by itself; after such a wait the module
decides again from there. "with force" marks what happens only with
`force: true`.
"""


def _table(header, rows):
    lines = ['| %s |' % ' | '.join(header), '|' + '---|' * len(header)]
    lines.extend('| %s |' % ' | '.join(row) for row in rows)
    return lines


def power_states_page():
    """Return the Markdown of docs/power-states.md: the diagram of the phases and the tables, generated from RULES."""
    lines = [POWER_STATES_PAGE_HEAD, '## Phases and the actions between them', '', '```mermaid']
    lines.extend(power_states_diagram())
    lines.extend(['```', '', POWER_STATES_DIAGRAM_TEXT, '## Phases', ''])
    rows = []
    for phase in PHASES:
        members = _members(phase, '`%s`')
        members += {ON: ' with `running` true', OFF: ' with `running` false'}.get(phase, '')
        decisions = dict(item.split(': ', 1) for item in _phase_decisions(phase, lambda wanted: wanted or 'any', '; with force: %s'))
        if 'any' in decisions:
            decisions = dict.fromkeys(WANTED_STATES, decisions['any'])
        rows.append([phase, PHASE_MEANINGS[phase], members] + [decisions[wanted] for wanted in WANTED_STATES])
    lines.extend(_table(['phase', 'meaning', 'raw statuses'] + ['state=%s' % wanted for wanted in WANTED_STATES], rows))
    lines.extend(['', '## Every raw status', ''])
    columns = [wanted + suffix for wanted in WANTED_STATES for suffix in ('', ', force')]
    rows = []
    for status, row in transition_table().items():
        phase = _STATUS_PHASE[status] or 'on or off (`running`)'
        rows.append(['`%s`' % status, row['power_state'], phase, row['meaning']] + [row[column] for column in columns])
    lines.extend(_table(['status', 'power_state', 'phase', 'meaning'] + ['state=%s' % column for column in columns], rows))
    return '\n'.join(lines) + '\n'
