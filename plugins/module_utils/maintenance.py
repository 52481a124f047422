# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The maintenance record: what was running before a maintenance, kept on the VergeOS system itself.

A record outlives the job that opened it (an AWX job runs in a throwaway container, a
relaunch is a new job), and every controller, later job and the event source can read
it. Its shape, which docs/maintenance.md documents for the roles and plugins built on it:

- The tag category ``vergeos_power_maintenance`` (``taggable_vms`` true) holds the records;
  the collection creates it the first time a record is opened and never removes it.
- A record is ONE tag of that category, named by the user (``maintenance`` by default).
  Its description is a JSON object: ``{"vergeos.power": "maintenance record", "version": 1,
  "opened": <unix time>, "note": "<free text>"}``.
- The VMs to power on again are the tag's members (``vms/<VM key>``), so the VergeOS UI
  shows them tagged, and one read of ``tag_members`` tells whether a VM is under a record.
- A record that exists is open. Opening adds members and never removes any (a relaunch
  that finds everything already off changes nothing). Closing for some VMs removes their
  members; the record is closed (its tag deleted) when it holds no VM.

Writes go through ``pursuit.Pursuit``: without a definite answer the record is read back
before anything is sent again. VergeOS's own answers make them safe to repeat anyway: a
second tag of the same name, or a second membership, is refused with 409, which counts as
done (two jobs opening one record at once both succeed).
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.vergeos.power.plugins.module_utils.details import TAG_MEMBER_PREFIX, member_vm_id
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.power_state import power_state_of
from ansible_collections.vergeos.power.plugins.module_utils.pursuit import Persistence, Pursuit
from ansible_collections.vergeos.power.plugins.module_utils.query import check_rows_match, condition, list_rows, read_by_keys, unique
from ansible_collections.vergeos.power.plugins.module_utils.vms import read_vms, vm_key

CATEGORY = 'vergeos_power_maintenance'
CATEGORY_DESCRIPTION = ('Maintenance records of the vergeos.power Ansible collection: each tag is an open record, its members '
                        'the VMs to power on again after the maintenance. Closed by the restore; do not edit by hand.')
MARK = 'maintenance record'
FORMAT_VERSION = 1
DEFAULT_RECORD = 'maintenance'
NAME_RULE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$')
NAME_RULE_TEXT = '1 to 64 letters, digits and _ . : @ -, starting with a letter or digit'
MAX_NOTE = 1000
TAG_FIELDS = ('$key', 'name', 'description', 'category', 'created')
MEMBER_FIELDS = ('$key', 'tag', 'member')
# Membership writes in flight at once (each is one small request; the client's pacer still applies).
WRITE_WIDTH = 8


def check_record_name(name):
    """Return the record name, stripped; VergeOSError naming the rule for anything else."""
    text = name.strip() if isinstance(name, str) else None
    if not text or not NAME_RULE.match(text):
        raise VergeOSError('the maintenance record name must be %s, not %r' % (NAME_RULE_TEXT, name))
    return text


def record_description(opened, note=''):
    """Return the tag description of a record opened at ``opened`` (unix time)."""
    return json.dumps({'vergeos.power': MARK, 'version': FORMAT_VERSION, 'opened': int(opened), 'note': note or ''},
                      sort_keys=True, separators=(',', ':'))


def parse_description(text):
    """Return (opened, note) from a record's tag description; (None, '') when it is not one of ours (edited by hand)."""
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get('vergeos.power') != MARK:
        return None, ''
    opened = data.get('opened')
    return (opened if isinstance(opened, int) and not isinstance(opened, bool) else None), str(data.get('note') or '')


def _one(rows, what):
    if len(rows) > 1:
        raise VergeOSError('VergeOS lists %d %s; expected at most one' % (len(rows), what))
    return rows[0] if rows else None


def find_category(client):
    """Return the record category's row, or None when no record was ever opened on this system."""
    attempted = 'reading the tag category %s' % CATEGORY
    rows = list_rows(client, 'tag_categories', ('$key', 'name'), filter_text=condition('name', 'eq', CATEGORY), sort=None,
                     page_size=0, attempted=attempted)
    check_rows_match(rows, 'name', [CATEGORY], 'tag_categories', attempted)
    return _one(rows, 'tag categories called %s' % CATEGORY)


def find_tags(client, category, names=None):
    """Return the record tags of the category (only those called one of ``names``, when given), by name."""
    attempted = 'reading the maintenance records'
    if names is not None and not names:
        return []
    rows = read_by_keys(client, 'tags', TAG_FIELDS, [vm_key(category['$key'])], field='category', attempted=attempted)
    if names is not None:
        rows = [row for row in rows if row.get('name') in set(names)]
    return sorted(rows, key=lambda row: (str(row.get('name')), str(row.get('$key'))))


