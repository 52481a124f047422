# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Finding VMs: one by id or exact name, many by ids/names, or by filters; with their power state.

Every read asks for VM_FIELDS, so one request gives the VM and its machine
status (through traversal fields). Snapshot rows of ``vms`` are never selected.
"""

from __future__ import annotations

import re
import warnings

from ansible_collections.vergeos.power.plugins.module_utils.details import read_vm_tags
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.power_state import POWER_STATES, power_state_of
from ansible_collections.vergeos.power.plugins.module_utils.query import (
    DEFAULT_PAGE_SIZE, MAX_URL_LENGTH, all_of, condition, list_rows, read_by_keys, unique,
)

VM_FIELDS = (
    '$key', 'name', 'description', 'enabled', 'machine', 'cpu_cores', 'ram', 'os_family', 'guest_agent', 'uefi',
    'machine_type', 'uuid', 'created', 'modified', 'is_snapshot',
    'machine#status as status_key',
    'machine#status#running as running',
    'machine#status#status as status',
    'machine#status#status_info as status_info',
    'machine#status#state as state',
    'machine#status#started as started',
    'machine#status#agent_version as agent_version',
    'machine#status#node#name as node_name',
    'machine#cluster#name as cluster_name',
)
NOT_SNAPSHOT = condition('is_snapshot', 'eq', False)
IS_SNAPSHOT = condition('is_snapshot', 'eq', True)
FILTER_KEYS = ('name_regex', 'tags', 'power_state', 'node', 'cluster')


# ---------------------------------------------------------------- input checks


def vm_key(value):
    """Return a VM id as an int (numeric strings accepted); VergeOSError otherwise."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and re.fullmatch(r'\s*\d+\s*', value):
        value = int(value)
    if not isinstance(value, int) or value < 1:
        raise VergeOSError('a VM id is a positive whole number (the VM $key), not %r' % (value,))
    return int(value)


def _name_list(value, what):
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(item, str) and item for item in values):
        raise VergeOSError('%s must be a name or a list of non-empty names, not %r' % (what, value))
    return values


# Perl and Python shorthands that POSIX extended regular expressions (what VergeOS's rx matches) do not have.
_NOT_POSIX = (
    (re.compile(r'\\[dDwWsSbB]'), r'\d, \w, \s and \b (use [0-9], [[:alnum:]_], [[:space:]])'),
    (re.compile(r'\(\?'), '(?...) groups and inline flags such as (?i) (VergeOS matches names case-sensitively)'),
    (re.compile(r'[*+?}]\?'), 'lazy quantifiers such as *? and +?'),
)


def check_name_regex(regex):
    """Return ``name_regex`` when it is a POSIX extended regular expression; VergeOSError naming what is wrong otherwise."""
    if not isinstance(regex, str) or not regex:
        raise VergeOSError('filters.name_regex must be a non-empty POSIX extended regular expression')
    try:
        with warnings.catch_warnings():
            # POSIX classes such as [[:digit:]] are valid here; Python only warns that it reads them differently.
            warnings.simplefilter('ignore', FutureWarning)
            re.compile(regex)
    except re.error as exc:
        raise VergeOSError('filters.name_regex %r is not a valid regular expression: %s' % (regex, exc)) from None
    for pattern, what in _NOT_POSIX:
        if pattern.search(regex):
            raise VergeOSError('filters.name_regex %r uses %s, which POSIX extended regular expressions (VergeOS matches name_regex with '
                               'rx) do not have' % (regex, what))
    return regex


def normalise_filters(filters):
    """Return filters with list values (names as given); VergeOSError for unknown keys or power states."""
    if not filters:
        return {}
    if not isinstance(filters, dict):
        raise VergeOSError('filters must be a dict with keys from: %s' % ', '.join(FILTER_KEYS))
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise VergeOSError('unknown filter key(s) %s: use %s' % (', '.join(unknown), ', '.join(FILTER_KEYS)))
    result = {}
    regex = filters.get('name_regex')
    if regex is not None:
        result['name_regex'] = check_name_regex(regex)
    for key in ('tags', 'power_state', 'node', 'cluster'):
        values = _name_list(filters.get(key), 'filters.' + key)
        if values:
            result[key] = values
    wrong = [state for state in result.get('power_state', []) if state not in POWER_STATES]
    if wrong:
        raise VergeOSError('filters.power_state: unknown %s; known: %s' % (', '.join(wrong), ', '.join(POWER_STATES)))
    return result


