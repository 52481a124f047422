# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The read-only probe (vergeos_api_probe): what one VergeOS system does where the public sources disagree.

Every request is a GET through the client. Each check answers a value and a detail in words:

- ``sort_key``: a listing with ``sort=$key`` - ``works``, ``refused`` (400/422) or ``ignored`` (rows out of key order,
  or in another order when read again);
- ``member_bw``: ``tag_members`` with ``member bw 'vms/'`` - ``works``, ``refused`` or ``ignored`` (other members came);
- ``key_type``: ``$key`` and ``machine`` of ``vms`` rows - ``int``, ``string`` or ``mixed``;
- ``error_body``: the body of a harmless bad request (a VM key 0) - ``text``, ``flag``, ``nested`` or ``other``;
- ``default_fields``: a VM read by key without ``fields`` - ``all`` (every column of ``fields=most``) or ``short``;
- ``traversed_filters``: ``machine#status#status eq 'running'`` on ``vms`` - ``works``, ``refused`` or ``ignored``;
- ``status_key``: the ``$key`` of running VMs' status rows against their machine keys - ``equal``, ``differs`` or ``mixed``;
- ``maintenance_category``: ``taggable_vms`` of the maintenance records' tag category - ``taggable``, ``not_taggable``
  (the collection sets it when the user may) or ``unknown`` (no such category yet, or no such column);
- ``preflight_reads``: the two reads of the power-on pre-flight (``nodes`` with their RAM, the running machines'
  status rows) - ``works``, ``refused`` (403 and the like: the pre-flight is skipped with a warning) or ``unknown``.

POST receipts are not probed (the probe never writes); the client reads their keys as numbers whatever their type.

A check that cannot be made says ``error``; one whose answer cannot tell (too few rows, no tag member, no running
VM) says ``unknown``, never ``works``. No check fails the module: only a system that cannot be reached, or refuses the
login, does. docs/real-systems.md says what the collection does about each answer.
"""

from __future__ import annotations

import json

from ansible_collections.vergeos.power.plugins.module_utils.argspec import connection_argument_spec
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError, shorten
from ansible_collections.vergeos.power.plugins.module_utils.maintenance import CATEGORY
from ansible_collections.vergeos.power.plugins.module_utils.query import condition
from ansible_collections.vergeos.power.plugins.module_utils.tasks import run_guarded
from ansible_collections.vergeos.power.plugins.module_utils.vms import NOT_SNAPSHOT

# Rows read per listing: enough to see an order or a mix of key types, cheap on a large system.
LIMIT = 100
SYSTEM_FIELDS = ('yb_version', 'os_version', 'cloud_name')
# The check could not be made (no answer, a server error, an answer of an unexpected shape).
ERROR = 'error'
# The answer cannot tell (too few rows).
UNKNOWN = 'unknown'
# The answers of a request VergeOS found wrong or forbidden: the behaviour asked for is not supported, or not for this user.
REFUSING_STATUSES = (400, 403, 422)
# A by-key read of this key is the harmless bad request (VergeOS keys start at 1); a missing table if it is answered.
MISSING_PATHS = ('vms/0', 'vergeos_power_probe_no_such_table')
# The columns of vms the API documentation names: what "all" means when fields=most cannot be read.
DOCUMENTED_VM_COLUMNS = ('$key', 'name', 'description', 'enabled', 'cpu_cores', 'ram', 'os_family', 'guest_agent', 'uefi',
                         'machine_type', 'created', 'modified', 'is_snapshot', 'uuid', 'machine')
NAME_WIDTH = 18
VALUE_WIDTH = 9
DETAIL_WIDTH = 110


def probe_argument_spec():
    """Return vergeos_api_probe's argument spec: the connection options alone."""
    return connection_argument_spec()


# ---------------------------------------------------------------- helpers


def _preview(values, count=6):
    """Return the first values of a list in words: ``3, 1, 2 ...``."""
    text = ', '.join(str(value) for value in values[:count])
    return text + (' ...' if len(values) > count else '')


def _keys(rows):
    """Return the ``$key`` of each row as an int (numeric strings accepted); None when one is no whole number."""
    keys = [_whole(row.get('$key')) for row in rows]
    return None if None in keys else keys


