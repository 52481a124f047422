# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Machine snapshots of VMs (for a snapshot before a kill): list, plan, take, delete, through faults.

A VM's snapshots are rows of ``machine_snapshots`` owned by the VM's *machine* key.

A write (``POST machine_snapshots``, ``DELETE machine_snapshots/<key>``) that gets a
definite refusal (a 4xx, or 501, 505, 507) fails the VM at once and is never sent
again. One without a definite answer (no answer, a dropped connection, 429, another
5xx) may have been carried out: BEFORE anything is sent again the VM's snapshots are
read back, for up to ``visible_grace`` seconds (a new snapshot may show up a little
after the answer); if the write shows, it is done and not sent again. Otherwise it
is sent again after the power engine's backoff (``policy.resend_delay``, the
server's Retry-After honoured) while ``retry_timeout`` seconds from the first send
allow, else the VM fails with the last error and the number of sends.

The risk that remains: a snapshot that shows only after the grace period is taken
twice (two snapshots of that name). ``present`` is idempotent by name, so the next
run reports it as there; ``absent`` removes every snapshot of the name.
"""

from __future__ import annotations

import time

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.pursuit import Persistence, Pursuit
from ansible_collections.vergeos.power.plugins.module_utils.query import condition, key_value, list_rows, read_by_keys
from ansible_collections.vergeos.power.plugins.module_utils.results import describe_vm, vm_result, with_top_level
from ansible_collections.vergeos.power.plugins.module_utils.vms import is_single, select_vms

SNAPSHOT_FIELDS = ('$key', 'name', 'description', 'created', 'expires', 'quiesced', 'created_manually', 'machine')
CREATE, DELETE, NOTHING = 'create', 'delete', 'nothing'
_DELETED, _GONE = 'deleted', 'gone'


def _ordered(rows):
    return sorted(rows, key=lambda row: (row.get('created') or 0, row.get('$key') or 0))


def list_snapshots(client, vm):
    """Return the snapshot rows of a VM (owned by its machine key), oldest first."""
    return list_rows(client, 'machine_snapshots', SNAPSHOT_FIELDS, filter_text=condition('machine', 'eq', vm.get('machine')),
                     sort='created', page_size=0, attempted='listing the snapshots of %s' % describe_vm(vm))


def snapshots_by_vm(client, vms):
    """Return {VM key: [snapshot rows, oldest first]} for VM rows: one request per chunk of machine keys."""
    machines = {vm.get('machine'): vm['$key'] for vm in vms if vm.get('machine') is not None}
    found = {vm['$key']: [] for vm in vms}
    rows = read_by_keys(client, 'machine_snapshots', SNAPSHOT_FIELDS, sorted(machines), field='machine',
                        attempted='listing the snapshots of %d VM(s)' % len(vms))
    for row in rows:
        key = machines.get(row.get('machine'))
        if key is not None:
            found[key].append(row)
    return {key: _ordered(rows) for key, rows in found.items()}


def snapshot_result(row):
    """Return the documented snapshot dict for a machine_snapshots row."""
    return {'id': row.get('$key'), 'name': row.get('name'), 'description': row.get('description'), 'created': row.get('created'),
            'expires': row.get('expires'), 'quiesced': row.get('quiesced'), 'created_manually': row.get('created_manually')}


def named(rows, name):
    """Return the snapshot rows called exactly ``name``."""
    return [row for row in rows if row.get('name') == name]


def plan_snapshot(rows, name, state):
    """Return (CREATE | DELETE | NOTHING, the rows it concerns): idempotent by snapshot name.

    ``present``: nothing when a snapshot of that name exists (whatever its expiry), else create.
    ``absent``: delete every snapshot of that name, nothing when there is none.
    """
    matching = named(rows, name)
    if state == 'present':
        return (NOTHING, matching) if matching else (CREATE, [])
    if state == 'absent':
        return (DELETE, matching) if matching else (NOTHING, [])
    raise VergeOSError('state must be present or absent, not %r' % (state,))


def expiry_time(expires_in, now):
    """Return the unix time VergeOS wants in ``expires`` for ``expires_in`` seconds from ``now`` (0: never expires)."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in < 0:
        raise VergeOSError('expires must be a whole number of seconds from now, 0 or more (0: never), not %r' % (expires_in,))
    return 0 if expires_in == 0 else int(now) + expires_in


