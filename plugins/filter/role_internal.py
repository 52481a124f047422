# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filter vergeos.power.role_internal (documented in role_internal.yml): the roles' steps that are decided in Python.

Internal to the roles of this collection and not part of its public API: a step, its input
and its output change with the roles, in any release. The roles reach their Python through
this one filter, ``{{ value | vergeos.power.role_internal('<step>', ...) }}``; a new step is a
function in ``plugins/plugin_utils/`` and one entry of ``STEPS`` below (and of the ``step``
choices in role_internal.yml), never a filter plugin of its own (docs/architecture.md, "Filters").
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vergeos.power.plugins.plugin_utils.role_inputs import InputError, name_hints, normalise, spaced_names
from ansible_collections.vergeos.power.plugins.plugin_utils.round_trip import restore_plan, resume_plan, status_line, stop_remaining
from ansible_collections.vergeos.power.plugins.plugin_utils.shutdown_plan import (
    failure_message, host_failure, kill_candidates, late_vms, record_ids, refusal, shutdown_plan, shutdown_stages, stop_order, tiers_failure,
    tiers_result,
)
from ansible_collections.vergeos.power.plugins.plugin_utils.shutdown_result import shutdown_result
from ansible_collections.vergeos.power.plugins.plugin_utils.rolling import (
    batch_outcome, batch_start, gate_vms, normalise as rolling_inputs, not_reached, rolling_plan, rolling_result,
)
from ansible_collections.vergeos.power.plugins.plugin_utils.startup import (
    PlanError, health_gates, host_tier, skipped_tier, startup_plan, startup_result, tier_outcome,
)


def _safe_shutdown_result(stages, context):
    if not isinstance(stages, dict) or not isinstance(context, dict):
        raise TypeError('it takes a dict of stage results and a dict of context')
    return shutdown_result(stages, context)


def _safe_startup_tier(tier, power=None, ports=None, started=None, up_at=None, skip=None):  # noqa: PLR0917 (Jinja passes them in order)
    if skip:
        return skipped_tier(tier, skip)
    return tier_outcome(tier, power, ports, started, up_at)


# step -> the function that does it (its first argument is the filter's input).
STEPS = {
    'role_inputs': normalise,
    'spaced_names': spaced_names,
    'name_hints': name_hints,
    'safe_shutdown_plan': shutdown_plan,
    'safe_shutdown_refusal': refusal,
    'safe_shutdown_record_ids': record_ids,
    'safe_shutdown_stages': shutdown_stages,
    'safe_shutdown_late': late_vms,
    'safe_shutdown_kill_candidates': kill_candidates,
    'safe_shutdown_result': _safe_shutdown_result,
    'safe_shutdown_failure': failure_message,
    'safe_shutdown_host_failure': host_failure,
    'safe_shutdown_tiers': stop_order,
    'safe_shutdown_tiers_result': tiers_result,
    'safe_shutdown_tiers_failure': tiers_failure,
    'safe_startup_host_tier': host_tier,
    'safe_startup_plan': startup_plan,
    'safe_startup_tier': _safe_startup_tier,
    'safe_startup_result': startup_result,
    'health_gates': health_gates,
    'rolling_restart_inputs': rolling_inputs,
    'rolling_restart_plan': rolling_plan,
    'rolling_restart_batch_start': batch_start,
    'rolling_restart_gate_vms': gate_vms,
    'rolling_restart_batch': batch_outcome,
    'rolling_restart_not_reached': not_reached,
    'rolling_restart_result': rolling_result,
    'maintenance_resume': resume_plan,
    'maintenance_stop_remaining': stop_remaining,
    'maintenance_status_line': status_line,
    'maintenance_restore_plan': restore_plan,
}

# What a step raises for input a user gave (its text is the message, as it is); anything else is a defect of the role.
USER_ERRORS = (InputError, PlanError)


def role_internal(value, step, *args, **kwargs):
    """Run one step of a role: ``STEPS[step](value, *args, **kwargs)``."""
    work = STEPS.get(step)
    if work is None:
        raise AnsibleFilterError('vergeos.power.role_internal: no step %r (it is internal to the roles of vergeos.power; steps: %s)'
                                 % (step, ', '.join(sorted(STEPS))))
    try:
        return work(value, *args, **kwargs)
    except USER_ERRORS as exc:
        raise AnsibleFilterError(str(exc)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AnsibleFilterError('vergeos.power.role_internal(%r): its input is not what the role passes: %s' % (step, exc)) from None


class FilterModule:
    """Filters of vergeos.power."""

    def filters(self):
        return {'role_internal': role_internal}
