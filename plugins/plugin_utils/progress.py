# -*- coding: utf-8 -*-
# Copyright: vergeos.power contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Progress lines of a long power task, printed by its action plugin on the controller.

A 300-VM wait with a 300 s deadline would otherwise be minutes of silence in an AWX
job log. The engine reports once per poll round (``power.progress_report``); this
class prints a line only once the task has run ``interval`` seconds, and then at most
every ``interval`` seconds, so short tasks print nothing. Lines go to the display's
error channel: stdout stays what the callback plugin writes (the ``json`` callback's
output stays valid JSON).
"""

from __future__ import annotations

import time


def progress_line(task, report):
    """Return one progress line for an engine report (see power.progress_report)."""
    states = ', '.join('%s %d' % (state, count) for state, count in report['states'].items())
    words = ['%s: waiting for %d VM(s)%s' % (task, report['waiting'], ' (%s)' % states if states else ''),
             '%d done' % report['done']]
    if report['failed']:
        words.append('%d failed' % report['failed'])
    if report['nearest_deadline'] is not None:
        words.append('nearest deadline in %gs' % report['nearest_deadline'])
    if report['retries']:
        words.append('%d resend(s)' % report['retries'])
    if report['throttled']:
        words.append('throttled %d time(s), pacing down' % report['throttled'])
    return ', '.join(words)


class ProgressPrinter:
    """Call with each engine report; prints through ``emit`` at most every ``interval`` seconds after the first ``interval``."""

    def __init__(self, task, interval, emit, clock=time.monotonic):
        self.task, self.interval, self.emit, self.clock = task, float(interval or 0), emit, clock
        self.started = clock()
        self.last = self.started

    def __call__(self, report):
        if self.interval <= 0:
            return
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self.emit(progress_line(self.task, report))
