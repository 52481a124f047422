# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Both modules document the VM dict of results.vm_result() in RETURN, and alike.

ansible-core merges doc fragments into DOCUMENTATION only, so each module
writes the VM keys out in its RETURN; this keeps the copies from drifting.
"""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.vergeos.power.plugins.module_utils.results import VM_RESULT_KEYS
from ansible_collections.vergeos.power.plugins.modules import vergeos_vm_info, vergeos_vm_power, vergeos_vm_snapshot

MODULES = (vergeos_vm_info, vergeos_vm_power, vergeos_vm_snapshot)


def _vm_keys(module):
    return yaml.safe_load(module.RETURN)['vms']['contains']


@pytest.mark.parametrize('module', MODULES, ids=lambda module: module.__name__.rsplit('.', 1)[-1])
def test_every_vm_result_key_is_documented(module):
    documented = _vm_keys(module)
    assert [key for key in VM_RESULT_KEYS if key not in documented] == []


def test_the_vm_keys_have_the_same_types_in_every_module():
    info, *others = (_vm_keys(module) for module in MODULES)
    for other in others:
        assert {key: info[key]['type'] for key in VM_RESULT_KEYS} == {key: other[key]['type'] for key in VM_RESULT_KEYS}
