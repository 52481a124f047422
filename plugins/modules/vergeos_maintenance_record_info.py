#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: vergeos_maintenance_record_info
short_description: Read the maintenance records kept on a VergeOS system
version_added: 2.0.0
description:
  - Reads one maintenance record (O(name)), or every open one, with its VMs and their power state now.
  - A record is a tag of the tag category C(vergeos_power_maintenance) whose members are the VMs to power on again after a
    maintenance; M(vergeos.power.vergeos_maintenance_record) opens and closes them. See the collection's C(docs/maintenance.md).
  - Three requests whatever the number of records, and one more per chunk of VMs.
  - It only reads; it never changes anything.
author:
  - vergeos.power contributors (@vergeos)
extends_documentation_fragment:
  - vergeos.power.connection
  - vergeos.power.controller.plain
options:
  name:
    description:
      - The record to read. Not given, every open record is returned in RV(records).
    type: str
    aliases: [record]
attributes:
  check_mode:
    support: full
    description: Reads only; check mode returns the same data.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
seealso:
  - module: vergeos.power.vergeos_maintenance_record
'''

EXAMPLES = r'''
- name: Read one record
  vergeos.power.vergeos_maintenance_record_info:
    name: rack7-patching
  register: found

- name: Say what it holds
  ansible.builtin.debug:
    msg: "{{ found.record.vms | map(attribute='name') | list if found.record.open else 'no open record' }}"

- name: List every open maintenance record
  vergeos.power.vergeos_maintenance_record_info:
  register: all_records
'''

RETURN = r'''
records:
  description: The open records (only the one called O(name), when given), sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The record's name.
      type: str
      sample: rack7-patching
    open:
      description: Always true here.
      type: bool
      sample: true
    opened:
      description: When the record was opened (unix seconds).
      type: int
      sample: 1767225600
    note:
      description: The note given when the record was opened.
      type: str
      sample: AWX job 4242
    tag_id:
      description: The key of the record's tag.
      type: int
      sample: 17
    ids:
      description: The keys of every VM the record holds, in order.
      type: list
      elements: int
      sample: [12, 15]
    vms:
      description: The recorded VMs that still exist (C(id), C(name), C(power_state), C(status)).
      type: list
      elements: dict
      sample: [{id: 12, name: db01, power_state: stopped, status: stopped}]
    vanished_ids:
      description: Recorded VM keys that no longer exist on the system.
      type: list
      elements: int
      sample: []
    phase:
      description:
        - The round trip's phase (docs/maintenance.md) - V(opened), V(stopping), V(stopped), V(maintaining), V(restoring) or
          V(waiting); null for a record of the collection's first format (it still restores) and for a record that is not open.
      type: str
      sample: maintaining
    since:
      description: When the record entered its phase (unix seconds, the clock of the controller that wrote it).
      type: int
      sample: 1767226200
    owner:
      description: Who runs the round trip (the AWX job, or what C(playbooks/maintenance.yml) was given); empty when not said.
      type: str
      sample: awx-job-4242
    policy:
      description: The stop policy in force (C(timeout) and C(kill_timeout) in seconds, C(escalate)), so that a relaunch or a restore can
        finish a stop the way the first run would have.
      type: dict
      sample: {timeout: 300, kill_timeout: 60, escalate: true}
    version:
      description: The record format's version (2; 1 for records of the collection's first format); null when not open.
      type: int
      sample: 2
    kind:
      description: The kind of record - V(maintenance) (a maintenance round trip) or V(rolling_restart) (a rollout's progress).
      type: str
      sample: maintenance
    siblings:
      description:
        - The record's named sets of VMs, by name (O(vergeos.power.vergeos_maintenance_record#module:sibling)) - C(ids), the VMs
          in the set, and C(data), the set's small dict. C(covers) is every VM a maintenance acts on, running or not (the
          cross-record rule of docs/maintenance.md reads it). Empty for a record that is not open.
      type: dict
      sample: {covers: {ids: [41, 42, 43], data: {}, tag_id: 17}}
    lease:
      description:
        - The record's lease (docs/maintenance.md, "One job per record") - C(holder), C(owner), C(life) (seconds) and C(beat) (VergeOS's
          unix time of its last heartbeat); null when no job holds it.
      type: dict
      sample: {holder: 'AWX job 4242 #3f9a1c0b7d21', owner: AWX job 4242, life: 300, beat: 1767226200}
    last_closed:
      description:
        - When a record of this name was last closed (C(at), unix seconds), and the C(opened), C(owner) and C(note) of that record; null
          when none was. Kept in the sibling tag C(<name>+closed), so that a relaunch of a finished job can tell the round trip is done.
      type: dict
      sample: {at: 1767229200, opened: 1767225600, owner: awx-job-4242, note: AWX job 4242}
record:
  description:
    - With O(name), that record, the same keys as an entry of RV(records); when there is no open record of that name,
      its C(open) is false and its lists are empty.
  returned: when O(name) is given
  type: dict
  sample: {name: rack7-patching, open: false, opened: null, note: '', tag_id: null, ids: [], vms: [], vanished_ids: [], version: null,
           kind: maintenance, phase: null, since: null, owner: '', policy: {}, last_closed: null, siblings: {}, lease: null}
'''

from ansible_collections.vergeos.power.plugins.module_utils.tasks import record_info_argument_spec as argument_spec, run_module, run_record_info  # noqa: E402


def main():
    run_module(argument_spec, run_record_info, mutually_exclusive=())


if __name__ == '__main__':
    main()
