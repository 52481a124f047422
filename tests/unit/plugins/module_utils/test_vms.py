# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""VM lookup and selection against a fake table: requests sent, ambiguity and missing errors, filters, blast radius."""

from __future__ import annotations

import re

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.vms import (
    VM_FIELDS, check_blast_radius, has_selection, is_single, list_vms, normalise_filters, read_vms, select_vms, tagged_vm_ids, vm_by_id,
    vm_by_name, vm_key, vm_reader,
)


def vm(key, name, *, status='stopped', running=False, node=None, cluster='cluster1'):
    return {'$key': key, 'name': name, 'machine': 100 + key, 'status': status, 'running': running, 'node_name': node,
            'cluster_name': cluster}


VMS = [
    vm(1, 'web01', status='running', running=True, node='node1'),
    vm(2, 'web02', status='running', running=True, node='node2'),
    vm(3, 'db', status='stopped'),
    vm(7, 'db', status='running', running=True, node='node1', cluster='cluster2'),
    vm(8, "it's, {odd}", status='stopping', running=True, node='node2'),
    vm(9, 'app', status='starting', running=True, node='node3'),
]
TAG_MEMBERS = [
    {'member': 'vms/1', 'tag_name': 'production'}, {'member': 'vms/1', 'tag_name': 'web'},
    {'member': 'vms/2', 'tag_name': 'web'}, {'member': 'vms/7', 'tag_name': 'production'},
    {'member': 'vms/9', 'tag_name': 'production'}, {'member': 'vms/9', 'tag_name': 'web'},
    {'member': 'vnets/9', 'tag_name': 'web'},
]
SNAPSHOTS = [{'$key': 20, 'name': 'web01-nightly'}]
_TERM = re.compile(r"(\$key|name) eq (\d+|'((?:[^'\\]|\\.)*)')")


def _unescape(text):
    return re.sub(r'\\(.)', r'\1', text)


def fake_vergeos(path, params):
    """Answer vms reads by the $key/name terms of the filter (any of them), and tag_members in full."""
    if path == 'tag_members':
        return TAG_MEMBERS
    assert path == 'vms'
    terms = _TERM.findall(params['filter'])
    if params['filter'].startswith('is_snapshot eq true'):
        assert params['fields'] == '$key,name'
        return [row for row in SNAPSHOTS if any(
            (field == '$key' and row['$key'] == int(value)) or (field == 'name' and row['name'] == _unescape(text))
            for field, value, text in terms)]
    assert params['fields'] == ','.join(VM_FIELDS)
    assert params['filter'].startswith('is_snapshot eq false')
    if not terms:
        rows = VMS
    else:
        rows = [row for row in VMS if any(
            (field == '$key' and row['$key'] == int(value)) or (field == 'name' and row['name'] == _unescape(text))
            for field, value, text in terms)]
    if ' rx ' in params['filter']:
        pattern = _unescape(re.search(r"name rx '((?:[^'\\]|\\.)*)'", params['filter']).group(1))
        rows = [row for row in rows if re.search(pattern, row['name'])]
    return rows


@pytest.fixture
def client(fake_client):
    return fake_client(fake_vergeos)


# ---------------------------------------------------------------- one VM: one request


def test_one_vm_by_id_is_one_request(client):
    assert vm_by_id(client, 7)['name'] == 'db'
    assert len(client.gets) == 1
    assert client.gets[0][1]['filter'] == 'is_snapshot eq false and $key eq 7'


def test_one_vm_by_name_is_one_request(client):
    assert vm_by_name(client, 'web01')['$key'] == 1
    assert client.gets == [('vms', {'fields': ','.join(VM_FIELDS), 'filter': "is_snapshot eq false and name eq 'web01'"},
                            "looking up VM 'web01'")]


def test_a_name_with_comma_quote_and_brace_survives(client):
    assert vm_by_name(client, "it's, {odd}")['$key'] == 8
    assert client.gets[0][1]['filter'] == "is_snapshot eq false and name eq 'it\\'s, \\{odd}'"


def test_two_vms_with_the_name_is_an_error_listing_the_ids(client):
    with pytest.raises(VergeOSError) as caught:
        vm_by_name(client, 'db')
    assert "2 VMs are named 'db' (ids 3, 7)" in str(caught.value)
    assert 'give id' in str(caught.value)


def test_no_vm_by_name_or_id(client):
    with pytest.raises(VergeOSError, match="no VM is named 'nope'"):
        vm_by_name(client, 'nope')
    with pytest.raises(VergeOSError, match='no VM has id 4'):
        vm_by_id(client, 4)


