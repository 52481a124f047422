# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""vergeos_vm_power's documentation cannot drift from the plan rules or the argument spec."""

from __future__ import annotations

import yaml

from ansible_collections.vergeos.power.plugins.module_utils.plan import transition_table
from ansible_collections.vergeos.power.plugins.module_utils.power import transition_notes
from ansible_collections.vergeos.power.plugins.modules import vergeos_vm_power


def _doc():
    return yaml.safe_load(vergeos_vm_power.DOCUMENTATION)


def test_the_pasted_status_table_equals_the_generated_one():
    pasted = [note for note in _doc()['notes'] if note.startswith('C(') and '(power_state C(' in note]
    assert pasted == transition_notes()
    assert len(pasted) == len(transition_table()) == 21


def test_every_power_option_is_documented_with_its_default():
    documented = _doc()['options']
    spec = vergeos_vm_power.argument_spec()
    for name in ('state', 'force', 'on_timeout', 'wait', 'wait_timeout', 'poll_interval', 'max_targets', 'max_concurrent_actions',
                 'unsafe_mark_stopped', 'preferred_node'):
        assert documented[name]['type'] == spec[name]['type']
        assert documented[name].get('default') == spec[name].get('default')


def test_every_vm_key_is_in_return():
    contained = yaml.safe_load(vergeos_vm_power.RETURN)['vms']['contains']
    for key in ('previous_power_state', 'actions', 'escalated', 'elapsed', 'changed', 'failed', 'msg', 'timed_out', 'power_state', 'status'):
        assert key in contained
