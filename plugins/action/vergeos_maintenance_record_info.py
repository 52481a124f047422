# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs vergeos.power.vergeos_maintenance_record_info on the controller (see plugin_utils/vm_action.py)."""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.module_utils.tasks import record_info_argument_spec, run_record_info
from ansible_collections.vergeos.power.plugins.plugin_utils.vm_action import VMAction


class ActionModule(VMAction):
    MODULE = 'vergeos.power.vergeos_maintenance_record_info'
    HOST_VM = False
    MUTUALLY_EXCLUSIVE = ()
    argument_spec = staticmethod(record_info_argument_spec)
    work = staticmethod(run_record_info)
