# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Machine snapshots of a VM (for a snapshot before a kill): list, take (sent once), delete."""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.query import condition, list_rows
from ansible_collections.vergeos.power.plugins.module_utils.results import describe_vm

SNAPSHOT_FIELDS = ('$key', 'name', 'description', 'created', 'expires', 'quiesced', 'created_manually', 'machine')


def list_snapshots(client, vm):
    """Return the snapshot rows of a VM (owned by its machine key), oldest first."""
    return list_rows(client, 'machine_snapshots', SNAPSHOT_FIELDS, filter_text=condition('machine', 'eq', vm.get('machine')),
                     sort='created', page_size=0, attempted='listing the snapshots of %s' % describe_vm(vm))


def take_snapshot(client, vm, name, *, expires, description='', quiesce=False):
    """POST a manual snapshot (sent once, never re-sent) and return its key, or None when the answer names none.

    ``expires`` (unix time, 0 = never) is always sent: left out, VergeOS applies its own default.
    """
    if isinstance(expires, bool) or not isinstance(expires, int) or expires < 0:
        raise VergeOSError('expires must be a unix time or 0 (never), not %r' % (expires,))
    body = {'machine': vm.get('machine'), 'name': name, 'created_manually': True, 'quiesce': bool(quiesce),
            'expires': expires, 'description': description}
    answer = client.post('machine_snapshots', body, attempted='taking snapshot %r of %s' % (name, describe_vm(vm)))
    return answer.get('$key') if isinstance(answer, dict) else None


def delete_snapshot(client, key):
    client.delete('machine_snapshots/%s' % key, attempted='deleting snapshot %s' % key)