def _whole(value):
    """Return a key as an int (a numeric string accepted); None for anything else."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _listing(answer, attempted):
    """Return a table answer, a list of row dicts, exactly as it came (query.rows_of would turn string keys into ints)."""
    if not isinstance(answer, list) or not all(isinstance(row, dict) for row in answer):
        raise VergeOSError('unexpected answer, expected a list of rows: %s' % shorten(repr(answer), 120), None, attempted)
    return answer


def _one_row(answer, attempted):
    """Return the row of a by-key read: an object (or a list of one); VergeOSError otherwise."""
    if isinstance(answer, list) and len(answer) == 1:
        answer = answer[0]
    if not isinstance(answer, dict):
        raise VergeOSError('unexpected answer, expected one row: %s' % shorten(repr(answer), 120), None, attempted)
    return answer


def body_shape(body):
    """Return the shape of an error body: ``text`` {"err": "..."}, ``flag`` {"err": true, "message": "..."},
    ``nested`` {"err": {"message": "..."}}, or ``other``."""
    if isinstance(body, dict):
        err = body.get('err')
        if isinstance(err, str):
            return 'text'
        if err is True and isinstance(body.get('message'), str):
            return 'flag'
        if isinstance(err, dict) and isinstance(err.get('message'), str):
            return 'nested'
    return 'other'


def _body_text(body):
    return body if isinstance(body, str) else json.dumps(body, sort_keys=True)


# ---------------------------------------------------------------- checks


def check_sort_key(client):
    """Read vms with ``sort=$key`` twice and with ``sort=-$key`` once; compare the orders with the keys."""
    attempted = 'reading vms sorted by $key'
    orders = []
    for sort in ('$key', '$key', '-$key'):
        rows = _listing(client.get('vms', {'fields': '$key', 'sort': sort, 'limit': LIMIT}, attempted=attempted), attempted)
        keys = _keys(rows)
        if keys is None:
            return ERROR, 'a row of vms carries no whole-number $key: %s' % shorten(repr(rows), 120)
        orders.append(keys)
    first, again, descending = orders
    if len(first) < 2:
        return UNKNOWN, 'vms has %d row(s): no order to see' % len(first)
    problems = []
    if first != sorted(first):
        problems.append('sort=$key answered keys out of order (%s)' % _preview(first))
    elif again != first:
        problems.append('two reads with sort=$key came in different orders (%s, then %s)' % (_preview(first), _preview(again)))
    if descending != sorted(descending, reverse=True):
        problems.append('sort=-$key answered keys out of order (%s)' % _preview(descending))
    if problems:
        return 'ignored', '; '.join(problems)
    return 'works', 'sort=$key (twice) and sort=-$key ordered %d rows of vms by key' % len(first)


def check_member_bw(client):
    """Read tag_members with ``member bw 'vms/'``; every row must be a VM's."""
    attempted = "reading tag_members with member bw 'vms/'"
    params = {'filter': condition('member', 'bw', 'vms/'), 'fields': '$key,member', 'limit': LIMIT}
    rows = _listing(client.get('tag_members', params, attempted=attempted), attempted)
    others = [row.get('member') for row in rows if not str(row.get('member')).startswith('vms/')]
    if others:
        return 'ignored', '%d of %d rows are not VM members (%s): the filter was not applied' % (len(others), len(rows), _preview(others))
    if not rows:
        return UNKNOWN, 'accepted, but no VM carries a tag: no row to tell whether the filter was applied'
    return 'works', '%d row(s), every one a VM member' % len(rows)


def _kind(value):
    if isinstance(value, bool):
        return 'other'
    if isinstance(value, int):
        return 'int'
    return 'string' if isinstance(value, str) else 'other'


def check_key_type(client):
    """Read ``$key`` and ``machine`` of vms rows and count the JSON types of each."""
    attempted = 'reading the keys of vms'
    rows = _listing(client.get('vms', {'fields': '$key,machine', 'limit': LIMIT}, attempted=attempted), attempted)
    if not rows:
        return UNKNOWN, 'vms has no row'
    counts = {}
    for column in ('$key', 'machine'):
        column_counts = counts.setdefault(column, {})
        for row in rows:
            kind = _kind(row.get(column))
            column_counts[kind] = column_counts.get(kind, 0) + 1
    seen = {kind for column_counts in counts.values() for kind in column_counts if kind != 'other'}
    value = 'mixed' if len(seen) > 1 else (seen.pop() if seen else UNKNOWN)
    detail = '; '.join('%s: %s' % (column, ', '.join('%d %s' % (column_counts[kind], kind) for kind in ('int', 'string', 'other')
                                                     if column_counts.get(kind)))
                       for column, column_counts in counts.items())
    return value, '%s (%d rows of vms)' % (detail, len(rows))


