#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: vergeos_vm_info
short_description: Read VergeOS VMs with their power state, and optionally their tags and NIC addresses
version_added: 1.0.0
description:
  - Reads the VMs of a VergeOS system selected by O(name), O(id), O(names), O(ids) or O(filters),
    each with its power state, in one request per page (or per chunk of keys).
  - With no selection at all, returns every VM. Snapshot rows of the C(vms) table are never returned.
  - Tags cost one more request (O(include_tags)), NIC addresses one more (O(include_addresses)), whatever the number of VMs.
  - It only reads; it never changes anything.
author:
  - vergeos.power contributors (@vergeos)
extends_documentation_fragment:
  - vergeos.power.connection
  - vergeos.power.selection
  - vergeos.power.controller
options:
  include_tags:
    description:
      - Add RV(vms[].tags) and RV(vms[].tag_categories) to each VM (one extra request for all VMs).
    type: bool
    default: false
  include_addresses:
    description:
      - Add RV(vms[].addresses), the NICs with MAC and IP address, to each VM (one extra request for all VMs).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads only; check mode returns the same data.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
notes:
  - Without a selection, O(allow_empty) does not matter; an empty system returns an empty RV(vms).
  - A selection by O(filters) that matches no VM fails unless O(allow_empty=true).
'''

EXAMPLES = r'''
- name: Read one VM by exact name (fails if missing, or if several VMs share the name)
  vergeos.power.vergeos_vm_info:
    host: vergeos.example.com
    username: admin
    password: "{{ vergeos_password }}"
    name: web01
  register: web01

- name: Show its power state (the keys of the one VM are also at the top level)
  ansible.builtin.debug:
    msg: "{{ web01.name }} is {{ web01.power_state }} on {{ web01.node }}"

- name: Read one VM by id, with its tags and NIC addresses
  vergeos.power.vergeos_vm_info:
    host: vergeos.example.com
    api_key: "{{ vergeos_api_key }}"
    id: 42
    include_tags: true
    include_addresses: true
  register: vm42

- name: Read several VMs by name and id
  vergeos.power.vergeos_vm_info:
    host: vergeos.example.com
    username: admin
    password: "{{ vergeos_password }}"
    names: [web01, "db, primary"]
    ids: [7, 8]

- name: Running production web VMs on cluster1 (fails when none matches)
  vergeos.power.vergeos_vm_info:
    host: vergeos.example.com
    username: admin
    password: "{{ vergeos_password }}"
    filters:
      name_regex: '^web[0-9]+$'
      tags: [production]
      power_state: [running]
      cluster: [cluster1]
  register: prod_web

- name: VMs on node2, an empty answer is fine
  vergeos.power.vergeos_vm_info:
    host: vergeos.example.com
    username: admin
    password: "{{ vergeos_password }}"
    filters:
      node: [node2]
    allow_empty: true

- name: Every VM, connection options given once with module_defaults
  module_defaults:
    group/vergeos.power.vergeos:
      host: vergeos.example.com
      username: admin
      password: "{{ vergeos_password }}"
      ca_path: /etc/pki/vergeos-ca.pem
  block:
    - name: List all VMs with their addresses
      vergeos.power.vergeos_vm_info:
        include_addresses: true
      register: all_vms

    - name: Names of the stopped VMs
      ansible.builtin.debug:
        msg: "{{ all_vms.vms | selectattr('power_state', 'eq', 'stopped') | map(attribute='name') | list }}"

