#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: vergeos_maintenance_record
short_description: Open and close a maintenance record kept on the VergeOS system
version_added: 2.0.0
description:
  - A maintenance record says which VMs to power on again after a maintenance. It is kept on the VergeOS system itself, so it
    outlives the job that opened it (an AWX job runs in a throwaway container, and a relaunch is a new job) and every controller,
    later job and event source can read it.
  - A record is a tag of the tag category C(vergeos_power_maintenance) (created the first time a record is opened), named O(name);
    its members are the recorded VMs, so the VergeOS UI shows them tagged. See the collection's C(docs/maintenance.md) for the shape.
  - V(open) creates the record when there is none of that name and adds the VMs of O(ids) that it does not hold yet. It B(never)
    removes a VM from an open record and never changes when it was opened, so a relaunch that finds everything already stopped
    (O(ids) empty) changes nothing.
  - V(closed) removes the VMs of O(ids) from the record (every VM when O(ids) is not given); the record is closed, its tag
    deleted, once it holds no VM. Closing a record that is not open changes nothing.
  - Writes that get no definite answer (a throttled or lossy API) are followed by a read-back before anything is sent again. A
    refusal that may mean "already there" (VergeOS answers a name in use with HTTP 422, some systems with 409) is read back too;
    it counts as done only when VergeOS lists the tag or the membership, so two jobs opening the same record at once both
    succeed, and any other refusal is reported in VergeOS's words.
  - VergeOS tags a VM only when the tag's category allows it (C(taggable_vms)). A record category made without it is set to allow
    it before the first VM is added when the user may edit tag categories; otherwise the task fails, saying what to change, and
    adds nothing.
  - O(phase), O(owner) and O(policy) describe the round trip the record belongs to (its phase, who runs it, the stop policy in
    force); C(playbooks/maintenance.yml) writes them so that a relaunch goes on from where the last run stood.
  - The C(vergeos.power.safe_shutdown) role opens a record with C(safe_shutdown_record) before its first power action, and
    C(playbooks/maintenance.yml) and C(playbooks/maintenance_restore.yml) restore from it.
author:
  - vergeos.power contributors (@vergeos)
extends_documentation_fragment:
  - vergeos.power.connection
  - vergeos.power.controller.plain
options:
  name:
    description:
      - "The record's name (the tag's name): 1 to 64 letters, digits and C(_ . : @ -), starting with a letter or digit."
      - One name per maintenance that can be open at the same time (for example C(rack7-patching)).
    type: str
    default: maintenance
    aliases: [record]
  state:
    description:
      - V(open) records the VMs of O(ids) (adding to an open record); V(closed) releases the VMs of O(ids), or all of them.
    type: str
    required: true
    choices: [open, closed]
  ids:
    description:
      - VM keys (C($key) of C(vms)). Required for V(open) (an empty list opens an empty record, or leaves an open one as it is).
      - For V(closed), the VMs powered on again; ids the record does not hold are ignored. Not given, the whole record is closed.
    type: list
    elements: int
  note:
    description:
      - Free text kept with a record when it is opened (what the maintenance is, which job), at most 1000 characters. Not changed
        on an open record.
    type: str
    default: ''
  phase:
    description:
      - With O(state=open), the round trip's phase to write (V(opened), V(stopping), V(stopped), V(maintaining), V(restoring));
        its time is when it is written. Not given, a new record starts at V(opened) and an open one keeps its phase.
    type: str
    choices: [opened, stopping, stopped, maintaining, restoring]
  owner:
    description:
      - With O(state=open), who runs the round trip (an AWX job id, a person), at most 1000 characters; written when it changes.
    type: str
    default: ''
  policy:
    description:
      - With O(state=open), the stop policy in force, kept so that a relaunch or a restore can finish a stop as the first run would
        have. Only C(timeout) and C(kill_timeout) (whole seconds, 0 or more) and C(escalate) (a boolean) are kept.
    type: dict
attributes:
  check_mode:
    support: full
    description: Reads the record and reports what would change; sends nothing.
  diff_mode:
    support: full
    description: The record's VMs before and after.
notes:
  - Writing tags needs a VergeOS user allowed to change tags (an admin on the simulator); reading a record needs only read access.
seealso:
  - module: vergeos.power.vergeos_maintenance_record_info
  - module: vergeos.power.vergeos_vm_power
'''

EXAMPLES = r'''
- name: Record what runs before the maintenance (before anything is stopped)
  vergeos.power.vergeos_maintenance_record:
    name: rack7-patching
    state: open
    ids: "{{ vms_running | map(attribute='id') | list }}"
    note: "AWX job {{ awx_job_id | default('manual') }}"

- name: Release the VMs that are back
  vergeos.power.vergeos_maintenance_record:
    name: rack7-patching
    state: closed
    ids: "{{ restore.vms | rejectattr('failed') | map(attribute='id') | list }}"

- name: Close the record whatever it still holds
  vergeos.power.vergeos_maintenance_record:
    name: rack7-patching
    state: closed
'''

RETURN = r'''
changed:
  description: Whether the record was (in check mode, would be) opened, added to, reduced or closed.
  returned: always
  type: bool
  sample: true
record:
  description: The record after the task (in check mode, as it would be).
  returned: success
  type: dict
  contains:
    name:
      description: The record's name.
      type: str
      sample: rack7-patching
    open:
      description: Whether the record is open (false once closed, or when there never was one of that name).
      type: bool
      sample: true
    opened:
      description: When the record was opened (unix seconds); null when it is not open.
      type: int
      sample: 1767225600
    note:
      description: The note given when the record was opened.
      type: str
      sample: AWX job 4242
    tag_id:
      description: The key of the record's tag; null when it is not open.
      type: int
      sample: 17
    ids:
      description: The keys of every VM the record holds, in order.
      type: list
      elements: int
      sample: [12, 15]
    vms:
      description: The recorded VMs that still exist, with their power state now.
      type: list
      elements: dict
      contains:
        id:
          description: The VM key.
          type: int
          sample: 12
        name:
          description: The VM name.
          type: str
          sample: db01
        power_state:
          description: Normalised power state.
          type: str
          sample: stopped
        status:
          description: Raw VergeOS machine status.
          type: str
          sample: stopped
    vanished_ids:
      description: Recorded VM keys that no longer exist on the system (deleted since); nothing can power them on.
      type: list
      elements: int
      sample: []
    phase:
      description:
        - The round trip's phase (docs/maintenance.md) - V(opened), V(stopping), V(stopped), V(maintaining) or V(restoring); null for a
          record of the collection's first format (it still restores) and for a record that is not open.
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
      description: The kind of record (V(maintenance)).
      type: str
      sample: maintenance
    last_closed:
      description:
        - When a record of this name was last closed (C(at), unix seconds), and the C(opened), C(owner) and C(note) of that record; null
          when none was. Kept in the sibling tag C(<name>+closed), so that a relaunch of a finished job can tell the round trip is done.
      type: dict
      sample: {at: 1767229200, opened: 1767225600, owner: awx-job-4242, note: AWX job 4242}
'''

from ansible_collections.vergeos.power.plugins.module_utils.tasks import record_argument_spec as argument_spec, run_module, run_record  # noqa: E402


def main():
    run_module(argument_spec, run_record, mutually_exclusive=())


if __name__ == '__main__':
    main()