def check_error_body(client):
    """GET a VM of key 0 (a missing table if that is answered) and report the shape of the error body."""
    for path in MISSING_PATHS:
        try:
            client.get(path, attempted='reading %s (a harmless bad request)' % path)
        except VergeOSError as exc:
            body = getattr(exc, 'body', None)
            if exc.status is None or body is None:
                return ERROR, str(exc)
            return body_shape(body), 'HTTP %s to GET %s: %s; the collection reports: %s' % (
                exc.status, path, shorten(_body_text(body), 160), shorten(exc.message, 120))
    return ERROR, 'GET %s were both answered without an error' % ' and '.join(MISSING_PATHS)


def check_default_fields(client):
    """Read one VM by key without ``fields`` and compare its columns with ``fields=most``."""
    attempted = 'reading a VM key'
    rows = _listing(client.get('vms', {'fields': '$key', 'filter': NOT_SNAPSHOT, 'limit': 1}, attempted=attempted), attempted)
    if not rows or rows[0].get('$key') is None:
        return UNKNOWN, 'no VM to read'
    path = 'vms/%s' % rows[0]['$key']
    attempted = 'reading %s without fields' % path
    columns = set(_one_row(client.get(path, attempted=attempted), attempted))
    try:
        attempted = 'reading %s with fields=most' % path
        reference, against = set(_one_row(client.get(path, {'fields': 'most'}, attempted=attempted), attempted)), 'fields=most'
    except VergeOSError:
        reference, against = set(DOCUMENTED_VM_COLUMNS), 'the documented columns of vms'
    missing = sorted(reference - columns)
    listed = ', '.join(sorted(columns))
    if not missing:
        return 'all', 'GET %s without fields: %d columns, every one of %s' % (path, len(columns), against)
    return 'short', 'GET %s without fields: %d columns (%s); %d of %s missing (%s)' % (
        path, len(columns), listed, len(missing), against, _preview(missing))


def check_traversed_filters(client):
    """Read vms with ``machine#status#status eq 'running'``; every row must be running."""
    attempted = 'reading vms filtered on machine#status#status'
    params = {'filter': condition('machine#status#status', 'eq', 'running'), 'fields': '$key,machine#status#status as status',
              'limit': LIMIT}
    rows = _listing(client.get('vms', params, attempted=attempted), attempted)
    others = [row.get('status') for row in rows if row.get('status') != 'running']
    if others:
        return 'ignored', '%d of %d rows are not running (%s): the filter was not applied' % (len(others), len(rows), _preview(others))
    if not rows:
        return UNKNOWN, 'accepted, but no VM is running: no row to tell whether the filter was applied'
    return 'works', '%d row(s), every one running' % len(rows)


def check_status_key(client):
    """Read running VMs' status rows and compare each ``$key`` with its ``machine`` (the collection reads status by machine)."""
    attempted = 'reading the status rows of running VMs'
    params = {'filter': condition('running', 'eq', True), 'fields': '$key,machine', 'limit': LIMIT}
    rows = _listing(client.get('machine_status', params, attempted=attempted), attempted)
    pairs = [(_whole(row.get('$key')), _whole(row.get('machine'))) for row in rows]
    pairs = [pair for pair in pairs if None not in pair]
    if not pairs:
        return UNKNOWN, 'no running VM with a status row to compare'
    equal = sum(1 for key, machine in pairs if key == machine)
    value = 'equal' if equal == len(pairs) else ('differs' if not equal else 'mixed')
    return value, '%d of %d status rows have the machine key as their $key (the collection reads status through machine either way)' % (
        equal, len(pairs))


