# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The pre-flight check of a power-on: do the VMs to start fit on the nodes, by RAM (and cores, when asked)?

One read of the nodes and one of the running machines' status rows give, per node, its RAM
and cores and what the running VMs use. ``fit`` (pure) places the VMs to start, largest
RAM first, each on its preferred node when it fits there, else on the node of its cluster
with the most free RAM (so the estate spreads as VergeOS spreads it), leaving
``ram_reserve`` MB per node to the platform. Cores count only against ``core_ratio``
(VergeOS recommends CPU overcommit; without a ratio cores are not checked).

This is an estimate: VergeOS may hold RAM the API does not show, and places VMs by its
own rules. So by default a misfit is a warning (the starts still go; VergeOS's own 507 is
reported per VM), and only ``preflight: refuse`` stops the task before anything is sent.
"""

from __future__ import annotations

import math

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.query import condition, list_rows

PREFLIGHT_MODES = ('warn', 'refuse', 'off')
NODE_FIELDS = ('$key', 'name', 'running', 'maintenance', 'cores', 'ram', 'cluster#name as cluster_name')
# The RAM a node gives to VMs, its own reserve taken off (the vendor's PowerShell module reads it); used when the node shows it.
VM_RAM_FIELD = 'vm_ram'
RUNNING_FIELDS = ('$key', 'node', 'running', 'running_ram', 'running_cores')


def _number(value):
    """A count of MB or cores as VergeOS gives it (a number, or a numeric string); 0 for anything else."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else 0


def node_usage(nodes, statuses):
    """Return [{'key', 'name', 'cluster', 'ram', 'cores', 'ram_used', 'cores_used'}] for the nodes that can take a VM.

    ``ram`` is what the node gives to VMs (``vm_ram``, its reserve taken off) when it shows it, else its RAM.

    ``nodes``: rows of NODE_FIELDS; ``statuses``: machine_status rows of running machines
    (RUNNING_FIELDS). A node that is not running, or is in maintenance, takes no VM.
    """
    used = {}
    for row in statuses:
        if row.get('running') and row.get('node') is not None:
            ram, cores = used.get(row['node'], (0, 0))
            used[row['node']] = (ram + _number(row.get('running_ram')), cores + _number(row.get('running_cores')))
    usable = []
    for row in nodes:
        if row.get('running') is False or row.get('maintenance'):
            continue
        ram_used, cores_used = used.get(row.get('$key'), (0, 0))
        usable.append({'key': row.get('$key'), 'name': row.get('name'), 'cluster': row.get('cluster_name'),
                       'ram': _number(row.get(VM_RAM_FIELD)) or _number(row.get('ram')), 'cores': _number(row.get('cores')),
                       'ram_used': ram_used, 'cores_used': cores_used})
    return usable


def fit(nodes, vms, *, ram_reserve=0, core_ratio=None, preferred_node=None):
    """Place ``vms`` ([{'id', 'name', 'ram', 'cores', 'cluster'}]) on ``nodes`` (node_usage()); return the pre-flight result.

    Result: ``fits`` (every VM placed), ``placements`` ({VM id: node name}), ``misfits``
    ([{'id', 'name', 'ram', 'cores', 'short_by_mb', 'why'}]), ``nodes`` (each node's RAM,
    used, free before and after the placements) and the options used.
    """
    free = {node['key']: {'ram': node['ram'] - node['ram_used'] - ram_reserve,
                          'cores': (node['cores'] * core_ratio - node['cores_used']) if core_ratio else None} for node in nodes}
    placements, misfits = {}, []
    for vm in sorted(vms, key=lambda vm: (-_number(vm.get('ram')), str(vm.get('name')), vm.get('id') or 0)):
        ram, cores = _number(vm.get('ram')), _number(vm.get('cores'))
        candidates = [node for node in nodes if not vm.get('cluster') or not node['cluster'] or node['cluster'] == vm['cluster']]

        def room(node, ram=ram, cores=cores):
            left = free[node['key']]
            return left['ram'] >= ram and (left['cores'] is None or left['cores'] >= cores)
        preferred = [node for node in candidates if preferred_node is not None and preferred_node in (node['key'], node['name'])]
        others = sorted((node for node in candidates if node not in preferred), key=lambda node: -free[node['key']]['ram'])
        chosen = next((node for node in preferred + others if room(node)), None)
        if chosen is None:
            best = max((free[node['key']]['ram'] for node in candidates), default=0)
            why = ('no node of its cluster %s can take a VM' % vm.get('cluster')) if not candidates else (
                'needs %d MB of RAM%s; the most any node of its cluster has free is %d MB' % (
                    ram, (' and %d cores' % cores) if core_ratio else '', max(best, 0)))
            misfits.append({'id': vm.get('id'), 'name': vm.get('name'), 'ram': ram, 'cores': cores,
                            'short_by_mb': max(0, ram - max(best, 0)), 'why': why})
            continue
        free[chosen['key']]['ram'] -= ram
        if free[chosen['key']]['cores'] is not None:
            free[chosen['key']]['cores'] -= cores
        placements[vm.get('id')] = chosen['name']
    report = []
    for node in nodes:
        before = node['ram'] - node['ram_used'] - ram_reserve
        report.append({'name': node['name'], 'cluster': node['cluster'], 'ram': node['ram'], 'ram_used': node['ram_used'],
                       'ram_reserve': ram_reserve, 'ram_free': before, 'ram_free_after': free[node['key']]['ram'],
                       'cores': node['cores'], 'cores_used': node['cores_used']})
    return {'checked': True, 'fits': not misfits, 'placements': placements, 'misfits': misfits, 'nodes': report,
            'ram_reserve': ram_reserve, 'core_ratio': core_ratio}


def describe_misfits(result):
    """Return the warning (or refusal) text of a pre-flight with misfits."""
    lines = ['pre-flight: %d VM(s) may not fit on the nodes (an estimate from one read of the nodes and the running VMs):'
             % len(result['misfits'])]
    lines += ['%s (id %s): %s; short by %d MB' % (vm['name'], vm['id'], vm['why'], vm['short_by_mb']) for vm in result['misfits'][:20]]
    if len(result['misfits']) > 20:
        lines.append('... and %d more' % (len(result['misfits']) - 20))
    return '\n'.join(lines)


def read_capacity(client):
    """Return node_usage() from ONE read of the nodes and ONE of the running machines' status rows."""
    attempted = 'reading the nodes for the pre-flight check'
    try:
        nodes = list_rows(client, 'nodes', NODE_FIELDS + (VM_RAM_FIELD,), sort=None, page_size=0, attempted=attempted)
    except VergeOSError as exc:
        if exc.status not in (400, 422):
            raise
        # A system without the column: the whole RAM, less preflight_ram_reserve.
        nodes = list_rows(client, 'nodes', NODE_FIELDS, sort=None, page_size=0, attempted=attempted)
    statuses = list_rows(client, 'machine_status', RUNNING_FIELDS, filter_text=condition('running', 'eq', True), sort=None,
                         page_size=0, attempted='reading the running VMs for the pre-flight check')
    return node_usage(nodes, statuses)
