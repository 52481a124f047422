# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Normalisation of VergeOS's raw machine status into a handful of power states.

VergeOS reports 21 raw ``machine_status.status`` values. Playbooks, inventory
groups and the power plan work on the coarse ``power_state`` below; the raw
value is always returned next to it.
"""

from __future__ import annotations

POWER_STATES = ('running', 'stopped', 'starting', 'stopping', 'migrating', 'hibernated', 'maintenance', 'error', 'unknown')

_RAW_TO_POWER_STATE = {
    # On, perhaps wanting attention (restart, refresh) but a guest is executing.
    'running': 'running',
    'needsrestart': 'running',
    'needsrefresh': 'running',
    'driversreloading': 'running',
    # The guest stopped answering, yet the machine is still powered on.
    'unresponsive': 'running',
    'stopped': 'stopped',
    'initializing': 'starting',
    'starting': 'starting',
    'waitingforresources': 'starting',
    'stopping': 'stopping',
    'initmigrate': 'migrating',
    'startmigrate': 'migrating',
    'migrating': 'migrating',
    'migratecomplete': 'migrating',
    'hibernating': 'hibernated',
    'hibernated': 'hibernated',
    'maintenance': 'maintenance',
    'leavingmaintenance': 'maintenance',
    'importing': 'maintenance',
    'unlicensed': 'maintenance',
    'error': 'error',
}

RAW_STATUSES = tuple(_RAW_TO_POWER_STATE)


def power_state_of(status):
    """Return the normalised power state for a raw ``machine_status.status``.

    ``None`` (a VM without a status row) and values this collection does not
    know yet map to ``unknown`` rather than failing: a newer VergeOS may add
    statuses, and an unknown state must never be mistaken for a known one.
    """
    if not isinstance(status, str):
        return 'unknown'
    return _RAW_TO_POWER_STATE.get(status.strip().lower(), 'unknown')
