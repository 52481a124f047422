# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Writes that change a VM's power: POST vm_actions (sent once, never re-sent) and the last-resort status reset."""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.query import condition, rows_of
from ansible_collections.vergeos.power.plugins.module_utils.results import describe_vm

ACTION_WORDS = {'poweron': 'powering on', 'poweroff': 'powering off', 'kill': 'killing', 'reset': 'resetting',
                'guestreset': 'rebooting the guest of', 'guestreboot': 'rebooting the guest of'}
STATUS_FIELDS = ('$key', 'machine', 'running', 'status', 'state', 'node', 'running_cores', 'running_ram', 'migratable')
MARK_STOPPED = {'running': False, 'migratable': True, 'status': 'stopped', 'state': 'offline'}


def _key(vm):
    return vm.get('$key', vm.get('id'))


def send_action(client, vm, action, params=None):
    """POST one power action for a VM row (or VM result); sent once, VergeOSError on any failure.

    The answer (201, no body) only says VergeOS accepted it; the caller waits for the state.
    After an error or no answer the caller reads the state again and plans: never re-send blindly.
    """
    if action not in ACTION_WORDS:
        raise VergeOSError('unknown power action %r (known: %s)' % (action, ', '.join(ACTION_WORDS)))
    body = {'vm': _key(vm), 'action': action}
    if params:
        body['params'] = dict(params)
    words = ACTION_WORDS[action] + (' (graceful)' if (params or {}).get('graceful') else '')
    client.post('vm_actions', body, attempted='%s %s' % (words, describe_vm(vm)))


def read_status_row(client, vm):
    """Return the machine_status row of a VM, found by its machine key (not assumed equal to any other key)."""
    attempted = 'reading the machine status of %s' % describe_vm(vm)
    rows = rows_of(client.get('machine_status', {
        'filter': condition('machine', 'eq', vm.get('machine')),
        'fields': ','.join(STATUS_FIELDS),
    }, attempted=attempted), attempted)
    if len(rows) != 1:
        raise VergeOSError('expected one machine status row for machine %s, found %d' % (vm.get('machine'), len(rows)), None, attempted)
    return rows[0]


def status_row_problems(vm, row):
    """Return why a machine_status row might not be this VM's (empty when it checks out): machine key, cores, RAM."""
    problems = []
    if row.get('machine') != vm.get('machine'):
        problems.append('its machine is %s, the VM\'s is %s' % (row.get('machine'), vm.get('machine')))
    if row.get('running_cores') and row.get('running_cores') != vm.get('cpu_cores'):
        problems.append('it runs %s cores, the VM has %s' % (row.get('running_cores'), vm.get('cpu_cores')))
    if row.get('running_ram') and row.get('running_ram') != vm.get('ram'):
        problems.append('it runs %s MB of RAM, the VM has %s' % (row.get('running_ram'), vm.get('ram')))
    return problems


def mark_stopped(client, vm, row):
    """Tell VergeOS a VM is stopped (PUT machine_status): the dangerous last resort, only after the row checked out."""
    problems = status_row_problems(vm, row)
    attempted = 'marking %s stopped (machine_status %s)' % (describe_vm(vm), row.get('$key'))
    if problems:
        raise VergeOSError('refusing: the status row may not belong to this VM: %s' % '; '.join(problems), None, attempted)
    client.put('machine_status/%s' % row['$key'], dict(MARK_STOPPED), attempted=attempted)
