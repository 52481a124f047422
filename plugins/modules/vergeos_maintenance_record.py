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
      - Required, unless O(lease) is given.
    type: str
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
      - With O(state=open), the round trip's phase to write (V(opened), V(stopping), V(stopped), V(maintaining), V(restoring), or
        V(waiting) - restored but for VMs another open record still covers); its time is when it is written. Not given, a new
        record starts at V(opened) and an open one keeps its phase.
    type: str
    choices: [opened, stopping, stopped, maintaining, restoring, waiting]
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
  kind:
    description:
      - With O(state=open), the kind of record - V(maintenance) (a maintenance round trip) or V(rolling_restart) (the progress of
        the C(vergeos.power.rolling_restart) role). Written when the record is created (V(maintenance) when not given); a task
        that names another kind than the open record's fails, so two kinds never share a name.
    type: str
    choices: [maintenance, rolling_restart]
  sibling:
    description:
      - Act on one of the open record's named sets of VMs instead of the record's own VMs. A set is the tag C(<name>+<sibling>) of
        the same category (its members the VMs); the word is 1 to 16 lower-case letters and C(_), and not C(closed) or C(lease).
      - With O(state=open), the VMs of O(ids) join the set and O(data) is merged into its data; the record must be open.
        With O(state=closed), the VMs of O(ids) leave it (and their keys leave its data), or the whole set goes when O(ids) is
        not given. Closing the record itself removes its sets.
      - Joining and leaving are idempotent, so two jobs may race; the data is rewritten whole, so it has one writer (the job that
        runs the record).
    type: str
  data:
    description:
      - With O(sibling) and O(state=open), keys (text) and values (text or numbers) to merge into the set's data, for example a
        VM's C(started) time before a restart is sent. Kept in the tag's description, so kept small (2000 characters in all).
    type: dict
  lease:
    description:
      - Take or give up the record's lease, so that one job at a time writes the record (VergeOS has no compare-and-swap, so
        two writers of a record's description would lose updates). Kept on the VergeOS system as the tag C(<name>+lease), its
        age judged by VergeOS's clock (the HTTP C(Date) of its answers), never a controller's. See docs/maintenance.md.
      - V(take) returns RV(lease) with the C(holder) token to give to the later tasks of this job (O(holder), and the
        C(lease) option of M(vergeos.power.vergeos_vm_power), which keeps it alive while it waits). A lease held by another job is
        waited for up to its life - taken if it goes stale, refused (naming its owner) if it beats meanwhile - and, while the
        record is in its maintenance phase, only taken when O(takeover) names its owner. Nothing else is written.
      - V(release) deletes the lease when O(holder) holds it (nothing otherwise).
    type: str
    choices: [take, release]
  holder:
    description:
      - The lease holder's token (V(take) returns one when not given). With O(state), the task first checks that no other job
        holds a live lease of the record, and writes nothing if one does.
      - Not given, the C(holder) of the environment variable E(VERGEOS_MAINTENANCE_LEASE) (see the C(lease) option of
        M(vergeos.power.vergeos_vm_power)) is used.
    type: str
  lease_life:
    description:
      - With O(lease=take), seconds after its last heartbeat at which the lease is stale (at least 3). The holder beats every third
        of it, at most once a minute.
    type: int
    default: 300
  takeover:
    description:
      - With O(lease=take), the owner (or holder) of a lease to take over even while it looks alive - for a job known to be gone,
        in particular one that died in its maintenance phase, when nothing beats.
    type: str
    default: ''
  lease_wait:
    description:
      - With O(lease=take), wait up to a live lease's life for it to go stale (V(true)), or refuse at once (V(false)).
    type: bool
    default: true
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
lease:
  description: With O(lease=take), the lease now held - C(holder), C(owner), C(life), C(beat) (VergeOS's unix time) and C(age); null after
    O(lease=release).
  returned: when O(lease) is given
  type: dict
  sample: {holder: 'AWX job 4242 #3f9a1c0b7d21', owner: AWX job 4242, life: 300, beat: 1767226200, age: 0}
record:
  description: The record after the task (in check mode, as it would be).
  returned: success, without O(lease)
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
'''

from ansible_collections.vergeos.power.plugins.module_utils.tasks import record_argument_spec as argument_spec, run_module, run_record  # noqa: E402


def main():
    run_module(argument_spec, run_record, mutually_exclusive=())


if __name__ == '__main__':
    main()
