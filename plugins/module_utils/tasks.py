# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The work of each module as a function of plain parameters.

A module (through AnsibleModule) and its action plugin (on the controller, for
inventory hosts) both call ``run_info`` / ``run_power`` with the validated
parameters and get the whole result dict back: ``failed`` says whether the task
failed, ``msg`` why. Nothing here knows about Ansible's module or plugin
machinery, so both callers behave the same.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vergeos.power.plugins.module_utils.argspec import (
    SELECTION_MUTUALLY_EXCLUSIVE, client_from_params, connection_argument_spec, controller_argument_spec, lease_fallback, lease_from_env, require_requests,
    selection_argument_spec, selection_from_params,
)
from ansible_collections.vergeos.power.plugins.module_utils.details import read_vm_addresses, read_vm_tags
from ansible_collections.vergeos.power.plugins.module_utils.capacity import PREFLIGHT_MODES
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.lease import DEFAULT_LIFE, Keeper, check_held, new_holder, release_lease, take_lease
from ansible_collections.vergeos.power.plugins.module_utils.maintenance import (
    DEFAULT_RECORD, KINDS, MAX_NOTE, PHASES, check_record_name, close_record, close_set, open_record, open_set, read_record, read_records,
    record_result,
)
from ansible_collections.vergeos.power.plugins.module_utils.plan import RESTART_METHODS, WANTED_STATES
from ansible_collections.vergeos.power.plugins.module_utils.pacing import Pacer
from ansible_collections.vergeos.power.plugins.module_utils.policy import (
    DEFAULT_MAX_TARGETS, DEFAULT_POLL_INTERVAL, DEFAULT_PROGRESS_INTERVAL, DEFAULT_WAIT_TIMEOUT, ON_TIMEOUT, PowerOptions,
)
from ansible_collections.vergeos.power.plugins.module_utils.power import power_vms
from ansible_collections.vergeos.power.plugins.module_utils.results import vm_result, with_top_level
from ansible_collections.vergeos.power.plugins.module_utils.pursuit import DEFAULT_RETRY_TIMEOUT, DEFAULT_VISIBLE_GRACE, Persistence
from ansible_collections.vergeos.power.plugins.module_utils.snapshots import run_snapshots
from ansible_collections.vergeos.power.plugins.module_utils.vms import has_selection, is_single, select_vms, vms_by_filters

MUTUALLY_EXCLUSIVE = SELECTION_MUTUALLY_EXCLUSIVE


def info_argument_spec():
    """Return vergeos_vm_info's argument spec: connection + selection + what to add to each VM."""
    spec = connection_argument_spec()
    spec.update(selection_argument_spec())
    spec.update(controller_argument_spec())
    spec.update(
        include_tags={'type': 'bool', 'default': False},
        include_addresses={'type': 'bool', 'default': False},
    )
    return spec


def power_argument_spec():
    """Return vergeos_vm_power's argument spec: connection + selection + the power options."""
    spec = connection_argument_spec()
    spec.update(selection_argument_spec())
    spec.update(controller_argument_spec())
    spec.update(
        state={'type': 'str', 'required': True, 'choices': list(WANTED_STATES)},
        force={'type': 'bool', 'default': False},
        on_timeout={'type': 'str', 'default': 'fail', 'choices': list(ON_TIMEOUT)},
        wait={'type': 'bool', 'default': True},
        wait_timeout={'type': 'int', 'default': DEFAULT_WAIT_TIMEOUT},
        wait_timeouts={'type': 'dict'},
        poll_interval={'type': 'float', 'default': DEFAULT_POLL_INTERVAL},
        max_targets={'type': 'int', 'default': DEFAULT_MAX_TARGETS},
        kill_timeout={'type': 'int'},
        snapshot_before_kill={'type': 'dict', 'options': {
            'name': {'type': 'str', 'required': True},
            'expires': {'type': 'int', 'default': 86400},
            'description': {'type': 'str', 'default': 'Taken by vergeos.power before a kill: the guest ignored ACPI past its deadline.'},
            'retry_timeout': {'type': 'int', 'default': 60},
        }},
        max_concurrent_actions={'type': 'int'},
        max_requests_per_second={'type': 'float'},
        progress_interval={'type': 'float', 'default': DEFAULT_PROGRESS_INTERVAL},
        unsafe_mark_stopped={'type': 'bool', 'default': False},
        preferred_node={'type': 'str'},
        wait_for_agent={'type': 'bool', 'default': False},
        restart_method={'type': 'str', 'default': 'guest', 'choices': list(RESTART_METHODS)},
        preflight={'type': 'str', 'default': 'warn', 'choices': list(PREFLIGHT_MODES)},
        preflight_ram_reserve={'type': 'int', 'default': 0},
        preflight_core_ratio={'type': 'float'},
        lease={'type': 'dict', 'fallback': (lease_fallback, []), 'options': {
            'record': {'type': 'str', 'required': True},
            'holder': {'type': 'str', 'required': True, 'no_log': False},
            'life': {'type': 'int', 'default': DEFAULT_LIFE},
        }},
    )
    return spec


