# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""VergeOS query strings and the two bulk readers every listing goes through.

Filters: strings in single quotes with ``\\``, ``'`` and ``{`` escaped by a
backslash; ``and``/``or`` evaluated strictly left to right, so every compound
part is parenthesised; no ``in`` operator, so value lists become
``field eq a or field eq b ...`` in chunks that keep the URL short.
"""

from __future__ import annotations

import concurrent.futures
import math
from urllib.parse import quote_plus, urlencode

from ansible_collections.vergeos.power.plugins.module_utils.client import endpoint_url
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError, shorten

OPERATORS = ('eq', 'ne', 'gt', 'ge', 'lt', 'le', 'bw', 'ew', 'cs', 'ct', 'rx')
# Columns (and the collection's aliases) that hold keys. VergeOS may serve a key as a numeric string
# ("$key": "36" in receipts, and in rows "sometimes"): rows_of turns those into ints, so nothing above
# this layer compares 36 with "36".
KEY_COLUMNS = frozenset(('$key', 'machine', 'status_key', 'tag', 'category', 'vm', 'node', 'cluster', 'snap_machine', 'parent_nic',
                         'migrated_node', 'migration_destination', 'preferred_node'))
DEFAULT_PAGE_SIZE = 500
# Well under the 8 KiB request line most servers and proxies accept.
MAX_URL_LENGTH = 4000


def escape(text):
    """Return text escaped for the inside of a single-quoted filter literal."""
    return text.replace('\\', '\\\\').replace("'", "\\'").replace('{', '\\{')


def literal(value):
    """Return a Python value as a filter literal: quoted string, true/false, null or a number."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return "'%s'" % escape(value)
    raise VergeOSError('cannot use %r as a filter value' % (value,))


def condition(field, operator, value):
    """Return ``field operator literal``, e.g. ``condition('name', 'eq', "it's")`` -> ``name eq 'it\\'s'``."""
    if operator not in OPERATORS:
        raise VergeOSError('unknown filter operator %r (known: %s)' % (operator, ', '.join(OPERATORS)))
    if not field or any(c.isspace() or c in "()'," for c in field):
        raise VergeOSError('invalid field name %r in a filter' % (field,))
    return '%s %s %s' % (field, operator, literal(value))


def _words_outside_quotes(text):
    """Yield the top-level words of a filter (outside quotes and parentheses)."""
    word, depth, index = [], 0, 0
    while index < len(text):
        char = text[index]
        if char == "'":
            index += 1
            while index < len(text) and text[index] != "'":
                index += 2 if text[index] == '\\' else 1
        elif char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
        elif char.isspace():
            if word and depth == 0:
                yield ''.join(word)
            word = []
        elif depth == 0:
            word.append(char)
        index += 1
    if word and depth == 0:
        yield ''.join(word)


def is_compound(text):
    """Return whether a filter joins conditions with and/or at its top level."""
    return any(word in ('and', 'or') for word in _words_outside_quotes(text))


def _join(conjunction, parts):
    parts = [part for part in parts if part]
    if len(parts) == 1:
        return parts[0]
    return (' %s ' % conjunction).join('(%s)' % part if is_compound(part) else part for part in parts)


def all_of(*parts):
    """Return the conjunction of filters (empty ones skipped), compound ones in parentheses."""
    return _join('and', parts)


def any_of(*parts):
    """Return the disjunction of filters (empty ones skipped), compound ones in parentheses."""
    return _join('or', parts)


def fields_param(fields):
    """Return the ``fields`` parameter for a list of field expressions."""
    if isinstance(fields, str):
        return fields
    for field in fields:
        if ',' in field:
            raise VergeOSError('field %r must not contain a comma' % (field,))
    return ','.join(fields)


def _plain_type(value):
    """The built-in type a value is one of: ansible-core 2.19 hands modules' arguments as subclasses (tagged ints and strings)."""
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind
    return type(value)


