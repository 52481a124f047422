# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Progress lines: what one says, and that a short task prints none and a long one at most one per interval."""

from __future__ import annotations

from ansible_collections.vergeos.power.plugins.plugin_utils.progress import ProgressPrinter, progress_line

REPORT = {'waiting': 3, 'done': 197, 'failed': 1, 'states': {'running': 1, 'stopping': 2}, 'nearest_deadline': 41.5, 'retries': 4,
          'throttled': 2}


def test_the_line_says_counts_states_deadline_resends_and_throttling():
    assert progress_line('vergeos_vm_power', REPORT) == (
        'vergeos_vm_power: waiting for 3 VM(s) (running 1, stopping 2), 197 done, 1 failed, nearest deadline in 41.5s, 4 resend(s), '
        'throttled 2 time(s), pacing down')
    quiet = dict(REPORT, failed=0, retries=0, throttled=0, nearest_deadline=None, states={})
    assert progress_line('t', quiet) == 't: waiting for 3 VM(s), 197 done'


def test_nothing_for_a_short_task_then_at_most_one_line_per_interval():
    now = [0.0]
    lines = []
    printer = ProgressPrinter('t', 10, lines.append, clock=lambda: now[0])
    for moment in (2.0, 5.0, 9.9):
        now[0] = moment
        printer(REPORT)
    assert lines == []
    for moment in (10.0, 12.0, 19.9, 20.0, 31.0):
        now[0] = moment
        printer(REPORT)
    assert len(lines) == 3


def test_an_interval_of_zero_prints_nothing():
    lines = []
    printer = ProgressPrinter('t', 0, lines.append, clock=lambda: 1000.0)
    printer(REPORT)
    assert lines == []
