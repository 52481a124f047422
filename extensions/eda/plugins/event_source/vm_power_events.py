# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""ansible-rulebook event source: the power state of VergeOS VMs, turned into events.

Three parts, each testable on its own:

- ``PowerWatch`` (pure): successive reads of the watched VMs in, events out. Time is
  given to it; it never reads, sleeps or logs.
- ``Poller`` (blocking): ONE VM listing per call through the collection's client layer
  (``vms.list_vms``, paged), plus the tags and the maintenance records when asked for.
- ``watch`` (async): the loop ansible-rulebook runs through ``main(queue, args)``; the
  blocking read runs in a thread, failures back off, and nothing escapes as a traceback.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import logging
import math
import os
import random
import sys
import time
import traceback
from dataclasses import dataclass, field
from types import SimpleNamespace

DOCUMENTATION = r'''
---
short_description: Events from the power state of VergeOS VMs
description:
  - An event source plugin for ansible-rulebook (Event-Driven Ansible). It polls one VergeOS system and puts an event on the
    queue when a watched VM changes its power state, stays in a transition (starting, stopping, migrating) longer than
    O(stuck_after), enters the error state, appears or vanishes, and when the system cannot be read for longer than
    O(unreachable_after) and when it can again.
  - Every O(interval) it reads every watched VM with ONE listing, the one the modules and the inventory plugin use (one
    request per page of O(page_size) VMs, all the power fields through traversals). O(include_tags) adds one request for the
    tags of every VM; O(include_maintenance) adds one to three small requests for the open maintenance records. Nothing else
    is read, and nothing is ever written.
  - Every event is a dict with one key, C(vergeos_power), holding C(type) (V(baseline), V(changed), V(entered_error),
    V(stuck), V(appeared), V(vanished), V(unreachable), V(reachable) or V(source_failed)), C(time) (ISO 8601, UTC),
    C(timestamp) (unix seconds), C(system) (the system's base URL) and, for a VM, C(vm) with C(id), C(name), C(power_state),
    C(status) (VergeOS's raw status), C(status_info), C(node), C(cluster), C(running), C(tags), C(under_maintenance) and
    C(maintenance_records). A change also carries C(previous) (the power state, raw status, status info and node before) and
    C(in_state_for) (seconds in the previous state, as far as the source saw). See the collection's C(docs/eda.md).
  - A read that fails (after the client's own retries) is tried again with exponential backoff, up to O(max_retry_delay)
    apart; the VMs keep their last known state meanwhile. Credentials refused (HTTP 401) or invalid options stop the source
    after one V(source_failed) event, because trying again could lock the account. No secret is ever put in an event or a log.
version_added: 1.1.0
author:
  - vergeos.power contributors (@vergeos)
requirements:
  - requests
  - ansible-core (the collection's client layer imports it)
options:
  host:
    description:
      - The VergeOS system, as V(host), V(host:port) or V(https://host[:port]).
      - If not set, the environment variable E(VERGEOS_HOST) is used; one of them is required.
    type: str
  username:
    description:
      - User name for HTTP Basic authentication, used with O(password). A read-only user is enough.
      - If not set, the environment variable E(VERGEOS_USERNAME) is used.
    type: str
  password:
    description:
      - Password of O(username). Never put in an event or a log.
      - If not set, the environment variable E(VERGEOS_PASSWORD) is used.
    type: str
  api_key:
    description:
      - API key (VergeOS 26.0 and later). Wins over O(username) and O(password). Never put in an event or a log.
      - If not set, the environment variable E(VERGEOS_API_KEY) is used.
    type: str
  validate_certs:
    description:
      - Whether to verify the system's TLS certificate (against O(ca_path), else the operating system's trusted CAs).
      - If not set, E(VERGEOS_VALIDATE_CERTS) is used, else the inverse of E(VERGEOS_INSECURE).
    type: bool
    default: true
  ca_path:
    description:
      - PEM file (or directory) of the CA that signed the system's certificate.
      - If not set, the environment variable E(VERGEOS_CA_PATH) is used.
    type: path
  api_timeout:
    description:
      - Seconds to wait for a connection and for each answer.
      - If not set, the environment variable E(VERGEOS_API_TIMEOUT) is used.
    type: int
    default: 30
  name:
    description:
      - Watch only the VM of this exact name. Mutually exclusive with O(id) and O(filters).
    type: str
  id:
    description:
      - Watch only the VM with this id (its C($key)). Mutually exclusive with O(name) and O(filters).
    type: int
  names:
    description:
      - Watch only the VMs of these exact names (and those of O(ids)). Mutually exclusive with O(filters).
    type: list
    elements: str
  ids:
    description:
      - Watch only the VMs with these ids (and those of O(names)). Mutually exclusive with O(filters).
    type: list
    elements: int
  filters:
    description:
      - Watch only the VMs that match every given key. Without any selection, every VM of the system is watched (never
        snapshots).
      - A VM that stops matching (renamed, a tag removed) is reported as V(vanished), one that starts matching as V(appeared).
      - The modules' C(power_state) and C(node) filters are refused here, because a VM's power state and node change with
        the very events this source reports.
    type: dict
    suboptions:
      name_regex:
        description:
          - POSIX extended regular expression matched against the VM name by VergeOS (C(rx)).
        type: str
      tags:
        description:
          - Names of tags the VM must all carry. Reads the tags every interval (as O(include_tags) does).
        type: list
        elements: str
      cluster:
        description:
          - Names of the clusters the VM must belong to (any of them).
        type: list
        elements: str
      power_state:
        description:
          - Refused (see above).
        type: list
        elements: str
      node:
        description:
          - Refused (see above).
        type: list
        elements: str
  interval:
    description:
      - Seconds from the start of one read to the start of the next.
    type: float
    default: 10
  stuck_after:
    description:
      - Seconds a VM may stay in a transition (V(starting), V(stopping), V(migrating)) before ONE V(stuck) event. Counted from
        the first read that showed it in that state; another V(stuck) event only after it left the state and entered it again.
    type: float
    default: 300
  unreachable_after:
    description:
      - Seconds of failed reads before ONE V(unreachable) event; the first read that works afterwards gives ONE V(reachable)
        event. V(0) reports the first failed read.
    type: float
    default: 60
  max_retry_delay:
    description:
      - After a failed read the next one waits O(interval), then twice as long after each further failure (with jitter), up to
        this many seconds (never less than O(interval)).
    type: float
    default: 60
  baseline:
    description:
      - Put one V(baseline) event per watched VM on the queue after the first read (its state when the source started).
      - Without it, the first read only sets what later reads are compared with.
    type: bool
    default: false
  include_tags:
    description:
      - Read the tags of every VM (ONE more request per interval) and put their names in C(vm.tags). Without it C(vm.tags) is
        V(null).
      - Needed by rules that act only on VMs carrying an opt-in tag.
    type: bool
    default: false
  include_maintenance:
    description:
      - Read the open maintenance records (docs/maintenance.md; one to three more small requests per interval) and set
        C(vm.under_maintenance) and C(vm.maintenance_records). Without it both are V(null).
      - The records are read after the VMs, so a VM stopped by a maintenance (which opens its record first) is always seen
        under it.
    type: bool
    default: false
  page_size:
    description:
      - VMs per request of the listing; V(0) reads every VM in one request. However many pages, it is one read.
    type: int
    default: 500
notes:
  - Connection settings follow the collection's modules, environment variables included, so an AWX / Automation Controller
    credential of the collection's type works unchanged.
  - Only what the source saw counts. A VM that stopped and started again between two reads gives no event.
'''

