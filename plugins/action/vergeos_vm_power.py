# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs vergeos.power.vergeos_vm_power on the controller (see plugin_utils/vm_action.py)."""

from __future__ import annotations

from ansible.utils.display import Display

from ansible_collections.vergeos.power.plugins.module_utils.tasks import power_argument_spec, run_power
from ansible_collections.vergeos.power.plugins.plugin_utils.progress import ProgressPrinter
from ansible_collections.vergeos.power.plugins.plugin_utils.vm_action import VMAction

display = Display()


def _to_stderr(line):
    display.display(line, stderr=True)


class ActionModule(VMAction):
    MODULE = 'vergeos.power.vergeos_vm_power'
    argument_spec = staticmethod(power_argument_spec)
    work = staticmethod(run_power)

    def work_options(self, params):
        """A progress line while the task waits long (progress_interval)."""
        return {'progress': ProgressPrinter('vergeos_vm_power', params.get('progress_interval'), _to_stderr)}
