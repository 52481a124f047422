# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The power watch of the EDA event source (extensions/eda/plugins/event_source/vm_power_events.py), without its loop.

- ``PowerWatch`` (pure): successive reads of the watched VMs in, events out. Time is given to
  it; it never reads, sleeps or logs.
- ``Poller`` (blocking): ONE VM listing per call (``vms.list_vms``, paged), plus the tags and the
  maintenance records when asked for, turned into views of the watched VMs.
- ``Settings`` and ``Selection``: the source's validated options and which VMs it watches.

Every event is ``{EVENT_KEY: body}``. The body always has ``type`` (one of EVENT_TYPES), ``time``
(ISO 8601, UTC, to the millisecond), ``timestamp`` (unix seconds) and ``system`` (the base URL),
and by type:

- BASELINE, APPEARED, VANISHED: ``vm`` (``vm_view``; for VANISHED the last one seen).
- CHANGED, ENTERED_ERROR (a change to the power state ``error``): ``vm``, ``previous`` (the
  ``power_state``, ``status``, ``status_info`` and ``node`` before) and ``in_state_for`` (seconds
  in the previous power state, as far as the source saw).
- STUCK: ``vm``, ``since``, ``in_state_for`` and ``stuck_after``; once per stay in a TRANSITIONS state.
- UNREACHABLE: ``error``, ``since`` and ``unreadable_for``; REACHABLE: ``since`` and ``unreadable_for``.
- SOURCE_FAILED: ``error``; the source stops after it.

An event type is added here (a constant, EVENT_TYPES, this list), in the plugin's DOCUMENTATION
and in docs/eda.md (see docs/architecture.md).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from ansible_collections.vergeos.power.plugins.module_utils.argspec import connection_argument_spec, selection_argument_spec
from ansible_collections.vergeos.power.plugins.module_utils.details import read_vm_tags
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError, redact
from ansible_collections.vergeos.power.plugins.module_utils.maintenance import find_tags, read_category, read_members
from ansible_collections.vergeos.power.plugins.module_utils.policy import seconds
from ansible_collections.vergeos.power.plugins.module_utils.power_state import power_state_of
from ansible_collections.vergeos.power.plugins.module_utils.retry import backoff
from ansible_collections.vergeos.power.plugins.module_utils.vms import check_name_regex, ids_carrying_tags, list_vms, matches_client_filters, vm_key

EVENT_KEY = 'vergeos_power'
BASELINE, CHANGED, ENTERED_ERROR, STUCK = 'baseline', 'changed', 'entered_error', 'stuck'
APPEARED, VANISHED, UNREACHABLE, REACHABLE, SOURCE_FAILED = 'appeared', 'vanished', 'unreachable', 'reachable', 'source_failed'
EVENT_TYPES = (BASELINE, CHANGED, ENTERED_ERROR, STUCK, APPEARED, VANISHED, UNREACHABLE, REACHABLE, SOURCE_FAILED)
# Normalised power states that are on their way somewhere else: a VM that stays in one too long is stuck.
TRANSITIONS = frozenset(('starting', 'stopping', 'migrating'))
# What a CHANGED event's ``previous`` keeps of the view before.
PREVIOUS_KEYS = ('power_state', 'status', 'status_info', 'node')
# The source's options in seconds, with their defaults (only unreachable_after may be 0).
SECONDS = {'interval': 10.0, 'stuck_after': 300.0, 'unreachable_after': 60.0, 'max_retry_delay': 60.0}
FLAGS = ('baseline', 'include_tags', 'include_maintenance')


class OptionsError(Exception):
    """The source's arguments are not valid; the text says which and why (no secret in it)."""


def argument_spec():
    """Return the source's options: the modules' connection and selection options, and its own."""
    spec = connection_argument_spec()
    selection = selection_argument_spec()
    selection.pop('allow_empty')
    selection['filters']['options']['power_state'] = {'type': 'list', 'elements': 'str'}
    spec.update(selection, **{name: {'type': 'float', 'default': value} for name, value in SECONDS.items()})
    spec.update({name: {'type': 'bool', 'default': False} for name in FLAGS}, page_size={'type': 'int', 'default': 500})
    return spec