EXAMPLES = r'''
# Every VM of the system, every 10 seconds; credentials from the VERGEOS_* environment.
- vergeos.power.vm_power_events:

# The VMs whose names start with "web", with their tags and the maintenance guard, every 30 seconds.
- vergeos.power.vm_power_events:
    host: vergeos.example.com
    ca_path: /etc/pki/vergeos-ca.pem
    filters:
      name_regex: '^web'
    interval: 30
    stuck_after: 600
    include_tags: true
    include_maintenance: true
'''

EVENT_KEY = 'vergeos_power'
# Normalised power states that are on their way somewhere else: a VM that stays in one too long is stuck.
TRANSITIONS = frozenset(('starting', 'stopping', 'migrating'))
# Keys ansible-rulebook itself may add to a source's arguments.
RULEBOOK_ARGS_PREFIX = 'eda_'
LOGGER = logging.getLogger('vergeos.power.vm_power_events')

_UTILS_PACKAGE = 'ansible_collections.vergeos.power.plugins.module_utils'
_UTILS_NAMES = ('argspec', 'details', 'errors', 'maintenance', 'power_state', 'vms')
# From this file up to the folder that holds ansible_collections/.
_LAYOUT = ('ansible_collections', 'vergeos', 'power', 'extensions', 'eda', 'plugins', 'event_source')


