# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""``safe_shutdown_result`` from the results of the role's stages: per VM how it stopped, then the summary.

The role registers each stage (the read of the targets, the graceful task, the snapshot
task, the kill task, the final read) and hands them here through the internal filter
``vergeos.power.role_internal`` (step ``safe_shutdown_result``); this is the one place that decides a VM's
outcome, so unit tests can reach every branch.
"""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.module_utils.power import per_vm_timeouts

OUTCOMES = ('graceful', 'killed', 'marked_stopped', 'already_stopped', 'would_stop', 'failed')
WAS_RUNNING = ('running', 'starting', 'migrating')


def _by_id(stage):
    return {vm.get('id'): vm for vm in (stage or {}).get('vms') or []}


def _deadline(vm, context):
    return context['deadlines'].get(vm['id'], context['timeout'])


def _snapshot_name(entry):
    snapshot = (entry or {}).get('snapshot')
    return snapshot.get('name') if isinstance(snapshot, dict) else None


def _check_mode_outcome(g, previous, graceful_stage):
    if g and not g.get('failed'):
        if previous == 'stopped' and not g.get('changed'):
            return 'already_stopped', g.get('msg')
        return 'would_stop', g.get('msg')
    return 'failed', g.get('msg') if g else graceful_stage.get('msg', 'the graceful stage did not run')


def _escalated_outcome(g, deadline):
    """One stage: the graceful task killed the VM at its own deadline (after its snapshot, if asked)."""
    if g.get('failed'):
        return 'failed', 'still not stopped at its %ss deadline; after the kill: %s' % (deadline, g.get('msg'))
    if 'mark_stopped' in (g.get('actions') or []):
        return 'marked_stopped', 'ignored ACPI past its %ss deadline; the kill did not stop it; marked stopped' % deadline
    return 'killed', 'ignored ACPI past its %ss deadline; killed' % deadline


def _kill_outcome(k, deadline):
    """Two stages: the kill task's result for a VM that missed its deadline."""
    actions = k.get('actions') or []
    if k.get('failed') or k.get('timed_out'):
        return 'failed', 'still not stopped at its %ss deadline; after the kill: %s' % (deadline, k.get('msg'))
    if 'mark_stopped' in actions:
        return 'marked_stopped', 'ignored ACPI past its %ss deadline; the kill did not stop it; marked stopped' % deadline
    if 'kill' in actions:
        return 'killed', 'ignored ACPI past its %ss deadline; killed' % deadline
    return 'graceful', 'stopped after its deadline, before the kill'


def vm_outcome(vm, stages, context):
    """Return the result entry of one target: its outcome, message, times, actions and snapshot."""
    graceful_stage, kill_stage, snapshot_stage = stages['graceful'] or {}, stages['kill'] or {}, stages['snapshot'] or {}
    g, k = _by_id(graceful_stage).get(vm['id']), _by_id(kill_stage).get(vm['id'])
    s, f = _by_id(snapshot_stage).get(vm['id']), _by_id(stages['final']).get(vm['id'])
    previous = g.get('previous_power_state') if g else vm.get('power_state')
    deadline = _deadline(vm, context)
    elapsed = float(g.get('elapsed') or 0.0) if g else 0.0
    snapshot = None
    if context['check_mode']:
        outcome, msg = _check_mode_outcome(g, previous, graceful_stage)
    elif not g:
        outcome, msg = 'failed', 'not stopped: ' + str(graceful_stage.get('msg', 'the graceful stage did not run'))
    elif g.get('escalated'):
        snapshot = _snapshot_name(g)
        outcome, msg = _escalated_outcome(g, deadline)
    elif g.get('failed'):
        outcome, msg = 'failed', g.get('msg')
    elif not g.get('timed_out'):
        outcome = 'already_stopped' if (not g.get('actions') and previous == 'stopped') else 'graceful'
        msg = g.get('msg')
    elif not context['escalate']:
        outcome, msg = 'failed', 'still not stopped at its %ss deadline; not killed (safe_shutdown_escalate is false)' % deadline
    elif context['snapshot_before_kill'] and (not s or s.get('failed')):
        outcome = 'failed'
        msg = ('still not stopped at its %ss deadline; not killed because the snapshot before the kill failed: %s'
               % (deadline, s.get('msg') if s else snapshot_stage.get('msg', 'no snapshot was taken')))
    elif not k:
        outcome, msg = 'failed', 'still not stopped at its deadline; the kill failed: ' + str(kill_stage.get('msg', 'not sent'))
    else:
        elapsed = float(context['kill_started']) - float(context['started']) + float(k.get('elapsed') or 0.0)
        snapshot = _snapshot_name(s)
        outcome, msg = _kill_outcome(k, deadline)
    if not context['check_mode'] and outcome != 'failed' and (f is None or f.get('power_state') != 'stopped'):
        outcome = 'failed'
        msg = 'not stopped at the final check (status %s)' % (f.get('status') if f else 'unknown: the VM could not be read')
    return {'id': vm['id'], 'name': vm['name'], 'outcome': outcome, 'was_running': previous in WAS_RUNNING,
            'previous_power_state': previous,
            'power_state': f.get('power_state') if f else (g.get('power_state') if g else vm.get('power_state')),
            'elapsed': round(elapsed, 1), 'deadline': deadline,
            'actions': list((g or {}).get('actions') or []) + list((k or {}).get('actions') or []),
            'snapshot': snapshot, 'msg': msg}