def take_snapshot(client, vm, name, *, expires, description='', quiesce=False):
    """Send one POST for a manual snapshot and return its key, or None when the answer names none (no retry here).

    ``expires`` (unix time, 0 = never) is always sent: left out, VergeOS applies its own default.
    """
    if isinstance(expires, bool) or not isinstance(expires, int) or expires < 0:
        raise VergeOSError('expires must be a unix time or 0 (never), not %r' % (expires,))
    body = {'machine': vm.get('machine'), 'name': name, 'created_manually': True, 'quiesce': bool(quiesce),
            'expires': expires, 'description': description}
    answer = client.post('machine_snapshots', body, attempted='taking snapshot %r of %s' % (name, describe_vm(vm)))
    return key_value(answer.get('$key')) if isinstance(answer, dict) else None


def take_snapshot_safely(client, vm, name, persistence, *, expires, description='', quiesce=False):
    """Take a snapshot through faults (see the module's docstring): read back before any second send.

    Returns (snapshot row, note): {'$key', 'name'} when a POST was acknowledged (key None if
    the answer named none), or the row the read-back found (the note says it was not sent
    again). Raises VergeOSError for a refusal, or when the deadline is spent.
    """
    def write():
        return {'$key': take_snapshot(client, vm, name, expires=expires, description=description, quiesce=quiesce), 'name': name}

    def seen():
        found = named(list_snapshots(client, vm), name)
        return found[-1] if found else None
    return Pursuit(persistence).run(write, seen, 'the snapshot was taken')


def delete_snapshot(client, key):
    client.delete('machine_snapshots/%s' % key, attempted='deleting snapshot %s' % key)


def delete_snapshot_safely(client, vm, row, persistence, pursuit=None):
    """Delete one snapshot row through faults: after no definite answer, read back; sent again only while it is there.

    Returns a note. ``pursuit`` (one per VM) shares the VM's deadline between its deletes.
    A 404 to a send after an unanswered one is read back: the snapshot is gone if the read
    no longer lists it (an earlier send was carried out).
    """
    pursuit = pursuit or Pursuit(persistence)
    key = row['$key']

    def write():
        delete_snapshot(client, key)
        return _DELETED

    def seen():
        return _GONE if not [other for other in list_snapshots(client, vm) if other.get('$key') == key] else None
    return pursuit.run(write, seen, 'the snapshot is gone')[1]


def _entry(vm, *, snapshot=None, removed=(), changed=False, failed=False, msg=''):
    entry = vm_result(vm)
    entry.update(snapshot=snapshot, removed=list(removed), changed=changed, failed=failed, msg=msg)
    return entry


def _remove(client, vm, concerned, job):
    """Remove the snapshots of that name (or say what would be); return (entry, whether something was written)."""
    removed = [snapshot_result(row) for row in concerned]
    if job['check_mode']:
        return _entry(vm, removed=removed, changed=True, msg='would remove %d snapshot(s) %r' % (len(concerned), job['name'])), False
    notes, pursuit = [], Pursuit(job['persistence'])
    for index, row in enumerate(concerned):
        try:
            notes.append(delete_snapshot_safely(client, vm, row, job['persistence'], pursuit))
        except VergeOSError as exc:
            return _entry(vm, removed=removed[:index], changed=index > 0, failed=True, msg=str(exc)), index > 0
    msg = '; '.join(['removed %d snapshot(s) %r' % (len(concerned), job['name'])] + [note for note in notes if note])
    return _entry(vm, removed=removed, changed=True, msg=msg), True


def _take(client, vm, job):
    """Take the snapshot (or say what it would be); return (entry, whether something was written)."""
    name, options = job['name'], job['options']
    if job['check_mode']:
        predicted = {'id': None, 'name': name, 'description': options['description'], 'created': None,
                     'expires': options['expires'], 'quiesced': options['quiesce'], 'created_manually': True}
        return _entry(vm, snapshot=predicted, changed=True, msg='would take snapshot %r' % name), False
    try:
        row, note = take_snapshot_safely(client, vm, name, job['persistence'], **options)
    except VergeOSError as exc:
        return _entry(vm, failed=True, msg=str(exc)), False
    return _entry(vm, snapshot=snapshot_result(row), changed=True, msg='; '.join(filter(None, ['snapshot %r taken' % name, note]))), True