# ---------------------------------------------------------------- the collection's client layer


def collections_root(path):
    """Return the folder holding ``ansible_collections/`` for this plugin at ``path``; None when the file is not laid out so."""
    parts = os.path.abspath(path).split(os.sep)
    if len(parts) > len(_LAYOUT) + 1 and tuple(parts[-len(_LAYOUT) - 1:-1]) == _LAYOUT:
        return os.sep.join(parts[:-len(_LAYOUT) - 1]) or os.sep
    return None


def _import_utils():
    found = {name: importlib.import_module('%s.%s' % (_UTILS_PACKAGE, name)) for name in _UTILS_NAMES}
    # ansible-core's own validator of argument specs: the options are checked as a module's are.
    found['ArgumentSpecValidator'] = importlib.import_module('ansible.module_utils.common.arg_spec').ArgumentSpecValidator
    return SimpleNamespace(**found)


def load_utils(path):
    """Import the collection's module_utils.

    ansible-rulebook runs this file by its path (runpy), without Ansible's collection loader:
    when the import fails, the folder holding this collection's ``ansible_collections/`` goes
    on ``sys.path`` (at the end, so nothing already importable is shadowed) and it is tried again.
    """
    try:
        return _import_utils()
    except ImportError:
        root = collections_root(path)
        if root is None:
            raise
        if root not in sys.path:
            sys.path.append(root)
            importlib.invalidate_caches()
        return _import_utils()


try:
    utils = load_utils(__file__)
    IMPORT_ERROR = None
except ImportError as _exc:
    utils = None
    IMPORT_ERROR = '%s: %s' % (type(_exc).__name__, _exc)


# ---------------------------------------------------------------- options


class OptionsError(Exception):
    """The source's arguments are not valid; the text says which and why (no secret in it)."""


def argument_spec():
    """Return the source's options: the modules' connection and selection options, and its own."""
    spec = utils.argspec.connection_argument_spec()
    selection = utils.argspec.selection_argument_spec()
    selection.pop('allow_empty')
    selection['filters']['options']['power_state'] = {'type': 'list', 'elements': 'str'}
    spec.update(selection)
    spec.update(
        interval={'type': 'float', 'default': 10.0},
        stuck_after={'type': 'float', 'default': 300.0},
        unreachable_after={'type': 'float', 'default': 60.0},
        max_retry_delay={'type': 'float', 'default': 60.0},
        baseline={'type': 'bool', 'default': False},
        include_tags={'type': 'bool', 'default': False},
        include_maintenance={'type': 'bool', 'default': False},
        page_size={'type': 'int', 'default': 500},
    )
    return spec


