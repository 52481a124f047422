#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vergeos_vm_power
short_description: Start, stop and restart VergeOS VMs, safely and idempotently
version_added: 1.0.0
description:
  - Brings one VM or many VMs to a wanted power state and, by default, waits until they are there.
  - Every decision is made from a fresh read of the VM's machine status; a VM already in the wanted state costs exactly one request
    (the read) and reports C(ok).
  - A VM already heading to the wanted state gets no new action; a VM heading the other way is waited for until it settles, then acted on.
  - "Retries, pacing and deadlines: a power request that gets no definite answer (no answer, HTTP 429, a 5xx other than 501, 505 and
    507) is never re-sent blindly. The next poll round's read says whether it took effect (the VM is where it was asked, or heading
    there: that counts as success); if not, it is sent again after a backoff (exponential with jitter, the server's C(Retry-After)
    honoured) for as long as that VM's O(wait_timeout) from its first send allows. A VM's deadline starts at its first acknowledged
    action or at the first read that shows it heading there, and a resend never moves it, so throttling never shortens a guest's
    graceful window. An action never acknowledged nor seen taking effect fails the VM and is never escalated to a kill. A C(reset) is
    never sent twice (a lost answer can hide a reboot that did happen); a refusal (a 4xx) is never repeated. Dropped connections and
    HTTP 429 slow all the task's requests down (reads and writes), and answers speed them up again; O(max_requests_per_second) caps
    the rate. A failed poll round (after the client's own retries of the read) costs that round, not the VMs it covered."
  - A request that got no definite answer and was not seen taking effect counts as sent (it is in RV(vms[].actions) and the VM is
    C(changed)), because it may have been carried out; one that VergeOS refused (a 4xx) does not.
  - While waiting, all the selected VMs are polled with one read per poll round. A VM that moves away from the wanted state after the
    action (another actor started what was stopped) fails and says so; the module never fights it.
  - O(state=stopped) is a graceful ACPI power off. A hard kill happens only with O(force=true) or O(on_timeout=force).
extends_documentation_fragment:
  - vergeos.power.connection
  - vergeos.power.selection
  - vergeos.power.controller
author:
  - vergeos.power contributors (@vergeos)
options:
  state:
    description:
      - The wanted power state.
      - V(running) powers on a VM that is not running.
      - V(stopped) powers off gracefully (ACPI), or kills with O(force=true).
      - V(restarted) restarts a running VM as O(restart_method) says (by default a graceful guest reboot; a hard reset with
        O(force=true)) and powers on a stopped one. It always changes something.
    type: str
    required: true
    choices: [running, stopped, restarted]
  force:
    description:
      - Use the hard actions. V(stopped) kills instead of powering off; V(restarted) resets instead of rebooting the guest.
      - Does not wait for a transition in flight; overrides it (a VM stuck in C(stopping) is killed).
    type: bool
    default: false
  on_timeout:
    description:
      - What happens to a VM not in the wanted state by O(wait_timeout).
      - V(fail) fails the task with the VM's last seen state.
      - V(force) escalates at the deadline to a kill (V(stopped)) or a hard reset, reports RV(vms[].escalated=true) and waits
        O(wait_timeout) again; it fails if that does not help either.
      - V(report) does not fail; the VMs that missed the deadline have RV(vms[].timed_out=true) and are listed in RV(timed_out).
    type: str
    default: fail
    choices: [fail, report, force]
  wait:
    description:
      - Wait until every selected VM is in the wanted state.
      - With V(false) the task returns (changed) once every action is acknowledged or seen taking effect, without waiting for the
        VMs to get there; a VM that must first settle (for example C(starting) when V(stopped) is wanted) is still waited for until
        it can be acted on. O(max_concurrent_actions) still applies (see there).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds each VM may take to reach the wanted state, counted from its first acknowledged action, or from the first read that
        shows it heading there, or from the start of a wait when it needs no action. A resend never moves it.
      - A power request without a definite answer is sent again for at most this long from its first send.
      - O(wait_timeouts) overrides it for single VMs.
    type: int
    default: 300
  wait_timeouts:
    description:
      - 'Per-VM deadlines that override O(wait_timeout) for the VMs they name, as a dict of VM name or id to seconds
        (for example C({db01: 900, 42: 60})). Each named VM gets its own deadline; the others keep O(wait_timeout).'
      - A key that is a whole number names the selected VM with that id if there is one, else the VM with that name.
      - Every key must name a selected VM, and every value must be a number of seconds (0 or more); otherwise the task
        fails before anything is sent (a mistyped name would otherwise give that VM the wrong deadline).
      - With O(on_timeout=force), a VM is escalated at its own deadline, whatever the other VMs are doing.
    type: dict
  poll_interval:
    description:
      - Seconds between the reads while waiting (at least 0.1). Each read covers every VM still waited for.
    type: float
    default: 2
  max_targets:
    description:
      - With O(filters), refuse to act when more VMs match than this (blast radius). Ignored for VMs selected by name or id.
    type: int
    default: 50
  max_concurrent_actions:
    description:
      - A sliding window against boot storms. At most this many VMs have an action in flight (sent and not yet at the wanted state)
        at once; a VM that gets there frees its slot at once and the next VM's action goes out in the same poll round.
      - Not set (the default), the window is 20 for power-ons and restarts, and stops are not limited (a stop never causes a boot
        storm). Set, it limits every action, stops too.
      - A VM that VergeOS queues until resources free up (status C(waitingforresources)) does not hold a slot.
      - With O(wait=false) a VM still holds its slot until it is seen at the wanted state, so the window keeps its meaning; the task
        returns as soon as the last action is acknowledged.
    type: int
  max_requests_per_second:
    description:
      - Cap on this task's requests to VergeOS per second, reads and writes together, for a system whose API rate limit is known.
      - Without it the task paces itself only when VergeOS throttles it (dropped connections or HTTP 429 cut the rate to the rate
        VergeOS admits, measured from its answers and, after a pause, from a model of its rate limit; a 429's Retry-After holds
        every request; answers raise it again).
      - Pacing is per task process. The tasks of several hosts (forks) run in separate processes and their requests add up.
    type: float
    version_added: 2.0.0
  progress_interval:
    description:
      - While a task waits longer than this many seconds, a progress line is printed at most this often (VMs per power state, VMs
        still waited for, time to the nearest deadline, resends and throttling seen). V(0) turns it off.
      - Printed by the action plugin on the controller (not on stdout, so the C(json) callback's output stays valid JSON); a task
        run with C(async) prints none.
    type: float
    default: 30
    version_added: 2.0.0
  kill_timeout:
    description:
      - Seconds a VM escalated to a kill (O(on_timeout=force)) gets from its kill to be stopped; the default is its own
        O(wait_timeout) (or its O(wait_timeouts) entry).
    type: int
    version_added: 2.0.0
  snapshot_before_kill:
    description:
      - With O(state=stopped) and O(on_timeout=force), take a snapshot of each VM right before its escalation to a kill, at that
        VM's own deadline, and kill it only once the snapshot is there (crash-consistent, as a hung guest cannot quiesce). A VM whose
        snapshot cannot be taken is not killed; it fails and says why.
      - Snapshots are taken beside the polling, so one VM's snapshot never delays another VM's deadline. A snapshot request without
        a definite answer is read back by name before it is sent again, as M(vergeos.power.vergeos_vm_snapshot) does.
      - Refused with any other O(state) or O(on_timeout).
    type: dict
    version_added: 2.0.0
    suboptions:
      name:
        description: The snapshot's name.
        type: str
        required: true
      expires:
        description: Seconds from now until VergeOS deletes the snapshot (0 keeps it).
        type: int
        default: 86400
      description:
        description: The snapshot's description.
        type: str
        default: "Taken by vergeos.power before a kill: the guest ignored ACPI past its deadline."
      retry_timeout:
        description: Seconds from its first send during which a snapshot request without a definite answer may be sent again.
        type: int
        default: 60
  unsafe_mark_stopped:
    description:
      - B(Dangerous last resort.) For a VM that is still not stopped after a kill and its wait, tell VergeOS it is stopped
        (PUT machine_status), as VergeOS's troubleshooting guide does for a machine no kill moves.
      - Before writing, the machine status row is checked to belong to the VM (machine key, cores, RAM); otherwise nothing is written.
      - Use only when the guest is known to be gone, for example after its node died. Marking a running guest stopped can lead to
        it running twice.
      - Applies only to O(state=stopped) with O(force=true) or O(on_timeout=force). Listed as C(mark_stopped) in RV(vms[].actions).
    type: bool
    default: false
  preferred_node:
    description:
      - Node (name or key) to power VMs on, passed with C(poweron). VergeOS picks another node when this one cannot take the VM.
    type: str
  wait_for_agent:
    description:
      - With O(state=running), a VM counts as there only once its guest agent answers (machine status C(agent_version) not empty),
        not merely when VergeOS shows it C(running), so the guest OS is up. A VM already running whose agent does not answer yet is
        waited for, without any action.
      - Only VMs with the guest agent enabled (C(guest_agent)) are waited for this way; the others count as there when running.
      - The agent must answer by O(wait_timeout); O(on_timeout) applies as for the power state.
      - Only for O(state=running); with another state the task fails before anything is sent.
    type: bool
    default: false
  restart_method:
    description:
      - How O(state=restarted) restarts a VM that is running.
      - V(guest) asks VergeOS for a graceful guest reboot, in the first spelling it accepts (C(reset) with C(graceful), then
        C(guestreset), then C(guestreboot), since VergeOS's clients disagree on it; and a spelling refused with 400 or 422 was not carried
        out, so the next one is tried). VergeOS shows nothing that tells a guest reboot from a hard reset (the VM stays C(running)
        throughout), so the result says a graceful reboot was B(asked for), never that one happened; a system that ignores C(graceful)
        would reset the VM hard. With O(force=true), a hard C(reset).
      - V(power_cycle) powers the VM off gracefully (ACPI; a kill with O(force=true), or at the deadline with O(on_timeout=force)),
        waits until it is stopped, then powers it on. Every step is visible, so the restart is confirmed, and the guest is never
        reset while running. It takes longer (a shutdown and a boot), and O(wait_timeout) covers both.
      - V(reset) always does a hard reset (as pulling the power and pushing it back), with or without O(force).
      - The default stays V(guest) in 1.x, as before this option existed; use V(power_cycle) where a restart must be a clean one
        and must be seen to be.
    type: str
    default: guest
    choices: [guest, power_cycle, reset]
    version_added: 2.0.0
  preflight:
    description:
      - Before powering on (O(state=running), or O(state=restarted) of stopped VMs), check from one read of the nodes and one of
        the running VMs whether the VMs to start fit by RAM, each on its node (largest first; O(preferred_node) first, else the node
        of its cluster with the most free RAM), leaving O(preflight_ram_reserve) MB per node to the platform. Cores count only with
        O(preflight_core_ratio). In check mode too. The result is in RV(preflight).
      - V(warn) (the default) names what may not fit, and by how much, in a warning, and starts them all anyway; VergeOS's own
        refusal (HTTP 507) is then reported per VM. V(refuse) fails the task before anything is sent when a VM does not fit, each
        VM saying why. V(off) reads nothing.
      - The check is advisory. When what it needs cannot be read (a user who may not read C(nodes) gets HTTP 403; a 404, a
        5xx, a refused column or a lost answer), V(warn) skips it with one warning that begins with C(pre-flight skipped) and
        names what could not be read, and starts the VMs; V(refuse) fails the task before anything is sent, with a message that
        begins with C(pre-flight refused) and says what could not be read.
      - An estimate, not a promise. VergeOS may hold RAM the API does not show, and places VMs by its own rules; VergeOS's docs
        recommend CPU overcommit. So the default only warns, since refusing ordinary restores on an estimate would be worse.
    type: str
    default: warn
    choices: [warn, refuse, 'off']
    version_added: 2.0.0
  preflight_ram_reserve:
    description:
      - MB of RAM per node the pre-flight leaves to the platform, on top of what the node itself reserves. A node that shows
        C(vm_ram) (the RAM it gives to VMs) is counted with that, else with all its C(ram). V(0) adds nothing.
    type: int
    default: 0
    version_added: 2.0.0
  preflight_core_ratio:
    description:
      - Cores per physical core the pre-flight allows (for example V(4.0) for 4:1 overcommit). Not given, cores are not checked.
    type: float
    version_added: 2.0.0
  lease:
    description:
      - The lease of a maintenance record this task runs under (M(vergeos.power.vergeos_maintenance_record) with C(lease=take)
        returns it). While the task waits it keeps the lease alive (a heartbeat every third of its life, at most once a minute),
        and it reads the lease before each round of power actions - when another job holds it, the task sends nothing more and
        fails the VMs not done; when it cannot be read for longer than its life, actions wait until it can.
      - Not given, the environment variable E(VERGEOS_MAINTENANCE_LEASE) (a JSON object with these keys) is used, which
        C(playbooks/maintenance.yml) sets for every task of the round trip once it holds the record's lease.
    type: dict
    version_added: 2.0.0
    suboptions:
      record:
        description: The maintenance record's name.
        type: str
        required: true
      holder:
        description: The holder token the lease was taken with.
        type: str
        required: true
      life:
        description: The lease's life in seconds (as taken).
        type: int
        default: 300
attributes:
  check_mode:
    support: full
    description: The same read and the same decision as a real run; nothing is sent and C(changed) is what a real run would report.
  diff_mode:
    support: full
    description: Each VM's power state before and after (in check mode, the state it would reach).
notes:
  - Check mode is supported; it makes the same read and the same decision as a real run, sends nothing, and reports the same C(changed).
  - Diff mode shows each VM's power state before and after (in check mode, the state it would reach).
  - O(state=restarted) with O(restart_method=guest) can confirm on VergeOS only that the reboot or reset was accepted and that the
    VM is running afterwards; a graceful guest reboot leaves the status at C(running) throughout, so the module cannot prove the
    guest did reboot, and says so. O(restart_method=power_cycle) is seen stopping and starting.
  - A power-on that VergeOS accepts but never carries out (a real system was recorded doing so when it lacked the resources) is
    waited for, not sent again, and fails at O(wait_timeout) with a message that says the VM never showed C(starting). A second
    power-on cannot make room, and VergeOS may hold the first one; the operator decides (free resources, then run the task again).
  - With O(wait_timeout) per VM and a window of O(max_concurrent_actions), a task over many VMs can take up to
    (number of VMs / O(max_concurrent_actions)) times O(wait_timeout).
  - 'What each O(state) does depends on the phase of the VM, which its raw status (one of VergeOS''s 21) and its running flag give; the eight
    phases follow, generated from the collection''s plan rules. Where O(force=true) is not named it changes nothing; "when on" and "when off"
    follow the running flag; "then decide again" means the VM is read again and the decision is made again.'
  - 'Phase on (powered on): C(running), C(needsrestart), C(needsrefresh), C(driversreloading), C(unresponsive), C(stopped), C(hibernated) and C(error)
    when the running flag is true. O(state=running): nothing to do. O(state=stopped): poweroff; with O(force=true): kill. O(state=restarted): reset
    (graceful); with O(force=true): reset (hard).'
  - 'Phase off (powered off): the statuses of phase on when the running flag is false. O(state=running): poweron. O(state=stopped): nothing to do.
    O(state=restarted): poweron.'
  - 'Phase starting (on its way up): C(initializing), C(starting) and C(waitingforresources). O(state=running): wait until running. O(state=stopped):
    wait until it settles, then decide again; with O(force=true): kill. O(state=restarted): wait until running.'
  - 'Phase stopping (on its way down): C(stopping) and C(hibernating). O(state=running): wait until it settles, then decide again; with O(force=true):
    kill, then decide again. O(state=stopped): wait until stopped; with O(force=true): kill. O(state=restarted): wait until it settles, then decide
    again; with O(force=true): kill, then decide again.'
  - 'Phase migrating (being live-migrated, the guest keeps running): C(initmigrate), C(startmigrate), C(migrating) and C(migratecomplete).
    O(state=running): nothing to do. O(state=stopped): wait until it settles, then decide again; with O(force=true): kill. O(state=restarted): wait
    until it settles, then decide again; with O(force=true): kill, then decide again.'
  - 'Phase settling (VergeOS is busy with the VM and settles it by itself): C(leavingmaintenance) and C(importing). Any O(state), with or without
    O(force): wait until it settles, then decide again.'
  - 'Phase blocked (VergeOS leaves the power state alone until an operator acts): C(maintenance) and C(unlicensed). O(state=running): fail.
    O(state=stopped): fail when on, nothing to do when off. O(state=restarted): fail.'
  - 'Phase unknown (its state cannot be told): any other status, or no status row. Any O(state), with or without O(force): fail.'
  - The full table of the 21 raw statuses and a diagram of the phases are in C(docs/power-states.md) in the collection.
"""

EXAMPLES = r"""
- name: Power on a VM and wait until it runs
  vergeos.power.vergeos_vm_power:
    host: vergeos.example.com
    username: admin
    password: "{{ vergeos_password }}"
    name: web01
    state: running

- name: Shut a VM down gracefully (ACPI), failing if it is not off within 10 minutes
  vergeos.power.vergeos_vm_power:
    host: vergeos.example.com
    username: admin
    password: "{{ vergeos_password }}"
    id: 42
    state: stopped
    wait_timeout: 600

- name: Reboot a VM (graceful guest reboot), powering it on if it was off
  vergeos.power.vergeos_vm_power:
    host: vergeos.example.com
    api_key: "{{ vergeos_api_key }}"
    name: db01
    state: restarted

- name: Kill a hung VM at once (hard power off)
  vergeos.power.vergeos_vm_power:
    host: vergeos.example.com
    api_key: "{{ vergeos_api_key }}"
    name: hung01
    state: stopped
    force: true

- name: Stop gracefully, kill whatever ignores ACPI for 5 minutes
  vergeos.power.vergeos_vm_power:
    host: vergeos.example.com
    api_key: "{{ vergeos_api_key }}"
    names: [app01, app02, app03]
    state: stopped
    wait_timeout: 300
    on_timeout: force
  register: stop_result

- name: Show which VMs had to be killed
  ansible.builtin.debug:
    msg: "{{ stop_result.vms | selectattr('escalated') | map(attribute='name') | list }}"

- name: Stop the staging web tier, report the stragglers without failing
  vergeos.power.vergeos_vm_power:
    host: vergeos.example.com
    api_key: "{{ vergeos_api_key }}"
    filters:
      name_regex: "^web[0-9]+$"
      tags: [staging]
    max_targets: 100
    state: stopped
    on_timeout: report
  register: staging_stop

- name: List the VMs that missed the deadline
  ansible.builtin.debug:
    var: staging_stop.timed_out

- name: Start every stopped VM of node1, ten at a time, preferring node2
  vergeos.power.vergeos_vm_power:
    host: vergeos.example.com
    api_key: "{{ vergeos_api_key }}"
    filters:
      power_state: [stopped]
    max_targets: 200
    max_concurrent_actions: 10
    preferred_node: node2
    state: running

# Ad hoc, with the connection in the environment (VERGEOS_HOST, VERGEOS_USERNAME, VERGEOS_PASSWORD):
#   ansible localhost -m vergeos.power.vergeos_vm_power -a 'name=web01 state=stopped'
"""

RETURN = r"""
changed:
  description: Whether an action was sent to any VM (in check mode, whether one would be).
  returned: always
  type: bool
  sample: true
msg:
  description: What happened, in words; for one VM that VM's message.
  returned: always
  type: str
  sample: "stopped (poweroff)"
preflight:
  description:
    - The pre-flight check of the power-ons (see O(preflight)). C(checked) false (with a C(reason)) when there was nothing to check,
      O(preflight=off), or the check was skipped (C(skipped) true) because the nodes could not be read or show no RAM.
  returned: when the VMs could be selected
  type: dict
  contains:
    checked:
      description: Whether the check was made.
      type: bool
      sample: true
    fits:
      description: Whether every VM to start found room.
      type: bool
      sample: false
    skipped:
      description: Present and true when the check could not be made (see O(preflight)); C(reason) says why.
      type: bool
      sample: true
    reason:
      description: Why nothing was checked, when C(checked) is false.
      type: str
      sample: "pre-flight skipped: could not read the nodes for the pre-flight check (HTTP 403: Permission denied); the VMs are started unchecked"
    refused:
      description: Whether the task was refused for it (O(preflight=refuse)); nothing was sent then.
      type: bool
      sample: false
    placements:
      description: Where each VM would fit, VM id to node name.
      type: dict
      sample: {"12": node1}
    misfits:
      description: The VMs that do not fit, each with C(id), C(name), C(ram), C(cores), C(short_by_mb) and C(why).
      type: list
      elements: dict
      sample:
        - {id: 14, name: big01, ram: 65536, cores: 8, short_by_mb: 12288,
           why: "needs 65536 MB of RAM; the most any node of its cluster has free is 53248 MB"}
    nodes:
      description:
        - The headroom per node, C(ram), C(ram_used), C(ram_reserve), C(ram_free) now and C(ram_free_after) the placements (MB),
          C(cores), C(cores_used).
      type: list
      elements: dict
      sample:
        - {name: node1, cluster: cluster1, ram: 524288, ram_used: 8192, ram_reserve: 0, ram_free: 516096, ram_free_after: 512000,
           cores: 64, cores_used: 8}
  version_added: 2.0.0
timed_out:
  description: Names of the VMs that missed the deadline (with O(on_timeout=report) the task does not fail for them).
  returned: always
  type: list
  elements: str
  sample: [app02]
vms:
  description:
    - One dict per selected VM, sorted by name then id (for a selection by filters, names or ids).
    - With exactly one VM selected by O(name) or O(id), the same keys are also returned at the top level, except C(started),
      which Ansible reserves for async jobs (use C(vms[0].started)), and the keys a task result already has (C(changed), C(failed), C(msg)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The VM C($key).
      type: int
      sample: 42
    name:
      description: The VM name.
      type: str
      sample: web01
    machine:
      description: The key of the VM's machine.
      type: int
      sample: 142
    power_state:
      description:
        - The normalised power state after the task (docs/power-states.md in the collection maps every raw status to it).
        - With O(wait=false), as last read (before the action was sent); in check mode, as read.
      type: str
      sample: stopped
    status:
      description: The raw VergeOS machine status after the task.
      type: str
      sample: stopped
    running:
      description: The running flag of the machine status.
      type: bool
      sample: false
    node:
      description: Name of the node the VM runs on, null when off.
      type: str
      sample: node1
    cluster:
      description: Name of the VM's cluster.
      type: str
      sample: cluster1
    description:
      description: The VM description.
      type: str
      sample: front end
    enabled:
      description: Whether the VM is enabled.
      type: bool
      sample: true
    os_family:
      description: The guest OS family.
      type: str
      sample: linux
    cpu_cores:
      description: Configured CPU cores.
      type: int
      sample: 2
    ram:
      description: Configured RAM in MB.
      type: int
      sample: 4096
    guest_agent:
      description: Whether the guest agent is enabled for the VM.
      type: bool
      sample: true
    uefi:
      description: Whether the VM boots with UEFI.
      type: bool
      sample: false
    machine_type:
      description: The emulated machine type.
      type: str
      sample: pc-q35-9.0
    uuid:
      description: The VM UUID.
      type: str
      sample: 0f6b2e8c-2a56-4d6e-9bb0-7a1f1e2d3c4b
    created:
      description: Creation time (unix seconds).
      type: int
      sample: 1767225600
    modified:
      description: Last modification time (unix seconds).
      type: int
      sample: 1767225600
    started:
      description: When the VM was last started (unix seconds), from its machine status; may be C(0) while the VM is off (VergeOS may clear it on a stop).
      type: int
      sample: 1767229200
    state:
      description: The machine status C(state) column (C(online), C(offline), ...).
      type: str
      sample: offline
    status_info:
      description: Extra status text from VergeOS.
      type: str
      sample: ""
    agent_version:
      description: What the guest agent reports as its version; empty while no agent answers (VM off, no agent, guest not up yet).
      type: str
      sample: "qemu-guest-agent 8.2.2"
    previous_power_state:
      description: The normalised power state read before anything was done.
      type: str
      sample: running
    actions:
      description:
        - The actions sent to this VM, in order (C(poweron), C(poweroff), C(kill), C(reset), and C(mark_stopped) for O(unsafe_mark_stopped)).
        - Empty for a VM that needed nothing, and in check mode.
      type: list
      elements: str
      sample: [poweroff, kill]
    escalated:
      description: Whether O(on_timeout=force) escalated to a kill or hard reset for this VM.
      type: bool
      sample: false
    elapsed:
      description: Seconds from the start of the task until this VM was done.
      type: float
      sample: 61.9
    changed:
      description: Whether an action was sent to this VM (in check mode, whether one would be).
      type: bool
      sample: true
    failed:
      description: Whether this VM failed (the task fails when any VM failed).
      type: bool
      sample: false
    timed_out:
      description: Whether this VM missed the deadline.
      type: bool
      sample: false
    msg:
      description: What happened to this VM, in words.
      type: str
      sample: "stopped (poweroff)"
    snapshot:
      description: The snapshot taken before its kill (O(snapshot_before_kill)), with C(id), C(name), C(expires)...; null without one.
      type: dict
      sample: {"id": 812, "name": "before-kill", "expires": 1767315600}
"""

from ansible_collections.vergeos.power.plugins.module_utils.tasks import run_power, run_module  # noqa: E402
from ansible_collections.vergeos.power.plugins.module_utils.tasks import power_argument_spec as argument_spec  # noqa: E402


def main():
    run_module(argument_spec, run_power)


if __name__ == '__main__':
    main()