def _sorted(rows):
    return sorted(rows, key=lambda row: (str(row.get('name')), row.get('$key') or 0))


def _ids_text(rows):
    return ', '.join(str(row.get('$key')) for row in sorted(rows, key=lambda row: row.get('$key') or 0))


# ---------------------------------------------------------------- one VM


def snapshots_among(client, values, field='$key', max_url_length=MAX_URL_LENGTH):
    """Return {value: snapshot row} for the values (ids or names) that belong to snapshot rows of ``vms``.

    Called only once a lookup has already failed, so that "no VM" can say "that is a
    snapshot" (one more request on the failure path, none on the way to success).
    """
    try:
        rows = read_by_keys(client, 'vms', ('$key', 'name'), list(values), field=field, base_filter=IS_SNAPSHOT,
                            attempted='checking for snapshots', max_url_length=max_url_length)
    except VergeOSError:
        return {}
    column = '$key' if field == '$key' else 'name'
    return {row.get(column): row for row in rows}


def _not_found(client, values, field, what):
    """Return the VergeOSError text for values that match no VM, naming those that are snapshots."""
    snapshots = snapshots_among(client, values, field)
    plain = [value for value in values if value not in snapshots]
    words = []
    if plain:
        words.append('no VM %s %s' % (what, ', '.join(str(value) if field == '$key' else repr(value) for value in plain)))
    for value in values:
        if value in snapshots:
            row = snapshots[value]
            words.append('%s %s is a snapshot (%s, id %s), not a VM: power and snapshot tasks take the VM itself'
                         % ('id' if field == '$key' else 'name', value if field == '$key' else repr(value), row.get('name'), row.get('$key')))
    return '; '.join(words)


def vm_by_id(client, vm_id):
    """Return the VM row with this id: ONE request; VergeOSError when there is none."""
    key = vm_key(vm_id)
    attempted = 'reading VM id %d' % key
    rows = read_by_keys(client, 'vms', VM_FIELDS, [key], base_filter=NOT_SNAPSHOT, attempted=attempted)
    if not rows:
        raise VergeOSError(_not_found(client, [key], '$key', 'has id'), None, attempted)
    return rows[0]


def vm_by_name(client, name):
    """Return the one VM row with exactly this name: ONE request; VergeOSError for none or several."""
    if not isinstance(name, str) or not name:
        raise VergeOSError('a VM name must be a non-empty string, not %r' % (name,))
    attempted = 'looking up VM %r' % name
    rows = read_by_keys(client, 'vms', VM_FIELDS, [name], field='name', base_filter=NOT_SNAPSHOT, attempted=attempted)
    if not rows:
        raise VergeOSError(_not_found(client, [name], 'name', 'is named'), None, attempted)
    if len(rows) > 1:
        raise VergeOSError('%d VMs are named %r (ids %s): give id to pick one' % (len(rows), name, _ids_text(rows)), None, attempted)
    return rows[0]


# ---------------------------------------------------------------- many VMs


def read_vms(client, ids, attempted='reading VMs', max_url_length=MAX_URL_LENGTH):
    """Return {id: VM row} for these ids: one request per chunk of ids (absent ids are left out)."""
    keys = [vm_key(value) for value in ids]
    rows = read_by_keys(client, 'vms', VM_FIELDS, keys, base_filter=NOT_SNAPSHOT, attempted=attempted, max_url_length=max_url_length)
    return {row['$key']: row for row in rows}


def vm_reader(client, max_url_length=MAX_URL_LENGTH):
    """Return the reader the power engine polls with: keys -> {key: row}, one read per round."""
    return lambda keys: read_vms(client, keys, attempted='polling the power state of %d VM(s)' % len(keys), max_url_length=max_url_length)


