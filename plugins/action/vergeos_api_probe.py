# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs vergeos.power.vergeos_api_probe on the controller (see plugin_utils/vm_action.py)."""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.module_utils.probe import probe_argument_spec, run_probe
from ansible_collections.vergeos.power.plugins.plugin_utils.vm_action import VMAction


class ActionModule(VMAction):
    MODULE = 'vergeos.power.vergeos_api_probe'
    HOST_VM = False
    MUTUALLY_EXCLUSIVE = ()
    argument_spec = staticmethod(probe_argument_spec)
    work = staticmethod(run_probe)