def unique(values):
    """Return values without repeats, in their first order (3 and "3" differ; a tagged 3 and a plain 3 do not)."""
    seen = set()
    result = []
    for value in values:
        marker = (_plain_type(value), value)
        if marker not in seen:
            seen.add(marker)
            result.append(value)
    return result


def url_length(base_url, table, params):
    """Return the length of the URL requests builds for these parameters (quote_plus encoding)."""
    query = urlencode(params)
    return len(endpoint_url(base_url, table)) + (1 + len(query) if query else 0)


def chunk_filters(field, values, base=None, fixed_length=0, max_url_length=MAX_URL_LENGTH):
    """Yield (values, filter) chunks: ``base and (field eq v1 or field eq v2 ...)`` per chunk.

    ``fixed_length`` is the URL's length without the filter parameter; each chunk's
    URL (with ``&filter=`` and the encoded filter) stays within ``max_url_length``.
    """
    values = unique(values)
    # '&filter=' plus the base and the parentheses around the key list, all encoded.
    overhead = fixed_length + len('&filter=') + (len(quote_plus('(%s) and ()' % base)) if base else 0)
    separator = len(quote_plus(' or '))
    chunk, terms, size = [], [], overhead
    for value in values:
        term = condition(field, 'eq', value)
        cost = len(quote_plus(term)) + (separator if terms else 0)
        if terms and size + cost > max_url_length:
            yield chunk, all_of(base, any_of(*terms))
            chunk, terms, size = [], [], overhead
            cost = len(quote_plus(term))
        if size + cost > max_url_length:
            if overhead >= max_url_length:
                raise VergeOSError('the fields and filter alone make a URL of %d characters, more than %d' % (overhead, max_url_length))
            raise VergeOSError('the value %s is too long for a request URL of at most %d characters' % (shorten(repr(value), 60), max_url_length))
        chunk.append(value)
        terms.append(term)
        size += cost
    if terms:
        yield chunk, all_of(base, any_of(*terms))


