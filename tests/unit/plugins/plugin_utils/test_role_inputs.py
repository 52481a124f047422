# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The roles' variables as AWX surveys and -e give them: strings for lists and numbers, checked once, each problem named."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.vergeos.power.plugins.filter.role_internal import FilterModule
from ansible_collections.vergeos.power.plugins.plugin_utils.role_inputs import InputError, name_hints, normalise, spaced_names, targets

role_internal = FilterModule().filters()['role_internal']


def role_inputs(variables, role):
    return role_internal(variables, 'role_inputs', role)


@pytest.mark.parametrize('given, expected', [
    ('web01', ['web01']),
    ('web01\r\ndb01\n\n  \r\napp,01\r\n', ['web01', 'db01', 'app,01']),  # an AWX textarea (CRLF): one name a line; a comma stays
    ('web01\n db01 \n', ['web01', ' db01 ']),  # spaces are part of a name, as the modules read it: never stripped
    ('42', ['42']),  # a digit-only string is a name
    (['web01', 42, ' db01 ', 'app01\r\n'], ['web01', 42, ' db01 ', 'app01']),  # only line endings go
    ([], []),
    (None, []),
    ('', []),
])
def test_targets_from_lists_and_strings_never_characters(given, expected):
    assert targets('safe_shutdown_targets', given) == expected


@pytest.mark.parametrize('given, words', [
    ('[web01, db01]', 'looks like a list written as text'),
    ('[web01,', 'looks like a list written as text'),
    ([{'name': 'web01'}], "not {'name': 'web01'}"),
    ([True], 'not True'),
    ([0], 'not 0'),
    ([''], "not ''"),
    ({'web01': 1}, 'must be a list of VM names and ids'),
    (3.5, 'must be a list of VM names and ids'),
])
def test_bad_targets_say_what_and_how(given, words):
    with pytest.raises(InputError, match='safe_shutdown_targets') as caught:
        targets('safe_shutdown_targets', given)
    assert words in str(caught.value)


def test_numbers_as_strings_and_timeouts_as_dicts():
    result = normalise({'safe_shutdown_timeout': '300', 'safe_shutdown_poll_interval': '0.5', 'safe_shutdown_max_targets': '7',
                        'safe_shutdown_timeouts': {'db01': '900', 42: 60}, 'safe_shutdown_escalate': 'no',
                        'safe_shutdown_kill_timeout': 60.0}, 'safe_shutdown')
    assert result == {'timeout': 300, 'poll_interval': 0.5, 'max_targets': 7, 'timeouts': {'db01': 900, '42': 60}, 'escalate': False,
                      'kill_timeout': 60}


def test_every_problem_is_named_with_its_rule_and_value_one_a_line():
    with pytest.raises(InputError) as caught:
        normalise({'safe_shutdown_timeout': 'soon', 'safe_shutdown_max_targets': '0', 'safe_shutdown_poll_interval': 0,
                   'safe_shutdown_timeouts': {'web01': -5}, 'safe_shutdown_escalate': 'ture', 'safe_shutdown_timeouts_x': 1},
                  'safe_shutdown')
    lines = str(caught.value).split('\n')
    assert lines[0].startswith('safe_shutdown: ')
    assert "safe_shutdown_max_targets must be a whole number, 1 or more; not '0'" in str(caught.value)
    assert "safe_shutdown_timeout must be a number of seconds, 0 or more; not 'soon'" in str(caught.value)
    assert 'safe_shutdown_poll_interval must be a number of seconds above 0; not 0' in str(caught.value)
    assert "safe_shutdown_timeouts values must be numbers of seconds, 0 or more; not 'web01': -5" in str(caught.value)
    assert "safe_shutdown_escalate must be true or false; not 'ture'" in str(caught.value)
    assert len(lines) == 5


def test_targets_and_filters_together_are_refused():
    with pytest.raises(InputError, match='give safe_shutdown_targets or safe_shutdown_filters, not both'):
        normalise({'safe_shutdown_targets': 'web01', 'safe_shutdown_filters': {'tags': ['x']}}, 'safe_shutdown')


