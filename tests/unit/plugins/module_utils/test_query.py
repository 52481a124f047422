# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter quoting and joining, key chunking within a URL bound, the paged lister and the chunked key reader."""

from __future__ import annotations

import itertools
import random

import re
import threading
from urllib.parse import quote_plus, urlencode

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.query import (
    all_of, any_of, check_rows_match, chunk_filters, condition, escape, fields_param, is_compound, list_rows, literal, read_by_keys, unique,
    url_length,
)


@pytest.mark.parametrize('text, escaped', [
    ('web01', 'web01'),
    ("it's", "it\\'s"),
    ('a\\b', 'a\\\\b'),
    ('{x}', '\\{x}'),
    ("\\'{", "\\\\\\'\\{"),
    ('a,b', 'a,b'),
])
def test_escape(text, escaped):
    assert escape(text) == escaped


@pytest.mark.parametrize('value, text', [
    ('web01', "'web01'"),
    ("O'Brien {db}", "'O\\'Brien \\{db}'"),
    (True, 'true'),
    (False, 'false'),
    (None, 'null'),
    (42, '42'),
    (-1, '-1'),
    (1.5, '1.5'),
])
def test_literal(value, text):
    assert literal(value) == text


@pytest.mark.parametrize('value', [float('nan'), ['a'], {'a': 1}, object()])
def test_literal_refuses_what_the_language_cannot_say(value):
    with pytest.raises(VergeOSError):
        literal(value)


def test_condition_and_its_checks():
    assert condition('name', 'eq', "a'b") == "name eq 'a\\'b'"
    assert condition('$key', 'eq', 7) == '$key eq 7'
    assert condition('member', 'bw', 'vms/') == "member bw 'vms/'"
    with pytest.raises(VergeOSError, match='unknown filter operator'):
        condition('name', 'in', 'x')
    with pytest.raises(VergeOSError, match='unknown filter operator'):
        condition('name', 'like', 'x')
    with pytest.raises(VergeOSError, match='invalid field name'):
        condition('name or 1', 'eq', 'x')


@pytest.mark.parametrize('text, compound', [
    ("name eq 'a'", False),
    ("name eq 'a and b or c'", False),
    ("name eq 'it\\'s and so'", False),
    ("(a eq 1 or a eq 2)", False),
    ("a eq 1 or a eq 2", True),
    ("is_snapshot eq false and (a eq 1 or a eq 2)", True),
])
def test_is_compound_looks_outside_quotes_and_parentheses(text, compound):
    assert is_compound(text) is compound


def test_joining_parenthesises_compound_parts_because_evaluation_is_left_to_right():
    either = any_of(condition('name', 'eq', 'a'), condition('name', 'eq', 'b'))
    assert either == "name eq 'a' or name eq 'b'"
    assert all_of('is_snapshot eq false', either) == "is_snapshot eq false and (name eq 'a' or name eq 'b')"
    assert any_of(all_of('x eq 1', 'y eq 2'), 'z eq 3') == '(x eq 1 and y eq 2) or z eq 3'
    assert all_of(None, '', "name eq 'a'") == "name eq 'a'"
    assert all_of() == ''


def test_fields_param():
    assert fields_param(['$key', 'machine#status#status as status']) == '$key,machine#status#status as status'
    assert fields_param('most') == 'most'
    with pytest.raises(VergeOSError):
        fields_param(['a,b'])


def _url(base, table, params):
    return base + '/api/v4/' + table + '?' + urlencode(params)


def test_chunks_stay_within_the_url_bound_and_cover_every_key_once():
    base = 'https://vergeos.example.com'
    params = {'fields': '$key,name'}
    keys = list(range(1, 2001)) + [5, 7]
    fixed = url_length(base, 'vms', params)
    chunks = list(chunk_filters('$key', keys, 'is_snapshot eq false', fixed, max_url_length=1000))
    assert len(chunks) > 5
    seen = []
    for values, filter_text in chunks:
        assert len(_url(base, 'vms', dict(params, filter=filter_text))) <= 1000
        assert filter_text.startswith('is_snapshot eq false and ')
        assert ' in ' not in filter_text
        seen.extend(values)
    assert seen == list(range(1, 2001))


