# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The action group must list every module, so module_defaults reaches all of them."""

from __future__ import annotations

import os

import yaml
from ansible.module_utils.compat.version import LooseVersion
from ansible.release import __version__ as core_version

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _module_names():
    modules_dir = os.path.join(COLLECTION_ROOT, 'plugins', 'modules')
    if not os.path.isdir(modules_dir):
        return []
    return sorted(name[:-3] for name in os.listdir(modules_dir) if name.endswith('.py') and not name.startswith('_'))


def test_action_group_lists_every_module():
    with open(os.path.join(COLLECTION_ROOT, 'meta', 'runtime.yml'), encoding='utf-8') as handle:
        runtime = yaml.safe_load(handle)
    assert sorted(runtime['action_groups']['vergeos']) == _module_names()


def test_requires_ansible_admits_the_running_core():
    with open(os.path.join(COLLECTION_ROOT, 'meta', 'runtime.yml'), encoding='utf-8') as handle:
        spec = yaml.safe_load(handle)['requires_ansible']
    parts = [part.strip() for part in spec.split(',')]
    assert parts[0].startswith('>=') and LooseVersion(parts[0][2:]) <= LooseVersion(core_version)
    # No upper bound, as amazon.aws and community.proxmox: a new ansible-core should not print a warning on every run;
    # the private interfaces the action plugins still use fail a test the day they change (test_private_interfaces.py).
    assert not any(part.startswith('<') for part in parts), spec
