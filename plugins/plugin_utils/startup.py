# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The safe_startup role's decisions: the plan from the tiers, each tier's outcome, the summary.

The role reads each tier's VMs (vergeos_vm_info), then hands the answers here through the
internal filter ``vergeos.power.role_internal`` (steps ``safe_startup_plan``,
``safe_startup_tier``, ``safe_startup_result``); the tasks only run modules. Unit tests reach
every branch.

A failed tier with ``on_failure: stop`` stops only the NAMED tiers after it: the last tier,
the record's VMs that no tier names, always starts (``always`` in the plan), so a VM that never
comes back in an early tier does not leave the rest of the record down.
"""

from __future__ import annotations

REST_OF_RECORD = 'the rest of the maintenance record'


class PlanError(ValueError):
    """The plan cannot be made as given (the text says why; nothing was sent)."""


def host_tier(name, hosts, variable):
    """Return the tier ``name`` of the inventory-host form: the ids of the hosts whose ``variable`` is that tier."""
    return {'name': 'tier %s' % name,
            'targets': [int(host['vergeos_id']) for host in hosts if str(host.get(variable)) == str(name) and host.get('vergeos_id') is not None]}


def _address(vm):
    for nic in vm.get('addresses') or []:
        if nic.get('ip'):
            return nic['ip']
    return None


def startup_plan(tiers, found, record=None, max_targets=None, defaults=None):
    """Return the tiers with their VMs: [{tier settings..., 'vms': [{'id', 'name', 'power_state', 'address'}]}].

    ``tiers``: the normalised tiers (role_inputs); ``found``: the vergeos_vm_info result of each
    tier, in order. A VM named by two tiers starts with the first. With ``record`` (the
    maintenance record's result), only the record's VMs start, and those of the record no tier
    names start in a last tier of their own (nothing recorded is left down). Without a record, a
    tier given by filters may match at most ``max_targets`` VMs (PlanError); with one, the
    record bounds what starts and no blast-radius check refuses it. ``defaults`` (the role's ``up``,
    ``timeout``, ``delay``, ``max_concurrent``) shape that last tier; it starts whatever an earlier
    tier did (``always``). A tier whose ``up`` is ``port`` with a VM that shows no IP address is
    refused here (PlanError), before anything is sent.
    """
    recorded = None if record is None else list(record.get('ids') or []) if record.get('open') else []
    seen, plan = set(), []
    if len(tiers) != len(found):
        raise ValueError('%d tiers but %d answers' % (len(tiers), len(found)))
    for index, tier in enumerate(tiers):
        answer = found[index]
        matched = (answer or {}).get('vms') or []
        # With a record, the record bounds what may start: tiers by tags that span the estate never refuse a restore.
        if tier.get('filters') and max_targets is not None and recorded is None and len(matched) > max_targets:
            raise PlanError('safe_startup: the filters of %s match %d VMs, more than safe_startup_max_targets (%d); narrow them or raise '
                            'it. Nothing was sent.' % (tier['name'], len(matched), max_targets))
        vms = []
        for vm in (answer or {}).get('vms') or []:
            if vm['id'] in seen or (recorded is not None and vm['id'] not in recorded):
                continue
            seen.add(vm['id'])
            vms.append({'id': vm['id'], 'name': vm.get('name'), 'power_state': vm.get('power_state'), 'address': _address(vm)})
        if tier.get('up') == 'port' or (tier.get('up') == 'url' and '{address}' in (tier.get('url') or '')):
            _check_addresses(index, tier, vms)
        plan.append(dict(tier, vms=vms, always=False))
    if recorded:
        rest = [vm for vm in (record.get('vms') or []) if vm['id'] not in seen]
        if rest:
            last = {'timeout': 300, 'max_concurrent': 20, 'up': 'running'}
            last.update({key: value for key, value in (defaults or {}).items() if key in ('timeout', 'max_concurrent', 'up')})
            last.update(name=REST_OF_RECORD, targets=[vm['id'] for vm in rest], filters={}, port=None, url=None, status=None, delay=0,
                        on_failure='continue', up='running' if last['up'] in ('port', 'url') else last['up'], always=True)
            plan.append(dict(last, vms=[{'id': vm['id'], 'name': vm.get('name'), 'power_state': vm.get('power_state'), 'address': None}
                                        for vm in rest]))
    return plan


def _check_addresses(index, tier, vms):
    """Refuse a port check on a VM that shows no IP address: the plan knows it before anything is sent."""
    blind = ['%s (id %s)' % (vm['name'], vm['id']) for vm in vms if vm['address'] is None]
    if blind:
        raise PlanError('safe_startup: safe_startup_tiers tier %d (%s) has up = %s (the tier\'s up, or safe_startup_up), but %s '
                        'show(s) no IP address on a NIC to check %s on: give that tier up running or agent, or the VM an address. '
                        'Nothing was sent.' % (index + 1, tier['name'], tier.get('up'), ', '.join(blind),
                                               'port %s' % tier.get('port') if tier.get('up') == 'port' else tier.get('url')))


def vm_url(template, vm):
    """Return one VM's health URL: {name}, {address} and {id} of the template replaced by the VM's."""
    found = str(template)
    for field, value in (('{name}', vm.get('name')), ('{address}', vm.get('address')), ('{id}', vm.get('id'))):
        found = found.replace(field, '' if value is None else str(value))
    return found


def health_gates(vms, gate):
    """Return the input of the health gates (files/health_gates.py of safe_startup) for ``vms``: every VM checked side by side.

    ``gate``: {up (port or url), port, url (a template), status (the statuses that pass), timeout, interval, tls}; ``tls`` as
    ansible.builtin.uri takes it (validate_certs, ca_path, client_cert, client_key). Shared by safe_startup and rolling_restart.
    """
    if gate.get('up') == 'port':
        checks = [{'id': vm['id'], 'name': vm.get('name'), 'host': vm.get('address'), 'port': int(gate['port'])} for vm in vms]
    elif gate.get('up') == 'url':
        checks = [{'id': vm['id'], 'name': vm.get('name'), 'url': vm_url(gate['url'], vm), 'status': list(gate.get('status') or [200])}
                  for vm in vms]
    else:
        raise ValueError('health gates are for up port or url, not %r' % gate.get('up'))
    tls = gate.get('tls') or {}
    return {'checks': checks, 'timeout': float(gate.get('timeout') or 300), 'interval': float(gate.get('interval') or 1),
            'attempt_timeout': min(5.0, float(gate.get('timeout') or 300)),
            'tls': {'validate_certs': tls.get('validate_certs', True) is not False, 'ca_path': tls.get('ca_path') or '',
                    'client_cert': tls.get('client_cert') or '', 'client_key': tls.get('client_key') or ''}}


def tier_outcome(tier, power, ports, started, up_at):
    """Return one tier's result: its VMs, each ``started``, ``already_running`` or ``failed`` (why), and the tier's verdict.

    ``power``: the tier's vergeos_vm_power result; ``ports``: the health gates' answer (files/health_gates.py: ``checks``,
    one per VM, by its ``id``) for up port or url, or None; ``started``/``up_at``: unix times.
    """
    by_id = {vm.get('id'): vm for vm in (power or {}).get('vms') or []}
    port_by_id = {int(check['id']): check for check in (ports or {}).get('checks') or []}
    vms = []
    for vm in tier['vms']:
        entry = by_id.get(vm['id'])
        check = port_by_id.get(vm['id'])
        if entry is None:
            outcome, msg = 'failed', 'not started: %s' % ((power or {}).get('msg') or 'the power task did not run')
        elif entry.get('failed'):
            outcome, msg = 'failed', entry.get('msg')
        elif tier['up'] == 'port' and vm['address'] is None:
            outcome, msg = 'failed', 'running, but it shows no IP address to check port %s on' % tier['port']
        elif tier['up'] == 'port' and (check is None or not check.get('ok')):
            outcome = 'failed'
            msg = 'running, but port %s on %s did not answer by the deadline%s' % (
                tier['port'], vm['address'], (': ' + str(check.get('msg'))) if check and check.get('msg') else '')
        elif tier['up'] == 'url' and (check is None or not check.get('ok')):
            outcome = 'failed'
            msg = 'running, but its health URL did not answer as expected by the deadline: %s' % (
                (check or {}).get('msg') or 'the check did not run')
        else:
            outcome = 'already_running' if not entry.get('actions') else 'started'
            msg = entry.get('msg')
        vms.append({'id': vm['id'], 'name': vm['name'], 'tier': tier['name'], 'outcome': outcome, 'msg': msg})
    failed = [vm for vm in vms if vm['outcome'] == 'failed']
    return {'name': tier['name'], 'up': tier['up'], 'skipped': False, 'failed': bool(failed), 'vms': vms,
            'started_at': started, 'up_at': None if failed else up_at, 'elapsed': round(float(up_at) - float(started), 1)}


def skipped_tier(tier, reason):
    """Return the result of a tier the rollout never reached."""
    return {'name': tier['name'], 'up': tier['up'], 'skipped': True, 'failed': False, 'started_at': None, 'up_at': None, 'elapsed': 0.0,
            'why': reason, 'vms': [{'id': vm['id'], 'name': vm['name'], 'tier': tier['name'], 'outcome': 'skipped', 'msg': reason} for vm in tier['vms']]}


def _preflight_words(preflight):
    """Return the head line's words on the pre-flight, or None when it says nothing worth a line (off, nothing to start)."""
    if not preflight:
        return None
    if preflight.get('checked'):
        return 'pre-flight: %s' % ('fits' if preflight.get('fits') else '%d VM(s) may not fit' % len(preflight.get('misfits') or []))
    reason = str(preflight.get('reason') or '')
    return reason if reason.startswith('pre-flight') else None


def startup_result(plan, tiers, preflight, check_mode, record=None, warnings=None):  # noqa: PLR0917 (Jinja passes them in order)
    """Return safe_startup_result: the tiers' results, every VM, the counts, the warnings and the summary lines.

    ``warnings``: what the pre-flight task warned about (a pre-flight that could not read what it needs says
    ``pre-flight skipped: ...``); kept in ``warnings`` and said in the summary.
    """
    vms = [vm for tier in tiers for vm in tier['vms']]
    warnings = [str(text) for text in warnings or []]
    counts = {}
    for vm in vms:
        counts[vm['outcome']] = counts.get(vm['outcome'], 0) + 1
    head = ('safe_startup (check mode, nothing sent): ' if check_mode else 'safe_startup: ') + '%d VM(s) in %d tier(s): %s' % (
        sum(len(tier['vms']) for tier in plan), len(plan), ', '.join('%d %s' % (count, outcome) for outcome, count in sorted(counts.items()))
        or ('the plan below' if check_mode else 'nothing to do'))
    words = _preflight_words(preflight)
    if words:
        head += '; ' + words
    lines = [head]
    skipped_tiers = []
    for index, tier in enumerate(plan):
        done = tiers[index] if index < len(tiers) else None
        state = 'planned' if check_mode else ('skipped' if done is None or done['skipped'] else ('failed' if done['failed'] else 'up'))
        if state == 'skipped':
            why = (done or {}).get('why') or 'the rollout never reached it'
            skipped_tiers.append({'name': tier['name'], 'why': why})
        lines.append('%d. %s (%d VM(s), up = %s%s%s): %s' % (
            index + 1, tier['name'], len(tier['vms']), tier['up'],
            (' %s' % tier['port']) if tier['up'] == 'port' else ((' %s' % tier.get('url')) if tier['up'] == 'url' else ''),
            (', then %gs' % tier['delay']) if tier.get('delay') else '', state))
        for vm in (done or {}).get('vms') or []:
            if vm['outcome'] in ('failed', 'skipped'):
                lines.append('   %s (id %s): %s: %s' % (vm['name'], vm['id'], vm['outcome'], vm['msg']))
    if any(tier.get('always') for tier in plan) and skipped_tiers:
        lines.append('%s started all the same: a failed tier stops only the named tiers after it' % REST_OF_RECORD)
    for text in warnings:
        if words is None or text not in head:
            lines.append('WARNING: %s' % text)
    if record:
        lines.append('maintenance record %s: %s' % (record.get('name'), 'closed' if not record.get('open') else 'stays open with %d VM(s): %s' % (
            len(record.get('ids') or []), ', '.join(str(vm.get('name')) for vm in record.get('vms') or []) or 'none that exists')))
    return {'check_mode': check_mode, 'failed': any(tier['failed'] for tier in tiers), 'tiers': tiers, 'vms': vms, 'plan': plan,
            'preflight': preflight, 'record': record, 'summary': lines, 'warnings': warnings, 'skipped_tiers': skipped_tiers,
            'started': [vm['name'] for vm in vms if vm['outcome'] == 'started'],
            'failed_vms': [vm['name'] for vm in vms if vm['outcome'] == 'failed'],
            'skipped': [vm['name'] for vm in vms if vm['outcome'] == 'skipped']}
