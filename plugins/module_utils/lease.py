# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One writer per maintenance record: a lease kept on the VergeOS system, aged by VergeOS's clock.

VergeOS offers no compare-and-swap, so two jobs that read, change and write a record's
description would lose each other's updates. The job that runs a record holds its lease:

- The lease is the tag ``<record>+lease`` of the record category; its description says who
  holds it (``holder``: a token unique to one job run; ``owner``: the job in words), its life
  in seconds, and ``beat``: VergeOS's time of its last heartbeat (the HTTP ``Date`` of an
  answer, never a controller's clock).
- Taking it: create the tag, read back every tag of that name; the lowest ``$key`` wins, a
  loser deletes its own (a name in use, 422 or 409, is read back the same way). A lease
  whose last beat is older than its life (by VergeOS's Date of the read) is stale: it is
  deleted and taken. A live one is waited for, up to its life: if its beat moves meanwhile,
  its holder is alive and the take is refused, naming it; if not, it is taken.
- While the record is in its maintenance phase nothing beats (the user's tasks run), so a
  lease is then never taken over by age, only when ``takeover`` names its owner or holder.
- The holder beats at most once per ``beat_interval(life)`` (a third of the life, at most a
  minute), from the power engine's poll loop (``Keeper``), and the keeper reads the lease
  before each round of power actions: a lease held by another job stops the run; one that
  cannot be read for longer than its life holds the actions until it can be read again.
"""

from __future__ import annotations

import json
import time
import uuid

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.maintenance import (
    DEFAULT_LIFE, LEASE_MARK, LEASE_SUFFIX, TAG_FIELDS, Writer, category_tags, check_record_name, find_category, parse_lease,
    parse_round_trip,
)
from ansible_collections.vergeos.power.plugins.module_utils.pursuit import Persistence
from ansible_collections.vergeos.power.plugins.module_utils.query import read_by_keys
from ansible_collections.vergeos.power.plugins.module_utils.vms import vm_key

MIN_LIFE = 3
MAX_BEAT_INTERVAL = 60.0
# While waiting for a live lease, how often it is read again (a fraction of the beat interval, at least a second).
WAIT_READS_PER_BEAT = 2


def beat_interval(life):
    """Return the seconds between two heartbeats of a lease of ``life`` seconds: a third of it, at most a minute."""
    return min(MAX_BEAT_INTERVAL, life / 3.0)


def new_holder(owner):
    """Return a holder token for one job run: its owner in words and a random part (two runs of one job differ)."""
    return '%s #%s' % ((owner or 'vergeos.power').strip()[:200], uuid.uuid4().hex[:12])


def lease_description(holder, owner, life, beat):
    return json.dumps({'vergeos.power': LEASE_MARK, 'holder': holder, 'owner': owner or '', 'life': int(life), 'beat': int(beat)},
                      sort_keys=True, separators=(',', ':'))


def check_life(life):
    if isinstance(life, bool) or not isinstance(life, int) or life < MIN_LIFE:
        raise VergeOSError('the lease life must be a whole number of seconds, at least %d, not %r' % (MIN_LIFE, life))
    return life


def _server_now(client, clock):
    now = client.server_now() if hasattr(client, 'server_now') else None
    return now if now is not None else clock()


def read_lease(client, category, name, rows=None):
    """Return (lease dict or None, the record's phase or None, VergeOS's time of the read): the lowest key wins."""
    rows = category_tags(client, category) if rows is None else rows
    leases = sorted((row for row in rows if row.get('name') == name + LEASE_SUFFIX), key=lambda row: vm_key(row.get('$key')))
    record = next((row for row in rows if row.get('name') == name), None)
    phase = parse_round_trip(record.get('description'))['phase'] if record else None
    return (dict(parse_lease(leases[0]), others=[vm_key(row['$key']) for row in leases[1:]]) if leases else None), phase, \
        _server_now(client, time.time)


def describe_lease(lease, now):
    if not lease:
        return None
    return {'holder': lease['holder'], 'owner': lease['owner'], 'life': lease['life'], 'beat': lease['beat'],
            'age': max(0, int(now - lease['beat']))}


class _Refused(VergeOSError):
    pass


def _refuse(name, lease, phase, now, why):
    age = max(0, int(now - lease['beat']))
    where = ', in its maintenance phase' if phase == 'maintaining' else ''
    raise _Refused('the maintenance record %s is run by another job: %s holds its lease (last heartbeat %d s ago by VergeOS\'s clock, '
                   'life %d s)%s. %s Nothing was written' % (name, lease['owner'] or lease['holder'], age, lease['life'], where, why))


def take_lease(client, name, holder, owner, *, life=DEFAULT_LIFE, takeover='', wait=True, sleep=time.sleep, clock=time.monotonic,
               persistence=None):
    """Take the lease of the record ``name`` for ``holder``; return (changed, lease dict). Raises VergeOSError when held by another.

    ``takeover``: the owner (or holder) of a lease to take even while it is held (the job that
    holds it is known to be gone). ``wait``: wait up to a live lease's life for it to go stale.
    """
    name, life = check_record_name(name), check_life(life)
    writer = Writer(client, persistence or Persistence())
    category = find_category(client) or writer.category()
    waited_for = None
    started = clock()
    while True:
        lease, phase, now = read_lease(client, category, name)
        if lease is None:
            break
        if lease['holder'] == holder:
            beat(client, name, lease, holder=holder, owner=owner, life=life, writer=writer)
            return False, describe_lease(dict(lease, life=life), _server_now(client, time.time))
        named = takeover and takeover in (lease['owner'], lease['holder'])
        stale = now - lease['beat'] > lease['life']
        if named or (stale and phase != 'maintaining') or lease['holder'] is None:
            _delete_leases(writer, client, category, name, [lease['key']] + lease['others'])
            break
        if phase == 'maintaining':
            _refuse(name, lease, phase, now, 'While its maintenance runs, a lease is taken over only when maintenance_takeover names its '
                    'owner (%s): set it once you know that job is gone.' % (lease['owner'] or lease['holder']))
        if waited_for is not None and lease['beat'] != waited_for:
            _refuse(name, lease, phase, now, 'It beat again while this job waited, so it is alive: wait for it to end, or give this '
                    'maintenance another record name.')
        if not wait or clock() - started > lease['life'] + beat_interval(lease['life']):
            _refuse(name, lease, phase, now, 'If that job is gone, its lease goes stale %d s after its last heartbeat; set '
                    'maintenance_takeover to its owner to take it now.' % lease['life'])
        waited_for = lease['beat']
        sleep(max(1.0, beat_interval(lease['life']) / WAIT_READS_PER_BEAT))
    return True, _create(client, writer, category, name, holder=holder, owner=owner, life=life)


def _delete_leases(writer, client, category, name, keys):
    for key in keys:
        writer.delete('tags/%s' % key, lambda key=key: all(vm_key(row['$key']) != key for row in category_tags(client, category)),
                      'the stale lease is gone', 'removing the stale lease of the maintenance record %s' % name)


def _create(client, writer, category, name, *, holder, owner, life):
    now = _server_now(client, time.time)
    writer.tag(category, name + LEASE_SUFFIX, lease_description(holder, owner, life, now))
    lease, phase, now = read_lease(client, category, name)
    rows = [row for row in category_tags(client, category) if row.get('name') == name + LEASE_SUFFIX]
    mine = [vm_key(row['$key']) for row in rows if parse_lease(row)['holder'] == holder]
    if lease is None or lease['holder'] != holder:
        _delete_leases(writer, client, category, name, mine)
        if lease is None:
            raise VergeOSError('the lease of the maintenance record %s was created but VergeOS does not list it' % name)
        _refuse(name, lease, phase, now, 'It took the lease at the same moment as this job.')
    return describe_lease(lease, now)


def beat(client, name, lease, *, holder, owner, life, writer=None):
    """Write a heartbeat (VergeOS's time now) to the lease held by ``holder``."""
    writer = writer or Writer(client, Persistence())
    now = _server_now(client, time.time)
    writer.describe({'$key': lease['key'], 'name': name + LEASE_SUFFIX}, lease_description(holder, owner, life, now),
                    'the heartbeat of the lease of the maintenance record %s' % name)
    return now


def release_lease(client, name, holder, persistence=None):
    """Give the lease up (its tag deleted) when ``holder`` holds it; return whether anything was deleted."""
    name = check_record_name(name)
    category = find_category(client)
    if category is None:
        return False
    lease, _phase, _now = read_lease(client, category, name)
    if lease is None or lease['holder'] != holder:
        return False
    _delete_leases(Writer(client, persistence or Persistence()), client, category, name, [lease['key']])
    return True


def check_held(client, name, holder):
    """Raise VergeOSError when another job holds a live lease of the record ``name`` (before a write of its record)."""
    category = find_category(client)
    if category is None:
        return
    lease, phase, now = read_lease(client, category, name)
    if lease is None or lease['holder'] == holder:
        return
    if now - lease['beat'] <= lease['life'] or phase == 'maintaining':
        _refuse(name, lease, phase, now, 'So this task writes nothing to the record (it runs only under the lease).')


class Keeper:
    """The lease held by this job, kept alive from the power engine's poll loop (``keep`` once per round)."""

    def __init__(self, client, name, holder, life, clock=time.monotonic):
        self.client, self.name, self.holder, self.life = client, check_record_name(name), holder, check_life(life)
        self.clock = clock
        self.last_ok = clock()
        self.last_beat = None
        self.key = None
        self.owner = ''

    def keep(self, sending):
        """Beat when due, read the lease before a round that sends; return False while it cannot be confirmed (hold the sends).

        Raises VergeOSError when another job holds the lease.
        """
        due = self.last_beat is None or self.clock() - self.last_beat >= beat_interval(self.life)
        if not due and not sending:
            return True
        try:
            lease = self._read()
            if lease is None or lease['holder'] != self.holder:
                raise _Refused('the lease of the maintenance record %s is no longer held by this job (%s): another job runs the '
                               'record now, so this one sends nothing more' % (self.name, (lease or {}).get('owner') or 'nobody holds it'))
            self.owner = lease['owner']
            if due:
                beat(self.client, self.name, lease, holder=self.holder, owner=self.owner, life=self.life)
                self.last_beat = self.clock()
        except _Refused:
            raise
        except VergeOSError:
            return self.clock() - self.last_ok <= self.life
        self.last_ok = self.clock()
        return True

    def _read(self):
        if self.key is not None:
            rows = read_by_keys(self.client, 'tags', TAG_FIELDS, [self.key], attempted='reading the lease of the maintenance record %s' % self.name)
            return parse_lease(rows[0]) if rows and rows[0].get('name') == self.name + LEASE_SUFFIX else None
        category = find_category(self.client)
        lease = read_lease(self.client, category, self.name)[0] if category else None
        self.key = lease['key'] if lease else None
        return lease
