# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The safe_shutdown role's decisions before and between its stages: targets, deadlines, stages, tiers, failures.

The role hands its variables and what its modules answered here through the internal filter
``vergeos.power.role_internal``; its task files only run modules with the values these
functions return (``shutdown_result`` decides each VM's outcome at the end). In order:

- ``shutdown_plan`` (step ``safe_shutdown_plan``): the variables checked (``role_inputs``), the
  form of the targets (a list, filters or the play's hosts), what to read, and the refusal of
  play hosts that are not VMs of the system the role talks to;
- ``refusal`` (``safe_shutdown_refusal``) and ``record_ids`` (``safe_shutdown_record_ids``), once the
  targets are read: the plan's refusal or too many filter matches, and what the maintenance record gets;
- ``shutdown_stages`` (``safe_shutdown_stages``): each VM's deadline (``power.per_vm_timeouts``, the
  collection's one rule), one stage or two, and the options of every stage's task;
- ``late_vms`` (``safe_shutdown_late``) and ``kill_candidates`` (``safe_shutdown_kill_candidates``)
  between the graceful stage and the kill of a two-stage run;
- ``failure_message`` (``safe_shutdown_failure``) and ``host_failure``
  (``safe_shutdown_host_failure``): what the role fails with, for the batch or one inventory host;
- ``stop_order``, ``tiers_result`` and ``tiers_failure`` (``safe_shutdown_tiers``,
  ``safe_shutdown_tiers_result``, ``safe_shutdown_tiers_failure``): safe_shutdown_tiers.
"""

from __future__ import annotations

import datetime
import json

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.vergeos.power.plugins.module_utils.client import same_system
from ansible_collections.vergeos.power.plugins.module_utils.power import per_vm_timeouts
from ansible_collections.vergeos.power.plugins.plugin_utils.role_inputs import normalise, spaced_names
from ansible_collections.vergeos.power.plugins.plugin_utils.shutdown_result import WAS_RUNNING

# The role's variables of one run of its stages (safe_shutdown_tiers is checked on its own, stop_order).
RUN_VARIABLES = (
    'safe_shutdown_targets', 'safe_shutdown_filters', 'safe_shutdown_max_targets', 'safe_shutdown_timeout', 'safe_shutdown_timeouts',
    'safe_shutdown_escalate', 'safe_shutdown_kill_timeout', 'safe_shutdown_snapshot_before_kill', 'safe_shutdown_snapshot_name',
    'safe_shutdown_snapshot_expires', 'safe_shutdown_snapshot_retry_timeout', 'safe_shutdown_before_kill_tasks',
    'safe_shutdown_unsafe_mark_stopped', 'safe_shutdown_poll_interval', 'safe_shutdown_batch', 'safe_shutdown_record',
    'safe_shutdown_record_note',
)
SNAPSHOT_DESCRIPTION = 'Taken by vergeos.power.safe_shutdown before a kill: the guest ignored ACPI past its deadline.'
HOSTS_RULE = ("safe_shutdown: without safe_shutdown_targets or safe_shutdown_filters the targets are the play's hosts, which must carry "
              "vergeos_id and vergeos_url (the vergeos.power.vergeos inventory sets them)")
NO_SYSTEM = 'To check each host belongs to the system the role talks to, set safe_shutdown_host or VERGEOS_HOST. '


def _jinja_int(value):
    """Return ``value`` as Jinja's ``int`` filter does: a whole number, 0 for what is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


def _empty(value):
    return value is None or (hasattr(value, '__len__') and len(value) == 0)


def _tier(context):
    """Return the tier this run stops (from stop_order's list and the loop's index), or None outside safe_shutdown_tiers."""
    index = context.get('tier_index')
    return None if index is None else context['tiers'][int(index)]


def _hosts_refusal(hosts, hostvars, system):
    """Return why the play's hosts cannot be the targets ('' when they can): hosts without a VM, or VMs of another system."""
    missing = [host for host in hosts if 'vergeos_id' not in hostvars[host] or 'vergeos_url' not in hostvars[host]]
    foreign = [host for host in hosts if 'vergeos_url' in hostvars[host]
               and not same_system(_text(hostvars[host]['vergeos_url']), _text(system))]
    if not missing and system and not foreign:
        return ''
    return '%s%s. %s %s' % (
        HOSTS_RULE, (' - these do not: ' + ', '.join(missing)) if missing else '', '' if system else NO_SYSTEM,
        ('These hosts are VMs of another VergeOS system than %s: %s (run the role once per system).' % (system, ', '.join(foreign)))
        if foreign else '')


def _text(value):
    return value if isinstance(value, str) else ''


def shutdown_plan(variables, context):
    """Return the plan of one run of the stages, before anything is read: the variables checked, with its decisions.

    ``variables``: the role's variables (RUN_VARIABLES), checked by ``role_inputs.normalise`` (InputError
    names every bad one); the plan holds what that returns (``timeout``, ``record``...) and ``form``,
    ``hosts``, ``read``, ``refusal``, ``spaced``, ``fail`` and ``record_policy``.
    ``context``: ``play_batch`` (ansible_play_batch), ``host`` (inventory_hostname), ``hostvars``,
    ``system`` (safe_shutdown_host or VERGEOS_HOST, '' for neither), and in a run of
    safe_shutdown_tiers ``tiers`` (stop_order's list) with ``tier_index``: the tier's targets or
    filters then stand for safe_shutdown_targets and safe_shutdown_filters. ``read``: the
    selection options of the read of the targets; ``refusal``: why the play's hosts cannot be the
    targets, '' when nothing is wrong; ``spaced``: names given with spaces around them (looked up
    without them when the read fails); ``fail``: who fails for a VM that could not be stopped:
    ``batch`` (the first host, for all), ``host`` (each host for its own run) or ``hosts`` (each
    inventory host for its own VM, ``host_failure``); ``record_policy``: the stop policy the
    maintenance record keeps (safe_shutdown_record).
    """
    given = {name: variables[name] for name in RUN_VARIABLES}
    tier = _tier(context)
    if tier is not None:
        given.update(safe_shutdown_targets=tier.get('targets') or [], safe_shutdown_filters=tier.get('filters') or {})
    inputs = normalise(given, 'safe_shutdown')
    form = 'list' if inputs['targets'] else ('filters' if inputs['filters'] else 'hosts')
    hosts = list(context['play_batch']) if inputs['batch'] else [context['host']]
    refusal = ''
    if form == 'list':
        read = {'ids': [item for item in inputs['targets'] if isinstance(item, int)],
                'names': [item for item in inputs['targets'] if isinstance(item, str)]}
    elif form == 'filters':
        read = {'filters': inputs['filters']}
    else:
        hostvars = context['hostvars']
        refusal = _hosts_refusal(hosts, hostvars, context.get('system') or '')
        read = {'ids': [] if refusal else [_jinja_int(hostvars[host]['vergeos_id']) for host in hosts]}
    return dict(inputs, form=form, hosts=hosts, read=read, refusal=refusal, spaced=spaced_names(inputs['targets']),
                fail='host' if not inputs['batch'] else ('hosts' if form == 'hosts' else 'batch'), record_policy=_record_policy(inputs))


def _record_policy(plan):
    """The stop policy the maintenance record keeps: a relaunch kills nothing sooner than this run would (the longest deadline)."""
    return {'timeout': int(max([plan['timeout']] + list(plan['timeouts'].values()))), 'kill_timeout': int(plan['kill_timeout']),
            'escalate': bool(plan['escalate'])}


def refusal(info, plan):
    """Return why nothing may be sent ('' when all is well): the plan's refusal, or more filter matches than safe_shutdown_max_targets.

    ``info``: the vergeos_vm_info result of the read of the targets (skipped when the plan refused).
    """
    vms = (info or {}).get('vms') or []
    if plan['refusal'] or plan['form'] != 'filters' or len(vms) <= plan['max_targets']:
        return plan['refusal']
    return ('safe_shutdown: the filters match %d VMs, more than safe_shutdown_max_targets (%d): %s; narrow the filters or raise it.'
            % (len(vms), plan['max_targets'], json.dumps([vm.get('name') for vm in vms])))


def record_ids(info):
    """Return the ids of the targets the maintenance record gets: those that were running (or starting or migrating)."""
    return [vm['id'] for vm in (info or {}).get('vms') or [] if vm.get('power_state') in WAS_RUNNING]


def shutdown_stages(info, plan, context):
    """Return what every stage runs with, once the targets are read (``info``: the vergeos_vm_info result) and recorded.

    ``context``: ``check_mode`` (ansible_check_mode), ``probe`` (the registered check-mode probe:
    skipped under a check_mode keyword), ``now`` (unix time: the start of the shutdown, and of
    the default snapshot name). ``wait_timeouts``: each target's own deadline by id
    (``power.per_vm_timeouts``, the collection's one rule; keys of safe_shutdown_timeouts that name
    no target are left out, and ``warning`` says so when none does). Without before-kill tasks one
    power task does it all (``one_stage``): each VM is snapshotted (if asked) and killed at its own
    deadline; with them the kills wait for the whole graceful stage. ``context`` of the result is
    safe_shutdown_result's context (``shutdown_result``).
    """
    vms = (info or {}).get('vms') or []
    deadlines = per_vm_timeouts(vms, plan['timeouts'], key='id', unknown='ignore')
    wait_timeouts = {str(vm_id): seconds for vm_id, seconds in deadlines.items()}
    warning = ''
    if plan['timeouts'] and not wait_timeouts:
        warning = ('WARNING: safe_shutdown: none of the keys of safe_shutdown_timeouts (%s) names a target of this run, so every target '
                   'gets safe_shutdown_timeout (%ss): a typo?' % (', '.join(plan['timeouts']), plan['timeout']))
    now = float(context['now'])
    snapshot_name = plan['snapshot_name'] or 'safe-shutdown-' + datetime.datetime.fromtimestamp(now, datetime.UTC).strftime('%Y%m%d-%H%M%S')
    one_stage = plan['escalate'] and not plan['before_kill_tasks']
    check_mode = bool(context.get('check_mode')) or bool((context.get('probe') or {}).get('skipped'))
    snapshot = {'name': snapshot_name, 'expires': plan['snapshot_expires'], 'retry_timeout': plan['snapshot_retry_timeout']}
    graceful = {'on_timeout': 'force' if one_stage else 'report', 'unsafe_mark_stopped': plan['unsafe_mark_stopped'] and one_stage}
    if one_stage:
        graceful['kill_timeout'] = plan['kill_timeout']
        if plan['snapshot_before_kill']:
            graceful['snapshot_before_kill'] = dict(snapshot, description=SNAPSHOT_DESCRIPTION)
    return {
        'check_mode': check_mode, 'ids': [vm['id'] for vm in vms], 'wait_timeouts': wait_timeouts, 'warning': warning,
        'one_stage': one_stage, 'escalate': plan['escalate'], 'before_kill': plan['escalate'] and bool(plan['before_kill_tasks']),
        'graceful': graceful, 'snapshot': snapshot, 'kill': {'wait_timeout': plan['kill_timeout'], 'unsafe_mark_stopped': plan['unsafe_mark_stopped']},
        'context': {'check_mode': check_mode, 'escalate': plan['escalate'], 'snapshot_before_kill': plan['snapshot_before_kill'],
                    'timeout': plan['timeout'], 'wait_timeouts': wait_timeouts, 'started': now, 'snapshot_name': snapshot_name},
    }


def late_vms(graceful, plan, now):
    """Return the VMs that missed their deadline in the graceful stage (neither stopped nor failed), and when the kill stage starts.

    ``snapshot``: whether they are snapshotted before their kill (a two-stage run that escalates with
    safe_shutdown_snapshot_before_kill).
    """
    vms = [vm for vm in (graceful or {}).get('vms') or [] if vm.get('timed_out') and not vm.get('failed')]
    return {'vms': vms, 'ids': [vm['id'] for vm in vms], 'kill_started': float(now),
            'snapshot': bool(vms) and bool(plan['escalate']) and bool(plan['snapshot_before_kill'])}


def kill_candidates(late, snapshot, plan):
    """Return the late VMs that may be killed: all of them, or with a snapshot asked for only those whose snapshot was taken."""
    if not plan['snapshot_before_kill']:
        return list(late['vms'])
    snapped = [vm.get('id') for vm in (snapshot or {}).get('vms') or [] if not vm.get('failed')]
    return [vm for vm in late['vms'] if vm['id'] in snapped]


def failure_message(result):
    """Return what the role fails with when a VM of its run could not be stopped."""
    failed = [vm for vm in result['vms'] if vm['outcome'] == 'failed']
    return 'safe_shutdown: %d VM(s) could not be stopped: %s' % (
        len(result['failed_vms']), '; '.join('%s: %s' % (vm['name'], vm['msg']) for vm in failed))


def host_failure(result, context):
    """Return why this inventory host fails ('' when it does not): its own VM could not be stopped, in a batch over the play's hosts.

    ``context``: the role's ``batch``, ``targets`` and ``filters`` as given, and the host's ``vergeos_id``
    (None when it has none). A run over a list or filters fails as a whole (``failure_message``).
    """
    if not result or not boolean(context['batch'], strict=False) or not _empty(context['targets']) or not _empty(context['filters']):
        return ''
    if context.get('vergeos_id') is None:
        return ''
    own = [vm for vm in result.get('vms') or [] if vm.get('id') == _jinja_int(context['vergeos_id'])]
    if not any(vm.get('outcome') == 'failed' for vm in own):
        return ''
    return 'safe_shutdown: VM %s (id %s) could not be stopped: %s' % (own[0]['name'], own[0]['id'], own[0]['msg'])


def stop_order(variables):
    """Return safe_shutdown_tiers checked (role_inputs), in the order they stop: the last tier first."""
    return list(reversed(normalise(variables, 'safe_shutdown')['tiers']))


def _flat_text(value):
    """Return a failure's message as one line: Ansible's ``[msg] | flatten | join(' ')`` (nulls left out)."""
    if isinstance(value, (list, tuple)):
        return ' '.join(part for part in (_flat_text(item) for item in value) if part is not None)
    if value is None or value in ('None', 'null'):
        return None
    return str(value)


def _tiers_entries(kept, tiers, failure):
    """Return every tier's result in stop order: those that ran, then one entry per tier left running below a failed one."""
    entries = list(kept)
    if failure:
        for tier in tiers[int(failure['index']) + 1:]:
            entries.append({'tier': tier['name'], 'skipped': True, 'vms': [],
                            'summary': [tier['name'] + ': not stopped, tier ' + failure['tier'] + ' above it could not be stopped']})
    return entries


def tiers_result(kept, tiers, failure):
    """Return safe_shutdown_result of a run of safe_shutdown_tiers.

    ``kept``: the result of each tier that got one (with its ``tier``), in stop order; ``tiers``:
    stop_order's list; ``failure``: {'tier', 'index', 'why'} of the tier that could not be stopped,
    empty when none.
    """
    entries = _tiers_entries(kept, tiers, failure)
    vms = [vm for entry in entries for vm in entry['vms']]
    return {
        'tiers': entries, 'vms': vms, 'failed': bool(failure),
        'changed': any(entry.get('changed') for entry in entries), 'check_mode': any(entry.get('check_mode') for entry in entries),
        'failed_vms': [vm['name'] for vm in vms if vm['outcome'] == 'failed'],
        'was_running': [vm['name'] for vm in vms if vm['was_running']], 'was_running_ids': [vm['id'] for vm in vms if vm['was_running']],
        'killed': [vm['name'] for vm in vms if vm['outcome'] == 'killed'],
        'graceful': [vm['name'] for vm in vms if vm['outcome'] == 'graceful'],
        'summary': [line for entry in entries for line in entry['summary']],
    }


def tiers_failure(kept, tiers, failure):
    """Return what a run of safe_shutdown_tiers fails with when a tier could not be stopped (the tiers below it left running)."""
    result = tiers_result(kept, tiers, failure)
    why = _flat_text([failure.get('why')]) or ''
    return 'safe_shutdown: tier %s could not be stopped (%s), so the tiers it needs were left running: %s.%s' % (
        failure['tier'], ', '.join(result['failed_vms']),
        ', '.join(entry['tier'] for entry in result['tiers'] if 'skipped' in entry) or 'none', (' ' + why) if why else '')