def scrub(text, secrets):
    """Return ``text`` with every secret replaced (the client scrubs its own errors; this covers everything else)."""
    return redact(str(text), [str(secret) for secret in secrets if secret])


def failure_text(exc, secrets, expected):
    """Return what a failure says, without secrets, led by the exception's type when it is none of ``expected``."""
    message = scrub(exc, secrets)
    return message if isinstance(exc, expected) else '%s: %s' % (type(exc).__name__, message)


def option_seconds(params, name):
    """Return option ``name`` by the collection's one seconds rule (``policy.seconds``), above 0 but for unreachable_after."""
    try:
        value = seconds(params[name], name)
    except VergeOSError:
        value = -1.0
    allow_zero = name == 'unreachable_after'
    if value < 0 or (value == 0 and not allow_zero):
        raise OptionsError('%s must be a number of seconds %s, not %r' % (name, 'of 0 or more' if allow_zero else 'greater than 0', params[name]))
    return value


def settings_from(params, secrets):
    """Return Settings from options the argument spec validated; OptionsError for what it cannot check."""
    filters = params.get('filters') or {}
    refused_filters = [key for key in ('power_state', 'node') if filters.get(key)]
    if refused_filters:
        raise OptionsError('filters.%s cannot select what the event source watches: a VM\'s power state and node change with the very '
                           'events it reports; watch the VMs by name, id, name_regex, tags or cluster, and match the state in the rule'
                           % ' and filters.'.join(refused_filters))
    try:
        name_regex = check_name_regex(filters['name_regex']) if filters.get('name_regex') else None
        ids = [vm_key(value) for value in ([params['id']] if params.get('id') is not None else []) + list(params.get('ids') or [])]
    except VergeOSError as exc:
        raise OptionsError(scrub(exc, secrets)) from None
    names = ([params['name']] if params.get('name') is not None else []) + list(params.get('names') or [])
    if params['page_size'] < 0:
        raise OptionsError('page_size must be 0 (one request) or more, not %r' % params['page_size'])
    selection = Selection(ids=frozenset(ids), names=frozenset(names), name_regex=name_regex, tags=tuple(filters.get('tags') or ()),
                          clusters=frozenset(filters.get('cluster') or ()))
    return Settings(connection={name: params.get(name) for name in connection_argument_spec()}, selection=selection,
                    secrets=tuple(secret for secret in secrets if secret), page_size=params['page_size'],
                    **{name: option_seconds(params, name) for name in SECONDS}, **{name: params[name] for name in FLAGS})


@dataclass(frozen=True)
class Selection:
    """Which VMs of the listing are watched (the name regex is matched by VergeOS, the rest here)."""

    ids: frozenset = frozenset()
    names: frozenset = frozenset()
    name_regex: str | None = None
    tags: tuple = ()
    clusters: frozenset = frozenset()

    def rows(self, rows, tags=None):
        """Return the listing rows of the watched VMs; ``tags`` as ``details.read_vm_tags`` gives them (needed with ``self.tags``)."""
        filters = {'cluster': self.clusters} if self.clusters else {}
        tagged = set(ids_carrying_tags({key: [tag['name'] for tag in found] for key, found in (tags or {}).items()}, self.tags))
        return [row for row in rows
                if (not (self.ids or self.names) or row.get('$key') in self.ids or row.get('name') in self.names)
                and matches_client_filters(row, filters) and (not self.tags or row.get('$key') in tagged)]


