# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The maintenance record's pure parts: its name rule and the description that carries its opening time and note."""

from __future__ import annotations

import json

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.maintenance import (
    check_record_name, clean_policy, closed_description, closed_record, parse_closed, parse_description, parse_round_trip,
    record_description,
)


@pytest.mark.parametrize('name', ['maintenance', 'rack7-patching', 'a', 'job.4242:x@y_z', '9' * 64])
def test_good_names(name):
    assert check_record_name(' %s ' % name) == name


@pytest.mark.parametrize('name', ['', '  ', '-x', '_x', 'rack 7', 'x' * 65, 'a/b', "a'b", None, 7, ['x']])
def test_bad_names_say_the_rule(name):
    with pytest.raises(VergeOSError, match='1 to 64 letters, digits'):
        check_record_name(name)


def test_the_description_round_trips_and_is_marked_as_ours():
    text = record_description(1767225600.7, 'AWX job 7', phase='stopping', since=1767225601, owner='awx-7',
                              policy={'timeout': 300, 'kill_timeout': 60.5, 'escalate': True, 'secret': 'x', 'note': 'y'})
    assert json.loads(text) == {'vergeos.power': 'maintenance record', 'version': 2, 'kind': 'maintenance', 'opened': 1767225600,
                                'note': 'AWX job 7', 'phase': 'stopping', 'since': 1767225601, 'owner': 'awx-7',
                                'policy': {'timeout': 300, 'kill_timeout': 60, 'escalate': True}}
    assert parse_description(text) == (1767225600, 'AWX job 7')
    assert parse_round_trip(text) == {'version': 2, 'kind': 'maintenance', 'phase': 'stopping', 'since': 1767225601, 'owner': 'awx-7',
                                      'policy': {'timeout': 300, 'kill_timeout': 60, 'escalate': True}}


def test_a_version_1_record_still_reads_with_no_phase():
    text = json.dumps({'vergeos.power': 'maintenance record', 'version': 1, 'opened': 1767225600, 'note': 'old'})
    assert parse_description(text) == (1767225600, 'old')
    assert parse_round_trip(text) == {'version': 1, 'kind': 'maintenance', 'phase': None, 'since': None, 'owner': '', 'policy': {}}


@pytest.mark.parametrize('policy', [None, [], 'x', {'timeout': -1, 'kill_timeout': True, 'escalate': 'yes'}])
def test_a_policy_keeps_only_what_it_knows(policy):
    assert clean_policy(policy) == {}


def test_a_closing_mark_round_trips_and_another_text_is_none():
    text = closed_description(1767229200, {'opened': 1767225600, 'owner': 'awx-7', 'note': 'patching'})
    assert parse_closed(text) == {'at': 1767229200, 'opened': 1767225600, 'owner': 'awx-7', 'note': 'patching'}
    assert parse_closed(record_description(1, '')) is None and parse_closed('x') is None


@pytest.mark.parametrize('text', [None, '', 'edited by hand', '[]', '{"opened": 5}', '{"vergeos.power": "other", "opened": 5}'])
def test_a_description_that_is_not_ours_gives_no_time(text):
    assert parse_description(text) == (None, '')


def test_a_bool_is_not_a_time():
    assert parse_description(json.dumps({'vergeos.power': 'maintenance record', 'opened': True}))[0] is None


def test_a_closed_record_has_the_documented_keys():
    assert closed_record('m') == {'name': 'm', 'open': False, 'opened': None, 'note': '', 'tag_id': None, 'ids': [], 'vms': [],
                                  'vanished_ids': [], 'version': None, 'kind': 'maintenance', 'phase': None, 'since': None,
                                  'owner': '', 'policy': {}, 'last_closed': None, 'siblings': {}, 'lease': None}
