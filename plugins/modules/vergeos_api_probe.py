#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: vergeos_api_probe
short_description: Find out, reading only, how a VergeOS system answers where the API's public sources disagree
version_added: 2.0.0
description:
  - Reads the system's version, then checks how this VergeOS system behaves where the vendor's public clients and documentation
    disagree or are silent (the behaviours the collection's own docs call I(unsettled)), and reports what it saw for each one.
  - It sends B(only GET requests), about fifteen of them, and never changes anything; run it before the first use of the collection on
    a system, and attach its result to a bug report. C(playbooks/probe.yml) runs it, prints the table and writes the result to a
    JSON file.
  - "V(sort_key): a listing of C(vms) with C(sort=$key), read twice, and with C(sort=-$key): V(works), V(refused) (HTTP 400 or 422)
    or V(ignored) (keys out of order, or another order when read again)."
  - "V(member_bw): C(tag_members) with the filter C(member bw 'vms/'): V(works), V(refused), or V(ignored) (rows of other members
    came back)."
  - "V(key_type): the JSON type of C($key) and of the reference C(machine) in rows of C(vms): V(int), V(string) or V(mixed)."
  - "V(error_body): the body of the answer to a harmless bad request (C(GET vms/0)): V(text) (C({\"err\": \"...\"})), V(flag)
    (C({\"err\": true, \"message\": \"...\"})), V(nested) (C({\"err\": {\"message\": \"...\"}})) or V(other)."
  - "V(default_fields): the columns of a VM read by key without C(fields): V(all) (every column C(fields=most) gives) or V(short)."
  - "V(traversed_filters): C(vms) filtered on C(machine#status#status eq 'running'): V(works), V(refused) or V(ignored) (rows
    that are not running came back)."
  - "V(status_key): the C($key) of running VMs' C(machine_status) rows against their machine keys: V(equal), V(differs) or V(mixed).
    The collection reads a VM's status through its machine key either way."
  - "V(maintenance_category): C(taggable_vms) of the tag category C(vergeos_power_maintenance), which VergeOS needs before a VM can
    be tagged: V(taggable), V(not_taggable) (a maintenance record sets it first when the user may edit tag categories, and
    refuses before any power action otherwise) or V(unknown) (no such category yet, or no such column)."
  - "V(preflight_reads): the two reads of the power-on pre-flight (C(nodes) with their RAM, the running VMs' status rows):
    V(works), V(refused) (HTTP 400, 403 or 422: the pre-flight is then skipped with a warning, or refuses with
    O(vergeos.power.vergeos_vm_power#module:preflight=refuse)) or V(unknown)."
  - POST receipts are not probed, since the probe never writes; the collection reads their keys as numbers whatever their JSON type.
  - A check that could not be made is reported with the value V(error); one whose answer cannot tell (a system with fewer than two
    VMs to order, no VM carrying a tag, no running VM) with V(unknown), never V(works); each with its reason. No check fails the
    task. The task fails only when the system cannot be reached or refuses the credentials (one request is sent then).
author:
  - vergeos.power contributors (@vergeos)
extends_documentation_fragment:
  - vergeos.power.connection
  - vergeos.power.controller.plain
options: {}
attributes:
  check_mode:
    support: full
    description: Reads only; check mode sends the same reads and returns the same result.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
notes:
  - Needs only read access. The collection's C(docs/real-systems.md) lists each behaviour, what the collection does about each
    answer, and on which systems the answers were confirmed.
seealso:
  - module: vergeos.power.vergeos_vm_info
'''

EXAMPLES = r'''
- name: Probe the system of the VERGEOS_* environment (reads only)
  vergeos.power.vergeos_api_probe:
  register: probe

- name: Show what it found
  ansible.builtin.debug:
    var: probe.table

- name: Keep the result, to attach to a bug report
  ansible.builtin.copy:
    content: "{{ {'system': probe.system, 'behaviours': probe.behaviours} | to_nice_json }}"
    dest: ./vergeos-probe.json
    mode: "0644"
'''

RETURN = r'''
system:
  description: The system's version fields, as C(GET system) gives them.
  returned: success
  type: dict
  contains:
    yb_version:
      description: The VergeOS version.
      type: str
      sample: 4.13.4
    os_version:
      description: The version of the operating system under it.
      type: str
      sample: 4.13.4-1
    cloud_name:
      description: The system's name.
      type: str
      sample: vergeos-lab
behaviours:
  description:
    - What the system does for each behaviour, by name. Each is a dict of C(value) (the answer in one word) and C(detail) (what
      was sent and seen, in words).
    - A check that could not be made has the C(value) V(error); one whose answer could not tell has V(unknown).
  returned: success
  type: dict
  contains:
    sort_key:
      description: V(works), V(refused), V(ignored), V(unknown) or V(error).
      type: dict
      sample: {value: ignored, detail: 'sort=$key answered keys out of order (7, 2, 11, 1, 5, 9 ...)'}
    member_bw:
      description: V(works), V(refused), V(ignored), V(unknown) or V(error).
      type: dict
      sample: {value: refused, detail: 'HTTP 422: Invalid argument'}
    key_type:
      description: V(int), V(string), V(mixed), V(unknown) or V(error).
      type: dict
      sample: {value: int, detail: '$key: 12 int; machine: 12 int (12 rows of vms)'}
    error_body:
      description: V(text), V(flag), V(nested), V(other) or V(error).
      type: dict
      sample: {value: text, detail: "HTTP 404 to GET vms/0: {\"err\": \"Resource '/v4/vms/0' not found during get\"}; the collection
                 reports: Resource '/v4/vms/0' not found during get"}
    default_fields:
      description: V(all), V(short), V(unknown) or V(error).
      type: dict
      sample: {value: short, detail: 'GET vms/1 without fields: 4 columns ($key, is_snapshot, machine, name); 14 of fields=most missing (...)'}
    traversed_filters:
      description: V(works), V(refused), V(ignored), V(unknown) or V(error).
      type: dict
      sample: {value: works, detail: '4 row(s), every one running'}
    status_key:
      description: V(equal), V(differs), V(mixed), V(unknown) or V(error).
      type: dict
      sample: {value: equal, detail: '4 of 4 status rows have the machine key as their $key (the collection reads status through machine either way)'}
    maintenance_category:
      description: V(taggable), V(not_taggable), V(unknown) or V(error).
      type: dict
      sample: {value: not_taggable, detail: 'the category vergeos_power_maintenance has taggable_vms false: ...'}
    preflight_reads:
      description: V(works), V(refused), V(unknown) or V(error).
      type: dict
      sample: {value: refused, detail: 'reading the nodes for the pre-flight check: HTTP 403: Permission denied'}
table:
  description: A short table for people, one line each; the first names the system.
  returned: success
  type: list
  elements: str
  sample:
    - VergeOS 4.13.4 (os_version 4.13.4-1), cloud_name vergeos-lab
    - behaviour          value     detail
    - sort_key           works     sort=$key (twice) and sort=-$key ordered 12 rows of vms by key
'''

from ansible_collections.vergeos.power.plugins.module_utils.probe import probe_argument_spec as argument_spec, run_probe  # noqa: E402
from ansible_collections.vergeos.power.plugins.module_utils.tasks import run_module  # noqa: E402


def main():
    run_module(argument_spec, run_probe, mutually_exclusive=())


if __name__ == '__main__':
    main()
