"""Run test suites (Makefile targets) one after another and sum up.

    python tools/run_suites.py [--junit-dir DIR] sanity units functional integration+molecule ...

Suites joined by ``+`` form a group and run side by side (``make test`` groups
the ones that mostly wait: on two cores the functional suite alone leaves a
core idle for long stretches, and so do these); a group's output is printed
whole, suite by suite, once each has ended. The summary is per suite either way.

Each suite's output streams through as it runs. Its counts come from its exit
status and from the machine-readable results it writes, never from the text it
prints for people. Every suite runs as ``make SUITE`` with ``JUNIT_DIR`` set to
``DIR/SUITE``, a directory emptied before the suite starts, so a file left by an
earlier run can never count. Without ``--junit-dir``, DIR is a fresh temporary
directory removed at the end. Where each count comes from:

- ``sanity``: ``ansible-test sanity --junit`` writes one JUnit XML per sanity
  test (per Python version for the version-specific ones), each with one test
  case: a success, a ``<failure>`` or a ``<skipped>`` (test not applicable, or
  a skip allowed by tests/sanity/allowed-skips.txt).
- ``units``: ansible-test runs pytest with ``--junit-xml`` (one file per test
  context); one test case per test.
- ``functional``, ``compat``, ``publish``: pytest ``--junit-xml`` (the Makefile
  passes it when ``JUNIT_DIR`` is set). ``publish`` is one pytest module
  (tests/functional/packaging/test_publish.py: galaxy-importer, antsibull-docs,
  the changelog's New Roles, links in the tarball), one test case per check.
- ``integration``: the count is of targets. ansible-test's only JUnit XML
  comes from ansible-core's ``junit`` callback, which it enables: one file
  per playbook with one test case per *task*, and a script target may run
  several playbooks, so it does not say which target passed. ansible-test
  records each target that passed in its own JSON,
  ``tests/output/data/integration-*.json`` (key ``targets``), written even
  when a target fails. With ``JUNIT_DIR`` set, tools/ansible-test.sh runs
  integration with ``--continue-on-error`` (a failing target does not stop
  the others) and writes the targets it selects (``--list-targets``) to
  ``targets.txt``. Passed: the targets of the JSON; failed: the listed
  targets not among them.
- ``molecule``: molecule writes no machine-readable result (its ``--report``
  is a table for people). The scenarios are the folders of
  extensions/molecule that hold a molecule.yml; ``molecule test --all`` exits
  0 when each passed, else it stopped at the first failing one: that is 1
  failed, and the scenarios it did not reach are not counted.
- ``lint`` (ruff, then ansible-lint) and ``changelog-lint``: one check each,
  so the exit status is the count: 1 passed or 1 failed.

In JUnit XML a test case that holds a ``<failure>`` or an ``<error>`` failed,
one that holds ``<skipped>`` (pytest's xfail too) is skipped and not counted
as passed, any other passed. A test case reported twice (pytest does so for a
test that fails and then errors in its teardown) counts once, with its worst
outcome. An unreadable XML file counts as 1 failed.

Whatever the results say, a suite whose exit status is not 0 counts at least 1
failed, and a suite that exits 0 having passed and failed nothing counts 1
failed ("ran no test"). The one exception, and the only look at the suite's
text: a suite that exits 0, writes no result and says "nothing to run" or "no
scenario yet" (compat without a newer Python, molecule without scenarios) is
"nothing to run yet", counted neither way.

The summary has one row per suite (passed, failed, skipped, seconds), the sum
of their seconds, the wall time (less than the sum when groups ran side by
side); its last line is ``N passed, N failed`` over every suite. The exit status is non-zero
when any suite failed.
"""

import argparse
import concurrent.futures
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from typing import NamedTuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTHING_TO_RUN = ('nothing to run', 'no scenario yet')
# Worst outcome last: a test case reported more than once keeps the worst.
OUTCOMES = ('passed', 'skipped', 'failed')


