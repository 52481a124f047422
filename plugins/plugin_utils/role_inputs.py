# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The roles' variables as users really pass them, checked once and turned into the values the tasks use.

AWX surveys and ``-e key=value`` give strings: a number as ``"300"``, a list of VMs as
one name or one name per line (a textarea). A role's argument spec accepts those (it
checks that a string converts) but hands the tasks the string itself, so Jinja would
compare ``"300" >= 0`` or iterate a name's characters. Every role of the collection
passes its variables through ``normalise`` first (the internal filter
``vergeos.power.role_internal``, step ``role_inputs``) and uses what it returns. Each problem
is reported with the variable, the rule and the value; nothing has been sent when one is.

A VM name is taken as the modules take it: exactly, spaces included. Only line endings go
(an AWX textarea survey sends CRLF), so a role never acts on another VM than the one named;
a name that matches a VM only without its spaces is refused by the modules' lookup, and
``name_hints`` adds which VM was probably meant.
"""

from __future__ import annotations

import math

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.maintenance import MAX_NOTE, NAME_RULE_TEXT, check_record_name
from ansible_collections.vergeos.power.plugins.module_utils.policy import seconds as policy_seconds

# How to pass several VMs from places that give strings; said with every targets error.
TARGETS_HINT = ('a list of VM names and ids (whole numbers), or a string of names, one per line (an AWX textarea survey); '
                'from the command line, pass a list as JSON: -e \'{"%s": ["web01", 42]}\'')


class InputError(ValueError):
    """One or more variables are wrong; the text names each one, its rule and its value."""


def _shown(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _number(value):
    """Return value as an int or float when it is one or a numeric string (not a bool); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number):
        return None
    return int(number) if float(number).is_integer() else float(number)


LINE_ENDINGS = '\r\n'


def vm_name(value):
    """Return a VM name as the modules read it: exactly as given, less line endings at either end (never spaces)."""
    return value.strip(LINE_ENDINGS)


def targets(name, value):
    """Return VM names (str) and ids (int) from a list, or from a string of names one per line; never a name's characters.

    Names keep their spaces (the modules match names exactly); only line endings go, and blank lines.
    """
    if value is None or value == '':
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith('['):
            # -e 'x=[a, b]' even arrives cut at the space: "[a,". A list belongs in JSON (a name starting with [ in a list).
            raise InputError('%s %s looks like a list written as text: give %s' % (name, _shown(value), TARGETS_HINT % name))
        return [line for line in value.splitlines() if line.strip()]
    if not isinstance(value, (list, tuple)):
        raise InputError('%s must be %s; not %s' % (name, TARGETS_HINT % name, _shown(value)))
    found, wrong = [], []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool) and item >= 1:
            found.append(item)
        elif isinstance(item, str) and item.strip():
            # A digit-only string is a name: ids are whole numbers (an integer survey field, or a list of them).
            found.append(vm_name(item))
        else:
            wrong.append(item)
    if wrong:
        raise InputError('%s must hold VM names (non-empty strings) and ids (whole numbers from 1); not %s'
                         % (name, ', '.join(_shown(item) for item in wrong)))
    return found


def seconds(name, value):
    """Return a number of seconds, 0 or more (numeric strings accepted): the collection's one rule (policy.seconds)."""
    try:
        number = policy_seconds(value, name)
    except VergeOSError:
        raise InputError('%s must be a number of seconds, 0 or more; not %s' % (name, _shown(value))) from None
    return int(number) if number.is_integer() else number


def interval(name, value):
    """Return a number of seconds above 0 (numeric strings accepted)."""
    number = _number(value)
    if number is None or number <= 0:
        raise InputError('%s must be a number of seconds above 0; not %s' % (name, _shown(value)))
    return number


def count(name, value):
    """Return a whole number, 1 or more (numeric strings accepted)."""
    number = _number(value)
    if not isinstance(number, int) or number < 1:
        raise InputError('%s must be a whole number, 1 or more; not %s' % (name, _shown(value)))
    return number


def flag(name, value):
    """Return a boolean from true/false, yes/no, on/off, 1/0 (strings too); anything else is an error."""
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise InputError('%s must be true or false; not %s' % (name, _shown(value))) from None


