# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filter vergeos.power.role_inputs (documented in role_inputs.yml): a role's variables, checked once and normalised."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vergeos.power.plugins.plugin_utils.role_inputs import InputError, normalise


def role_inputs(variables, role):
    try:
        return normalise(variables, role)
    except InputError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """Filters of vergeos.power."""

    def filters(self):
        return {'role_inputs': role_inputs}