def read_members(client, tags):
    """Return {tag key: {VM id: member row key}} for these tag rows (one request per chunk of tags)."""
    found = {vm_key(tag['$key']): {} for tag in tags}
    if not found:
        return found
    rows = read_by_keys(client, 'tag_members', MEMBER_FIELDS, sorted(found), field='tag', attempted='reading the VMs of the maintenance records')
    for row in rows:
        vm_id = member_vm_id(row.get('member'))
        tag = row.get('tag')
        if vm_id is not None and tag is not None and vm_key(tag) in found:
            found[vm_key(tag)][vm_id] = row.get('$key')
    return found


def describe_records(client, tags, members):
    """Return the documented record dicts for tag rows and their members (one read of the member VMs)."""
    ids = sorted({vm_id for by_vm in members.values() for vm_id in by_vm})
    rows = read_vms(client, ids, attempted='reading the VMs of the maintenance records') if ids else {}
    records = []
    for tag in tags:
        opened, note = parse_description(tag.get('description'))
        recorded = sorted(members.get(vm_key(tag['$key']), {}))
        vms = [_vm_entry(rows[vm_id]) for vm_id in recorded if vm_id in rows]
        records.append({'name': tag.get('name'), 'open': True, 'opened': opened if opened is not None else tag.get('created'),
                        'note': note, 'tag_id': vm_key(tag['$key']), 'ids': recorded, 'vms': vms,
                        'vanished_ids': [vm_id for vm_id in recorded if vm_id not in rows]})
    return records


def _vm_entry(row):
    status = row.get('status')
    return {'id': row.get('$key'), 'name': row.get('name'), 'power_state': power_state_of(status), 'status': status}


def closed_record(name):
    """Return the record dict of a record that is not (or no longer) open."""
    return {'name': name, 'open': False, 'opened': None, 'note': '', 'tag_id': None, 'ids': [], 'vms': [], 'vanished_ids': []}


def read_records(client, names=None):
    """Return the open records (those called one of ``names``, when given), sorted by name."""
    category = find_category(client)
    if category is None:
        return []
    tags = find_tags(client, category, names)
    return describe_records(client, tags, read_members(client, tags))


def read_record(client, name):
    """Return one record (``open`` false when there is none of that name)."""
    found = read_records(client, [name])
    return found[0] if found else closed_record(name)


def _is_conflict(exc):
    return exc.status == 409


class _Writer:
    """The record's writes, each pursued through faults (``pursuit.Pursuit``) and counted as done on a 409."""

    def __init__(self, client, persistence):
        self.client = client
        self.persistence = persistence

    def _pursue(self, write, seen, what):
        def guarded():
            try:
                return write()
            except VergeOSError as exc:
                if _is_conflict(exc):
                    return None
                raise
        return Pursuit(self.persistence).run(guarded, seen, what)[0]

    def category(self):
        def write():
            self.client.post('tag_categories', {'name': CATEGORY, 'description': CATEGORY_DESCRIPTION, 'taggable_vms': True},
                             attempted='creating the tag category %s for the maintenance records' % CATEGORY)
        self._pursue(write, lambda: find_category(self.client), 'the tag category exists')
        found = find_category(self.client)
        if found is None:
            raise VergeOSError('the tag category %s was created but VergeOS does not list it' % CATEGORY)
        return found

    def tag(self, category, name, description):
        def seen():
            return _one(find_tags(self.client, category, [name]), 'maintenance records called %s' % name)

        def write():
            self.client.post('tags', {'name': name, 'category': vm_key(category['$key']), 'description': description},
                             attempted='opening the maintenance record %s' % name)
        self._pursue(write, seen, 'the record exists')
        found = seen()
        if found is None:
            raise VergeOSError('the maintenance record %s was created but VergeOS does not list it' % name)
        return found

    def add_member(self, tag, vm_id):
        member = '%s%d' % (TAG_MEMBER_PREFIX, vm_id)

        def write():
            self.client.post('tag_members', {'tag': vm_key(tag['$key']), 'member': member},
                             attempted='adding VM %d to the maintenance record %s' % (vm_id, tag.get('name')))
        self._pursue(write, lambda: vm_id in read_members(self.client, [tag])[vm_key(tag['$key'])], 'the VM is in the record')

    def delete(self, path, seen_gone, what, attempted):
        def write():
            try:
                self.client.delete(path, attempted=attempted)
            except VergeOSError as exc:
                if exc.status != 404:
                    raise
        self._pursue(write, seen_gone, what)

    def each(self, work, items):
        """Run ``work(item)`` for every item, WRITE_WIDTH at once; raise the first error after all have run."""
        errors = []

        def guarded(item):
            try:
                work(item)
            except VergeOSError as exc:
                errors.append(exc)
        with ThreadPoolExecutor(max_workers=max(1, min(WRITE_WIDTH, len(items)))) as pool:
            list(pool.map(guarded, items))
        if errors:
            raise VergeOSError('%d write(s) of the maintenance record failed; the first: %s' % (len(errors), errors[0]))