def test_a_snapshot_is_named_as_such_and_costs_one_more_request_only_on_failure(client):
    with pytest.raises(VergeOSError, match=r'id 20 is a snapshot \(web01-nightly, id 20\), not a VM'):
        vm_by_id(client, 20)
    assert len(client.gets) == 2
    with pytest.raises(VergeOSError, match=r"name 'web01-nightly' is a snapshot \(web01-nightly, id 20\), not a VM"):
        vm_by_name(client, 'web01-nightly')
    with pytest.raises(VergeOSError) as caught:
        select_vms(client, ids=[1, 4, 20])
    assert 'no VM has id 4' in str(caught.value) and 'id 20 is a snapshot' in str(caught.value)


@pytest.mark.parametrize('value, key', [(5, 5), ('5', 5), (' 12 ', 12)])
def test_vm_key_accepts_numbers_and_numeric_strings(value, key):
    assert vm_key(value) == key


@pytest.mark.parametrize('value', [0, -1, True, 'web01', 1.5, None])
def test_vm_key_refuses_anything_else(value):
    with pytest.raises(VergeOSError, match='positive whole number'):
        vm_key(value)


# ---------------------------------------------------------------- many VMs


def test_ids_and_names_together_sorted_by_name_then_id(client):
    rows = select_vms(client, ids=[9, 1, 9], names=['web02', "it's, {odd}"])
    assert [row['$key'] for row in rows] == [9, 8, 1, 2]
    assert len(client.gets) == 2


def test_missing_ids_and_names_are_named_in_the_error(client):
    with pytest.raises(VergeOSError, match='no VM has id 4, 5'):
        select_vms(client, ids=[1, 4, 5])
    with pytest.raises(VergeOSError) as caught:
        select_vms(client, names=['web01', 'ghost', 'db'])
    assert "no VM is named 'ghost'" in str(caught.value)
    assert "several VMs share the name 'db' (ids 3, 7)" in str(caught.value)


def test_read_vms_chunks_and_keys_by_id(client):
    rows = read_vms(client, [1, 2, 3, 7, 8, 9], max_url_length=700)
    assert sorted(rows) == [1, 2, 3, 7, 8, 9]
    assert len(client.gets) > 1


def test_vm_reader_is_one_read_per_call_for_a_small_set(client):
    reader = vm_reader(client)
    assert sorted(reader([1, 9])) == [1, 9]
    assert len(client.gets) == 1
    assert client.gets[0][2] == 'polling the power state of 2 VM(s)'


# ---------------------------------------------------------------- filters


def test_name_regex_goes_to_the_server_with_rx(client):
    rows = select_vms(client, filters={'name_regex': '^web'})
    assert [row['name'] for row in rows] == ['web01', 'web02']
    assert client.gets[0][1]['filter'] == "is_snapshot eq false and name rx '^web'"
    assert client.gets[0][1]['sort'] == '$key' and client.gets[0][1]['limit'] == 500


def test_tags_means_all_of_them_with_one_tag_request(client):
    assert tagged_vm_ids(client, ['production', 'web']) == [1, 9]
    assert len(client.gets) == 1
    assert client.gets[0][1]['filter'] == "member bw 'vms/'"
    rows = select_vms(client, filters={'tags': ['production', 'web']})
    assert [row['$key'] for row in rows] == [9, 1]


@pytest.mark.parametrize('filters', [{}, {'tags': ['web']}])
def test_a_listing_with_snapshot_rows_is_refused_the_filter_was_dropped(fake_client, filters):
    """Every listing sends is_snapshot eq false: a snapshot row in the answer means the filter never reached VergeOS."""
    def dropped(path, params):
        return TAG_MEMBERS if path == 'tag_members' else VMS + [dict(vm(20, 'web01-nightly'), is_snapshot=True)]
    with pytest.raises(VergeOSError, match='the filter was not applied'):
        select_vms(fake_client(dropped), filters=dict(filters, power_state=['running']))


def test_list_vms_sends_the_snapshot_filter_and_the_regex(client):
    rows = list_vms(client, name_regex='^db$')
    assert [row['$key'] for row in rows] == [3, 7]
    assert client.gets[0][1]['filter'] == "is_snapshot eq false and name rx '^db$'"


def test_tags_that_no_vm_carries_read_no_vms(client):
    assert select_vms(client, filters={'tags': ['nowhere']}, allow_empty=True) == []
    assert [path for path, _params, _attempted in client.gets] == ['tag_members']


@pytest.mark.parametrize('filters, keys', [
    ({'power_state': ['running']}, [7, 1, 2]),
    ({'power_state': ['running', 'starting']}, [9, 7, 1, 2]),
    ({'power_state': ['stopping']}, [8]),
    ({'node': 'node1'}, [7, 1]),
    ({'node': ['node2', 'node3']}, [9, 8, 2]),
    ({'cluster': ['cluster2']}, [7]),
    ({'name_regex': '^(web|db)', 'power_state': ['running'], 'cluster': 'cluster1'}, [1, 2]),
])
def test_client_side_filters(client, filters, keys):
    assert [row['$key'] for row in select_vms(client, filters=filters)] == keys