def snapshot_argument_spec():
    """Return vergeos_vm_snapshot's argument spec: connection + selection + the snapshot options."""
    spec = connection_argument_spec()
    spec.update(selection_argument_spec())
    spec.update(controller_argument_spec())
    spec.update(
        state={'type': 'str', 'default': 'present', 'choices': ['present', 'absent']},
        snapshot_name={'type': 'str', 'required': True, 'aliases': ['snapshot']},
        expires={'type': 'int', 'default': 259200},
        quiesce={'type': 'bool', 'default': False},
        description={'type': 'str', 'default': ''},
        max_targets={'type': 'int', 'default': DEFAULT_MAX_TARGETS},
        retry_timeout={'type': 'int', 'default': DEFAULT_RETRY_TIMEOUT},
        visible_grace={'type': 'float', 'default': DEFAULT_VISIBLE_GRACE},
    )
    return spec


def record_argument_spec():
    """Return vergeos_maintenance_record's argument spec: connection + the record options."""
    spec = connection_argument_spec()
    spec.update(
        name={'type': 'str', 'default': DEFAULT_RECORD, 'aliases': ['record']},
        state={'type': 'str', 'choices': ['open', 'closed']},
        ids={'type': 'list', 'elements': 'int'},
        note={'type': 'str', 'default': ''},
        phase={'type': 'str', 'choices': list(PHASES)},
        owner={'type': 'str', 'default': ''},
        policy={'type': 'dict'},
        kind={'type': 'str', 'choices': list(KINDS)},
        sibling={'type': 'str'},
        data={'type': 'dict'},
        lease={'type': 'str', 'choices': ['take', 'release']},
        holder={'type': 'str', 'no_log': False, 'fallback': (lease_fallback, ['holder'])},
        lease_life={'type': 'int', 'default': DEFAULT_LIFE},
        takeover={'type': 'str', 'default': ''},
        lease_wait={'type': 'bool', 'default': True},
    )
    return spec


def record_info_argument_spec():
    """Return vergeos_maintenance_record_info's argument spec: connection + which records."""
    spec = connection_argument_spec()
    spec.update(name={'type': 'str', 'aliases': ['record']})
    return spec


def failure(exc, **extra):
    """Return the result of a task that failed before any VM was touched."""
    result = {'failed': True, 'changed': False, 'msg': str(exc), 'vms': []}
    result.update(exc.to_dict())
    result.update(extra)
    return result


def read_vm_results(client, params):
    """Return the list of VM result dicts vergeos_vm_info's parameters ask for (no selection: every VM)."""
    selection = selection_from_params(params)
    rows = select_vms(client, **selection) if has_selection(selection) else vms_by_filters(client, {})
    want_tags, want_addresses = params.get('include_tags'), params.get('include_addresses')
    tags = read_vm_tags(client, [row['$key'] for row in rows]) if want_tags and rows else {}
    addresses = read_vm_addresses(client, [row.get('machine') for row in rows]) if want_addresses and rows else {}
    results = []
    for row in rows:
        result = vm_result(row)
        if want_tags:
            vm_tags = tags.get(row['$key'], [])
            result['tags'] = [tag['name'] for tag in vm_tags]
            categories = {}
            for tag in vm_tags:
                categories.setdefault(tag['category'], []).append(tag['name'])
            result['tag_categories'] = categories
        if want_addresses:
            result['addresses'] = addresses.get(row.get('machine'), [])
        results.append(result)
    return results


def run_guarded(params, act, diff, **client_options):
    """Return act(client) for a client built from params; a VergeOSError becomes a failed result; diff only when asked."""
    try:
        with client_from_params(params, **client_options) as client:
            result = act(client)
    except VergeOSError as exc:
        return failure(exc)
    if not diff:
        result.pop('diff', None)
    return result


