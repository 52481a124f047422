# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The rolling_restart role's decisions: its variables, the batches, what a relaunch does, each batch's outcome, the result.

The role reads the targets (vergeos_vm_info) and every open maintenance record
(vergeos_maintenance_record_info), then hands the answers here through the internal filter
``vergeos.power.role_internal`` (steps ``rolling_restart_inputs``, ``rolling_restart_plan``,
``rolling_restart_batch_start``, ``rolling_restart_batch``, ``rolling_restart_result``); the tasks
only run modules. Unit tests reach every branch.

The rollout's progress is kept on the VergeOS system in a maintenance record of kind
``rolling_restart`` (docs/rolling_restart.md): its VMs are the rollout's targets, and three
sets of it say where each VM stands - ``restarting`` (the restart is about to be sent, with
the VM's ``started`` value before it in the set's data), ``done`` and ``failed``. A relaunch
reads them: ``done`` VMs are left alone; ``restarting`` VMs whose ``started`` changed were
restarted (a power cycle or a reset always changes it); those whose ``started`` did not change
were not restarted yet with ``power_cycle`` or ``reset`` (they get their restart), and with
``guest`` cannot be proven either way (a guest reboot may leave ``started`` as it was): they are
health-checked and reported ``unconfirmed``, and restarted again only when asked; ``failed`` VMs
are health-checked again, never restarted. No VM is restarted twice by one rollout otherwise.
"""

from __future__ import annotations

import math

from ansible_collections.vergeos.power.plugins.plugin_utils.role_inputs import (
    InputError, _number, _shown, choice, count, flag, health_url as url, interval, mapping, port, record, seconds, statuses, targets, text,
    tiers as role_tiers,
)
from ansible_collections.vergeos.power.plugins.plugin_utils.startup import PlanError

ROLE = 'rolling_restart'
KIND = 'rolling_restart'
METHODS = ('guest', 'power_cycle', 'reset')
UP_CHECKS = ('running', 'agent', 'port', 'url')
# The record's sets (sibling tags): in flight (with each VM's started before its restart), done, failed.
RESTARTING, DONE, FAILED = 'restarting', 'done', 'failed'
TARGET_VARIABLES = ('rolling_restart_targets', 'rolling_restart_filters', 'rolling_restart_tiers')


def _percent(name, value):
    """Return the percentage of a '20%' string (above 0, at most 100), or None when it is not one."""
    if not isinstance(value, str) or not value.strip().endswith('%'):
        return None
    number = _number(value.strip()[:-1])
    if number is None or not 0 < number <= 100:
        raise InputError('%s: a percentage must be above 0%% and at most 100%%; not %s' % (name, _shown(value)))
    return number


def batch(name, value):
    """Return the batch sizes as serial takes them: [{'count': n} or {'percent': p}, ...]; the last one repeats.

    A number (1 or more), a percentage ('20%'), or a list of them (a ramp-up: a canary batch first); from a survey, a
    string of them separated by commas ('1, 20%').
    """
    if isinstance(value, str) and ',' in value:
        value = [item.strip() for item in value.split(',')]
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise InputError('%s must be a number, a percentage or a list of them (for example [1, "20%%"]); not %s' % (name, _shown(value)))
    sizes = []
    for item in items:
        percent = _percent(name, item)
        if percent is not None:
            sizes.append({'percent': percent})
            continue
        number = _number(item)
        if not isinstance(number, int) or number < 1:
            raise InputError('%s must be a number of VMs (1 or more), a percentage ("20%%") or a list of them (a ramp-up, for example '
                             '[1, "20%%"]); not %s' % (name, _shown(value)))
        sizes.append({'count': number})
    return sizes


def budget(name, value):
    """Return the failure budget: {'count': n} (1 or more) or {'percent': p}."""
    percent = _percent(name, value)
    if percent is not None:
        return {'percent': percent}
    number = _number(value)
    if not isinstance(number, int) or number < 1:
        raise InputError('%s must be a number of VMs, 1 or more (the rollout stops once that many failed), or a percentage of the '
                         'targets ("10%%"); not %s' % (name, _shown(value)))
    return {'count': number}


def tiers(name, value):
    """Return the tiers: [{'name', 'targets', 'filters'}]; each has targets or filters (the roles' one tier rule)."""
    return [dict(tier, targets=tier['targets'] or [], filters=tier['filters'] or {})
            for tier in role_tiers(name, value, {'name': text, 'targets': targets, 'filters': mapping})]


def optional_text(name, value):
    return text(name, value) if value is not None else ''


RULES = {
    'rolling_restart_targets': (targets, 'targets'),
    'rolling_restart_filters': (mapping, 'filters'),
    'rolling_restart_tiers': (tiers, 'tiers'),
    'rolling_restart_max_targets': (count, 'max_targets'),
    'rolling_restart_batch': (batch, 'batch'),
    'rolling_restart_pause': (seconds, 'pause'),
    'rolling_restart_method': (choice(METHODS), 'method'),
    'rolling_restart_force': (flag, 'force'),
    'rolling_restart_timeout': (interval, 'timeout'),
    'rolling_restart_start_stopped': (flag, 'start_stopped'),
    'rolling_restart_up': (choice(UP_CHECKS), 'up'),
    'rolling_restart_port': (port, 'port'),
    'rolling_restart_url': (url, 'url'),
    'rolling_restart_url_status': (statuses, 'url_status'),
    'rolling_restart_url_validate_certs': (flag, 'url_validate_certs'),
    'rolling_restart_url_ca_path': (optional_text, 'url_ca_path'),
    'rolling_restart_url_client_cert': (optional_text, 'url_client_cert'),
    'rolling_restart_url_client_key': (optional_text, 'url_client_key'),
    'rolling_restart_settle': (seconds, 'settle'),
    'rolling_restart_gate_timeout': (interval, 'gate_timeout'),
    'rolling_restart_max_failed': (budget, 'max_failed'),
    'rolling_restart_before_batch_tasks': (optional_text, 'before_batch_tasks'),
    'rolling_restart_after_batch_tasks': (optional_text, 'after_batch_tasks'),
    'rolling_restart_record': (record, 'record'),
    'rolling_restart_restart_unconfirmed': (flag, 'restart_unconfirmed'),
    'rolling_restart_new_run': (flag, 'new_run'),
    'rolling_restart_poll_interval': (interval, 'poll_interval'),
}


def normalise(variables):
    """Return the role's variables as {short key: value}; InputError naming every problem, one per line. Nothing has been sent.

    ``variables`` holds the tiers of the inventory-host form in ``rolling_restart_tiers`` when none were given.
    """
    result, problems = {}, []
    for name, (rule, key) in RULES.items():
        if name not in variables:
            continue
        try:
            result[key] = rule(name, variables[name])
        except InputError as exc:
            problems.append(str(exc))
    _finish(result, problems)
    if problems:
        raise InputError('%s: %s' % (ROLE, '\n'.join(problems)))
    return result


def _finish(result, problems):
    """Checks across variables: one way of giving the targets, a port or URL for its gate; the tiers the role runs."""
    given = [name for name, key in (('rolling_restart_targets', 'targets'), ('rolling_restart_filters', 'filters'),
                                    ('rolling_restart_tiers', 'tiers')) if result.get(key)]
    if len(given) > 1:
        problems.append('give one of %s, not several' % ', '.join(given))
    if result.get('targets') or result.get('filters'):
        result['tiers'] = [{'name': 'targets', 'targets': result.get('targets') or [], 'filters': result.get('filters') or {}}]
    target_problems = any(name in problem for problem in problems for name in TARGET_VARIABLES)
    if not result.get('tiers') and not target_problems:
        problems.append('there is nothing to restart: give rolling_restart_targets (names and ids), rolling_restart_filters or '
                        'rolling_restart_tiers, or run the role on inventory hosts that carry vergeos_id')
    if result.get('up') == 'port' and result.get('port') is None:
        problems.append('rolling_restart_up is port, so it needs rolling_restart_port')
    if result.get('up') == 'url' and not result.get('url'):
        problems.append('rolling_restart_up is url, so it needs rolling_restart_url (for example https://{address}/health)')
    if result.get('url_client_key') and not result.get('url_client_cert'):
        problems.append('rolling_restart_url_client_key needs rolling_restart_url_client_cert')
    for key in ('timeout',):
        if key in result:
            result[key] = int(math.ceil(result[key]))


# ------------------------------------------------------------------------------------------------ the plan


def _address(vm):
    for nic in vm.get('addresses') or []:
        if nic.get('ip'):
            return nic['ip']
    return None


def batch_sizes(spec, total):
    """Return the sizes of the batches of ``total`` VMs, as serial makes them: each item in turn, the last one repeated.

    A percentage is of ``total``, rounded down, at least 1.
    """
    sizes, index = [], 0
    while total - sum(sizes) > 0:
        item = spec[min(index, len(spec) - 1)]
        size = item['count'] if 'count' in item else max(1, int(item['percent'] * total / 100.0))
        sizes.append(min(size, total - sum(sizes)))
        index += 1
    return sizes


def failure_budget(spec, total):
    """Return how many failed VMs stop the rollout: a count, or a percentage of ``total`` (rounded down, at least 1)."""
    if 'count' in spec:
        return spec['count']
    return max(1, int(spec['percent'] * total / 100.0))


def _budget_text(spec, budget_value):
    return '%d' % budget_value if 'count' in spec else '%g%% (%d VM(s))' % (spec['percent'], budget_value)


def _sets(record_found):
    siblings = (record_found or {}).get('siblings') or {}
    return {key: {'ids': [int(vm_id) for vm_id in (siblings.get(key) or {}).get('ids') or []],
                  'data': dict((siblings.get(key) or {}).get('data') or {})} for key in (RESTARTING, DONE, FAILED)}


def _vm(vm, action='restart', why=''):
    return {'id': int(vm['id']), 'name': vm.get('name'), 'address': _address(vm), 'started': vm.get('started'),
            'power_state': vm.get('power_state'), 'action': action, 'why': why}


_UNCONFIRMED_WHY = ('its guest reboot was asked for before the relaunch and cannot be proven (a guest reboot may leave started '
                    'unchanged): checked, not restarted again (rolling_restart_restart_unconfirmed: true would)')


def _relaunch_action(vm, sets, inputs):
    """Return (action, why) for a VM a crashed run left in its restarting or failed set."""
    before = sets[RESTARTING]['data'].get(str(vm['id']))
    if vm['id'] in sets[FAILED]['ids'] and vm['id'] not in sets[RESTARTING]['ids']:
        return 'check', 'failed in the earlier run: checked again, never restarted again'
    if vm.get('power_state') != 'running':
        finish = inputs.get('method') == 'power_cycle' or inputs.get('start_stopped')
        return ('poweron', 'stopped while its restart was under way (a power cycle cut short): powered on to finish it') if finish else (
            'check', 'stopped since its restart was recorded; a rollout never starts a VM (rolling_restart_start_stopped)')
    if before is not None and vm.get('started') not in (None, 0) and int(vm.get('started')) != int(before):
        return 'confirmed', 'restarted before the relaunch (its started time changed): checked'
    if inputs.get('method') in ('power_cycle', 'reset') and before is not None:
        return 'restart', 'its %s had not happened before the relaunch (started unchanged): restarted now' % inputs.get('method')
    if inputs.get('restart_unconfirmed'):
        return 'restart', 'its guest reboot cannot be proven (started unchanged): restarted again, as rolling_restart_restart_unconfirmed asks'
    return 'unconfirmed', _UNCONFIRMED_WHY


def _other_record(vm_id, records, own):
    """Return the first other open record that holds the VM: in its own VMs or in any of its sets (a maintenance's covers...)."""
    for found in records or []:
        if not found.get('open') or found.get('name') == own:
            continue
        held = set(found.get('ids') or [])
        for name, members in (found.get('siblings') or {}).items():
            if name != 'closed':
                held.update(int(member) for member in (members or {}).get('ids') or [])
        if vm_id in held:
            return found
    return None


def _place(vm, tier, sets, records, *, own_name, inputs):
    """Return where one VM of the targets goes (done_before, relaunch, skipped or batch) and its plan entry."""
    vm_id = int(vm['id'])
    entry = dict(_vm(vm), tier=tier)
    other = _other_record(vm_id, records, own_name)
    state = vm.get('power_state')
    if vm_id in sets[DONE]['ids']:
        return 'done_before', dict(entry, action='done_before', why='restarted and healthy in an earlier run of this rollout')
    if vm_id in sets[RESTARTING]['ids'] or vm_id in sets[FAILED]['ids']:
        action, why = _relaunch_action(vm, sets, inputs)
        return 'relaunch', dict(entry, action=action, why=why)
    if other is not None:
        words = 'in the rollout %s, still open' if (other.get('kind') or 'maintenance') == KIND else 'under the open maintenance record %s'
        return 'skipped', dict(entry, action='skipped', why=(words + ': left alone') % other.get('name'))
    if state == 'running':
        return 'batch', entry
    if inputs.get('start_stopped') and state == 'stopped':
        return 'batch', dict(entry, why='stopped: started, as rolling_restart_start_stopped asks')
    hint = ' (rolling_restart_start_stopped: true starts a stopped one)' if state == 'stopped' else ''
    return 'skipped', dict(entry, action='skipped', why='%s, not running: a rollout never starts a VM%s' % (state, hint))


def rolling_plan(inputs, found, records=None, check_mode=False):
    """Return the rollout's plan: its batches in order (tier by tier), the VMs skipped and why, the budget, what a relaunch does.

    ``inputs``: the normalised variables; ``found``: the vergeos_vm_info result of each tier, in order; ``records``: every
    open maintenance record (vergeos_maintenance_record_info without a name). A VM named by two tiers goes with the first.
    """
    tier_list = inputs['tiers']
    if len(tier_list) != len(found or []):
        raise ValueError('%d tiers but %d answers' % (len(tier_list), len(found or [])))
    own_name = inputs.get('record') or ''
    own = next((item for item in records or [] if item.get('name') == own_name and item.get('open')), None) if own_name else None
    if own is not None and (own.get('kind') or 'maintenance') != KIND:
        raise PlanError('%s: rolling_restart_record %r names an open record of kind %s (a maintenance round trip), not a rollout: give '
                        'the rollout another name. Nothing was sent.' % (ROLE, own_name, own.get('kind') or 'maintenance'))
    resumed = own is not None and not inputs.get('new_run')
    sets = _sets(own if resumed else None)
    seen, skipped, done_before, relaunch, per_tier = set(), [], [], [], []
    for index, tier in enumerate(tier_list):
        answer = found[index] or {}
        matched = answer.get('vms') or []
        if tier.get('filters') and len(matched) > inputs.get('max_targets', 50):
            raise PlanError('%s: the filters of %s match %d VMs, more than rolling_restart_max_targets (%d); narrow them or raise it. '
                            'Nothing was sent.' % (ROLE, tier['name'], len(matched), inputs.get('max_targets', 50)))
        vms = []
        places = {'done_before': done_before, 'relaunch': relaunch, 'skipped': skipped, 'batch': vms}
        for vm in matched:
            if int(vm['id']) not in seen:
                seen.add(int(vm['id']))
                place, entry = _place(vm, tier['name'], sets, records, own_name=own_name, inputs=inputs)
                places[place].append(entry)
        per_tier.append((tier['name'], vms))
    _check_gate_addresses(inputs, [vm for _name, vms in per_tier for vm in vms] + relaunch)
    total = sum(len(vms) for _name, vms in per_tier) + len(relaunch) + len(done_before)
    budget_value = failure_budget(inputs.get('max_failed') or {'count': 1}, max(total, 1))
    batches = []
    if relaunch:
        batches.append({'tier': 'relaunch', 'vms': relaunch})
    for name, vms in per_tier:
        start = 0
        for size in batch_sizes(inputs.get('batch') or [{'count': 1}], len(vms)):
            batches.append({'tier': name, 'vms': vms[start:start + size]})
            start += size
    for number, entry in enumerate(batches, start=1):
        entry['index'] = number
    ids = sorted({vm['id'] for entry in batches for vm in entry['vms']} | {vm['id'] for vm in done_before})
    lines = ['rolling_restart plan: %d VM(s) to restart or check in %d batch(es), %d skipped%s; gate: %s; failure budget: %s' % (
        sum(len(entry['vms']) for entry in batches), len(batches), len(skipped),
        ('; relaunch of the open rollout %s (%d done before)' % (own_name, len(done_before))) if resumed else '',
        gate_words(inputs), _budget_text(inputs.get('max_failed') or {'count': 1}, budget_value))]
    lines += ['%d. %s: %s' % (entry['index'], entry['tier'], ', '.join(
        '%s%s' % (vm['name'], '' if vm['action'] == 'restart' else ' (%s)' % vm['action']) for vm in entry['vms'])) for entry in batches]
    lines += ['skipped %s (id %s): %s' % (vm['name'], vm['id'], vm['why']) for vm in skipped]
    return {'lines': lines, 'record': own_name, 'resumed': resumed, 'new_run': bool(own is not None and inputs.get('new_run')),
            'check_mode': bool(check_mode), 'batches': batches, 'skipped': skipped, 'done_before': done_before, 'ids': ids,
            'total': total, 'budget': budget_value, 'budget_text': _budget_text(inputs.get('max_failed') or {'count': 1}, budget_value),
            'tiers': [{'name': name, 'vms': len(vms)} for name, vms in per_tier],
            'failed_before': len(sets[FAILED]['ids']) if resumed else 0, 'gate': gate_words(inputs)}


def _check_gate_addresses(inputs, vms):
    """Refuse a port gate, or a URL gate with {address}, for a VM that shows no IP address: known before anything is sent."""
    needs = inputs.get('up') == 'port' or (inputs.get('up') == 'url' and '{address}' in (inputs.get('url') or ''))
    blind = ['%s (id %s)' % (vm['name'], vm['id']) for vm in vms if needs and vm['address'] is None]
    if blind:
        raise PlanError('%s: rolling_restart_up is %s, but %s show(s) no IP address on a NIC to check: give the VM an address, or '
                        'another gate. Nothing was sent.' % (ROLE, inputs.get('up'), ', '.join(blind)))


def gate_words(inputs):
    """Return the gate in words, for the plan and the summary."""
    up = inputs.get('up') or 'running'
    words = {'running': 'running', 'agent': 'guest agent answers', 'port': 'port %s answers' % inputs.get('port'),
             'url': 'GET %s answers %s' % (inputs.get('url'), '/'.join(str(code) for code in inputs.get('url_status') or [200]))}[up]
    if inputs.get('settle'):
        words = 'after %gs, %s' % (inputs['settle'], words)
    return '%s, within %gs' % (words, inputs.get('gate_timeout') or 300)


# ------------------------------------------------------------------------------------------------ one batch


def batch_start(batch_entry, read, inputs):
    """Return what the batch does now, from a fresh read of its VMs: restart, poweron, check (gate only), skipped; and the intent.

    A VM no longer running (stopped since the plan) is skipped: a rollout never starts a VM, unless
    rolling_restart_start_stopped. ``data``: {VM id: its started value now}, written to the record's restarting set before
    anything is sent, for the VMs that get a power action.
    """
    fresh = {int(vm['id']): vm for vm in (read or {}).get('vms') or []}
    groups = {'index': batch_entry.get('index'), 'tier': batch_entry.get('tier'), 'order': [vm['id'] for vm in batch_entry['vms']],
              'restart': [], 'poweron': [], 'check': [],
              'confirmed': [], 'unconfirmed': [], 'skipped': []}
    for vm in batch_entry['vms']:
        now = fresh.get(vm['id'])
        entry = dict(vm)
        if now is None:
            groups['skipped'].append(dict(entry, why='no longer found'))
            continue
        entry.update(started=now.get('started'), power_state=now.get('power_state'), address=_address(now) or vm.get('address'))
        if vm['action'] == 'restart' and now.get('power_state') != 'running':
            if not (inputs.get('start_stopped') and now.get('power_state') == 'stopped'):
                groups['skipped'].append(dict(entry, why='%s since the plan was made, not running: a rollout never starts a VM'
                                              % now.get('power_state')))
                continue
        groups[vm['action']].append(entry)
    acted = groups['restart'] + groups['poweron']
    groups['data'] = {str(vm['id']): int(vm.get('started') or 0) for vm in acted}
    groups['acted_ids'] = [vm['id'] for vm in acted]
    groups['gated'] = acted + groups['check'] + groups['confirmed'] + groups['unconfirmed']
    return groups


def gate_vms(start, power):
    """Return the VMs of the batch that go to the gate: those checked only, and those whose power action did not fail.

    ``power``: the vergeos_vm_power results of the batch's actions (a list: the restart, the power-on; a skipped one counts
    for nothing). A VM whose action failed stays as it is: never gated, never restarted again.
    """
    passed = set()
    for result in power or []:
        passed.update(int(vm['id']) for vm in (result or {}).get('vms') or [] if not vm.get('failed'))
    return [vm for vm in start['gated'] if vm['id'] in passed or vm['id'] not in start['acted_ids']]


def _gate_verdicts(start, inputs, power, gates, agent):
    """Return {VM id: (ok, msg, at)} of the gate of each VM that passed its power action (or needed none)."""
    verdicts = {}
    up = inputs.get('up') or 'running'
    if up in ('port', 'url'):
        for check in (gates or {}).get('checks') or []:
            verdicts[int(check['id'])] = (bool(check.get('ok')), check.get('msg') or '', check.get('at'))
    elif up == 'agent':
        for vm in (agent or {}).get('vms') or []:
            ok = vm.get('power_state') == 'running' and (bool(vm.get('agent_version')) or not vm.get('guest_agent'))
            verdicts[int(vm['id'])] = (ok, 'its guest agent answers' if ok else 'its guest agent did not answer within %gs (%s)' % (
                inputs.get('gate_timeout') or 300, vm.get('power_state')), (agent or {}).get('at'))
    else:
        states = {int(vm['id']): vm.get('power_state') for vm in (power or {}).get('vms') or []}
        for vm in start['gated']:
            state = states.get(vm['id'], vm.get('power_state'))
            verdicts[vm['id']] = (state == 'running', 'running' if state == 'running' else 'not running (%s)' % state, None)
    return verdicts


def batch_outcome(start, inputs, power=None, gates=None, agent=None, times=None):  # noqa: PLR0917 (Jinja passes them in order)
    """Return one batch's result: per VM restarted, unconfirmed, failed (why) or skipped, with its gate time; and the counts.

    ``power``: the vergeos_vm_power results of the batch's actions (a list: the restart, the power-on); ``gates``: the health
    gate script's answer (port, url); ``agent``: the last read of the agent gate; ``times``: {'started', 'ended'} unix times.
    """
    times = times or {}
    by_id = {}
    for result in power if isinstance(power, list) else [power]:
        for vm in (result or {}).get('vms') or []:
            by_id[int(vm['id'])] = vm
        by_id.setdefault('_msg', (result or {}).get('msg'))
    verdicts = _gate_verdicts(start, inputs, {'vms': [vm for key, vm in by_id.items() if key != '_msg']}, gates, agent)
    vms = []
    for vm in start['restart'] + start['poweron'] + start['check'] + start['confirmed'] + start['unconfirmed']:
        entry = {'id': vm['id'], 'name': vm['name'], 'tier': vm.get('tier'), 'batch': start.get('index'), 'healthy_at': None,
                 'confirmed': None, 'why': vm.get('why') or ''}
        acted = vm['id'] in start['acted_ids']
        answer = by_id.get(vm['id'])
        if acted and (answer is None or answer.get('failed')):
            reason = (answer or {}).get('msg') or by_id.get('_msg') or 'the power action did not run'
            entry.update(outcome='failed', msg='%s failed: %s' % ('power-on' if vm['action'] == 'poweron' else 'restart', reason))
            vms.append(entry)
            continue
        if acted:
            after = answer.get('started')
            entry['confirmed'] = bool(after) and vm.get('started') is not None and int(after) != int(vm.get('started') or 0)
        ok, msg, at = verdicts.get(vm['id'], (False, 'its gate gave no answer', None))
        if not ok:
            entry.update(outcome='failed', msg='unhealthy: %s' % msg)
        else:
            entry['healthy_at'] = at or times.get('ended')
            if vm['action'] == 'unconfirmed':
                entry.update(outcome='unconfirmed', msg='healthy: %s; %s' % (msg, vm.get('why')))
            elif vm['action'] in ('check', 'confirmed'):
                entry.update(outcome='restarted' if vm['action'] == 'confirmed' else 'healthy', msg='healthy: %s; %s' % (msg, vm.get('why')))
            else:
                entry.update(outcome='restarted', msg='healthy: %s' % msg)
        vms.append(entry)
    for vm in start['skipped']:
        vms.append({'id': vm['id'], 'name': vm['name'], 'tier': vm.get('tier'), 'batch': start.get('index'), 'outcome': 'skipped',
                    'msg': vm['why'], 'healthy_at': None, 'confirmed': None, 'why': vm['why']})
    order = start.get('order') or []
    vms.sort(key=lambda vm: order.index(vm['id']) if vm['id'] in order else len(order))
    failed = [vm for vm in vms if vm['outcome'] == 'failed']
    return {'index': start.get('index'), 'tier': start.get('tier'), 'vms': vms, 'failed': len(failed),
            'done_ids': [vm['id'] for vm in vms if vm['outcome'] in ('restarted', 'unconfirmed', 'healthy')],
            'failed_ids': [vm['id'] for vm in failed], 'started_at': times.get('started'), 'ended_at': times.get('ended'),
            'elapsed': round(float(times.get('ended') or 0) - float(times.get('started') or 0), 1) if times.get('started') else 0.0}


def not_reached(batch_entry, reason):
    """Return the result of a batch the rollout never reached (the failure budget stopped it)."""
    return {'index': batch_entry['index'], 'tier': batch_entry['tier'], 'failed': 0, 'done_ids': [], 'failed_ids': [],
            'started_at': None, 'ended_at': None, 'elapsed': 0.0,
            'vms': [{'id': vm['id'], 'name': vm['name'], 'tier': vm.get('tier'), 'batch': batch_entry['index'], 'outcome': 'not_reached',
                     'msg': reason, 'healthy_at': None, 'confirmed': None, 'why': reason} for vm in batch_entry['vms']]}


# ------------------------------------------------------------------------------------------------ the result


def _entry(vm, outcome, batch_index=None):
    return {'id': vm['id'], 'name': vm['name'], 'tier': vm.get('tier'), 'batch': batch_index, 'outcome': outcome,
            'msg': vm.get('why') or ('to %s' % vm.get('action')), 'healthy_at': None, 'confirmed': None, 'why': vm.get('why') or ''}


def _result_vms(plan, done):
    vms = []
    for entry in plan['batches']:
        if entry['index'] in done:
            vms.extend(done[entry['index']]['vms'])
        elif plan.get('check_mode'):
            vms.extend(_entry(vm, 'planned', entry['index']) for vm in entry['vms'])
    vms.extend(_entry(vm, 'skipped') for vm in plan['skipped'])
    vms.extend(_entry(vm, 'done_before') for vm in plan['done_before'])
    return vms


def _batch_lines(plan, done):
    lines = []
    for entry in plan['batches']:
        result = done.get(entry['index'])
        if plan.get('check_mode'):
            state = 'planned'
        elif result is None or all(vm['outcome'] == 'not_reached' for vm in result['vms']):
            state = 'not reached'
        else:
            state = '%d failed' % result['failed'] if result['failed'] else 'done'
        lines.append('%d. %s: %s: %s' % (entry['index'], entry['tier'], ', '.join(str(vm['name']) for vm in entry['vms']), state))
        lines.extend('   %s (id %s): %s: %s' % (vm['name'], vm['id'], vm['outcome'], vm['msg'])
                     for vm in (result or {}).get('vms') or [] if vm['outcome'] in ('failed', 'skipped', 'unconfirmed'))
    return lines


def rolling_result(plan, batches, stopped='', record_after=None, warnings=None):
    """Return rolling_restart_result: per batch and per VM, the lists an AWX workflow reads, and the summary lines."""
    check_mode = bool(plan.get('check_mode'))
    done = {entry['index']: entry for entry in batches or []}
    vms = _result_vms(plan, done)

    def named(*outcomes):
        return [vm['name'] for vm in vms if vm['outcome'] in outcomes]
    counts = {}
    for vm in vms:
        counts[vm['outcome']] = counts.get(vm['outcome'], 0) + 1
    head = ('rolling_restart (check mode, nothing sent): ' if check_mode else 'rolling_restart: ') + '%d VM(s) in %d batch(es): %s' % (
        len(vms), len(plan['batches']), ', '.join('%d %s' % (number, outcome.replace('_', ' ')) for outcome, number in sorted(counts.items()))
        or 'nothing to do')
    lines = [head, 'gate: %s; failure budget: %s' % (plan['gate'], plan['budget_text'])]
    if plan.get('resumed'):
        lines.append('relaunch of the open rollout %s: %d VM(s) done before, left alone' % (plan['record'], len(plan['done_before'])))
    if stopped:
        lines.append('STOPPED: %s; not reached: %s' % (stopped, ', '.join(named('not_reached')) or 'none'))
    lines.extend(_batch_lines(plan, done))
    lines.extend('skipped %s (id %s): %s' % (vm['name'], vm['id'], vm['why']) for vm in plan['skipped'])
    lines.extend('WARNING: %s' % line for line in warnings or [])
    if plan.get('record') and not check_mode:
        still = (record_after or {}).get('open')
        words = ('stays open (relaunch to go on: done VMs are left alone, failed ones checked again; or rolling_restart_new_run: true '
                 'to start over)') if still else 'closed'
        lines.append('rollout record %s: %s' % (plan['record'], words))
    return {'check_mode': check_mode, 'failed': bool(named('failed')), 'stopped': bool(stopped), 'stopped_why': stopped or '',
            'batches': [done.get(entry['index']) or {'index': entry['index'], 'tier': entry['tier'], 'vms': [],
                                                     'planned': [vm['name'] for vm in entry['vms']]} for entry in plan['batches']],
            'vms': vms, 'plan': plan, 'summary': lines, 'record': plan.get('record') or None,
            'restarted': named('restarted'), 'unconfirmed': named('unconfirmed'), 'healthy': named('healthy'),
            'failed_vms': named('failed'), 'skipped': named('skipped'), 'not_reached': named('not_reached'),
            'done_before': named('done_before'), 'budget': plan['budget']}