def vms_by_ids(client, ids, max_url_length=MAX_URL_LENGTH):
    """Return the VM rows of these ids (each once); VergeOSError naming the ids that do not exist."""
    keys = unique(vm_key(value) for value in ids)
    found = read_vms(client, keys, max_url_length=max_url_length)
    missing = [key for key in keys if key not in found]
    if missing:
        raise VergeOSError(_not_found(client, missing, '$key', 'has id'), None, 'reading VMs by id')
    return [found[key] for key in keys]


def vms_by_names(client, names, max_url_length=MAX_URL_LENGTH):
    """Return one VM row per name; VergeOSError naming the names that match no VM, or several."""
    names = unique(_name_list(names, 'names'))
    attempted = 'looking up VMs by name'
    rows = read_by_keys(client, 'vms', VM_FIELDS, names, field='name', base_filter=NOT_SNAPSHOT, attempted=attempted,
                        max_url_length=max_url_length)
    by_name = {}
    for row in rows:
        by_name.setdefault(row.get('name'), []).append(row)
    missing = [name for name in names if name not in by_name]
    ambiguous = ['%r (ids %s)' % (name, _ids_text(by_name[name])) for name in names if len(by_name.get(name, ())) > 1]
    problems = []
    if missing:
        problems.append(_not_found(client, missing, 'name', 'is named'))
    if ambiguous:
        problems.append('several VMs share the name %s: give ids to pick' % '; '.join(ambiguous))
    if problems:
        raise VergeOSError('; '.join(problems), None, attempted)
    return [by_name[name][0] for name in names]


def tagged_vm_ids(client, tags):
    """Return the ids of the VMs that carry every one of these tag names: ONE tag_members request."""
    carried = {key: [tag['name'] for tag in found] for key, found in read_vm_tags(client).items()}
    return ids_carrying_tags(carried, tags)


def ids_carrying_tags(tag_names_by_vm, tags):
    """Return the sorted ids of the VMs whose tag names ({id: names}) include every one of ``tags``."""
    wanted = set(tags)
    return sorted(key for key, names in tag_names_by_vm.items() if wanted <= set(names))


def matches_client_filters(row, filters):
    """Return whether a VM row passes the filters evaluated on the client: power_state, node, cluster."""
    if 'power_state' in filters and power_state_of(row.get('status')) not in filters['power_state']:
        return False
    if 'node' in filters and row.get('node_name') not in filters['node']:
        return False
    return not ('cluster' in filters and row.get('cluster_name') not in filters['cluster'])


def _server_filter(name_regex=None):
    """Return the filter every listing of VMs sends: no snapshot rows, and the name regex (``rx``) when given."""
    return NOT_SNAPSHOT if not name_regex else all_of(NOT_SNAPSHOT, condition('name', 'rx', name_regex))


def _refuse_snapshot_rows(rows):
    """Raise VergeOSError when a listing that excludes snapshots answered some: its filter was not applied."""
    if any(row.get('is_snapshot') for row in rows):
        raise VergeOSError('VergeOS answered snapshot rows to a listing that excludes them: the filter was not applied, for example '
                           'by a proxy that drops query strings; nothing was done', None, 'listing VMs')


def list_vms(client, *, name_regex=None, extra_fields=(), page_size=DEFAULT_PAGE_SIZE):
    """Return every VM row (never a snapshot), with ``name_regex`` matched on the server: one request per page.

    The one listing of VMs, for the modules' filters and the inventory alike. ``extra_fields``
    are added to VM_FIELDS (the inventory's guest agent view). Raises VergeOSError when the
    answer holds snapshot rows: the filter was dropped on the way, and nothing else it says can
    be trusted either.
    """
    rows = list_rows(client, 'vms', VM_FIELDS + tuple(extra_fields), filter_text=_server_filter(name_regex), page_size=page_size,
                     attempted='listing VMs')
    _refuse_snapshot_rows(rows)
    return rows