def test_chunk_filter_text_is_left_to_right_safe():
    ((_values, single),) = chunk_filters('$key', [9], 'is_snapshot eq false')
    assert single == 'is_snapshot eq false and $key eq 9'
    ((_values, several),) = chunk_filters('$key', [1, 2, 3], 'is_snapshot eq false')
    assert several == 'is_snapshot eq false and ($key eq 1 or $key eq 2 or $key eq 3)'
    ((_values, bare),) = chunk_filters('name', ['a,b', "c'd"])
    assert bare == "name eq 'a,b' or name eq 'c\\'d'"


def test_a_value_too_long_for_any_url_is_an_error():
    with pytest.raises(VergeOSError, match='too long'):
        list(chunk_filters('name', ['x' * 5000], max_url_length=4000))


def test_no_keys_no_chunks():
    assert not list(chunk_filters('$key', []))


def test_url_length_matches_what_requests_sends():
    params = {'fields': '$key,machine#status#status as status', 'filter': "name eq 'a b'"}
    assert url_length('https://h', 'vms', params) == len('https://h/api/v4/vms?' + urlencode(params))
    assert quote_plus(' ') == '+'


def _table(count):
    return [{'$key': key, 'name': 'vm-%d' % key} for key in range(1, count + 1)]


def _paging_server(rows):
    def answer(_path, params):
        offset = int(params.get('offset', 0))
        limit = int(params.get('limit', 0))
        return rows[offset:offset + limit] if limit else rows[offset:]
    return answer


@pytest.mark.parametrize('count, page_size, requests', [(0, 5, 1), (4, 5, 1), (5, 5, 2), (12, 5, 3), (12, 0, 1)])
def test_paged_listing_equals_the_unpaged_one_with_one_request_per_page(fake_client, count, page_size, requests):
    client = fake_client(_paging_server(_table(count)))
    rows = list_rows(client, 'vms', ['$key', 'name'], filter_text='is_snapshot eq false', page_size=page_size)
    assert rows == _table(count)
    assert len(client.gets) == requests
    first = client.gets[0][1]
    assert first['filter'] == 'is_snapshot eq false' and first['fields'] == '$key,name'
    # Pages are read sorted by $key; one request for everything needs no order.
    assert ('limit' in first) is bool(page_size) and first.get('sort') == ('$key' if page_size else None)


def test_a_server_ignoring_limit_is_read_once(fake_client):
    client = fake_client(lambda path, params: _table(12))
    assert list_rows(client, 'vms', ['$key'], page_size=5) == _table(12)
    assert len(client.gets) == 1


def test_a_server_ignoring_offset_is_an_error_not_an_endless_loop(fake_client):
    client = fake_client(lambda path, params: _table(5))
    with pytest.raises(VergeOSError, match='ignores offset'):
        list_rows(client, 'vms', ['name'], sort='name', page_size=5)


def test_a_server_ignoring_offset_on_key_pages_is_read_at_once(fake_client):
    client = fake_client(lambda path, params: _table(5) if 'limit' in params else _table(7))
    assert list_rows(client, 'vms', ['$key'], page_size=5) == _table(7)
    assert [('limit' in params, 'sort' in params) for _path, params, _attempted in client.gets] == [(True, True), (True, True), (False, False)]


def _shuffling_server(rows, seed=1):
    dice = random.Random(seed)

    def answer(_path, params):
        if 'sort' in params:
            rows_now = list(rows)
            dice.shuffle(rows_now)
        else:
            rows_now = rows
        return _paging_server(rows_now)(_path, params)
    return answer


@pytest.mark.parametrize('seed', range(20))
def test_a_key_sort_the_server_ignores_never_skips_or_repeats_rows(fake_client, seed):
    client = fake_client(_shuffling_server(_table(12), seed))
    assert sorted(list_rows(client, 'vms', ['$key', 'name'], page_size=5), key=lambda row: row['$key']) == _table(12)
    last = client.gets[-1][1]
    assert 'sort' not in last and 'limit' not in last


@pytest.mark.parametrize('status', [400, 422])
def test_a_key_sort_the_server_refuses_falls_back_to_one_request(fake_client, status):
    def answer(_path, params):
        if 'sort' in params:
            raise VergeOSError('Invalid argument', status)
        return _table(12)
    client = fake_client(answer)
    assert list_rows(client, 'vms', ['$key', 'name'], page_size=5) == _table(12)
    assert len(client.gets) == 2


