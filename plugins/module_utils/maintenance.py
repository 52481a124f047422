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
before anything is sent again. Two jobs may open one record at once, so a refusal that may
mean "already there" (VergeOS answers a name in use with 422 "This name is already in use";
409 elsewhere) is read back too, at any send: the write is done when the read shows the
category, the tag or the membership, and the refusal is raised in VergeOS's words when it
does not. No status code alone ever counts as done.

VergeOS refuses to tag a VM ("Operation not permitted") unless the tag's category has
``taggable_vms``. A record category made earlier without it (by hand, by another tool) is
repaired (``taggable_vms`` set) when the user may, before any VM is added; when that is
refused, opening the record fails with what to change in VergeOS, before the role's first
power action.
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
# Version 2 adds the round trip's phase, its owner, the stop policy and the time of the last phase change (version 1 records,
# which carry none of these, still read and restore).
FORMAT_VERSION = 2
KIND = 'maintenance'
# A record's kind: a maintenance round trip, or a rolling restart's progress (roles/rolling_restart); both cover their VMs.
KINDS = (KIND, 'rolling_restart')
# The phases of a round trip, in order; a closed record has no tag (its last close is kept in the sibling CLOSED_SUFFIX).
# 'waiting': the restore started what it could and keeps, parked, the VMs another open record still covers; whichever
# record closes last starts them (docs/maintenance.md, "Overlapping maintenances").
PHASES = ('opened', 'stopping', 'stopped', 'maintaining', 'restoring', 'waiting')
# The phases in which a record still keeps its VMs off: another record's restore never starts a VM such a record covers.
HOLDING_PHASES = (None, 'opened', 'stopping', 'stopped', 'maintaining')
# Sibling tags of a record are named '<record><suffix>'; '+' is outside the record name rule, so no record is ever a sibling.
CLOSED_SUFFIX = '+closed'
# A record's named sets of VMs (sibling tags '<record>+<set>', their members the VMs, their description a small dict of
# data): 'covers' lists every VM a maintenance acts on (running or not), the cross-record rule's input; the rolling
# restart keeps its progress in sets of its own. 'closed' and 'lease' are taken.
SET_RULE = re.compile(r'^[a-z][a-z_]{0,15}$')
RESERVED_SETS = ('closed', 'lease')
COVERS = 'covers'
# The set of a record's VMs parked by its restore because another open record still covers them; a record is not closed
# while its waiting set holds a VM.
WAITING = 'waiting'
SET_MARK = 'maintenance record set'
# The record's lease (module_utils/lease.py): one job writes a record.
LEASE_SUFFIX = '+lease'
LEASE_MARK = 'maintenance record lease'
DEFAULT_LIFE = 300
MAX_SET_DATA = 2000
POLICY_KEYS = ('timeout', 'kill_timeout', 'escalate')
DEFAULT_RECORD = 'maintenance'
NAME_RULE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$')
NAME_RULE_TEXT = '1 to 64 letters, digits and _ . : @ -, starting with a letter or digit'
MAX_NOTE = 1000
TAG_FIELDS = ('$key', 'name', 'description', 'category', 'created')
CATEGORY_FIELDS = ('$key', 'name', 'taggable_vms')
MEMBER_FIELDS = ('$key', 'tag', 'member')
# Membership writes in flight at once (each is one small request; the client's pacer still applies).
WRITE_WIDTH = 8


def check_record_name(name):
    """Return the record name, stripped; VergeOSError naming the rule for anything else."""
    text = name.strip() if isinstance(name, str) else None
    if not text or not NAME_RULE.match(text):
        raise VergeOSError('the maintenance record name must be %s, not %r' % (NAME_RULE_TEXT, name))
    return text


def _dumps(data):
    return json.dumps(data, sort_keys=True, separators=(',', ':'))


