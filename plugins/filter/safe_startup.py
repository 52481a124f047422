# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filters of the safe_startup role (documented in safe_startup_plan.yml, safe_startup_tier.yml, safe_startup_result.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.vergeos.power.plugins.plugin_utils.startup import PlanError, skipped_tier, startup_plan, startup_result, tier_outcome


def _guarded(work, *args):
    try:
        return work(*args)
    except PlanError as exc:
        raise AnsibleFilterError(str(exc)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AnsibleFilterError('%s: its input is not what the safe_startup role passes: %s' % (work.__name__, exc)) from None


def safe_startup_host_tier(name, hosts, variable):
    """Return the tier ``name`` of the inventory-host form: the ids of the hosts whose ``variable`` is that tier."""
    return {'name': 'tier %s' % name,
            'targets': [int(host['vergeos_id']) for host in hosts if str(host.get(variable)) == str(name) and host.get('vergeos_id') is not None]}


def safe_startup_plan(tiers, found, record=None, max_targets=None, defaults=None):
    return _guarded(startup_plan, tiers, found, record, max_targets, defaults)


def safe_startup_tier(tier, power=None, ports=None, started=None, up_at=None, skip=None):  # noqa: PLR0917 (Jinja passes them in order)
    if skip:
        return _guarded(skipped_tier, tier, skip)
    return _guarded(tier_outcome, tier, power, ports, started, up_at)


def safe_startup_result(plan, tiers, preflight=None, check_mode=False, record=None):
    return _guarded(startup_result, plan, tiers, preflight, check_mode, record)


class FilterModule:
    """Filters of vergeos.power."""

    def filters(self):
        return {'safe_startup_host_tier': safe_startup_host_tier, 'safe_startup_plan': safe_startup_plan,
                'safe_startup_tier': safe_startup_tier, 'safe_startup_result': safe_startup_result}
