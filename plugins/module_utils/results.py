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


def describe_vm(vm):
    """Return ``VM <name> (id <key>)`` for a VM row or a VM result, for messages."""
    key = vm.get('id', vm.get('$key'))
    return 'VM %s (id %s)' % (vm.get('name'), key)