def record_description(opened, note='', *, phase='opened', since=None, owner='', policy=None, kind=KIND):
    """Return the tag description of a record opened at ``opened`` (unix time), in ``phase`` since ``since`` (default: opened)."""
    return _dumps({'vergeos.power': MARK, 'version': FORMAT_VERSION, 'kind': kind or KIND, 'opened': int(opened), 'note': note or '',
                   'phase': phase, 'since': int(opened if since is None else since), 'owner': owner or '',
                   'policy': clean_policy(policy)})


def clean_policy(policy):
    """Return the stop policy kept in a record: only its known keys, numbers of seconds and a boolean (small on purpose)."""
    policy = policy if isinstance(policy, dict) else {}
    found = {}
    for key in POLICY_KEYS:
        value = policy.get(key)
        if key == 'escalate' and isinstance(value, bool):
            found[key] = value
        elif key == 'escalate' and isinstance(value, str) and value.strip().lower() in ('true', 'false'):
            found[key] = value.strip().lower() == 'true'
        elif key != 'escalate' and isinstance(value, str) and value.strip().isdigit():
            found[key] = int(value.strip())
        elif key != 'escalate' and _whole(value) is not None:
            found[key] = _whole(value)
    return found


def _whole(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value >= 0:
        return int(value)
    return None


def _loads(text):
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get('vergeos.power') == MARK else None


def parse_description(text):
    """Return (opened, note) from a record's tag description; (None, '') when it is not one of ours (edited by hand)."""
    data = _loads(text) or {}
    return _whole(data.get('opened')), str(data.get('note') or '')


def parse_round_trip(text):
    """Return the round trip's fields of a record's description: version, kind, phase, since, owner, policy.

    A version 1 record (or one edited by hand) has no phase: ``phase`` None, which the playbooks
    treat as "anything may have happened": the restore still powers its VMs on.
    """
    data = _loads(text) or {}
    phase = data.get('phase')
    version = data.get('version')
    return {'version': version if isinstance(version, int) and not isinstance(version, bool) else None,
            'kind': str(data.get('kind') or KIND), 'phase': phase if phase in PHASES else None, 'since': _whole(data.get('since')),
            'owner': str(data.get('owner') or ''), 'policy': clean_policy(data.get('policy'))}


CLOSED_MARK = 'maintenance record closed'


def closed_description(closed, record):
    """Return the description of a record's CLOSED_SUFFIX sibling: when it was last closed, and who had opened it and when."""
    return _dumps({'vergeos.power': CLOSED_MARK, 'version': FORMAT_VERSION, 'closed': int(closed), 'opened': record.get('opened'),
                   'owner': record.get('owner') or '', 'note': record.get('note') or ''})


def parse_closed(text):
    """Return {at, opened, owner, note} of a CLOSED_SUFFIX sibling's description; None when it is not one of ours."""
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get('vergeos.power') != CLOSED_MARK:
        return None
    return {'at': _whole(data.get('closed')), 'opened': _whole(data.get('opened')), 'owner': str(data.get('owner') or ''),
            'note': str(data.get('note') or '')}


def _one(rows, what):
    if len(rows) > 1:
        raise VergeOSError('VergeOS lists %d %s; expected at most one' % (len(rows), what))
    return rows[0] if rows else None


def find_category(client):
    """Return the record category's row (with ``taggable_vms``), or None when no record was ever opened on this system.

    Once found it is kept on the client (the collection creates the category once and never removes it; ``Writer.taggable``
    keeps the kept row up to date), so a run that writes a record many times reads it once.
    """
    known = getattr(client, '_maintenance_category', None)
    if known is not None:
        return known
    found = read_category(client)
    if found is not None and not cannot_tag_vms(found):
        try:
            client._maintenance_category = found  # pylint: disable=protected-access
        except AttributeError:
            pass
    return found


def read_category(client):
    """Return the record category's row read now (None when there is none), without keeping it."""
    attempted = 'reading the tag category %s' % CATEGORY
    rows = list_rows(client, 'tag_categories', CATEGORY_FIELDS, filter_text=condition('name', 'eq', CATEGORY), sort=None,
                     page_size=0, attempted=attempted)
    check_rows_match(rows, 'name', [CATEGORY], 'tag_categories', attempted)
    return _one(rows, 'tag categories called %s' % CATEGORY)


def category_tags(client, category):
    """Return every tag of the record category (records and their siblings), sorted by name then key: one read."""
    rows = read_by_keys(client, 'tags', TAG_FIELDS, [vm_key(category['$key'])], field='category', attempted='reading the maintenance records')
    return sorted(rows, key=lambda row: (str(row.get('name')), str(row.get('$key'))))


def find_tags(client, category, names=None, rows=None):
    """Return the record tags of the category (only those called one of ``names``, when given), by name."""
    if names is not None and not names:
        return []
    rows = category_tags(client, category) if rows is None else rows
    if names is not None:
        return [row for row in rows if row.get('name') in set(names)]
    # Records only: a sibling tag (its name outside the record name rule) is not a record.
    return [row for row in rows if isinstance(row.get('name'), str) and NAME_RULE.match(row['name'])]


def set_tags(rows, name):
    """Return {set word: tag row} of the record ``name``'s named sets among the category's tag rows."""
    prefix = name + '+'
    found = {}
    for row in rows:
        word = row.get('name')[len(prefix):] if isinstance(row.get('name'), str) and row['name'].startswith(prefix) else None
        if word and SET_RULE.match(word) and word not in RESERVED_SETS:
            found[word] = row
    return found


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


def set_description(name, word, data):
    """Return the description of the set ``word`` of the record ``name``: its data (small: MAX_SET_DATA characters)."""
    text = _dumps({'vergeos.power': SET_MARK, 'of': name, 'set': word, 'data': data or {}})
    if len(text) > MAX_SET_DATA:
        raise VergeOSError('the data of the set %s of the maintenance record %s would take %d characters, more than %d: keep it small'
                           % (word, name, len(text), MAX_SET_DATA))
    return text


def parse_set_data(text):
    """Return the data dict of a set's description ({} when it is not one of ours)."""
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get('vergeos.power') != SET_MARK or not isinstance(data.get('data'), dict):
        return {}
    return data['data']


def parse_lease(row):
    """Return {key, holder, owner, life, beat} of a lease tag row; holder None when its description is not one of ours."""
    try:
        data = json.loads(row.get('description') or '')
    except ValueError:
        data = None
    data = data if isinstance(data, dict) and data.get('vergeos.power') == LEASE_MARK else {}
    life, beat = data.get('life'), data.get('beat')
    return {'key': vm_key(row.get('$key')), 'holder': data.get('holder') or None, 'owner': str(data.get('owner') or ''),
            'life': life if isinstance(life, int) and life > 0 else DEFAULT_LIFE, 'beat': beat if isinstance(beat, int) else 0}


def _lease_of(rows, name):
    """Return the record's lease as the info modules show it ({holder, owner, life, beat}), or None."""
    leases = sorted((row for row in rows if row.get('name') == name + LEASE_SUFFIX), key=lambda row: vm_key(row.get('$key')))
    if not leases:
        return None
    lease = parse_lease(leases[0])
    return {key: lease[key] for key in ('holder', 'owner', 'life', 'beat')}


def describe_records(client, tags, members, sets=None):
    """Return the documented record dicts for tag rows and their members (one read of the member VMs).

    ``sets``: {record name: {set word: tag row}}; the sets' members are in ``members`` too.
    """
    sets = sets or {}
    recorded_ids = {vm_id for tag in tags for vm_id in members.get(vm_key(tag['$key']), {})}
    rows = read_vms(client, sorted(recorded_ids), attempted='reading the VMs of the maintenance records') if recorded_ids else {}
    records = []
    for tag in tags:
        opened, note = parse_description(tag.get('description'))
        recorded = sorted(members.get(vm_key(tag['$key']), {}))
        vms = [_vm_entry(rows[vm_id]) for vm_id in recorded if vm_id in rows]
        named = {word: {'ids': sorted(members.get(vm_key(row['$key']), {})), 'data': parse_set_data(row.get('description')),
                        'tag_id': vm_key(row['$key'])}
                 for word, row in sorted(sets.get(tag.get('name'), {}).items())}
        records.append(dict({'name': tag.get('name'), 'open': True, 'opened': opened if opened is not None else tag.get('created'),
                             'note': note, 'tag_id': vm_key(tag['$key']), 'ids': recorded, 'vms': vms,
                             'vanished_ids': [vm_id for vm_id in recorded if vm_id not in rows], 'last_closed': None, 'siblings': named},
                            **parse_round_trip(tag.get('description'))))
    return records


def _vm_entry(row):
    status = row.get('status')
    return {'id': row.get('$key'), 'name': row.get('name'), 'power_state': power_state_of(status), 'status': status}


def closed_record(name, last_closed=None):
    """Return the record dict of a record that is not (or no longer) open; ``last_closed`` from its CLOSED_SUFFIX sibling."""
    return {'name': name, 'open': False, 'opened': None, 'note': '', 'tag_id': None, 'ids': [], 'vms': [], 'vanished_ids': [],
            'version': None, 'kind': KIND, 'phase': None, 'since': None, 'owner': '', 'policy': {}, 'last_closed': last_closed,
            'siblings': {}, 'lease': None}


def _described(client, records, rows):
    """Return the record dicts of these record tag rows, with their sets, from the category's tag rows (one members read)."""
    sets = {tag.get('name'): set_tags(rows, tag.get('name')) for tag in records}
    every = list(records) + [row for by_word in sets.values() for row in by_word.values()]
    described = describe_records(client, records, read_members(client, every), sets)
    for record in described:
        record['lease'] = _lease_of(rows, record['name'])
    return described


def read_records(client, names=None):
    """Return the open records (those called one of ``names``, when given), sorted by name."""
    category = find_category(client)
    if category is None:
        return []
    rows = category_tags(client, category)
    return _described(client, find_tags(client, category, names, rows), rows)


def read_record(client, name):
    """Return one record (``open`` false when there is none of that name, with ``last_closed`` when it was closed before)."""
    category = find_category(client)
    if category is None:
        return closed_record(name)
    rows = category_tags(client, category)
    closed = _one([tag for tag in rows if tag.get('name') == name + CLOSED_SUFFIX], 'closing marks of %s' % name)
    last_closed = parse_closed(closed.get('description')) if closed else None
    records = [tag for tag in rows if tag.get('name') == name]
    if not records:
        return closed_record(name, last_closed)
    found = _described(client, records[:1], rows)[0]
    if len(records) > 1:
        raise VergeOSError('VergeOS lists %d maintenance records called %s; expected at most one' % (len(records), name))
    found['last_closed'] = last_closed
    return found


def cannot_tag_vms(category):
    """Whether a category row says its tags cannot be put on VMs (``taggable_vms`` false; a row without the column: unknown, no)."""
    value = category.get('taggable_vms') if category else None
    return value is not None and not value


class Writer:
    """The record's writes, each pursued through faults (``pursuit.Pursuit``); a refusal counts as done only when read back."""

    def __init__(self, client, persistence):
        self.client = client
        self.persistence = persistence

    def _pursue(self, write, seen, what):
        return Pursuit(self.persistence).run(write, seen, what, shared=True)[0]

    def category(self):
        def write():
            self.client.post('tag_categories', {'name': CATEGORY, 'description': CATEGORY_DESCRIPTION, 'taggable_vms': True},
                             attempted='creating the tag category %s for the maintenance records' % CATEGORY)
            return True
        self._pursue(write, lambda: find_category(self.client), 'the tag category exists')
        found = find_category(self.client)
        if found is None:
            raise VergeOSError('the tag category %s was created but VergeOS does not list it' % CATEGORY)
        return found

    def taggable(self, category):
        """Return the category row with ``taggable_vms`` set, setting it when it is off; VergeOSError saying what to change if not."""
        if not cannot_tag_vms(category):
            return category
        key = vm_key(category['$key'])

        def write():
            self.client.put('tag_categories/%s' % key, {'taggable_vms': True},
                            attempted='allowing the tag category %s to tag VMs (taggable_vms)' % CATEGORY)
            return True

        def seen():
            row = read_category(self.client)
            return row if row is not None and not cannot_tag_vms(row) else None
        try:
            self._pursue(write, seen, 'the category may tag VMs')
        except VergeOSError as exc:
            raise VergeOSError('the tag category %s cannot tag VMs (taggable_vms is off), so no VM can be added to a maintenance record, '
                               'and turning it on was refused (%s). In VergeOS, let the category %s tag VMs (taggable_vms), or run '
                               'this once as a user who may edit tag categories; nothing was stopped'
                               % (CATEGORY, exc, CATEGORY), exc.status, exc.attempted) from None
        found = seen()
        if found is None:
            raise VergeOSError('the tag category %s still cannot tag VMs after taggable_vms was set; in VergeOS, let it tag VMs' % CATEGORY)
        return found

    def tag(self, category, name, description):
        def seen():
            return _one(find_tags(self.client, category, [name]), 'maintenance records called %s' % name)

        def write():
            self.client.post('tags', {'name': name, 'category': vm_key(category['$key']), 'description': description},
                             attempted='opening the maintenance record %s' % name)
            return True
        self._pursue(write, seen, 'the record exists')
        found = seen()
        if found is None:
            raise VergeOSError('the maintenance record %s was created but VergeOS does not list it' % name)
        return found

    def describe(self, tag, description, what):
        """Rewrite a tag's description (the record's phase, or its closing mark); done when a read shows the new one."""
        key = vm_key(tag['$key'])

        def write():
            self.client.put('tags/%s' % key, {'description': description}, attempted='%s (tag %s)' % (what, tag.get('name')))
            return True

        def seen():
            rows = read_by_keys(self.client, 'tags', TAG_FIELDS, [key], attempted='reading the maintenance record %s' % tag.get('name'))
            return bool(rows) and rows[0].get('description') == description
        self._pursue(write, seen, 'the record says so')

    def mark_closed(self, category, name, description):
        """Write the record's closing mark (its sibling tag ``<name>+closed``), before the record's tag is deleted."""
        sibling = name + CLOSED_SUFFIX
        found = _one(find_tags(self.client, category, [sibling]), 'closing marks of %s' % name)
        if found is None:
            self.tag(category, sibling, description)
        else:
            self.describe(found, description, 'marking the maintenance record %s closed' % name)

    def add_member(self, tag, vm_id):
        member = '%s%d' % (TAG_MEMBER_PREFIX, vm_id)

        def write():
            self.client.post('tag_members', {'tag': vm_key(tag['$key']), 'member': member},
                             attempted='adding VM %d to the maintenance record %s' % (vm_id, tag.get('name')))
            return True
        self._pursue(write, lambda: vm_id in read_members(self.client, [tag])[vm_key(tag['$key'])], 'the VM is in the record')

    def delete(self, path, seen_gone, what, attempted):
        def write():
            self.client.delete(path, attempted=attempted)
            return True
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


def _round_trip_changes(before, phase, owner, policy):
    """Return the round-trip fields a call asks to change on an open record ({} when none): phase, owner, policy."""
    wanted = {}
    if phase is not None and before.get('phase') != phase:
        wanted['phase'] = phase
    if owner and before.get('owner') != owner:
        wanted['owner'] = owner
    if policy is not None and before.get('policy') != clean_policy(policy):
        wanted['policy'] = clean_policy(policy)
    return wanted


def check_kind(kind, before=None):
    """Return ``kind`` (None: the record's own, or KIND for a new one); VergeOSError for an unknown one or another record's."""
    if kind is not None and kind not in KINDS:
        raise VergeOSError('kind must be one of %s, not %r' % (', '.join(KINDS), kind))
    if before and before.get('open') and kind is not None and before.get('kind') != kind:
        raise VergeOSError('the record %s is a %s record, not a %s one: give this one another name'
                           % (before.get('name'), before.get('kind'), kind))
    return kind or (before or {}).get('kind') or KIND


def open_record(client, name, ids, *, note='', phase=None, owner='', policy=None, check_mode=False, clock=time.time, persistence=None,
                kind=None):
    """Open the record ``name`` with at least the VMs ``ids``; return (changed, record before, record after).

    Never removes a VM from an open record, never rewrites its opening time or note. ``phase``,
    ``owner`` and ``policy``, when given, are written to the record's description (the round
    trip's state, docs/maintenance.md); the phase's time is the controller's clock.
    In check mode nothing is sent; the record after is what it would be.
    """
    name = check_record_name(name)
    if phase is not None and phase not in PHASES:
        raise VergeOSError('phase must be one of %s, not %r' % (', '.join(PHASES), phase))
    wanted = unique(vm_key(value) for value in ids)
    before = read_record(client, name)
    kind = check_kind(kind, before)
    missing = [vm_id for vm_id in wanted if vm_id not in before['ids']]
    changes = _round_trip_changes(before, phase, owner, policy) if before['open'] else {}
    if before['open'] and not missing and not changes:
        return False, before, before
    now = int(clock())
    if check_mode:
        after = dict(before, open=True, opened=before['opened'] or now, note=before['note'] if before['open'] else note,
                     ids=sorted(set(before['ids']) | set(missing)))
        if not before['open']:
            after.update(version=FORMAT_VERSION, phase=phase or 'opened', since=now, owner=owner or '', policy=clean_policy(policy),
                         kind=kind)
        after.update(changes, **({'since': now} if 'phase' in changes else {}))
        known = read_vms(client, missing) if missing else {}
        after['vms'] = sorted(before['vms'] + [_vm_entry(known[vm_id]) for vm_id in missing if vm_id in known], key=lambda vm: vm['id'])
        return True, before, after
    writer = Writer(client, persistence or Persistence())
    category = find_category(client) or writer.category()
    if missing:
        category = writer.taggable(category)
    tag = _one(find_tags(client, category, [name]), 'maintenance records called %s' % name)
    if tag is None:
        tag = writer.tag(category, name, record_description(now, note, phase=phase or 'opened', owner=owner, policy=policy, kind=kind))
    else:
        # The tag row just read carries the description: the record's fields come from it, not from another read.
        opened, kept_note = parse_description(tag.get('description'))
        current = dict(parse_round_trip(tag.get('description')), opened=opened or tag.get('created'), note=kept_note)
        changes = _round_trip_changes(current, phase, owner, policy)
        if changes:
            merged = dict({'phase': current.get('phase') or 'opened', 'owner': current.get('owner'), 'policy': current.get('policy')},
                          **changes)
            since = now if 'phase' in changes else current.get('since')
            writer.describe(tag, record_description(current['opened'] or now, current['note'], since=since, kind=current['kind'], **merged),
                            'writing the phase %s of the maintenance record' % merged['phase'])
    if not missing and before['open'] and changes:
        # Only the description changed, and its write was acknowledged or read back: the record after is known without a read.
        return True, before, dict(before, **changes, **({'since': now} if 'phase' in changes else {}))
    writer.each(lambda vm_id: writer.add_member(tag, vm_id), missing)
    after = read_record(client, name)
    lost = [vm_id for vm_id in wanted if vm_id not in after['ids']]
    if lost:
        raise VergeOSError('VergeOS does not list VM(s) %s in the maintenance record %s after they were added'
                           % (', '.join(str(vm_id) for vm_id in lost), name))
    return True, before, after


def close_record(client, name, ids=None, *, check_mode=False, persistence=None, clock=time.time):
    """Close the record ``name`` for the VMs ``ids`` (None: for all); return (changed, record before, record after).

    The VMs' memberships are removed; the tag goes when no VM is left in it, and the record's
    sibling ``<name>+closed`` then says when (a relaunch of the finished job reads it and stops
    nothing again). Closing a record that is not open changes nothing.
    """
    name = check_record_name(name)
    before = read_record(client, name)
    if not before['open']:
        return False, before, before
    leaving = list(before['ids']) if ids is None else [vm_id for vm_id in unique(vm_key(value) for value in ids) if vm_id in before['ids']]
    staying = [vm_id for vm_id in before['ids'] if vm_id not in leaving]
    # Releasing VMs one by one never closes a record whose restore parked VMs (its set waiting); closing it whole (ids None) does.
    parked = ids is not None and bool(before['siblings'].get(WAITING, {}).get('ids'))
    if not leaving and (staying or parked):
        return False, before, before
    if check_mode:
        after = closed_record(name) if not staying and not parked else dict(
            before, ids=staying, vms=[vm for vm in before['vms'] if vm['id'] in staying],
            vanished_ids=[vm_id for vm_id in before['vanished_ids'] if vm_id in staying])
        return True, before, after
    writer = Writer(client, persistence or Persistence())
    tag = {'$key': before['tag_id'], 'name': name}
    members = read_members(client, [tag])[before['tag_id']]

    def remove(vm_id):
        writer.delete('tag_members/%s' % members[vm_id], lambda: vm_id not in read_members(client, [tag])[before['tag_id']],
                      'the VM left the record', 'removing VM %d from the maintenance record %s' % (vm_id, name))
    writer.each(remove, [vm_id for vm_id in leaving if vm_id in members])
    if not staying and parked:
        return True, before, read_record(client, name)
    if not staying:
        writer.mark_closed(find_category(client), name, closed_description(clock(), before))
        # The record's sets go with it (each tag with its members), before the record's own tag: a crash in between leaves
        # an open, empty record that the next close finishes.
        writer.each(lambda word: _delete_set(client, writer, name, word, before['siblings'][word]['tag_id']), sorted(before['siblings']))
        writer.delete('tags/%s' % before['tag_id'], lambda: read_record(client, name)['open'] is False, 'the record is closed',
                      'closing the maintenance record %s' % name)
    return True, before, read_record(client, name)


def _delete_set(client, writer, name, word, tag_id):
    def gone():
        category = find_category(client)
        return category is None or not _one(find_tags(client, category, ['%s+%s' % (name, word)]), 'sets %s of %s' % (word, name))
    writer.delete('tags/%s' % tag_id, gone, 'the set is gone', 'removing the set %s of the maintenance record %s' % (word, name))


def check_set(word):
    """Return a set's word; VergeOSError naming the rule for anything else."""
    if not isinstance(word, str) or not SET_RULE.match(word) or word in RESERVED_SETS:
        raise VergeOSError('a set of a maintenance record is named by 1 to 16 lower-case letters and _, starting with a letter, and not %s; '
                           'not %r' % (' or '.join(RESERVED_SETS), word))
    return word


def _set_data(data):
    if data is None:
        return {}
    if not isinstance(data, dict) or any(not isinstance(key, str) for key in data) or any(
            isinstance(value, (dict, list)) for value in data.values()):
        raise VergeOSError('the data of a set must map text to text or numbers, not %r' % (data,))
    return dict(data)


def open_set(client, name, word, ids, data=None, *, check_mode=False, persistence=None):
    """Add the VMs ``ids`` to the set ``word`` of the open record ``name`` and merge ``data`` into its data.

    Returns (changed, record before, record after). Adding is idempotent (a membership each), so two
    writers may race; the data is rewritten whole (read, merge, write): one writer per record, the
    lease holder (docs/maintenance.md).
    """
    name, word = check_record_name(name), check_set(word)
    data = _set_data(data)
    before = read_record(client, name)
    if not before['open'] and not check_mode:
        # (In check mode the record a task before this one would have opened is not there: what the set would hold is said.)
        raise VergeOSError('the maintenance record %s is not open: open it before writing its set %s' % (name, word))
    current = before['siblings'].get(word) or {'ids': [], 'data': {}, 'tag_id': None}
    missing = [vm_id for vm_id in unique(vm_key(value) for value in ids or []) if vm_id not in current['ids']]
    merged = dict(current['data'], **data)
    text = set_description(name, word, merged)
    if current['tag_id'] is not None and not missing and merged == current['data']:
        return False, before, before
    if check_mode:
        siblings = dict(before['siblings'], **{word: dict(current, ids=sorted(set(current['ids']) | set(missing)), data=merged)})
        return True, before, dict(before, siblings=siblings)
    writer = Writer(client, persistence or Persistence())
    category = find_category(client)
    if missing:
        category = writer.taggable(category)
    tag = {'$key': current['tag_id'], 'name': '%s+%s' % (name, word)}
    if current['tag_id'] is None:
        tag = writer.tag(category, tag['name'], text)
    elif merged != current['data']:
        writer.describe(tag, text, 'writing the data of the set %s of the maintenance record %s' % (word, name))
    writer.each(lambda vm_id: writer.add_member(tag, vm_id), missing)
    return True, before, read_record(client, name)


def close_set(client, name, word, ids=None, *, check_mode=False, persistence=None):
    """Remove the VMs ``ids`` (and their keys of the data) from the set ``word`` of the record ``name``; the whole set when None."""
    name, word = check_record_name(name), check_set(word)
    before = read_record(client, name)
    current = before['siblings'].get(word)
    if current is None:
        return False, before, before
    leaving = current['ids'] if ids is None else [vm_id for vm_id in unique(vm_key(value) for value in ids) if vm_id in current['ids']]
    dropped = set(current['data']) if ids is None else {str(vm_id) for vm_id in unique(vm_key(value) for value in ids)} & set(current['data'])
    if ids is not None and not leaving and not dropped:
        return False, before, before
    if check_mode:
        siblings = {key: value for key, value in before['siblings'].items() if key != word}
        if ids is not None:
            kept = {key: value for key, value in current['data'].items() if key not in dropped}
            siblings[word] = dict(current, ids=[vm_id for vm_id in current['ids'] if vm_id not in leaving], data=kept)
        return True, before, dict(before, siblings=siblings)
    writer = Writer(client, persistence or Persistence())
    if ids is None:
        _delete_set(client, writer, name, word, current['tag_id'])
        return True, before, read_record(client, name)
    tag = {'$key': current['tag_id'], 'name': '%s+%s' % (name, word)}
    if dropped:
        writer.describe(tag, set_description(name, word, {key: value for key, value in current['data'].items() if key not in dropped}),
                        'writing the data of the set %s of the maintenance record %s' % (word, name))
    members = read_members(client, [tag])[current['tag_id']]

    def remove(vm_id):
        writer.delete('tag_members/%s' % members[vm_id], lambda: vm_id not in read_members(client, [tag])[current['tag_id']],
                      'the VM left the set', 'removing VM %d from the set %s of the maintenance record %s' % (vm_id, word, name))
    writer.each(remove, [vm_id for vm_id in leaving if vm_id in members])
    return True, before, read_record(client, name)


def record_result(changed, before, after, diff=False):
    """Return the module result of an open or close."""
    result = {'failed': False, 'changed': changed, 'record': after}
    if diff:
        result['diff'] = _diff(before, after)
    return result