def scrub(text, secrets):
    """Return ``text`` with every secret replaced (the client scrubs its own errors; this covers everything else)."""
    return utils.errors.redact(str(text), [str(secret) for secret in secrets if secret])


@dataclass(frozen=True)
class Selection:
    """Which VMs of the listing are watched (the name regex is matched by VergeOS, the rest here)."""

    ids: frozenset = frozenset()
    names: frozenset = frozenset()
    name_regex: str | None = None
    tags: tuple = ()
    clusters: frozenset = frozenset()

    def matches(self, view):
        """Return whether a VM (``vm_view``) is watched."""
        if (self.ids or self.names) and view['id'] not in self.ids and view['name'] not in self.names:
            return False
        if self.clusters and view.get('cluster') not in self.clusters:
            return False
        return not self.tags or set(self.tags) <= set(view.get('tags') or ())


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

    def retry_delay(self, failures, rand=random.random):
        """Return the wait after the ``failures``-th failed read in a row: interval, doubling, capped, with jitter."""
        cap = max(self.interval, self.max_retry_delay)
        ceiling = min(cap, self.interval * (2 ** min(max(failures - 1, 0), 30)))
        return ceiling / 2 + ceiling / 2 * rand()


def _positive(params, name, allow_zero=False):
    value = params[name]
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise OptionsError('%s must be a number of seconds %s, not %r' % (name, 'of 0 or more' if allow_zero else 'greater than 0', value))
    return float(value)


def parse_options(args):
    """Return Settings from the rulebook's arguments (the VERGEOS_* environment filling the connection); OptionsError otherwise."""
    given = {name: value for name, value in (args or {}).items() if not str(name).startswith(RULEBOOK_ARGS_PREFIX)}
    secrets = [given.get('password'), given.get('api_key')]
    validator = utils.ArgumentSpecValidator(argument_spec(), mutually_exclusive=utils.argspec.SELECTION_MUTUALLY_EXCLUSIVE)
    result = validator.validate(given)
    secrets.extend(result._no_log_values)  # pylint: disable=protected-access
    if result.error_messages:
        raise OptionsError(scrub('; '.join(result.error_messages), secrets))
    params = result.validated_parameters
    filters = params.get('filters') or {}
    refused = [key for key in ('power_state', 'node') if filters.get(key)]
    if refused:
        raise OptionsError('filters.%s cannot select what the event source watches: a VM\'s power state and node change with the very '
                           'events it reports; watch the VMs by name, id, name_regex, tags or cluster, and match the state in the rule'
                           % ' and filters.'.join(refused))
    try:
        name_regex = utils.vms.check_name_regex(filters['name_regex']) if filters.get('name_regex') else None
        ids = [utils.vms.vm_key(value) for value in ([params['id']] if params.get('id') is not None else []) + list(params.get('ids') or [])]
    except utils.errors.VergeOSError as exc:
        raise OptionsError(scrub(exc, secrets)) from None
    names = ([params['name']] if params.get('name') is not None else []) + list(params.get('names') or [])
    if params['page_size'] < 0:
        raise OptionsError('page_size must be 0 (one request) or more, not %r' % params['page_size'])
    selection = Selection(ids=frozenset(ids), names=frozenset(names), name_regex=name_regex, tags=tuple(filters.get('tags') or ()),
                          clusters=frozenset(filters.get('cluster') or ()))
    connection = {name: params.get(name) for name in utils.argspec.connection_argument_spec()}
    return Settings(
        connection=connection, selection=selection, interval=_positive(params, 'interval'), stuck_after=_positive(params, 'stuck_after'),
        unreachable_after=_positive(params, 'unreachable_after', allow_zero=True), max_retry_delay=_positive(params, 'max_retry_delay'),
        baseline=params['baseline'], include_tags=params['include_tags'], include_maintenance=params['include_maintenance'],
        page_size=params['page_size'], secrets=tuple(secret for secret in secrets if secret))


# ---------------------------------------------------------------- what a read says (pure)


