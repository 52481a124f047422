# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filter vergeos.power.safe_shutdown_result (documented in safe_shutdown_result.yml): the role's result from its stages."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vergeos.power.plugins.plugin_utils.shutdown_result import shutdown_result


def safe_shutdown_result(stages, context):
    if not isinstance(stages, dict) or not isinstance(context, dict):
        raise AnsibleFilterError('safe_shutdown_result takes a dict of stage results and a dict of context')
    try:
        return shutdown_result(stages, context)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('safe_shutdown_result: the stages or the context are not what the role passes: %s' % exc) from None


class FilterModule:
    """Filters of vergeos.power."""

    def filters(self):
        return {'safe_shutdown_result': safe_shutdown_result}