@pytest.mark.parametrize('filters, words', [
    ({'colour': 'red'}, 'unknown filter key'),
    ({'power_state': ['on']}, 'unknown on'),
    ({'name_regex': ''}, 'name_regex'),
    ({'tags': [1]}, 'filters.tags'),
    ('running', 'must be a dict'),
])
def test_bad_filters_are_refused(filters, words):
    with pytest.raises(VergeOSError, match=words):
        normalise_filters(filters)


def test_normalise_filters_makes_lists_and_drops_empty_keys():
    assert normalise_filters({'node': 'n1', 'tags': [], 'cluster': None, 'name_regex': 'x'}) == {'node': ['n1'], 'name_regex': 'x'}


# ---------------------------------------------------------------- blast radius and selection rules


def test_a_filter_matching_nothing_fails_unless_allowed(client):
    with pytest.raises(VergeOSError, match='match no VM'):
        select_vms(client, filters={'name_regex': '^zzz'})
    assert select_vms(client, filters={'name_regex': '^zzz'}, allow_empty=True) == []


def test_max_targets_refuses_a_larger_selection_by_filter(client):
    with pytest.raises(VergeOSError) as caught:
        select_vms(client, filters={'power_state': ['running', 'starting', 'stopping']}, max_targets=3)
    assert 'match 5 VMs, more than max_targets (3)' in str(caught.value)
    assert len(select_vms(client, filters={'power_state': ['running']}, max_targets=3)) == 3


def test_max_targets_does_not_apply_to_explicit_lists(client):
    assert len(select_vms(client, ids=[1, 2, 3, 7], max_targets=1)) == 4


def test_check_blast_radius_is_only_for_filters():
    check_blast_radius([], by_filter=False)
    with pytest.raises(VergeOSError):
        check_blast_radius([], by_filter=True)
    many = [{'name': 'vm-%d' % index} for index in range(30)]
    with pytest.raises(VergeOSError) as caught:
        check_blast_radius(many, by_filter=True, max_targets=20)
    assert caught.value.message.endswith('vm-9, ...; narrow the filters or raise max_targets')


@pytest.mark.parametrize('kwargs, words', [
    ({}, 'no VM selected'),
    ({'names': [], 'ids': []}, 'no VM selected'),
    ({'name': 'web01', 'filters': {'power_state': ['running']}}, 'not both'),
    ({'ids': [1], 'filters': {'node': 'node1'}}, 'not both'),
])
def test_selection_rules(client, kwargs, words):
    with pytest.raises(VergeOSError, match=words):
        select_vms(client, **kwargs)


def test_single_selectors_go_through_the_one_request_lookups(client):
    assert [row['$key'] for row in select_vms(client, vm_id='9')] == [9]
    assert [row['$key'] for row in select_vms(client, name='web02')] == [2]
    assert len(client.gets) == 2
    assert [row['$key'] for row in select_vms(client, vm_id=9, name='web02')] == [9, 2]


@pytest.mark.parametrize('selection, selects, single', [
    ({'vm_id': 5}, True, True),
    ({'name': 'web01'}, True, True),
    ({'vm_id': 5, 'ids': [6]}, True, False),
    ({'names': ['a']}, True, False),
    ({'filters': {'power_state': ['running']}}, True, False),
    ({'name': 'web01', 'filters': {'node': ['n']}}, True, False),
    ({'ids': [], 'names': [], 'filters': None}, False, False),
    ({}, False, False),
])
def test_what_a_selection_names(selection, selects, single):
    assert has_selection(selection) is selects
    assert is_single(selection) is single


@pytest.mark.parametrize('regex, words', [
    ('web(', 'is not a valid regular expression'),
    (r'^web\d+$', r'uses \d, \w, \s and \b'),
    ('(?i)^web', 'inline flags such as (?i)'),
    ('^web.*?01', 'lazy quantifiers'),
    ('', 'non-empty POSIX extended regular expression'),
])
def test_a_bad_or_perl_only_name_regex_is_refused_before_any_request(client, regex, words):
    with pytest.raises(VergeOSError) as caught:
        select_vms(client, filters={'name_regex': regex})
    assert words in str(caught.value)
    assert client.gets == []


@pytest.mark.parametrize('regex', ['^web[0-9]+$', '^(web|db)[[:digit:]]{2}$', 'a|b', '^x.*$'])
def test_posix_extended_regexes_pass(regex):
    assert normalise_filters({'name_regex': regex}) == {'name_regex': regex}
