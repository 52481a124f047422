"""The documentation of the power plan, generated from its rules: the module's notes by phase and docs/power-states.md.

Used only by tools/power_states_doc.py and its test (tests/functional/tools/test_power_states_doc.py);
it never ships (tools/ is in galaxy.yml's build_ignore), so the hosts a module runs on carry
only the rules (plugins/module_utils/plan.py). Import it with ``ansible_collections.vergeos.power``
importable (tools/power_states_doc.py links it in).
"""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.vergeos.power.plugins.module_utils.plan import (
    _STATUS_PHASE, ACT, NOOP, OFF, ON, PHASES, REFUSE, WAIT, WAIT_THEN_ACT, WANTED_STATES, BLOCKED, MIGRATING, SETTLING, STARTING,
    STOPPING, UNKNOWN, phase_of, plan_power,
)
from ansible_collections.vergeos.power.plugins.module_utils.power_state import RAW_STATUSES, power_state_of


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