def vms_by_filters(client, filters, page_size=DEFAULT_PAGE_SIZE, max_url_length=MAX_URL_LENGTH):
    """Return the VM rows matching the filters, sorted by name then id.

    ``name_regex`` is matched on the server (``rx``); ``tags`` costs one tag_members
    request and then one read per chunk of the tagged ids; otherwise one request per
    page of VMs (``list_vms``). ``power_state``, ``node`` and ``cluster`` are matched here.
    """
    filters = normalise_filters(filters)
    if 'tags' in filters:
        ids = tagged_vm_ids(client, filters['tags'])
        rows = read_by_keys(client, 'vms', VM_FIELDS, ids, base_filter=_server_filter(filters.get('name_regex')),
                            attempted='reading the tagged VMs', max_url_length=max_url_length)
        _refuse_snapshot_rows(rows)
    else:
        rows = list_vms(client, name_regex=filters.get('name_regex'), page_size=page_size)
    return _sorted(row for row in rows if matches_client_filters(row, filters))


# ---------------------------------------------------------------- selection


def check_blast_radius(rows, by_filter, allow_empty=False, max_targets=None):
    """Raise VergeOSError when a selection by filter is empty (unless allowed) or larger than max_targets."""
    if not by_filter:
        return
    if not rows and not allow_empty:
        raise VergeOSError('the filters match no VM (set allow_empty to accept that)')
    if max_targets is not None and len(rows) > max_targets:
        names = ', '.join(str(row.get('name')) for row in rows[:10]) + (', ...' if len(rows) > 10 else '')
        raise VergeOSError('the filters match %d VMs, more than max_targets (%d): %s; narrow the filters or raise max_targets'
                           % (len(rows), max_targets, names))


def names_vms(selection):
    """Return whether a selection (``select_vms``'s keywords) names VMs by ``vm_id``, ``name``, ``ids`` or ``names``."""
    return selection.get('vm_id') is not None or selection.get('name') is not None or bool(selection.get('ids')) \
        or bool(selection.get('names'))


def has_selection(selection):
    """Return whether a selection selects VMs at all: by id, name, ids, names or (non-empty) filters."""
    return names_vms(selection) or bool(selection.get('filters'))


def is_single(selection):
    """Return whether a selection (``select_vms``'s keywords) names exactly one VM, by ``vm_id`` or ``name`` alone.

    Only then does a module also put that VM's keys at the top level of its result.
    """
    return (selection.get('vm_id') is not None or selection.get('name') is not None) and not selection.get('ids') \
        and not selection.get('names') and not selection.get('filters')


def select_vms(client, *, vm_id=None, name=None, ids=None, names=None, filters=None, allow_empty=False, max_targets=None,
               page_size=DEFAULT_PAGE_SIZE, max_url_length=MAX_URL_LENGTH):
    """Return the selected VM rows, the same way for every module and the role.

    One VM by ``vm_id`` or ``name``, many by ``ids`` and/or ``names`` (each must exist,
    a shared name is an error listing its ids), or by ``filters``. Filters cannot be
    mixed with the others. ``allow_empty`` and ``max_targets`` apply to filters only
    (``max_targets`` None: no limit, as for reading). Many VMs come sorted by name, then id.
    """
    explicit = names_vms({'vm_id': vm_id, 'name': name, 'ids': ids, 'names': names})
    if filters and explicit:
        raise VergeOSError('select VMs either by filters or by id, name, ids and names, not both')
    if filters:
        rows = vms_by_filters(client, filters, page_size=page_size, max_url_length=max_url_length)
        check_blast_radius(rows, True, allow_empty, max_targets)
        return rows
    if not explicit:
        raise VergeOSError('no VM selected: give id, name, ids, names or filters')
    if vm_id is not None and name is None and not ids and not names:
        return [vm_by_id(client, vm_id)]
    if name is not None and vm_id is None and not ids and not names:
        return [vm_by_name(client, name)]
    rows = []
    all_ids = ([] if vm_id is None else [vm_id]) + list(ids or [])
    all_names = ([] if name is None else [name]) + _name_list(names, 'names')
    if all_ids:
        rows.extend(vms_by_ids(client, all_ids, max_url_length=max_url_length))
    if all_names:
        rows.extend(vms_by_names(client, all_names, max_url_length=max_url_length))
    unique_rows = {row['$key']: row for row in rows}
    return _sorted(unique_rows.values())