def timeouts(name, value):
    """Return {VM name or id: seconds} from a dict whose values are seconds (numeric strings accepted).

    Only the values are checked here (the one seconds rule, ``seconds``), every wrong one named; which VM
    a key names is ``power.per_vm_timeouts``, once the targets are read (safe_shutdown's plan).
    """
    if value is None or value == '':
        return {}
    if not isinstance(value, dict):
        raise InputError('%s must be a dict of VM name or id to seconds (from the command line, as JSON: -e \'{"%s": {"db01": 900}}\'); '
                         'not %s' % (name, name, _shown(value)))
    result, wrong = {}, []
    for key, seconds_value in value.items():
        try:
            result[str(key)] = seconds(name, seconds_value)
        except InputError:
            wrong.append('%s: %s' % (_shown(key), _shown(seconds_value)))
    if wrong:
        raise InputError('%s values must be numbers of seconds, 0 or more; not %s' % (name, ', '.join(wrong)))
    return result


def mapping(name, value):
    """Return a dict (empty for nothing given)."""
    if value is None or value == '':
        return {}
    if not isinstance(value, dict):
        raise InputError('%s must be a dict; not %s' % (name, _shown(value)))
    return dict(value)


def text(name, value):
    """Return a string ('' for nothing given)."""
    if value is None:
        return ''
    if not isinstance(value, str):
        raise InputError('%s must be a string; not %s' % (name, _shown(value)))
    return value