def _names(vms, outcome):
    return [vm['name'] for vm in vms if vm['outcome'] == outcome]


def summary_lines(result):
    """Return the role's summary: a head line with the counts, then one line per VM."""
    vms = result['vms']
    counts = ['%d %s' % (len(_names(vms, outcome)), outcome) for outcome in OUTCOMES if _names(vms, outcome)]
    head = ('safe_shutdown (check mode, nothing sent): ' if result['check_mode'] else 'safe_shutdown: ') + \
        '%d VM(s) in %ss: %s' % (len(vms), result['elapsed'], ', '.join(counts) or 'nothing to do')
    if result['might_be_killed']:
        head += '; killed if still running at their deadline: ' + ', '.join(result['might_be_killed'])
    record = result.get('record')
    if record:
        head += '; maintenance record %s holds %d VM(s)' % (record['name'], len(record['ids']))
    lines = [head]
    for vm in vms:
        lines.append('%s (id %s): %s, %.1fs%s%s: %s' % (
            vm['name'], vm['id'], vm['outcome'], vm['elapsed'], ', was running' if vm['was_running'] else '',
            (', snapshot %s taken before the kill' % vm['snapshot']) if vm['snapshot'] else '', vm['msg']))
    return lines


def shutdown_result(stages, context):
    """Return safe_shutdown_result (its documented keys, plus ``summary``) from the stages' results and the run's context.

    ``stages``: ``info`` (the read of the targets), ``graceful``, ``kill``, ``snapshot``, ``final``
    (registered results; a stage that did not run may be missing or skipped), ``record`` (the
    maintenance record task's result, when one was kept). ``context``: ``check_mode``,
    ``escalate``, ``snapshot_before_kill``, ``timeout``, ``wait_timeouts``, ``started``,
    ``kill_started``, ``now`` (unix times), ``snapshot_name``.
    """
    stages = {name: stages.get(name) or {} for name in ('info', 'graceful', 'kill', 'snapshot', 'final', 'record')}
    targets = stages['info'].get('vms') or []
    # Each VM's deadline by the collection's one rule (the role passes them by id already).
    context = dict(context, deadlines=per_vm_timeouts(targets, context.get('wait_timeouts'), key='id', unknown='ignore'))
    vms = [vm_outcome(vm, stages, context) for vm in targets]
    changed = any(bool(stages[name].get('changed')) for name in ('graceful', 'kill', 'snapshot'))
    result = {
        'check_mode': bool(context['check_mode']), 'changed': changed,
        'failed': any(vm['outcome'] == 'failed' for vm in vms), 'vms': vms,
        'failed_vms': _names(vms, 'failed'),
        'might_be_killed': _names(vms, 'would_stop') if context['escalate'] else [],
        'was_running': [vm['name'] for vm in vms if vm['was_running']],
        'was_running_ids': [vm['id'] for vm in vms if vm['was_running']],
        'snapshot_name': context.get('snapshot_name') if any(vm['snapshot'] for vm in vms) else None,
        'elapsed': round(float(context['now']) - float(context['started']), 1),
        'record': stages['record'].get('record'),
    }
    for outcome in OUTCOMES:
        if outcome != 'failed':
            result[outcome] = _names(vms, outcome)
    result['summary'] = summary_lines(result)
    return result