def run_info(params, check_mode=False, diff=False):  # pylint: disable=unused-argument
    """Do what vergeos_vm_info does with these (validated) parameters; return the result dict.

    It only reads, so check mode and diff mode change nothing (the arguments keep the
    signature of ``run_power``).
    """
    def act(client):
        vms = read_vm_results(client, params)
        return with_top_level({'failed': False, 'changed': False, 'vms': vms}, vms, is_single(selection_from_params(params)))
    return run_guarded(params, act, diff)


def power_options(params):
    """Return the PowerOptions of vergeos_vm_power's (validated) parameters; VergeOSError for values out of range."""
    if params['max_targets'] < 1:
        raise VergeOSError('max_targets must be 1 or more, not %s' % params['max_targets'])
    return PowerOptions(
        state=params['state'], force=params['force'], on_timeout=params['on_timeout'], wait=params['wait'],
        wait_timeout=params['wait_timeout'], poll_interval=params['poll_interval'],
        max_concurrent_actions=params['max_concurrent_actions'], unsafe_mark_stopped=params['unsafe_mark_stopped'],
        preferred_node=params['preferred_node'], wait_for_agent=params['wait_for_agent'],
        max_requests_per_second=params['max_requests_per_second'], progress_interval=params['progress_interval'],
        kill_timeout=params['kill_timeout'], snapshot_before_kill=params['snapshot_before_kill'], restart_method=params['restart_method'],
        preflight=params['preflight'], preflight_ram_reserve=params['preflight_ram_reserve'], preflight_core_ratio=params['preflight_core_ratio'])


def run_power(params, check_mode=False, diff=False, progress=None):
    """Do what vergeos_vm_power does with these (validated) parameters; return the result dict.

    ``diff`` is returned only when asked for; a task where any VM failed has ``failed`` true
    and still carries every VM's result. ``progress`` (the action plugin's) is called once per
    poll round while the task waits (``power.progress_report``).
    """
    try:
        options = power_options(params)
    except VergeOSError as exc:
        return failure(exc)

    def act(client):
        lease = params.get('lease')
        keeper = Keeper(client, lease['record'], lease['holder'], lease['life']) if lease and not check_mode else None
        return power_vms(client, options, selection=selection_from_params(params), max_targets=params['max_targets'],
                         wait_timeouts=params['wait_timeouts'], check_mode=check_mode, progress=progress, keeper=keeper)
    return run_guarded(params, act, diff, pacer=Pacer(max_rate=options.max_requests_per_second))


def check_snapshot_params(params):
    """Raise VergeOSError for values the argument spec cannot check."""
    if not params['snapshot_name'].strip():
        raise VergeOSError('snapshot_name must not be empty')
    if params['expires'] < 0:
        raise VergeOSError('expires is seconds from now, 0 (never) or more, not %s' % params['expires'])
    if params['max_targets'] < 1:
        raise VergeOSError('max_targets must be 1 or more, not %s' % params['max_targets'])
    if params['retry_timeout'] < 0:
        raise VergeOSError('retry_timeout must be zero (send once) or more, not %s' % params['retry_timeout'])
    if not 0 <= params['visible_grace'] < float('inf'):
        raise VergeOSError('visible_grace must be zero or more seconds, not %s' % params['visible_grace'])


def run_snapshot(params, check_mode=False, diff=False, persistence=None):
    """Do what vergeos_vm_snapshot does with these (validated) parameters; return the result dict.

    ``persistence`` (how writes are pursued through faults) is for tests; by default it is
    built from ``retry_timeout`` and ``visible_grace`` with the real clock, sleep and dice.
    """
    def act(client):
        check_snapshot_params(params)
        pursued = persistence or Persistence(retry_timeout=params['retry_timeout'], visible_grace=params['visible_grace'])
        return run_snapshots(
            client, params['state'], params['snapshot_name'], selection=selection_from_params(params),
            expires_in=params['expires'], quiesce=params['quiesce'], description=params['description'],
            max_targets=params['max_targets'], check_mode=check_mode, persistence=pursued)
    return run_guarded(params, act, diff)