def test_the_filter_raises_an_ansible_error():
    assert role_inputs({'safe_shutdown_targets': 'web01\ndb01'}, 'safe_shutdown') == {'targets': ['web01', 'db01']}
    with pytest.raises(AnsibleFilterError, match='safe_shutdown_timeout must be a number of seconds'):
        role_inputs({'safe_shutdown_timeout': 'soon'}, 'safe_shutdown')
    with pytest.raises(AnsibleFilterError, match='unknown role'):
        role_inputs({}, 'other')
    with pytest.raises(AnsibleFilterError, match="no step 'nothing'.*internal to the roles"):
        role_internal({}, 'nothing')
    with pytest.raises(AnsibleFilterError, match="role_internal.'safe_startup_plan'.: its input is not what the role passes"):
        role_internal([{'name': 'x'}], 'safe_startup_plan', [{'vms': [{'name': 'no id'}]}])


def test_a_name_with_spaces_is_kept_and_the_vm_meant_is_named():
    assert spaced_names([' vm-001', 'vm-002', 7, ' vm-001']) == [' vm-001']
    assert spaced_names([{'targets': ['a ', 'b']}, {'filters': {'tags': ['x']}, 'targets': None}]) == ['a ']
    lookups = {'results': [{'item': ' vm-001', 'vms': [{'id': 1, 'name': 'vm-001'}]}, {'item': ' nothing', 'vms': []},
                           {'item': 'x ', 'failed': True, 'msg': 'no VM is named', 'vms': []}]}
    message = name_hints("no VM is named ' vm-001', ' nothing'", lookups, 'safe_shutdown')
    assert message == ("safe_shutdown: no VM is called ' vm-001'; did you mean 'vm-001'? (a VM name is matched exactly, spaces included); "
                       "no VM is named ' vm-001', ' nothing'")
    assert name_hints('HTTP 503', {'results': []}, 'safe_startup') == 'HTTP 503'
    assert name_hints('HTTP 503', {'skipped': True}, 'safe_startup') == 'HTTP 503'


@pytest.mark.parametrize('variables, words', [
    ({'safe_startup_tiers': [{'targets': ['a']}], 'safe_startup_timeout': 0}, 'safe_startup_timeout must be a number of seconds above 0; not 0'),
    ({'safe_startup_tiers': [{'targets': ['a']}], 'safe_startup_timeout': '-5'}, "safe_startup_timeout must be a number of seconds above 0; not '-5'"),
    ({'safe_startup_tiers': [{'targets': ['a'], 'timeout': 0}]}, 'safe_startup_tiers tier 1 timeout must be a number of seconds above 0; not 0'),
    ({'safe_startup_tiers': [], 'safe_startup_record': '', 'safe_startup_tier_var': 'rank'},
     'safe_startup_tiers is empty and no host of the play carries vergeos_id and a tier in its rank variable'),
])
def test_safe_startup_refuses_what_can_never_start(variables, words):
    with pytest.raises(InputError) as caught:
        normalise(variables, 'safe_startup')
    assert words in str(caught.value)


def test_no_tiers_with_a_record_start_the_whole_record():
    assert normalise({'safe_startup_tiers': [], 'safe_startup_record': 'rack7'}, 'safe_startup')['tiers'] == []


@pytest.mark.parametrize('given, expected', [('rack7', 'rack7'), (' rack7-patch.2026:a@b ', 'rack7-patch.2026:a@b'), ('', ''), (None, ''), ('  ', '')])
def test_a_record_name_is_checked_and_empty_means_none(given, expected):
    assert normalise({'safe_shutdown_record': given}, 'safe_shutdown') == {'record': expected}


@pytest.mark.parametrize('given', ['rack 7', '-rack7', 'x' * 65, ['rack7'], 7, 'räck'])
def test_a_bad_record_name_names_the_rule(given):
    with pytest.raises(InputError, match='safe_shutdown_record must be a maintenance record name .1 to 64 letters'):
        normalise({'safe_shutdown_record': given}, 'safe_shutdown')
