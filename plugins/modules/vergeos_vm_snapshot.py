#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vergeos_vm_snapshot
short_description: Take or remove a named snapshot of VergeOS VMs
version_added: 1.0.0
description:
  - Takes (O(state=present)) or removes (O(state=absent)) a manual machine snapshot of one VM or several VMs, by snapshot name.
  - Idempotent by name. V(present) changes nothing when the VM already has a snapshot called O(snapshot_name) (whatever its
    expiry or description); V(absent) removes every snapshot of the VM called O(snapshot_name) and changes nothing when there is none.
  - The snapshots of all the selected VMs are read in one request (per chunk of machine keys) before anything is decided.
  - Each snapshot request (and each delete) is made to survive a throttled or lossy API without being carried out twice. A
    B(definite refusal) (HTTP 4xx, or 501, 505, 507) fails the VM at once and is never sent again. A request with B(no definite
    answer) (no answer or a dropped connection, HTTP 429, any other 5xx) may still have been carried out, so before anything is
    sent again the VM's snapshots are read back by name, once a second for up to O(visible_grace) seconds (VergeOS may list a new
    snapshot a little after its answer). When the snapshot shows (or, for a delete, is gone) the VM is done and the request is
    not sent again; the message says so.
  - Otherwise the request is sent again after a backoff (the one of M(vergeos.power.vergeos_vm_power)'s resends, exponential with
    jitter; a longer C(Retry-After) of the server wins, counted from its answer), as long as O(retry_timeout) seconds from the
    VM's first send allow it; else the VM fails with the last error and the number of sends. A read-back that fails (after the
    reads' own retries) counts as "not seen".
  - VMs are handled one after the other; under a failing API the task may take up to about O(retry_timeout) + O(visible_grace)
    seconds per VM.
  - Written for the snapshot before a kill of the C(vergeos.power.safe_shutdown) role, and useful on its own.
extends_documentation_fragment:
  - vergeos.power.connection
  - vergeos.power.selection
  - vergeos.power.controller
author:
  - vergeos.power contributors (@vergeos)
options:
  state:
    description:
      - V(present) takes the snapshot unless one of that name exists; V(absent) removes the snapshots of that name.
    type: str
    default: present
    choices: [present, absent]
  snapshot_name:
    description:
      - Name of the snapshot. The VM itself is selected by O(name), O(id), O(names), O(ids) or O(filters), the same words as in
        every module of the collection, so the snapshot's name has its own option.
      - The same name is used for every selected VM (snapshot names are per VM).
    type: str
    required: true
    aliases: [snapshot]
  expires:
    description:
      - When the snapshot expires and VergeOS removes it, in B(seconds from now); V(0) means never.
      - Sent as the unix time now + O(expires) with every snapshot request (left out, VergeOS would apply its own default of
        about 72 hours). The default is that same 72 hours, stated explicitly.
      - Not changed on an existing snapshot of the same name.
    type: int
    default: 259200
  quiesce:
    description:
      - Ask the guest agent to quiesce the file systems first (application-consistent snapshot).
      - Needs an answering guest agent; a hung guest (the case before a kill) has none, so keep V(false) there and get a
        crash-consistent snapshot.
    type: bool
    default: false
  description:
    description:
      - Description of the snapshot.
    type: str
    default: ''
  max_targets:
    description:
      - With O(filters), refuse to act when more VMs match than this (blast radius). Ignored for VMs selected by name or id.
    type: int
    default: 50
  retry_timeout:
    description:
      - Seconds, counted from a VM's first snapshot request (or first delete), during which a request that got no definite answer
        and is not seen carried out by the read-back is sent again. No request is sent once the next try would fall after it.
      - V(0) sends each request once, as before this option existed; the read-back of O(visible_grace) still decides whether a
        request without an answer was carried out.
      - A definite refusal (HTTP 4xx, or 501, 505, 507) is never sent again, whatever this says.
    type: int
    default: 60
    version_added: 2.0.0
  visible_grace:
    description:
      - Seconds the read-back after a request without a definite answer waits for the snapshot to show (or, for a delete, to be
        gone) before the request may be sent again; one read a second, the first at once.
      - B(The risk that remains.) A snapshot that VergeOS lists only after this grace is taken a second time, and the VM then has
        two snapshots of that name. Nothing fails; the result shows one of them, the next run with O(state=present) reports the
        name as there (unchanged), and O(state=absent) removes every snapshot of that name. Raise this on a system known to be slow
        to list new snapshots; V(0) reads once.
    type: float
    default: 5
    version_added: 2.0.0