@dataclass(frozen=True)
class Settings:
    """The source's validated options."""

    connection: dict = field(repr=False)
    selection: Selection
    interval: float = 10.0
    stuck_after: float = 300.0
    unreachable_after: float = 60.0
    max_retry_delay: float = 60.0
    baseline: bool = False
    include_tags: bool = False
    include_maintenance: bool = False
    page_size: int = 500
    secrets: tuple = field(default=(), repr=False)

    @property
    def read_tags(self):
        """Whether every poll reads the tags: asked for, or needed by the tags filter."""
        return self.include_tags or bool(self.selection.tags)

    def retry_delay(self, failures, rand):
        """Return the wait after the ``failures``-th failed read in a row: interval, doubling, capped, with jitter."""
        return backoff(max(failures - 1, 0), self.interval, max(self.interval, self.max_retry_delay), rand)


def refused(exc):
    """Whether a failed read is a refusal of the credentials: trying again could lock the account."""
    return isinstance(exc, VergeOSError) and exc.status == 401


# ---------------------------------------------------------------- what a read says (pure)


def vm_view(row, tags=None, records=None):
    """Return what the events say about a VM, from its listing row.

    ``tags``: {VM id: [{'name', ...}]} (``details.read_vm_tags``), or None when not read.
    ``records``: {VM id: [record names]} (``maintenance_by_vm``), or None when not read.
    """
    key = row.get('$key')
    status = row.get('status')
    view = {
        'id': key, 'name': row.get('name'), 'power_state': power_state_of(status), 'status': status,
        'status_info': row.get('status_info') or None, 'node': row.get('node_name'), 'cluster': row.get('cluster_name'),
        'running': row.get('running'), 'tags': None, 'under_maintenance': None, 'maintenance_records': None,
    }
    if tags is not None:
        view['tags'] = sorted({tag['name'] for tag in tags.get(key, ())})
    if records is not None:
        view['maintenance_records'] = sorted(records.get(key, ()))
        view['under_maintenance'] = bool(view['maintenance_records'])
    return view


def iso_time(timestamp):
    """Return a unix time as ISO 8601 in UTC, to the millisecond."""
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat(timespec='milliseconds').replace('+00:00', 'Z')


def _seconds(value):
    return round(max(value, 0.0), 3)


class _Track:
    """What the watch remembers of one VM: its last view, since when it is in its power state, whether it was reported stuck."""

    __slots__ = ('view', 'since', 'stuck_reported')

    def __init__(self, view, since):
        self.view = view
        self.since = since
        self.stuck_reported = False


