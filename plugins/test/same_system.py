# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Jinja test vergeos.power.same_system: the modules' own rule, for roles and playbooks (documented in same_system.yml)."""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.module_utils.client import same_system


def _same_system(value, other):
    return same_system(value if isinstance(value, str) else '', other if isinstance(other, str) else '')


class TestModule:
    """Jinja tests of vergeos.power."""

    def tests(self):
        return {'same_system': _same_system}