class Counts(NamedTuple):
    """What a suite's results say."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    note: str = ''


def testcase_outcome(testcase):
    """Return 'failed', 'skipped' or 'passed' for one JUnit <testcase> element."""
    tags = {child.tag for child in testcase}
    if tags & {'failure', 'error'}:
        return 'failed'
    if 'skipped' in tags:
        return 'skipped'
    return 'passed'


def junit_counts(paths):
    """Return the Counts of the JUnit XML files at paths (no file: all zero, with a note)."""
    if not paths:
        return Counts(note='no JUnit XML')
    outcomes = {}
    unreadable = []
    for path in sorted(paths):
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError):
            unreadable.append(os.path.basename(path))
            continue
        for number, testcase in enumerate(root.iter('testcase')):
            key = (testcase.get('classname'), testcase.get('name')) if testcase.get('name') else (path, number)
            outcome = testcase_outcome(testcase)
            if OUTCOMES.index(outcome) >= OUTCOMES.index(outcomes.get(key, 'passed')):
                outcomes[key] = outcome
    values = list(outcomes.values())
    note = 'unreadable JUnit XML: %s' % ', '.join(unreadable) if unreadable else ''
    return Counts(values.count('passed'), values.count('failed') + len(unreadable), values.count('skipped'), note)


def junit_files(directory):
    """Return the JUnit XML files a suite wrote: DIR/*.xml and, from ansible-test, DIR/junit/*.xml."""
    return glob.glob(os.path.join(directory, '*.xml')) + glob.glob(os.path.join(directory, 'junit', '*.xml'))


def junit_results(directory, returncode):
    """Counts of a suite that writes JUnit XML (pytest, ansible-test sanity and units)."""
    del returncode  # suite_counts weighs it
    return junit_counts(junit_files(directory))


def integration_results(directory, returncode):
    """Counts of integration targets: passed from ansible-test's JSON, failed = listed and not passed."""
    del returncode  # suite_counts weighs it
    passed = set()
    for path in glob.glob(os.path.join(directory, 'data', 'integration-*.json')):
        try:
            with open(path, encoding='utf-8') as handle:
                passed.update(json.load(handle)['targets'])
        except (OSError, ValueError, KeyError, TypeError):
            return Counts(0, 1, note='unreadable %s' % os.path.basename(path))
    listed_path = os.path.join(directory, 'targets.txt')
    if not os.path.exists(listed_path):
        return Counts(len(passed), note='no targets.txt')
    with open(listed_path, encoding='utf-8') as handle:
        listed = {line.strip() for line in handle if line.strip()}
    return Counts(len(passed), len(listed - passed))


def molecule_scenarios(root=ROOT):
    """Return the names of the molecule scenarios (folders of extensions/molecule with a molecule.yml)."""
    return sorted(os.path.basename(os.path.dirname(path)) for path in glob.glob(os.path.join(root, 'extensions', 'molecule', '*', 'molecule.yml')))


def molecule_results(directory, returncode, root=ROOT):
    """Counts of molecule scenarios from the exit status of ``molecule test --all``."""
    del directory  # molecule writes nothing
    if returncode != 0:
        return Counts(0, 1, note='molecule stops at the first failing scenario')
    return Counts(len(molecule_scenarios(root)))


def single_check(directory, returncode):
    """A tool that is one check (lint, changelog-lint): its exit status passes or fails it as a whole."""
    del directory  # the tool writes nothing
    return Counts(1, 0) if returncode == 0 else Counts(0, 1)


# How each suite is counted; any other suite is a single check.
RESULTS = {
    'sanity': junit_results,
    'units': junit_results,
    'functional': junit_results,
    'compat': junit_results,
    'publish': junit_results,
    'integration': integration_results,
    'molecule': molecule_results,
}


def suite_counts(name, directory, returncode, said_nothing_to_run=False):
    """Return the final Counts of one suite from its result directory and exit status."""
    counts = RESULTS.get(name, single_check)(directory, returncode)
    wrote_nothing = not os.path.isdir(directory) or not os.listdir(directory)
    if returncode == 0 and said_nothing_to_run and wrote_nothing and not counts.passed and not counts.failed:
        return Counts(note='nothing to run yet')
    notes = [counts.note] if counts.note else []
    failed = counts.failed
    if returncode != 0:
        notes.insert(0, 'exit status %d' % returncode)
        failed = max(failed, 1)
    elif counts.passed == 0 and failed == 0:
        notes.insert(0, 'ran no test')
        failed = 1
    return Counts(counts.passed, failed, counts.skipped, '; '.join(notes))


def fresh_directory(path):
    """Remove path with whatever it holds and create it empty."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def run_suite(name, directory, output=None):
    """Run one suite with its results going to directory; return (Counts, seconds).

    Its output streams to stdout, or (``output``, an open file) goes there to be printed later.
    """
    fresh_directory(directory)
    started = time.monotonic()
    environment = dict(os.environ, JUNIT_DIR=directory)
    said_nothing_to_run = False
    with subprocess.Popen(['make', '--no-print-directory', name], cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, errors='replace') as process:
        for line in process.stdout:
            (output or sys.stdout).write(line)
            if output is None:
                sys.stdout.flush()
            said_nothing_to_run = said_nothing_to_run or any(words in line for words in NOTHING_TO_RUN)
        returncode = process.wait()
    seconds = time.monotonic() - started
    return suite_counts(name, directory, returncode, said_nothing_to_run), seconds


def run_group(names, base):
    """Run the suites of a group side by side; print each one's output whole, in order; return [(name, Counts, seconds)]."""
    if len(names) == 1:
        print('\n===== suite: %s =====' % names[0], flush=True)
        return [(names[0],) + run_suite(names[0], os.path.join(base, names[0]))]
    print('\n===== suites side by side: %s =====' % ', '.join(names), flush=True)
    outputs = {name: tempfile.TemporaryFile(mode='w+', encoding='utf-8', errors='replace') for name in names}
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
            done = dict(zip(names, pool.map(lambda name: run_suite(name, os.path.join(base, name), outputs[name]), names), strict=True))
        for name in names:
            print('\n===== suite: %s =====' % name, flush=True)
            outputs[name].seek(0)
            shutil.copyfileobj(outputs[name], sys.stdout)
            sys.stdout.flush()
    finally:
        for output in outputs.values():
            output.close()
    return [(name,) + done[name] for name in names]


def summary(results):
    """Return the summary lines for [(name, Counts, seconds)]; the last one is 'N passed, N failed'."""
    lines = ['%-16s %8s %8s %8s %9s' % ('suite', 'passed', 'failed', 'skipped', 'seconds')]
    total_passed = total_failed = total_seconds = 0
    for name, counts, seconds in results:
        lines.append(('%-16s %8d %8d %8d %9.1f  %s' % (name, counts.passed, counts.failed, counts.skipped, seconds, counts.note)).rstrip())
        total_passed += counts.passed
        total_failed += counts.failed
        total_seconds += seconds
    lines.append('%-16s %8s %8s %8s %9.1f' % ('total', '', '', '', total_seconds))
    lines.append('%d passed, %d failed' % (total_passed, total_failed))
    return lines


def main(argv):
    """Run the suites and print the summary; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--junit-dir', help='keep each suite\'s results in DIR/SUITE (default: a temporary directory, removed at the end)')
    parser.add_argument('suites', nargs='+', metavar='SUITE', help='a Makefile target, or targets joined by + to run side by side')
    args = parser.parse_args(argv)
    base = os.path.abspath(args.junit_dir) if args.junit_dir else tempfile.mkdtemp(prefix='run-suites-')
    wall_started = time.monotonic()
    try:
        results = []
        for group in args.suites:
            results.extend(run_group(group.split('+'), base))
    finally:
        if not args.junit_dir:
            shutil.rmtree(base, ignore_errors=True)
    print('\n===== summary =====')
    lines = summary(results)
    # The suites of a group ran side by side: their seconds add up to more than the wall time.
    lines.insert(-1, '%-16s %8s %8s %8s %9.1f' % ('wall', '', '', '', time.monotonic() - wall_started))
    print('\n'.join(lines), flush=True)
    return 1 if any(result[1].failed for result in results) else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