attributes:
  check_mode:
    support: full
    description: The same read and the same decision as a real run; nothing is sent and C(changed) is what a real run would report.
  diff_mode:
    support: full
    description: Each VM's snapshot names before and after.
notes:
  - Check mode is supported; it reads and decides the same way, sends nothing, and reports the same C(changed) as a real run.
  - Diff mode shows each VM's snapshot names before and after.
  - Under faults a VM's snapshot request may be sent more than once, but only after a read-back of O(visible_grace) seconds
    did not show the first one; a snapshot that shows up later still than that is the one case where a VM ends up with two
    snapshots of the same name (see O(visible_grace)). Set O(retry_timeout=0) to never send a request twice.
  - Snapshots are rows of the C(machine_snapshots) table, owned by the VM's machine key; each snapshot also appears in VergeOS as
    a VM row with C(is_snapshot) true, which the selection options never select.
"""

EXAMPLES = r"""
- name: Snapshot a VM, kept for a day
  vergeos.power.vergeos_vm_snapshot:
    host: vergeos.example.com
    api_key: "{{ vergeos_api_key }}"
    name: web01
    snapshot_name: before-maintenance
    expires: 86400
    description: taken before the kernel upgrade

- name: Snapshot several VMs with the guest agent quiescing the disks
  vergeos.power.vergeos_vm_snapshot:
    names: [db01, db02]
    snapshot_name: nightly-manual
    quiesce: true

- name: Remove that snapshot again
  vergeos.power.vergeos_vm_snapshot:
    name: web01
    snapshot_name: before-maintenance
    state: absent

# With the connection in the environment (VERGEOS_HOST, VERGEOS_USERNAME, VERGEOS_PASSWORD):
#   ansible localhost -m vergeos.power.vergeos_vm_snapshot -a 'id=42 snapshot_name=before-kill expires=3600'
"""

RETURN = r"""
changed:
  description: Whether a snapshot was taken or removed (in check mode, whether one would be).
  returned: always
  type: bool
  sample: true
msg:
  description: What happened, in words; for one VM that VM's message.
  returned: always
  type: str
  sample: "snapshot 'before-maintenance' taken"
vms:
  description:
    - One dict per selected VM, sorted by name then id.
    - With exactly one VM selected by O(name) or O(id), the same keys are also returned at the top level.
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
    snapshot:
      description:
        - The snapshot called O(snapshot_name) after the task (the one taken, or the one that was already there); null for
          O(state=absent) or when the VM failed.
        - In check mode, for a snapshot that would be taken, what it would be (RV(vms[].snapshot.id) null).
      type: dict
      contains:
        id:
          description: The snapshot key (C($key) of C(machine_snapshots)).
          type: int
          sample: 812
        name:
          description: The snapshot name.
          type: str
          sample: before-maintenance
        description:
          description: The snapshot description.
          type: str
          sample: taken before the kernel upgrade
        created:
          description: Creation time (unix seconds).
          type: int
          sample: 1767225600
        expires:
          description: Expiry time (unix seconds), 0 for never.
          type: int
          sample: 1767312000
        quiesced:
          description: Whether the guest agent quiesced the disks.
          type: bool
          sample: false
        created_manually:
          description: Whether the snapshot was taken by hand (not by a snapshot profile).
          type: bool
          sample: true
    removed:
      description: The snapshots removed (O(state=absent)); in check mode, those that would be.
      type: list
      elements: dict
      sample: [{id: 812, name: before-maintenance}]
    changed:
      description: Whether a snapshot of this VM was taken or removed (in check mode, would be).
      type: bool
      sample: true
    failed:
      description: Whether this VM failed (the task fails when any VM failed).
      type: bool
      sample: false
    msg:
      description: What happened to this VM, in words.
      type: str
      sample: "snapshot 'before-maintenance' taken"
"""

from ansible_collections.vergeos.power.plugins.module_utils.tasks import run_snapshot, run_module  # noqa: E402
from ansible_collections.vergeos.power.plugins.module_utils.tasks import snapshot_argument_spec as argument_spec  # noqa: E402


def main():
    run_module(argument_spec, run_snapshot)


if __name__ == '__main__':
    main()