def record(name, value):
    """Return a maintenance record name, or '' for none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ''
    try:
        return check_record_name(value)
    except VergeOSError:
        raise InputError('%s must be a maintenance record name (%s), or empty for none; not %s'
                         % (name, NAME_RULE_TEXT, _shown(value))) from None


def note(name, value):
    """Return a short free text ('' for nothing given)."""
    found = text(name, value)
    if len(found) > MAX_NOTE:
        raise InputError('%s must be at most %d characters; not %d' % (name, MAX_NOTE, len(found)))
    return found


RULES = {'targets': targets, 'seconds': seconds, 'interval': interval, 'count': count, 'flag': flag, 'timeouts': timeouts,
         'mapping': mapping, 'text': text, 'record': record, 'note': note}

# Each role's variables: variable -> (rule, key of the normalised dict).
SAFE_SHUTDOWN = {
    'safe_shutdown_targets': ('targets', 'targets'),
    'safe_shutdown_filters': ('mapping', 'filters'),
    'safe_shutdown_max_targets': ('count', 'max_targets'),
    'safe_shutdown_timeout': ('seconds', 'timeout'),
    'safe_shutdown_timeouts': ('timeouts', 'timeouts'),
    'safe_shutdown_escalate': ('flag', 'escalate'),
    'safe_shutdown_kill_timeout': ('seconds', 'kill_timeout'),
    'safe_shutdown_snapshot_before_kill': ('flag', 'snapshot_before_kill'),
    'safe_shutdown_snapshot_name': ('text', 'snapshot_name'),
    'safe_shutdown_snapshot_expires': ('seconds', 'snapshot_expires'),
    'safe_shutdown_snapshot_retry_timeout': ('seconds', 'snapshot_retry_timeout'),
    'safe_shutdown_before_kill_tasks': ('text', 'before_kill_tasks'),
    'safe_shutdown_unsafe_mark_stopped': ('flag', 'unsafe_mark_stopped'),
    'safe_shutdown_poll_interval': ('interval', 'poll_interval'),
    'safe_shutdown_batch': ('flag', 'batch'),
    'safe_shutdown_record': ('record', 'record'),
    'safe_shutdown_record_note': ('note', 'record_note'),
    'safe_shutdown_tiers': ('shutdown_tiers', 'tiers'),
}
UP_CHECKS = ('running', 'agent', 'port', 'url')
ON_FAILURE = ('stop', 'continue')
TIER_KEYS = ('name', 'targets', 'filters', 'up', 'port', 'url', 'status', 'delay', 'timeout', 'on_failure', 'max_concurrent')


def choice(choices):
    def rule(name, value):
        text = value.strip() if isinstance(value, str) else value
        if text not in choices:
            raise InputError('%s must be one of %s; not %s' % (name, ', '.join(choices), _shown(value)))
        return text
    return rule


def port(name, value):
    """Return a TCP port (numeric strings accepted), or None for none."""
    if value is None or value == '':
        return None
    number = _number(value)
    if not isinstance(number, int) or not 1 <= number <= 65535:
        raise InputError('%s must be a TCP port, 1 to 65535; not %s' % (name, _shown(value)))
    return number


def health_url(name, value):
    """Return a health URL template (http or https; {name}, {address} and {id} stand for the VM's), or '' for none."""
    found = text(name, value).strip()
    if found and not found.lower().startswith(('http://', 'https://')):
        raise InputError('%s must be an http:// or https:// URL ({name}, {address} and {id} stand for the VM\'s); not %s'
                         % (name, _shown(value)))
    return found


def statuses(name, value):
    """Return HTTP statuses (100-599) from a number, a numeric string, a comma-separated string or a list of them."""
    if isinstance(value, str) and ',' in value:
        value = [item.strip() for item in value.split(',')]
    items = value if isinstance(value, (list, tuple)) else [value]
    found = [_number(item) for item in items]
    if not found or not all(isinstance(number, int) and 100 <= number <= 599 for number in found):
        raise InputError('%s must be an HTTP status (100 to 599) or a list of them; not %s' % (name, _shown(value)))
    return found


def tiers(name, value, checks=None):
    """Return the tiers as given (each checked; its settings left None where the role's defaults apply).

    ``checks``: {key: rule} of what a tier may hold (safe_startup's TIER_KEYS by default; rolling_restart's tiers hold
    only a name and targets or filters).
    """
    checks = checks or {'targets': targets, 'filters': mapping, 'up': choice(UP_CHECKS), 'port': port, 'url': health_url,
                        'status': statuses, 'delay': seconds, 'timeout': interval, 'on_failure': choice(ON_FAILURE),
                        'max_concurrent': count, 'name': text}
    if value is None or value == '':
        return []
    if not isinstance(value, (list, tuple)):
        raise InputError('%s must be a list of tiers, each a dict with targets or filters (from the command line, as JSON: '
                         '-e \'{"%s": [{"targets": ["db01"]}, {"filters": {"tags": ["web"]}}]}\'); not %s' % (name, name, _shown(value)))
    found, problems = [], []
    for index, tier in enumerate(value, start=1):
        where = '%s tier %d' % (name, index)
        if not isinstance(tier, dict):
            problems.append('%s must be a dict with targets or filters; not %s' % (where, _shown(tier)))
            continue
        unknown = sorted(set(tier) - set(checks))
        if unknown:
            known = [key for key in TIER_KEYS if key in checks] + sorted(set(checks) - set(TIER_KEYS))
            problems.append('%s has unknown key(s) %s (known: %s)' % (where, ', '.join(unknown), ', '.join(known)))
            continue
        entry = {key: None for key in TIER_KEYS if key in checks}
        for key, check in checks.items():
            if tier.get(key) is not None:
                try:
                    entry[key] = check('%s %s' % (where, key), tier[key])
                except InputError as exc:
                    problems.append(str(exc))
        if bool(entry['targets']) == bool(entry['filters']):
            problems.append('%s needs targets or filters (one of them)' % where)
        entry['name'] = entry['name'] or 'tier %d' % index
        found.append(entry)
    if problems:
        raise InputError('\n'.join(problems))
    return found


def optional_number(name, value):
    """Return a number above 0, or None for none."""
    if value is None or value == '':
        return None
    return interval(name, value)


def shutdown_tiers(name, value):
    """Return safe_shutdown's tiers: names and targets or filters only (a tier's deadlines are the role's own)."""
    for index, tier in enumerate(value if isinstance(value, (list, tuple)) else [], start=1):
        extra = sorted(set(tier) - {'name', 'targets', 'filters'}) if isinstance(tier, dict) else []
        if extra:
            raise InputError('%s tier %d has key(s) %s that safe_shutdown does not use (name, targets, filters; the deadlines are '
                             'safe_shutdown_timeout and safe_shutdown_timeouts)' % (name, index, ', '.join(extra)))
    return [{key: tier[key] for key in ('name', 'targets', 'filters')} for tier in tiers(name, value)]


RULES.update(shutdown_tiers=shutdown_tiers, tiers=tiers, port=port, up=choice(UP_CHECKS), on_failure=choice(ON_FAILURE),
             preflight=choice(('warn', 'refuse', 'off')), optional_number=optional_number, health_url=health_url, statuses=statuses)

SAFE_STARTUP = {
    'safe_startup_tiers': ('tiers', 'tiers'),
    'safe_startup_up': ('up', 'up'),
    'safe_startup_port': ('port', 'port'),
    'safe_startup_url': ('health_url', 'url'),
    'safe_startup_url_status': ('statuses', 'status'),
    'safe_startup_url_validate_certs': ('flag', 'url_validate_certs'),
    'safe_startup_url_ca_path': ('text', 'url_ca_path'),
    'safe_startup_url_client_cert': ('text', 'url_client_cert'),
    'safe_startup_url_client_key': ('text', 'url_client_key'),
    'safe_startup_delay': ('seconds', 'delay'),
    'safe_startup_timeout': ('interval', 'timeout'),
    'safe_startup_on_failure': ('on_failure', 'on_failure'),
    'safe_startup_max_concurrent': ('count', 'max_concurrent'),
    'safe_startup_max_targets': ('count', 'max_targets'),
    'safe_startup_preflight': ('preflight', 'preflight'),
    'safe_startup_preflight_ram_reserve': ('seconds', 'preflight_ram_reserve'),
    'safe_startup_preflight_core_ratio': ('optional_number', 'preflight_core_ratio'),
    'safe_startup_poll_interval': ('interval', 'poll_interval'),
    'safe_startup_record': ('record', 'record'),
    'safe_startup_tier_var': ('text', 'tier_var'),
}


def _finish_safe_startup(result, problems):
    """Fill each tier's settings from the role's defaults; a port check needs a port; no tiers and no record is nothing to start."""
    if 'tiers' in result and not result['tiers'] and not result.get('record'):
        problems.append('safe_startup_tiers is empty and no host of the play carries vergeos_id and a tier in its %s variable '
                        '(safe_startup_tier_var): there is nothing to start. Give safe_startup_tiers (a list of tiers, each with targets '
                        'or filters), run the role on inventory hosts that carry both, or give safe_startup_record'
                        % (result.get('tier_var') or 'safe_startup_tier'))
    for tier in result.get('tiers', []):
        for key in ('up', 'port', 'url', 'status', 'delay', 'timeout', 'on_failure', 'max_concurrent'):
            if tier[key] is None and key in result:
                tier[key] = result[key]
        if tier['up'] == 'port' and tier['port'] is None:
            problems.append('%s: up is port, so it needs a port (in the tier, or safe_startup_port)' % tier['name'])
        if tier['up'] == 'url' and not tier['url']:
            problems.append('%s: up is url, so it needs a url (in the tier, or safe_startup_url; for example https://{address}/health)'
                            % tier['name'])
    if 'preflight_ram_reserve' in result:
        result['preflight_ram_reserve'] = int(result['preflight_ram_reserve'])


ROLES = {'safe_shutdown': SAFE_SHUTDOWN, 'safe_startup': SAFE_STARTUP}


def spaced_names(given):
    """Return the names of ``given`` (targets, or tiers with targets) that have spaces at either end, each once, in order."""
    names = []
    for item in given or []:
        values = item.get('targets') or [] if isinstance(item, dict) else [item]
        for value in values:
            if isinstance(value, str) and value != value.strip() and value not in names:
                names.append(value)
    return names


def name_hints(message, lookups, role):
    """Return the message of a failed read of the targets, with 'did you mean' for each name that matches a VM only without its spaces.

    ``message``: the failed read's words; ``lookups``: the loop results of a lookup of each spaced name without its spaces
    (``item`` the name as given, ``vms`` what the lookup found; a failed lookup finds nothing).
    """
    hints = []
    for lookup in (lookups or {}).get('results') or []:
        found = [vm.get('name') for vm in lookup.get('vms') or []] if not lookup.get('failed') else []
        if found:
            hints.append('no VM is called %r; did you mean %r? (a VM name is matched exactly, spaces included)' % (lookup['item'], found[0]))
    return '%s: %s' % (role, '; '.join(hints + [str(message)])) if hints else str(message)


def normalise(variables, role):
    """Return the role's variables as {short key: value} after its rules; InputError naming every problem, one per line.

    Variables left out of ``variables`` are left out of the result.
    """
    if role not in ROLES:
        raise InputError('unknown role %r (known: %s)' % (role, ', '.join(sorted(ROLES))))
    result, problems = {}, []
    for name, (rule, key) in ROLES[role].items():
        if name not in variables:
            continue  # not given: the caller keeps its default
        try:
            result[key] = RULES[rule](name, variables[name])
        except InputError as exc:
            problems.append(str(exc))
    if role == 'safe_shutdown' and not problems and result.get('targets') and result.get('filters'):
        problems.append('give safe_shutdown_targets or safe_shutdown_filters, not both')
    if role == 'safe_shutdown' and not problems and result.get('tiers') and (result.get('targets') or result.get('filters')):
        problems.append('give safe_shutdown_tiers or safe_shutdown_targets / safe_shutdown_filters, not both')
    if role == 'safe_startup' and not problems:
        _finish_safe_startup(result, problems)
    if problems:
        raise InputError('%s: %s' % (role, '\n'.join(problems)))
    return result