def vm_view(row, tags=None, records=None):
    """Return what the events say about a VM, from its listing row.

    ``tags``: {VM id: [{'name', ...}]} (``details.read_vm_tags``), or None when not read.
    ``records``: {VM id: [record names]} (``maintenance_by_vm``), or None when not read.
    """
    key = row.get('$key')
    status = row.get('status')
    view = {
        'id': key, 'name': row.get('name'), 'power_state': utils.power_state.power_state_of(status), 'status': status,
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
    that did not. Each returns the list of events (dicts with the one key ``vergeos_power``).
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
            events.append(self.event('reachable', now, since=iso_time(self._failing_since),
                                     unreadable_for=_seconds(now - self._failing_since)))
        self._failing_since, self._reported_down = None, False
        current = {view['id']: view for view in views}
        if self._vms is None:
            self._vms = {key: _Track(view, now) for key, view in current.items()}
            if self.baseline:
                events.extend(self.event('baseline', now, current[key]) for key in sorted(current))
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
                events.append(self.event('appeared', now, view))
            elif view is None:
                del self._vms[key]
                events.append(self.event('vanished', now, track.view))
            elif view['power_state'] != track.view['power_state']:
                before = track.view
                previous = {name: before[name] for name in ('power_state', 'status', 'status_info', 'node')}
                kind = 'entered_error' if view['power_state'] == 'error' else 'changed'
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
                events.append(self.event('stuck', now, track.view, since=iso_time(track.since), in_state_for=_seconds(now - track.since),
                                         stuck_after=self.stuck_after))
        return events

    def failed(self, message, now):
        """Return the events that a failed read at ``now`` gives: ONE ``unreachable`` once the failures last ``unreachable_after``."""
        if self._failing_since is None:
            self._failing_since = now
        if self._reported_down or now - self._failing_since < self.unreachable_after:
            return []
        self._reported_down = True
        return [self.event('unreachable', now, error=message, since=iso_time(self._failing_since),
                           unreadable_for=_seconds(now - self._failing_since))]

    @property
    def unreachable(self):
        """Whether an ``unreachable`` event was given and no ``reachable`` one since."""
        return self._reported_down


# ---------------------------------------------------------------- the reads (blocking)


def maintenance_by_vm(client):
    """Return {VM id: [names of the open maintenance records holding it]}: one to three requests, no VM read.

    The record's own readers (``maintenance.py``; the shape is in docs/maintenance.md), without
    ``read_records``'s read of the recorded VMs: the listing already has them.
    """
    category = utils.maintenance.find_category(client)
    if category is None:
        return {}
    tags = utils.maintenance.find_tags(client, category)
    names = {utils.vms.vm_key(tag['$key']): tag.get('name') for tag in tags}
    found = {}
    for tag_key, members in utils.maintenance.read_members(client, tags).items():
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
        rows = utils.vms.list_vms(self.client, name_regex=self.settings.selection.name_regex, page_size=self.settings.page_size)
        tags = utils.details.read_vm_tags(self.client) if self.settings.read_tags else None
        # After the listing: a maintenance opens its record before it stops a VM, so a stop in the listing has its record here.
        records = maintenance_by_vm(self.client) if self.settings.include_maintenance else None
        views = (vm_view(row, tags, records) for row in rows)
        # A row without a whole-number key cannot be followed from one read to the next (the listing asks for $key).
        return sorted((view for view in views if isinstance(view['id'], int) and not isinstance(view['id'], bool)
                       and self.settings.selection.matches(view)), key=lambda view: view['id'])


def make_client(settings):
    """Return the client of the source's system (VergeOSError for a bad host, missing credentials or CA file)."""
    return utils.argspec.client_from_params(settings.connection)


# ---------------------------------------------------------------- the loop


def failed_event(message, now, system=None):
    """Return the one ``source_failed`` event of a source that stops."""
    return PowerWatch(0, 0, system=system).event('source_failed', now, error=message)


def _refused(exc):
    """Whether a failed read is a refusal of the credentials: trying again could lock the account."""
    return isinstance(exc, utils.errors.VergeOSError) and exc.status == 401


async def _to_thread(function):
    return await asyncio.to_thread(function)


async def watch(queue, settings, poll, system=None, *, clock=time.time, sleep=asyncio.sleep, run_blocking=_to_thread,
                rand=random.random, max_polls=None):
    """Poll until cancelled (or ``max_polls`` reads), putting the events on ``queue``; never raises but CancelledError.

    ``poll`` is blocking (run through ``run_blocking``, a thread by default). A read starts every
    ``interval`` seconds from the start of the previous one; after a failed read the next waits
    ``settings.retry_delay``. Refused credentials end the loop after one ``source_failed`` event.
    """
    state = PowerWatch(settings.stuck_after, settings.unreachable_after, baseline=settings.baseline, system=system)
    failures = polls = 0
    while max_polls is None or polls < max_polls:
        polls += 1
        started = clock()
        try:
            views = await run_blocking(poll)
            events = state.observe(views, clock())
        except Exception as exc:  # pylint: disable=broad-exception-caught
            message = scrub(exc, settings.secrets)
            if _refused(exc):
                LOGGER.error('%s; stopping (another try could lock the account)', message)
                await queue.put(failed_event(message, clock(), system))
                return
            failures += 1
            if not isinstance(exc, (utils.errors.VergeOSError, OSError)):
                message = '%s: %s' % (type(exc).__name__, message)
                LOGGER.debug('%s', scrub(traceback.format_exc(), settings.secrets))
            events = state.failed(message, clock())
            delay = settings.retry_delay(failures, rand)
            if failures == 1 or events:
                LOGGER.warning('read %d failed (%d in a row; next in %.1f s): %s', polls, failures, delay, message)
        else:
            if failures:
                LOGGER.info('the system can be read again after %d failed read(s)', failures)
            failures = 0
            delay = max(0.0, started + settings.interval - clock())
        for event in events:
            await queue.put(event)
        await sleep(delay)


async def main(queue, args):
    """Watch the power state of VergeOS VMs; the entry point ansible-rulebook calls.

    Invalid options, a collection that cannot be imported and refused credentials put ONE
    ``source_failed`` event on the queue, are logged, and end the source; nothing else does.
    """
    if IMPORT_ERROR is not None:
        message = 'the collection vergeos.power cannot be imported (%s): install it where ansible-rulebook finds collections' % IMPORT_ERROR
        LOGGER.error('%s', message)
        await queue.put(failed_event(message, time.time()))
        return
    secrets = [args.get('password'), args.get('api_key')] if isinstance(args, dict) else []
    secrets += [utils.argspec.env_value(utils.argspec.CONNECTION_ENV[name]) for name in ('password', 'api_key')]
    try:
        settings = parse_options(args if isinstance(args, dict) else {})
        client = await asyncio.to_thread(make_client, settings)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        message = scrub(exc, secrets)
        if not isinstance(exc, (OptionsError, utils.errors.VergeOSError)):
            message = '%s: %s' % (type(exc).__name__, message)
        LOGGER.error('%s', message)
        await queue.put(failed_event(message, time.time()))
        return
    LOGGER.info('watching the VMs of %s every %g s (tags: %s, maintenance records: %s)', client.url, settings.interval,
                'yes' if settings.read_tags else 'no', 'yes' if settings.include_maintenance else 'no')
    try:
        await watch(queue, settings, Poller(settings, client), client.url)
    finally:
        client.close()


if __name__ == '__main__':
    # A quick look without ansible-rulebook: print the events (connection from the VERGEOS_* environment).
    class _PrintQueue:
        async def put(self, event):
            print(event)  # noqa: T201

    asyncio.run(main(_PrintQueue(), {'interval': 5, 'baseline': True}))
