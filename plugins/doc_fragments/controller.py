# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """How every module of the collection runs: on the controller, for inventory hosts too."""

    DOCUMENTATION = r'''
attributes:
  action_group:
    description: Use C(group/vergeos.power.vergeos) in C(module_defaults) to set the connection options once for every module.
    support: full
    membership:
      - vergeos.power.vergeos
  async:
    description:
      - Supported. With C(async) the module is sent to the task's host like any module (Ansible's async machinery needs a process
        there to poll), so give such a task C(delegate_to) C(localhost); the inventory host's VM is still the one acted on.
    support: full
options:
  allow_other_system:
    description:
      - On a host of the C(vergeos.power.vergeos) inventory whose C(vergeos_url) is another VergeOS system than the one the task
        connects to (O(host)), the task is refused, whatever VMs it selects, because a name or id meant for the host's system would
        reach another VM on this one. Set V(true) when the task really means VMs of the system it connects to (it must then select
        them; the host's own VM is never acted on there).
      - Hosts that are not from that inventory (no C(vergeos_url), such as C(localhost)) are not concerned.
    type: bool
    default: false
    version_added: 2.0.0
notes:
  - The module runs on the Ansible controller, in the controller's Python, through an action plugin of the same name, whatever the
    task's host and connection are. A play over hosts of the C(vergeos.power.vergeos) inventory needs no C(delegate_to) and never
    connects to the guests (set C(gather_facts) to V(false) for such plays).
  - Given none of O(name), O(id), O(names), O(ids) and O(filters), the module acts on the task's inventory host's own VM (the
    C(vergeos_id) host variable). On a host whose C(vergeos_url) is not the system the task connects to (O(host)) it refuses and sends
    nothing, with or without a selection (see O(allow_other_system)), because two VergeOS systems can both have a VM 42. A host
    without C(vergeos_id) (such as C(localhost)) keeps the module's behaviour without a selection.
  - The connection options' environment variables are read on the controller, including those a task sets with C(environment).
    C(no_log), check mode and diff mode behave as for any module.
'''

    # For the modules that do not select VMs (the maintenance record, the probe): vergeos.power.controller.plain.
    PLAIN = r'''
attributes:
  action_group:
    description: Use C(group/vergeos.power.vergeos) in C(module_defaults) to set the connection options once for every module.
    support: full
    membership:
      - vergeos.power.vergeos
  async:
    description: Supported; give such a task C(delegate_to) C(localhost) (Ansible's async machinery needs a process there to poll).
    support: full
notes:
  - The module runs on the Ansible controller, in the controller's Python, through an action plugin of the same name, whatever the
    task's host and connection are; the connection options' environment variables are read there, including those a task sets
    with C(environment).
'''
