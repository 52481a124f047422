# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Bulk readers of VM details: the tags and the NIC addresses of a set of VMs, ONE request each.

The modules and the inventory plugin call these only when the user asked for tags
or addresses. The pure functions (``tags_by_vm``, ``addresses_by_machine``) turn
rows into per-VM values and are what the unit tests cover.
"""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.query import condition, rows_of

TAG_MEMBER_PREFIX = 'vms/'
TAG_FIELDS = 'tag,member,tag#name as tag_name,tag#category#name as category_name'
NIC_FIELDS = 'machine,name,macaddress,ipaddress'


def member_vm_id(member):
    """Return the VM id of a tag_members ``member`` like ``vms/42``; None for anything else."""
    if not isinstance(member, str) or not member.startswith(TAG_MEMBER_PREFIX):
        return None
    suffix = member[len(TAG_MEMBER_PREFIX):]
    return int(suffix) if suffix.isdigit() else None


def tags_by_vm(rows, vm_ids=None):
    """Return {VM id: [{'name', 'category'}, ...]} from tag_members rows, sorted by name, each tag once.

    ``vm_ids``: keep only these VMs (every one of them gets a list, maybe empty); None keeps all.
    """
    wanted = None if vm_ids is None else set(vm_ids)
    found = {} if wanted is None else {key: {} for key in wanted}
    for row in rows:
        key = member_vm_id(row.get('member'))
        name = row.get('tag_name')
        if key is None or not name or (wanted is not None and key not in wanted):
            continue
        found.setdefault(key, {})[name] = {'name': name, 'category': row.get('category_name')}
    return {key: [tags[name] for name in sorted(tags)] for key, tags in found.items()}


def addresses_by_machine(rows, machines=None):
    """Return {machine key: [{'nic', 'mac', 'ip'}, ...]} from machine_nics rows, in NIC name order.

    ``machines``: keep only these machines (every one of them gets a list, maybe empty); None keeps all.
    An empty IP address becomes None.
    """
    wanted = None if machines is None else set(machines)
    found = {} if wanted is None else {key: [] for key in wanted}
    for row in rows:
        machine = row.get('machine')
        if machine is None or (wanted is not None and machine not in wanted):
            continue
        found.setdefault(machine, []).append({'nic': row.get('name'), 'mac': row.get('macaddress'), 'ip': row.get('ipaddress') or None})
    return {key: sorted(nics, key=lambda nic: (str(nic['nic']), str(nic['mac']))) for key, nics in found.items()}


def read_vm_tags(client, vm_ids=None):
    """Return tags_by_vm() for these VM ids (None: every VM): ONE tag_members request.

    The request keeps to the VMs' memberships with ``member bw 'vms/'``. Whether VergeOS
    accepts ``bw`` on ``member`` is not settled (only ``member eq 'vms/N'`` is seen in
    use): refused (400 or 422), the memberships are read without a filter instead, still
    one request, and the other members are left out here.
    """
    attempted = 'reading VM tags'
    try:
        answer = client.get('tag_members', {'filter': condition('member', 'bw', TAG_MEMBER_PREFIX), 'fields': TAG_FIELDS},
                            attempted=attempted)
    except VergeOSError as exc:
        if exc.status not in (400, 422):
            raise
        answer = client.get('tag_members', {'fields': TAG_FIELDS}, attempted=attempted)
    return tags_by_vm(rows_of(answer, attempted), vm_ids)


def read_vm_addresses(client, machines=None):
    """Return addresses_by_machine() for these machine keys (None: every machine): ONE machine_nics request."""
    attempted = 'reading VM NIC addresses'
    rows = rows_of(client.get('machine_nics', {'fields': NIC_FIELDS}, attempted=attempted), attempted)
    return addresses_by_machine(rows, machines)