def _one_vm(client, vm, rows, job):
    """Decide and act for one VM; return (its result entry, whether something was written)."""
    decision, concerned = plan_snapshot(rows, job['name'], job['state'])
    if decision == DELETE:
        return _remove(client, vm, concerned, job)
    if decision == CREATE:
        return _take(client, vm, job)
    snapshot = snapshot_result(concerned[-1]) if concerned else None
    msg = ('snapshot %r exists already' % job['name']) if job['state'] == 'present' else ('no snapshot %r' % job['name'])
    return _entry(vm, snapshot=snapshot, msg=msg), False


def run_snapshots(client, state, name, *, selection=None, expires_in=0, quiesce=False, description='', max_targets=None,
                  check_mode=False, clock=time.time, persistence=None):
    """Take (``present``) or remove (``absent``) the snapshot ``name`` of the selected VMs; return the module result dict.

    Reads: the selection, then ONE read of every selected VM's snapshots (per chunk), and
    one more after writes (so the result shows what VergeOS holds). Raises VergeOSError
    when the selection or the first read fails (nothing was sent then). ``clock`` is the
    wall clock of ``expires``; ``persistence`` (default: ``Persistence()``) how each VM's
    writes are pursued through faults, one VM after the other.
    """
    if not isinstance(name, str) or not name.strip():
        raise VergeOSError('a snapshot needs a non-empty name')
    expires = expiry_time(expires_in, clock()) if state == 'present' else 0
    plan_snapshot([], name, state)  # validates state before any request
    selection = dict(selection or {})
    single = is_single(selection)
    vms = select_vms(client, max_targets=max_targets, **selection)
    before = snapshots_by_vm(client, vms)
    job = {'state': state, 'name': name, 'check_mode': check_mode, 'persistence': persistence or Persistence(),
           'options': {'expires': expires, 'description': description or '', 'quiesce': bool(quiesce)}}
    entries, wrote = [], False
    for vm in vms:
        entry, written = _one_vm(client, vm, before[vm['$key']], job)
        entries.append(entry)
        wrote = wrote or written
    if wrote:
        _refresh(client, vms, entries, name, state)
    return _result(vms, entries, before, job, single)


def _refresh(client, vms, entries, name, state):
    """Read the snapshots again after writes: the taken snapshots' full rows (a failed read keeps what the writes said)."""
    try:
        after = snapshots_by_vm(client, vms)
    except VergeOSError:
        return
    for entry in entries:
        if state == 'present' and not entry['failed']:
            matching = named(after.get(entry['id'], []), name)
            if matching:
                entry['snapshot'] = snapshot_result(matching[-1])


def _names(rows):
    return sorted(str(row.get('name')) for row in rows)


def _result(vms, entries, before, job, single):
    name, state, check_mode = job['name'], job['state'], job['check_mode']
    after = {}
    for vm, entry in zip(vms, entries, strict=True):
        names = _names(before[vm['$key']])
        if entry['changed'] and state == 'present':
            names = sorted(names + [name])
        elif state == 'absent':
            removed = len(entry['removed']) if (entry['changed'] or check_mode) else 0
            names = sorted(names)
            for _index in range(removed):
                names.remove(name)
        after[str(vm.get('name'))] = names
    failed = [entry for entry in entries if entry['failed']]
    changed = [entry for entry in entries if entry['changed']]
    if len(entries) == 1:
        msg = entries[0]['msg']
    else:
        msg = '%d VM(s), snapshot %r %s: %d %s' % (len(entries), name, state, len(changed), 'would change' if check_mode else 'changed')
        if failed:
            msg += ', %d failed (%s)' % (len(failed), '; '.join('%s: %s' % (describe_vm(e), e['msg']) for e in failed[:5]))
    result = {
        'changed': bool(changed),
        'failed': bool(failed),
        'msg': msg,
        'vms': entries,
        'diff': {'before': {'snapshots': {str(vm.get('name')): _names(before[vm['$key']]) for vm in vms}},
                 'after': {'snapshots': after}},
    }
    return with_top_level(result, entries, single)