def key_value(value):
    """Return a key as an int when it is a numeric string; anything else unchanged."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def normal_keys(row):
    """Return the row with every key column (KEY_COLUMNS) a number when VergeOS served it as a numeric string."""
    if not any(isinstance(row.get(name), str) for name in KEY_COLUMNS):
        return row
    return {name: key_value(value) if name in KEY_COLUMNS else value for name, value in row.items()}


def rows_of(answer, attempted=None):
    """Return a table answer as a list of row dicts, keys as numbers; VergeOSError for anything else."""
    if not isinstance(answer, list) or not all(isinstance(row, dict) for row in answer):
        raise VergeOSError('unexpected answer, expected a list of rows: %s' % shorten(repr(answer), 120), None, attempted)
    return [normal_keys(row) for row in answer]


def _in_key_order(page, previous_last):
    """Whether a page's keys rise strictly, and start above the previous page's last key."""
    keys = [row.get('$key') for row in page]
    if not all(isinstance(key, int) and not isinstance(key, bool) for key in keys):
        return False
    if previous_last is not None and keys and keys[0] <= previous_last:
        return False
    return all(keys[index] < keys[index + 1] for index in range(len(keys) - 1))


def list_rows(client, table, fields, *, filter_text=None, sort='$key', page_size=DEFAULT_PAGE_SIZE, attempted=None):
    """Return every row of ``table`` that matches, one request per page of ``page_size`` rows.

    ``page_size`` 0 (or None) reads everything in one request. Pages are read with
    limit/offset, which is only safe while the rows come in one stable order: sorted by
    ``$key`` unless told otherwise. Whether VergeOS honours ``sort=$key`` is not settled
    (no vendor client sorts on it), so the pages must prove it: each page's keys rise
    and continue above the previous page's. A page that does not (the sort was ignored:
    pages would skip and repeat rows), or a sort refused with 422, makes the listing fall
    back to ONE request for every row, without ``sort`` and ``limit``.
    """
    params = {'fields': fields_param(fields)}
    if filter_text:
        params['filter'] = filter_text
    if not page_size:
        return rows_of(client.get(table, params, attempted), attempted)
    # Only pages that carry $key can prove their order.
    keyed = sort == '$key' and '$key' in fields_param(fields).split(',')
    if sort:
        params['sort'] = sort
    rows, offset, previous_first = [], 0, None
    while True:
        try:
            page = rows_of(client.get(table, dict(params, limit=page_size, offset=offset), attempted), attempted)
        except VergeOSError as exc:
            if keyed and exc.status in (400, 422):
                return _all_at_once(client, table, params, attempted)
            raise
        if len(page) > page_size and offset == 0:
            # The server ignored limit and answered everything at once.
            return page
        if keyed and not _in_key_order(page, rows[-1]['$key'] if rows else None):
            return _all_at_once(client, table, params, attempted)
        if page and offset and page[0] == previous_first:
            raise VergeOSError('the server answered the same page for offset %d: it ignores offset' % offset, None, attempted)
        rows.extend(page)
        if len(page) < page_size:
            return rows
        previous_first = page[0]
        offset += page_size


def _all_at_once(client, table, params, attempted):
    """Return every row in one request, without sort and limit (the fallback when pages cannot be trusted)."""
    plain = {name: value for name, value in params.items() if name != 'sort'}
    return rows_of(client.get(table, plain, attempted), attempted)


def read_by_keys(client, table, fields, keys, *, field='$key', base_filter=None, attempted=None, max_url_length=MAX_URL_LENGTH):
    """Return the rows whose ``field`` equals one of ``keys``: one request per chunk of keys, the chunks read at once.

    The chunks go out together, as many in flight as the client's pacer allows (``concurrency``),
    and their rows come back in the order of the keys' chunks.

    ``base_filter`` is and-ed to every chunk (for example ``is_snapshot eq false``).
    No keys, no request. An answer with a row whose ``field`` is not one of the keys
    means the filter was not applied (a proxy that drops the query string, an API that
    ignores it): VergeOSError, rather than acting on rows nobody asked for.
    """
    params = {'fields': fields_param(fields)}
    fixed = url_length(client.url, table, params)
    chunks = list(chunk_filters(field, keys, base_filter, fixed, max_url_length))

    def read(chunk, filter_text):
        answer = rows_of(client.get(table, dict(params, filter=filter_text), attempted), attempted)
        check_rows_match(answer, field, chunk, table, attempted)
        return answer

    width = min(len(chunks), max(1, int(getattr(getattr(client, 'pacer', None), 'concurrency', 1))))
    if width <= 1:
        answers = [read(chunk, filter_text) for chunk, filter_text in chunks]
    else:
        # Several chunks: read as wide as the client's pacer lets requests be in flight, not one after another.
        with concurrent.futures.ThreadPoolExecutor(max_workers=width, thread_name_prefix='vergeos-read') as pool:
            futures = [pool.submit(read, chunk, filter_text) for chunk, filter_text in chunks]
            answers = [future.result() for future in futures]  # in chunk order; the first failure in that order is raised
    return [row for answer in answers for row in answer]


def check_rows_match(rows, field, keys, table, attempted=None):
    """Raise VergeOSError when a row's ``field`` is not one of ``keys`` (rows without that column are not judged).

    Strings compare without case: whether VergeOS's ``eq`` does is not documented, and a
    false alarm here would refuse a good answer.
    """
    def folded(value):
        return value.casefold() if isinstance(value, str) else value
    wanted = {folded(key) for key in keys}
    stray = [row for row in rows if field in row and folded(row[field]) not in wanted]
    if stray:
        raise VergeOSError('VergeOS answered %d row(s) of %s that the filter excludes (%s %s, asked for %d): the filter was not '
                           'applied, for example by a proxy that drops query strings; nothing was done'
                           % (len(stray), table, field, shorten(', '.join(str(row[field]) for row in stray[:5]), 80), len(wanted)),
                           None, attempted)