def _diff(before, after):
    def shape(record):
        return {'open': record['open'], 'vms': ['%s (id %s)' % (vm['name'], vm['id']) for vm in record['vms']]
                + ['id %s (no longer exists)' % vm_id for vm_id in record['vanished_ids']]}
    return {'before': shape(before), 'after': shape(after), 'before_header': 'record %s' % before['name'],
            'after_header': 'record %s' % after['name']}


def open_record(client, name, ids, *, note='', check_mode=False, clock=time.time, persistence=None):
    """Open the record ``name`` with at least the VMs ``ids``; return (changed, record before, record after).

    Never removes a VM from an open record, never rewrites its opening time or note.
    In check mode nothing is sent; the record after is what it would be.
    """
    name = check_record_name(name)
    wanted = unique(vm_key(value) for value in ids)
    before = read_record(client, name)
    missing = [vm_id for vm_id in wanted if vm_id not in before['ids']]
    if before['open'] and not missing:
        return False, before, before
    if check_mode:
        after = dict(before, open=True, opened=before['opened'] or int(clock()), note=before['note'] if before['open'] else note,
                     ids=sorted(set(before['ids']) | set(missing)))
        known = read_vms(client, missing) if missing else {}
        after['vms'] = sorted(before['vms'] + [_vm_entry(known[vm_id]) for vm_id in missing if vm_id in known], key=lambda vm: vm['id'])
        return True, before, after
    writer = _Writer(client, persistence or Persistence())
    category = find_category(client) or writer.category()
    tag = _one(find_tags(client, category, [name]), 'maintenance records called %s' % name)
    if tag is None:
        tag = writer.tag(category, name, record_description(clock(), note))
    writer.each(lambda vm_id: writer.add_member(tag, vm_id), missing)
    after = read_record(client, name)
    lost = [vm_id for vm_id in wanted if vm_id not in after['ids']]
    if lost:
        raise VergeOSError('VergeOS does not list VM(s) %s in the maintenance record %s after they were added'
                           % (', '.join(str(vm_id) for vm_id in lost), name))
    return True, before, after


def close_record(client, name, ids=None, *, check_mode=False, persistence=None):
    """Close the record ``name`` for the VMs ``ids`` (None: for all); return (changed, record before, record after).

    The VMs' memberships are removed; the tag goes when no VM is left in it. Closing a
    record that is not open changes nothing.
    """
    name = check_record_name(name)
    before = read_record(client, name)
    if not before['open']:
        return False, before, before
    leaving = list(before['ids']) if ids is None else [vm_id for vm_id in unique(vm_key(value) for value in ids) if vm_id in before['ids']]
    staying = [vm_id for vm_id in before['ids'] if vm_id not in leaving]
    if not leaving and staying:
        return False, before, before
    if check_mode:
        after = closed_record(name) if not staying else dict(
            before, ids=staying, vms=[vm for vm in before['vms'] if vm['id'] in staying],
            vanished_ids=[vm_id for vm_id in before['vanished_ids'] if vm_id in staying])
        return True, before, after
    writer = _Writer(client, persistence or Persistence())
    tag = {'$key': before['tag_id'], 'name': name}
    members = read_members(client, [tag])[before['tag_id']]

    def remove(vm_id):
        writer.delete('tag_members/%s' % members[vm_id], lambda: vm_id not in read_members(client, [tag])[before['tag_id']],
                      'the VM left the record', 'removing VM %d from the maintenance record %s' % (vm_id, name))
    writer.each(remove, [vm_id for vm_id in leaving if vm_id in members])
    if not staying:
        writer.delete('tags/%s' % before['tag_id'], lambda: read_record(client, name)['open'] is False, 'the record is closed',
                      'closing the maintenance record %s' % name)
    return True, before, read_record(client, name)


def record_result(changed, before, after, diff=False):
    """Return the module result of an open or close."""
    result = {'failed': False, 'changed': changed, 'record': after}
    if diff:
        result['diff'] = _diff(before, after)
    return result