def run_record(params, check_mode=False, diff=False):
    """Do what vergeos_maintenance_record does with these (validated) parameters; return the result dict."""
    def act(client):
        name = check_record_name(params['name'])
        if params['lease'] is not None:
            return _run_lease(client, name, params, check_mode)
        if params['state'] is None:
            raise VergeOSError('state is required (open or closed), unless lease is given')
        env_lease = lease_from_env()
        # The job's lease (from the environment) guards its own record; a write to another record (a restore releasing the VMs
        # another record parked for it) is not that lease's business.
        if params['holder'] and not (env_lease and env_lease['holder'] == params['holder'] and env_lease['record'] != name):
            check_held(client, name, params['holder'])
        if params['sibling'] is not None:
            return _run_sibling(client, name, params, check_mode, diff)
        if params['data'] is not None:
            raise VergeOSError('data goes with sibling (it is the data of one of the record\'s sets)')
        if params['state'] == 'open':
            if params['ids'] is None:
                raise VergeOSError('state=open needs ids: the VMs to power on again after the maintenance (an empty list opens an '
                                   'empty record, or keeps an open one as it is)')
            if len(params['note']) > MAX_NOTE:
                raise VergeOSError('note must be at most %d characters, not %d' % (MAX_NOTE, len(params['note'])))
            if len(params['owner']) > MAX_NOTE:
                raise VergeOSError('owner must be at most %d characters, not %d' % (MAX_NOTE, len(params['owner'])))
            return record_result(*open_record(client, name, params['ids'], note=params['note'], phase=params['phase'], owner=params['owner'],
                                              policy=params['policy'], kind=params['kind'], check_mode=check_mode), diff=diff)
        if params['phase'] is not None or params['policy'] is not None or params['owner'] or params['kind'] is not None:
            raise VergeOSError('phase, owner, policy and kind go with state=open (they describe an open record)')
        return record_result(*close_record(client, name, params['ids'], check_mode=check_mode), diff=diff)
    return run_guarded(params, act, diff)


def _run_lease(client, name, params, check_mode):
    """vergeos_maintenance_record with lease: take or release the record's lease (one job writes a record)."""
    if params['state'] is not None or params['sibling'] is not None or params['ids'] is not None or params['phase'] is not None:
        raise VergeOSError('lease goes alone (with holder, owner, lease_life and takeover): state, ids, sibling and phase are other tasks')
    if params['lease'] == 'release':
        if not params['holder']:
            raise VergeOSError('lease=release needs holder (the one lease=take returned)')
        changed = bool(check_mode) or release_lease(client, name, params['holder'])
        return {'failed': False, 'changed': changed, 'lease': None}
    holder = params['holder'] or new_holder(params['owner'])
    if check_mode:
        return {'failed': False, 'changed': True, 'lease': {'holder': holder, 'owner': params['owner'], 'life': params['lease_life'],
                                                            'beat': None, 'age': 0}}
    changed, lease = take_lease(client, name, holder, params['owner'], life=params['lease_life'], takeover=params['takeover'],
                                wait=params['lease_wait'])
    return {'failed': False, 'changed': changed, 'lease': lease}


def _run_sibling(client, name, params, check_mode, diff):
    """vergeos_maintenance_record with sibling: add to or remove from one of the record's sets."""
    if params['phase'] is not None or params['policy'] is not None or params['owner'] or params['kind'] is not None or params['note']:
        raise VergeOSError('phase, owner, policy, kind and note describe the record itself, not its set %s: give them without sibling'
                           % params['sibling'])
    if params['state'] == 'open':
        if params['ids'] is None and params['data'] is None:
            raise VergeOSError('state=open with sibling needs ids (the VMs to add to the set %s), data, or both' % params['sibling'])
        return record_result(*open_set(client, name, params['sibling'], params['ids'] or [], params['data'], check_mode=check_mode), diff=diff)
    if params['data'] is not None:
        raise VergeOSError('data goes with state=open (state=closed removes the VMs of ids, and their keys of the data, from the set)')
    return record_result(*close_set(client, name, params['sibling'], params['ids'], check_mode=check_mode), diff=diff)


def run_record_info(params, check_mode=False, diff=False):  # pylint: disable=unused-argument
    """Do what vergeos_maintenance_record_info does: read one record, or every open one; return the result dict."""
    def act(client):
        if params['name'] is None:
            return {'failed': False, 'changed': False, 'records': read_records(client)}
        record = read_record(client, check_record_name(params['name']))
        return {'failed': False, 'changed': False, 'records': [record] if record['open'] else [], 'record': record}
    return run_guarded(params, act, diff)


def run_module(argument_spec, work, mutually_exclusive=None):
    """The main() of every module of the collection: validate, do ``work`` (run_info, run_power...), exit or fail."""
    module = AnsibleModule(argument_spec=argument_spec(), mutually_exclusive=list(MUTUALLY_EXCLUSIVE if mutually_exclusive is None else mutually_exclusive),
                           supports_check_mode=True)
    require_requests(module)
    result = work(module.params, check_mode=module.check_mode, diff=module._diff)
    if result.pop('failed'):
        module.fail_json(**result)
    module.exit_json(**result)