def check_maintenance_category(client):
    """Read the maintenance records' category and its ``taggable_vms`` (VergeOS refuses to tag a VM without it)."""
    attempted = 'reading the tag category %s' % CATEGORY
    params = {'filter': condition('name', 'eq', CATEGORY), 'fields': '$key,name,taggable_vms'}
    rows = [row for row in _listing(client.get('tag_categories', params, attempted=attempted), attempted) if row.get('name') == CATEGORY]
    if not rows:
        return UNKNOWN, 'no category %s yet: the first maintenance record creates it with taggable_vms' % CATEGORY
    taggable = rows[0].get('taggable_vms')
    if taggable is None:
        return UNKNOWN, 'the category %s shows no taggable_vms column' % CATEGORY
    if taggable:
        return 'taggable', 'the category %s may tag VMs (taggable_vms true)' % CATEGORY
    return 'not_taggable', ('the category %s has taggable_vms false: a maintenance record sets it before adding a VM when the user '
                            'may edit tag categories, and refuses before any power action otherwise' % CATEGORY)


def check_preflight_reads(client):
    """Make the power-on pre-flight's two reads (one row each): the nodes with their RAM, the running machines' status rows."""
    attempted = 'reading the nodes for the pre-flight check'
    nodes = _listing(client.get('nodes', {'fields': '$key,name,ram', 'limit': 1}, attempted=attempted), attempted)
    attempted = 'reading the running VMs for the pre-flight check'
    _listing(client.get('machine_status', {'filter': condition('running', 'eq', True), 'fields': '$key,node,running_ram', 'limit': 1},
                        attempted=attempted), attempted)
    if not nodes:
        return UNKNOWN, 'the nodes could be read but none was listed'
    if not isinstance(nodes[0].get('ram'), int) or isinstance(nodes[0].get('ram'), bool):
        return UNKNOWN, 'the nodes show no RAM: the pre-flight is skipped with a warning (refused with preflight=refuse)'
    return 'works', 'the nodes and the running VMs can be read: the pre-flight can check power-ons'


# (name, check, whether a refusal of its request is the answer)
CHECKS = (
    ('sort_key', check_sort_key, True),
    ('member_bw', check_member_bw, True),
    ('key_type', check_key_type, False),
    ('error_body', check_error_body, False),
    ('default_fields', check_default_fields, False),
    ('traversed_filters', check_traversed_filters, True),
    ('status_key', check_status_key, False),
    ('maintenance_category', check_maintenance_category, False),
    ('preflight_reads', check_preflight_reads, True),
)


def run_check(client, check, refusable):
    """Return {value, detail} of one check; a failure is reported, never raised."""
    try:
        value, detail = check(client)
    except VergeOSError as exc:
        if refusable and exc.status in REFUSING_STATUSES:
            value, detail = 'refused', '%s: HTTP %s: %s' % (exc.attempted, exc.status, exc.message)
        else:
            value, detail = ERROR, str(exc)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # An answer of a shape no check expects: reported with the others, the other checks still run.
        value, detail = ERROR, 'unexpected answer (%s: %s)' % (type(exc).__name__, shorten(str(exc), 160))
    return {'value': value, 'detail': detail}


def table_lines(system, behaviours):
    """Return the short human table: the system, then one line per behaviour."""
    lines = ['VergeOS %s (os_version %s), cloud_name %s' % tuple(system.get(name) for name in SYSTEM_FIELDS),
             '%-*s %-*s %s' % (NAME_WIDTH, 'behaviour', VALUE_WIDTH, 'value', 'detail')]
    for name, found in behaviours.items():
        lines.append('%-*s %-*s %s' % (NAME_WIDTH, name, VALUE_WIDTH, found['value'], shorten(found['detail'], DETAIL_WIDTH)))
    return lines


def probe(client):
    """Return the probe's result: the system's version fields, each behaviour, and the table. Raises only when about() fails."""
    about = client.about()
    system = {name: about.get(name) for name in SYSTEM_FIELDS}
    behaviours = {name: run_check(client, check, refusable) for name, check, refusable in CHECKS}
    return {'failed': False, 'changed': False, 'system': system, 'behaviours': behaviours, 'table': table_lines(system, behaviours)}


def run_probe(params, check_mode=False, diff=False):  # pylint: disable=unused-argument
    """Do what vergeos_api_probe does: read only, so check mode changes nothing; fail only when the system cannot be read."""
    result = run_guarded(params, probe, diff)
    if result.get('failed'):
        result.pop('vms', None)
    return result
