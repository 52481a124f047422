# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""ansible-rulebook event source: the power state of VergeOS VMs as events. Its options and loop; the watch is module_utils/watch.py."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
import time
import traceback

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
version_added: 2.0.0
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

# Keys ansible-rulebook itself may add to a source's arguments.
RULEBOOK_ARGS_PREFIX = 'eda_'
LOGGER = logging.getLogger('vergeos.power.vm_power_events')

for _attempt in range(2):
    try:
        from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
        from ansible_collections.vergeos.power.plugins.module_utils import argspec, errors
        from ansible_collections.vergeos.power.plugins.module_utils.watch import (
            OptionsError, Poller, PowerWatch, argument_spec, failed_event, failure_text, refused, scrub, settings_from)
        IMPORT_ERROR = None
        break
    except ImportError as _exc:
        IMPORT_ERROR = '%s: %s' % (type(_exc).__name__, _exc)
        # ansible-rulebook runs this file by its path (runpy.run_path), adds nothing to sys.path and installs no collection finder:
        # ansible_collections is importable only from a folder on sys.path. In an installed collection that folder holds
        # ansible_collections/vergeos/power/extensions/eda/plugins/event_source/; appended last (once), it shadows nothing.
        if _attempt == 0:
            sys.path.append(os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 7)))


def parse_options(args):
    """Return Settings from the rulebook's arguments (the VERGEOS_* environment filling the connection); OptionsError otherwise."""
    given = {name: value for name, value in (args or {}).items() if not str(name).startswith(RULEBOOK_ARGS_PREFIX)}
    result = ArgumentSpecValidator(argument_spec(), mutually_exclusive=argspec.SELECTION_MUTUALLY_EXCLUSIVE).validate(given)
    secrets = [given.get('password'), given.get('api_key')] + list(result._no_log_values)  # pylint: disable=protected-access
    if result.error_messages:
        raise OptionsError(scrub('; '.join(result.error_messages), secrets))
    return settings_from(result.validated_parameters, secrets)


async def watch(queue, settings, poll, system=None, *, clock=time.time, sleep=asyncio.sleep, run_blocking=asyncio.to_thread,
                rand=random.random, max_polls=None):
    """Poll until cancelled (or ``max_polls`` reads), putting the events on ``queue``; never raise but CancelledError.

    ``poll`` blocks (``run_blocking`` runs it in a thread). A read starts ``interval`` after the start of the one before; a failed
    one is followed after ``settings.retry_delay``. Refused credentials end the loop after one ``source_failed`` event.
    """
    state = PowerWatch(settings.stuck_after, settings.unreachable_after, baseline=settings.baseline, system=system)
    failures = polls = 0
    while max_polls is None or polls < max_polls:
        polls += 1
        started = clock()
        try:
            events = state.observe(await run_blocking(poll), clock())
        except Exception as exc:  # pylint: disable=broad-exception-caught
            message = failure_text(exc, settings.secrets, (errors.VergeOSError, OSError))
            if refused(exc):
                LOGGER.error('%s; stopping (another try could lock the account)', message)
                await queue.put(failed_event(message, clock(), system))
                return
            failures += 1
            if not isinstance(exc, (errors.VergeOSError, OSError)):
                LOGGER.debug('%s', scrub(traceback.format_exc(), settings.secrets))
            events = state.failed(message, clock())
            delay = settings.retry_delay(failures, rand)
            if failures == 1 or events:
                LOGGER.warning('read %d failed (%d in a row; next in %.1f s): %s', polls, failures, delay, message)
        else:
            if failures:
                LOGGER.info('the system can be read again after %d failed read(s)', failures)
            failures, delay = 0, max(0.0, started + settings.interval - clock())
        for event in events:
            await queue.put(event)
        await sleep(delay)


async def main(queue, args):
    """The entry point ansible-rulebook calls. Invalid options, a collection that cannot be imported and refused credentials put
    ONE ``source_failed`` event on the queue, are logged, and end the source; nothing else does."""
    if IMPORT_ERROR is not None:
        message = 'the collection vergeos.power cannot be imported (%s): install it where ansible-rulebook finds collections' % IMPORT_ERROR
        LOGGER.error('%s', message)
        now = time.time()
        await queue.put({'vergeos_power': {'type': 'source_failed', 'time': time.strftime('%Y-%m-%dT%H:%M:%S.', time.gmtime(now))
                                           + '%03dZ' % (now % 1 * 1000), 'timestamp': round(now, 3), 'system': None, 'error': message}})
        return
    secrets = [value for name in ('password', 'api_key')
               for value in (argspec.env_value(argspec.CONNECTION_ENV[name]), args.get(name) if isinstance(args, dict) else None)]
    try:
        settings = parse_options(args if isinstance(args, dict) else {})
        client = await asyncio.to_thread(argspec.client_from_params, settings.connection)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        message = failure_text(exc, secrets, (OptionsError, errors.VergeOSError))
        LOGGER.error('%s', message)
        await queue.put(failed_event(message, time.time()))
        return
    LOGGER.info('watching the VMs of %s every %g s (tags: %s, maintenance records: %s)', client.url, settings.interval,
                'yes' if settings.read_tags else 'no', 'yes' if settings.include_maintenance else 'no')
    try:
        await watch(queue, settings, Poller(settings, client), client.url)
    finally:
        client.close()


if __name__ == '__main__':  # A quick look without ansible-rulebook: the events printed (connection from the VERGEOS_* environment).
    class _PrintQueue:  # pylint: disable=too-few-public-methods
        async def put(self, event):
            print(event)  # noqa: T201
    asyncio.run(main(_PrintQueue(), {'interval': 5, 'baseline': True}))
