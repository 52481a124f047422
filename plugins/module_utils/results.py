# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The documented VM dict every module and the inventory return, built from one API row."""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.module_utils.power_state import power_state_of

# Result key -> column of a VM row read with vms.VM_FIELDS (traversal fields renamed by 'as').
_COPIED = (
    ('id', '$key'),
    ('name', 'name'),
    ('machine', 'machine'),
    ('status', 'status'),
    ('running', 'running'),
    ('node', 'node_name'),
    ('cluster', 'cluster_name'),
    ('description', 'description'),
    ('enabled', 'enabled'),
    ('os_family', 'os_family'),
    ('cpu_cores', 'cpu_cores'),
    ('ram', 'ram'),
    ('guest_agent', 'guest_agent'),
    ('uefi', 'uefi'),
    ('machine_type', 'machine_type'),
    ('uuid', 'uuid'),
    ('created', 'created'),
    ('modified', 'modified'),
    ('started', 'started'),
    ('state', 'state'),
    ('status_info', 'status_info'),
    ('agent_version', 'agent_version'),
)

# The keys of vm_result(), in order: modules document these under RETURN.
VM_RESULT_KEYS = ('id', 'name', 'machine', 'power_state') + tuple(key for key, _column in _COPIED[3:])


def vm_result(row):
    """Return the documented VM dict for a VM row (missing columns become None).

    ``power_state`` is the normalised state of the raw ``status``; a VM without a
    machine status row has ``power_state`` ``unknown`` and ``status`` None.
    """
    result = {key: row.get(column) for key, column in _COPIED}
    result['power_state'] = power_state_of(row.get('status'))
    if result['running'] is not None:
        result['running'] = bool(result['running'])
    return {key: result[key] for key in VM_RESULT_KEYS}


# Result keys Ansible itself gives a meaning to: a VM's value must not stand there. ``started``
# and ``finished`` are how async_status tells a running job from a finished one.
RESERVED_TOP_LEVEL = frozenset(('changed', 'failed', 'msg', 'skipped', 'started', 'finished', 'invocation', 'ansible_job_id',
                                'results_file', 'stdout', 'stderr', 'warnings', 'deprecations', 'diff'))


def with_top_level(result, entries, single):
    """Copy the keys of the only VM to the top level of a module result when exactly one VM was named.

    The keys Ansible reserves (``RESERVED_TOP_LEVEL``) stay the result's own; the VM's
    values of those are in ``vms[0]``. Returns ``result``.
    """
    if single and len(entries) == 1:
        for key, value in entries[0].items():
            if key not in RESERVED_TOP_LEVEL:
                result.setdefault(key, value)
    return result


def describe_vm(vm):
    """Return ``VM <name> (id <key>)`` for a VM row or a VM result, for messages."""
    key = vm.get('id', vm.get('$key'))
    return 'VM %s (id %s)' % (vm.get('name'), key)
