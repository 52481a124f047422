# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The roles' variables as users really pass them, checked once and turned into the values the tasks use.

AWX surveys and ``-e key=value`` give strings: a number as ``"300"``, a list of VMs as
one name or one name per line (a textarea). A role's argument spec accepts those (it
checks that a string converts) but hands the tasks the string itself, so Jinja would
compare ``"300" >= 0`` or iterate a name's characters. Every role of the collection
passes its variables through ``normalise`` first (the filter ``vergeos.power.role_inputs``)
and uses what it returns. Each problem is reported with the variable, the rule and the
value; nothing has been sent when one is.
"""

from __future__ import annotations

import math

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.maintenance import MAX_NOTE, NAME_RULE_TEXT, check_record_name

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


def targets(name, value):
    """Return VM names (str) and ids (int) from a list, or from a string of names one per line; never a name's characters."""
    if value is None or value == '':
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith('['):
            # -e 'x=[a, b]' even arrives cut at the space: "[a,". A list belongs in JSON (a name starting with [ in a list).
            raise InputError('%s %s looks like a list written as text: give %s' % (name, _shown(value), TARGETS_HINT % name))
        return [line.strip() for line in value.splitlines() if line.strip()]
    if not isinstance(value, (list, tuple)):
        raise InputError('%s must be %s; not %s' % (name, TARGETS_HINT % name, _shown(value)))
    found, wrong = [], []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool) and item >= 1:
            found.append(item)
        elif isinstance(item, str) and item.strip():
            # A digit-only string is a name: ids are whole numbers (an integer survey field, or a list of them).
            found.append(item.strip())
        else:
            wrong.append(item)
    if wrong:
        raise InputError('%s must hold VM names (non-empty strings) and ids (whole numbers from 1); not %s'
                         % (name, ', '.join(_shown(item) for item in wrong)))
    return found


def seconds(name, value):
    """Return a number of seconds, 0 or more (numeric strings accepted)."""
    number = _number(value)
    if number is None or number < 0:
        raise InputError('%s must be a number of seconds, 0 or more; not %s' % (name, _shown(value)))
    return number


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
    """Return {VM name or id: seconds} from a dict whose values are seconds (numeric strings accepted)."""
    if value is None or value == '':
        return {}
    if not isinstance(value, dict):
        raise InputError('%s must be a dict of VM name or id to seconds (from the command line, as JSON: -e \'{"%s": {"db01": 900}}\'); '
                         'not %s' % (name, name, _shown(value)))
    result, wrong = {}, []
    for key, seconds_value in value.items():
        number = _number(seconds_value)
        if number is None or number < 0:
            wrong.append('%s: %s' % (_shown(key), _shown(seconds_value)))
        else:
            result[str(key)] = number
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
}
ROLES = {'safe_shutdown': SAFE_SHUTDOWN}


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
    if problems:
        raise InputError('%s: %s' % (role, '\n'.join(problems)))
    return result