class PowerWatch:
    """Successive reads of the watched VMs in, events out. Pure: the time is given, nothing is read, slept or logged.

    ``observe(views, now)`` after each read that worked, ``failed(message, now)`` after each
    that did not. Each returns the list of events (dicts with the one key EVENT_KEY).
    """

    def __init__(self, stuck_after, unreachable_after, baseline=False, system=None):
        self.stuck_after = stuck_after
        self.unreachable_after = unreachable_after
        self.baseline = baseline
        self.system = system
        self._vms = None
        self._failing_since = None
        self._reported_down = False

    def event(self, kind, now, view=None, **extra):
        """Return one event of this watch's system."""
        body = {'type': kind, 'time': iso_time(now), 'timestamp': round(now, 3), 'system': self.system}
        if view is not None:
            body['vm'] = dict(view)
        body.update(extra)
        return {EVENT_KEY: body}

    def observe(self, views, now):
        """Return the events that a read of ``views`` (``vm_view`` dicts) at ``now`` gives.

        A view without an id or a power state raises ValueError before anything is remembered.
        """
        if any(not isinstance(view, dict) or 'id' not in view or 'power_state' not in view for view in views):
            raise ValueError('a read gave a VM without an id or a power state')
        events = []
        if self._reported_down:
            events.append(self.event(REACHABLE, now, since=iso_time(self._failing_since), unreadable_for=_seconds(now - self._failing_since)))
        self._failing_since, self._reported_down = None, False
        current = {view['id']: view for view in views}
        if self._vms is None:
            self._vms = {key: _Track(view, now) for key, view in current.items()}
            if self.baseline:
                events.extend(self.event(BASELINE, now, current[key]) for key in sorted(current))
        else:
            events.extend(self._changes(current, now))
        events.extend(self._stuck(now))
        return events

    def _changes(self, current, now):
        events = []
        for key in sorted(set(current) | set(self._vms)):
            view, track = current.get(key), self._vms.get(key)
            if track is None:
                self._vms[key] = _Track(view, now)
                events.append(self.event(APPEARED, now, view))
            elif view is None:
                del self._vms[key]
                events.append(self.event(VANISHED, now, track.view))
            elif view['power_state'] != track.view['power_state']:
                previous = {name: track.view[name] for name in PREVIOUS_KEYS}
                kind = ENTERED_ERROR if view['power_state'] == 'error' else CHANGED
                events.append(self.event(kind, now, view, previous=previous, in_state_for=_seconds(now - track.since)))
                self._vms[key] = _Track(view, now)
            else:
                track.view = view
        return events

    def _stuck(self, now):
        events = []
        for key in sorted(self._vms):
            track = self._vms[key]
            if track.view['power_state'] in TRANSITIONS and not track.stuck_reported and now - track.since >= self.stuck_after:
                track.stuck_reported = True
                events.append(self.event(STUCK, now, track.view, since=iso_time(track.since), in_state_for=_seconds(now - track.since),
                                         stuck_after=self.stuck_after))
        return events

    def failed(self, message, now):
        """Return the events that a failed read at ``now`` gives: ONE UNREACHABLE once the failures last ``unreachable_after``."""
        if self._failing_since is None:
            self._failing_since = now
        if self._reported_down or now - self._failing_since < self.unreachable_after:
            return []
        self._reported_down = True
        return [self.event(UNREACHABLE, now, error=message, since=iso_time(self._failing_since),
                           unreadable_for=_seconds(now - self._failing_since))]

    @property
    def unreachable(self):
        """Whether an UNREACHABLE event was given and no REACHABLE one since."""
        return self._reported_down


def failed_event(message, now, system=None):
    """Return the one SOURCE_FAILED event of a source that stops."""
    return PowerWatch(0, 0, system=system).event(SOURCE_FAILED, now, error=message)


# ---------------------------------------------------------------- the reads (blocking)


def maintenance_by_vm(client):
    """Return {VM id: [names of the open maintenance records holding it]}: one to three requests, no VM read.

    The record's own readers (``maintenance.py``; the shape is in docs/maintenance.md), without
    ``read_records``'s read of the recorded VMs: the listing already has them.
    """
    # Read afresh each poll (find_category keeps the row for a run's life; a watch lives longer than a category may).
    category = read_category(client)
    if category is None:
        return {}
    tags = find_tags(client, category)
    names = {vm_key(tag['$key']): tag.get('name') for tag in tags}
    found = {}
    for tag_key, members in read_members(client, tags).items():
        for vm_id in members:
            found.setdefault(vm_id, []).append(names[tag_key])
    return found


class Poller:
    """One read of every watched VM: the listing, then (when asked for) the tags and the maintenance records."""

    def __init__(self, settings, client):
        self.settings = settings
        self.client = client

    def __call__(self):
        """Return the views of the watched VMs, sorted by id; raise what the client raises."""
        rows = list_vms(self.client, name_regex=self.settings.selection.name_regex, page_size=self.settings.page_size)
        tags = read_vm_tags(self.client) if self.settings.read_tags else None
        # After the listing: a maintenance opens its record before it stops a VM, so a stop in the listing has its record here.
        records = maintenance_by_vm(self.client) if self.settings.include_maintenance else None
        # A row without a whole-number key cannot be followed from one read to the next (the listing asks for $key).
        rows = [row for row in rows if isinstance(row.get('$key'), int) and not isinstance(row.get('$key'), bool)]
        return sorted((vm_view(row, tags, records) for row in self.settings.selection.rows(rows, tags)), key=lambda view: view['id'])
