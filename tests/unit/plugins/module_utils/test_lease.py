# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The lease's pure rules: its heartbeat interval, its life, its description read back."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.lease import beat_interval, check_life, lease_description, new_holder
from ansible_collections.vergeos.power.plugins.module_utils.maintenance import DEFAULT_LIFE, parse_lease


@pytest.mark.parametrize('life, interval', [(3, 1.0), (30, 10.0), (180, 60.0), (300, 60.0), (3600, 60.0)])
def test_a_lease_beats_every_third_of_its_life_and_at_most_once_a_minute(life, interval):
    assert beat_interval(life) == interval


@pytest.mark.parametrize('bad', [0, 2, -5, 2.5, '30', True, None])
def test_a_life_shorter_than_three_seconds_or_not_whole_is_refused(bad):
    with pytest.raises(VergeOSError, match='at least 3'):
        check_life(bad)


def test_a_description_reads_back_as_written():
    row = {'$key': '7', 'description': lease_description('job 1 #ab', 'job 1', 60, 1767230000.6)}
    assert parse_lease(row) == {'key': 7, 'holder': 'job 1 #ab', 'owner': 'job 1', 'life': 60, 'beat': 1767230000}


@pytest.mark.parametrize('description', ['', 'not json', '{"vergeos.power": "maintenance record"}', '[1]'])
def test_a_description_not_of_a_lease_has_no_holder_and_the_default_life(description):
    lease = parse_lease({'$key': 3, 'description': description})
    assert lease['holder'] is None and lease['life'] == DEFAULT_LIFE and lease['beat'] == 0


def test_two_runs_of_one_job_hold_different_tokens():
    first, second = new_holder('AWX job 42'), new_holder('AWX job 42')
    assert first != second and first.startswith('AWX job 42 #') and second.startswith('AWX job 42 #')
