# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.power_state import POWER_STATES, RAW_STATUSES, power_state_of

# The 21 values of machine_status.status that VergeOS documents.
DOCUMENTED_STATUSES = (
    'initializing', 'starting', 'running', 'stopping', 'unresponsive', 'stopped', 'hibernated', 'hibernating',
    'initmigrate', 'startmigrate', 'migrating', 'migratecomplete', 'importing', 'maintenance', 'leavingmaintenance',
    'unlicensed', 'needsrefresh', 'needsrestart', 'waitingforresources', 'error', 'driversreloading',
)


def test_every_documented_status_has_a_known_power_state():
    assert sorted(RAW_STATUSES) == sorted(DOCUMENTED_STATUSES)
    for status in DOCUMENTED_STATUSES:
        assert power_state_of(status) in POWER_STATES
        assert power_state_of(status) != 'unknown'


@pytest.mark.parametrize('status, expected', [
    ('running', 'running'),
    ('needsrestart', 'running'),
    ('unresponsive', 'running'),
    ('stopped', 'stopped'),
    ('waitingforresources', 'starting'),
    ('initializing', 'starting'),
    ('stopping', 'stopping'),
    ('migratecomplete', 'migrating'),
    ('hibernating', 'hibernated'),
    ('unlicensed', 'maintenance'),
    ('error', 'error'),
    ('Running', 'running'),
])
def test_power_state_of_known_statuses(status, expected):
    assert power_state_of(status) == expected


@pytest.mark.parametrize('status', [None, '', 'rebooting', 42, {'status': 'running'}])
def test_unknown_or_missing_status_is_unknown(status):
    assert power_state_of(status) == 'unknown'