# Ad-hoc, with VERGEOS_HOST, VERGEOS_USERNAME and VERGEOS_PASSWORD in the environment:
#   ansible localhost -m vergeos.power.vergeos_vm_info -a 'name=web01'
#   ansible localhost -m vergeos.power.vergeos_vm_info -a '{"filters": {"power_state": ["running"]}}'
'''

RETURN = r'''
vms:
  description:
    - One dict per selected VM, sorted by name then id (one VM by O(name) or O(id) gives a list of one). Empty when the task failed.
    - With exactly one VM selected by O(name) or O(id), the same keys are also returned at the top level, except C(started),
      which Ansible reserves for async jobs (use C(vms[0].started)), and the keys a task result already has (C(changed), C(failed), C(msg)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The VM key (C($key) of the C(vms) table).
      type: int
      sample: 42
    name:
      description: VM name (not unique in VergeOS).
      type: str
      sample: web01
    machine:
      description: Key of the VM's machine (the key its status row and NICs refer to).
      type: int
      sample: 104
    power_state:
      description: Normalised power state of the raw RV(vms[].status).
      type: str
      choices: [running, stopped, starting, stopping, migrating, hibernated, maintenance, error, unknown]
      sample: running
    status:
      description: Raw VergeOS machine status (null without a status row).
      type: str
      sample: running
    running:
      description: The C(running) flag of the machine status.
      type: bool
      sample: true
    node:
      description: Name of the node the VM runs on (null when it does not run).
      type: str
      sample: node1
    cluster:
      description: Name of the VM's cluster.
      type: str
      sample: cluster1
    description:
      description: VM description.
      type: str
      sample: Front web server
    enabled:
      description: Whether the VM is enabled.
      type: bool
      sample: true
    os_family:
      description: Guest OS family.
      type: str
      sample: linux
    cpu_cores:
      description: Number of CPU cores.
      type: int
      sample: 2
    ram:
      description: RAM in MB.
      type: int
      sample: 2048
    guest_agent:
      description: Whether the guest agent is enabled for the VM.
      type: bool
      sample: true
    uefi:
      description: Whether the VM boots with UEFI.
      type: bool
      sample: false
    machine_type:
      description: Emulated machine type.
      type: str
      sample: pc-q35-9.0
    uuid:
      description: VM UUID.
      type: str
      sample: 1c0e3a9a-5d0b-4c8e-9a51-2f0b7b7e5b11
    created:
      description: Creation time (unix seconds).
      type: int
      sample: 1767225600
    modified:
      description: Last modification time (unix seconds).
      type: int
      sample: 1767225600
    started:
      description: Time the VM was last started (unix seconds), from its machine status; may be C(0) while the VM is off (VergeOS may clear it on a stop).
      type: int
      sample: 1767229200
    state:
      description: The C(state) of the machine status row.
      type: str
      sample: online
    status_info:
      description: Free text detail of the machine status.
      type: str
      sample: ''
    agent_version:
      description: What the guest agent reports as its version; empty while no agent answers (VM off, no agent, guest not up yet).
      type: str
      sample: "qemu-guest-agent 8.2.2"
    tags:
      description: Names of the VM's tags, sorted.
      returned: when O(include_tags=true)
      type: list
      elements: str
      sample: [production, web]
    tag_categories:
      description: The VM's tags grouped by tag category name (category -> sorted tag names).
      returned: when O(include_tags=true)
      type: dict
      sample: {environment: [production], application: [web]}
    addresses:
      description: The VM's NICs, sorted by NIC name.
      returned: when O(include_addresses=true)
      type: list
      elements: dict
      contains:
        nic:
          description: NIC name.
          type: str
          sample: nic_0
        mac:
          description: MAC address.
          type: str
          sample: '52:54:00:aa:bb:cc'
        ip:
          description: IP address known to VergeOS (null when none).
          type: str
          sample: 192.0.2.10
      sample: [{nic: nic_0, mac: '52:54:00:aa:bb:cc', ip: 192.0.2.10}]
'''

from ansible_collections.vergeos.power.plugins.module_utils.tasks import run_info, run_module  # noqa: E402
from ansible_collections.vergeos.power.plugins.module_utils.tasks import info_argument_spec as argument_spec  # noqa: E402


def main():
    run_module(argument_spec, run_info)


if __name__ == '__main__':
    main()