def test_keys_served_as_strings_become_numbers(fake_client):
    client = fake_client(lambda path, params: [{'$key': '7', 'machine': '107', 'name': '42', 'status_key': 5007, 'tag': None}])
    assert list_rows(client, 'vms', ['$key'], page_size=0) == [{'$key': 7, 'machine': 107, 'name': '42', 'status_key': 5007, 'tag': None}]


def test_an_answer_that_is_not_a_list_of_rows_is_an_error(fake_client):
    client = fake_client(lambda path, params: {'err': 'odd'})
    with pytest.raises(VergeOSError, match='expected a list of rows'):
        list_rows(client, 'vms', ['$key'], attempted='listing VMs')


def test_read_by_keys_sends_one_request_per_chunk(fake_client):
    client = fake_client(lambda path, params: [{'$key': int(key)} for key in re.findall(r'\$key eq (\d+)', params['filter'])])
    rows = read_by_keys(client, 'vms', ['$key'], list(range(1, 301)), base_filter='is_snapshot eq false', max_url_length=800)
    assert len(client.gets) > 1
    assert rows == [{'$key': key} for key in range(1, 301)]
    for _path, params, _attempted in client.gets:
        assert len(_url(client.url, 'vms', params)) <= 800


class _Wide:
    concurrency = 4


def test_read_by_keys_reads_its_chunks_at_once_in_key_order(fake_client):
    # The first four requests wait until all four are in the server at once: read one after another, they never would be.
    together = threading.Barrier(4, timeout=30)
    calls = itertools.count()

    def answer(path, params):
        if next(calls) < 4:
            together.wait()
        return [{'$key': int(key)} for key in re.findall(r'\$key eq (\d+)', params['filter'])]
    client = fake_client(answer)
    client.pacer = _Wide()
    together_rows = read_by_keys(client, 'vms', ['$key'], list(range(1, 301)), base_filter='is_snapshot eq false', max_url_length=800)
    assert len(client.gets) >= 4
    assert together_rows == [{'$key': key} for key in range(1, 301)]  # the chunks' rows in the order of the keys


def test_read_by_keys_at_once_raises_the_first_chunks_failure(fake_client):
    def answer(path, params):
        keys = [int(key) for key in re.findall(r'\$key eq (\d+)', params['filter'])]
        if 250 in keys:
            raise VergeOSError('the last chunk failed')
        return [{'$key': 99999}] if 1 in keys else [{'$key': key} for key in keys]
    client = fake_client(answer)
    client.pacer = _Wide()
    with pytest.raises(VergeOSError, match='the filter was not applied'):
        read_by_keys(client, 'vms', ['$key'], list(range(1, 301)), max_url_length=800)


def test_read_by_keys_refuses_an_answer_that_ignored_the_filter(fake_client):
    client = fake_client(lambda path, params: [{'$key': 1}, {'$key': 2}, {'$key': 3}])
    with pytest.raises(VergeOSError, match='the filter was not applied'):
        read_by_keys(client, 'vms', ['$key'], [2])


def test_read_by_keys_without_keys_sends_nothing(fake_client):
    client = fake_client(lambda path, params: [])
    assert read_by_keys(client, 'vms', ['$key'], []) == []
    assert not client.gets


def test_rows_outside_the_keys_mean_the_filter_was_not_applied():
    check_rows_match([{'$key': 1}, {'$key': 2}], '$key', [1, 2], 'vms')
    check_rows_match([{'name': 'Web01'}], 'name', ['web01'], 'vms')  # VergeOS may compare without case
    check_rows_match([{'other': 9}], '$key', [1], 'vms')  # a row without the column is not judged
    with pytest.raises(VergeOSError, match=r'answered 2 row\(s\) of vms that the filter excludes .*\$key 7, 8.*asked for 1'):
        check_rows_match([{'$key': 1}, {'$key': 7}, {'$key': 8}], '$key', [1], 'vms')


def test_unique_treats_a_subclassed_value_as_the_value_it_is():
    class Tagged(int):
        """What ansible-core 2.19 gives a module for an int written in a task."""
    assert unique([3, Tagged(3), Tagged(4), 4, '3']) == [3, 4, '3']
