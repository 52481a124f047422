# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Which VMs a task is about: the same words in every module (argspec.selection_argument_spec)."""

    DOCUMENTATION = r'''
options:
  name:
    description:
      - Exact name of one VM. Names are not unique in VergeOS; when several VMs share it the task fails and lists their ids.
      - Mutually exclusive with O(id) and O(filters).
    type: str
  id:
    description:
      - Id (the VM C($key)) of one VM.
      - Mutually exclusive with O(name) and O(filters).
    type: int
  names:
    description:
      - Exact names of several VMs. Each must match exactly one VM (names with commas or quotes are fine).
      - May be combined with O(ids); mutually exclusive with O(filters).
    type: list
    elements: str
  ids:
    description:
      - Ids of several VMs. Each must exist.
      - May be combined with O(names); mutually exclusive with O(filters).
    type: list
    elements: int
  filters:
    description:
      - Select VMs by properties; all given keys must match. Snapshots are never selected.
      - A filter that matches no VM fails unless O(allow_empty=true).
    type: dict
    suboptions:
      name_regex:
        description:
          - POSIX extended regular expression matched against the VM name by VergeOS (C(rx)). Not anchored; use C(^) and C($).
        type: str
      tags:
        description:
          - Names of tags the VM must all carry.
        type: list
        elements: str
      power_state:
        description:
          - Normalised power states to accept (any of them), matched on the controller after the read.
        type: list
        elements: str
        choices: [running, stopped, starting, stopping, migrating, hibernated, maintenance, error, unknown]
      node:
        description:
          - Names of the nodes the VM must currently run on (any of them). A VM that is not running is on no node.
        type: list
        elements: str
      cluster:
        description:
          - Names of the clusters the VM must belong to (any of them).
        type: list
        elements: str
  allow_empty:
    description:
      - Whether O(filters) may match no VM. Otherwise an empty match fails the task.
    type: bool
    default: false
'''
