"""Run test suites (Makefile targets) one after another and sum up.

Each suite's output streams through as it runs; its time and its number of
passed and failed tests are read from that output. The last line is
``N passed, N failed`` over every suite. The exit status is non-zero when any
suite failed or a test runner ran no test at all.

    python tools/run_suites.py sanity units functional ...
"""

import re
import subprocess
import sys
import time

# "=== 3 passed, 1 failed in 0.5s ===" or, with -q, the same without the rulers.
PYTEST_SUMMARY = re.compile(r'^=*\s*(?P<body>\d+ [a-z]+(?:, \d+ [a-z]+)*) in [0-9.]+s\b')
PYTEST_COUNT = re.compile(r'(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)')
SANITY_FAILED = re.compile(r'^ERROR: The (\d+) sanity tests? listed below \(out of \d+\) failed')
INTEGRATION_TARGET = re.compile(r'^Running \S+ integration test (?:role|script)')


def pytest_counts(lines):
    """Return (passed, failed) from the last pytest summary line."""
    passed = failed = 0
    for line in lines:
        match = PYTEST_SUMMARY.match(line)
        if match:
            counts = {kind: int(number) for number, kind in PYTEST_COUNT.findall(match.group('body'))}
            passed = counts.get('passed', 0) + counts.get('xfailed', 0)
            failed = counts.get('failed', 0) + counts.get('errors', 0) + counts.get('error', 0) + counts.get('xpassed', 0)
    return passed, failed


def sanity_counts(lines):
    """Return (passed, failed) sanity tests."""
    ran = sum(1 for line in lines if line.startswith('Running sanity test'))
    failed = 0
    for line in lines:
        match = SANITY_FAILED.match(line)
        if match:
            failed = int(match.group(1))
    return ran - failed, failed


def integration_counts(lines):
    """Return (targets run, 0); a failing target shows in the exit status."""
    return sum(1 for line in lines if INTEGRATION_TARGET.match(line)), 0


def single_check(lines):
    """A tool that is one check: it passes or fails as a whole."""
    return (1, 0) if lines else (0, 0)


COUNTERS = {
    'sanity': sanity_counts,
    'units': pytest_counts,
    'functional': pytest_counts,
    'compat': pytest_counts,
    'integration': integration_counts,
}


def run_suite(name):
    """Run one suite; return (passed, failed, seconds, note)."""
    started = time.monotonic()
    with subprocess.Popen(['make', '--no-print-directory', name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True, errors='replace') as process:
        lines = []
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line.rstrip('\n'))
        returncode = process.wait()
    seconds = time.monotonic() - started
    if any('no scenario yet' in line or 'nothing to run' in line for line in lines) and returncode == 0:
        return 0, 0, seconds, 'nothing to run yet'
    passed, failed = COUNTERS.get(name, single_check)(lines)
    note = ''
    if returncode != 0 and failed == 0:
        failed, note = 1, 'exit status %d' % returncode
    elif returncode == 0 and passed == 0 and failed == 0:
        failed, note = 1, 'ran no test'
    return passed, failed, seconds, note


def main(suites):
    """Run the suites and print the summary; return the exit status."""
    results = []
    for name in suites:
        print('\n===== suite: %s =====' % name, flush=True)
        results.append((name,) + run_suite(name))
    print('\n===== summary =====')
    print('%-16s %8s %8s %9s' % ('suite', 'passed', 'failed', 'seconds'))
    for name, passed, failed, seconds, note in results:
        print('%-16s %8d %8d %9.1f  %s' % (name, passed, failed, seconds, note))
    total_passed = sum(result[1] for result in results)
    total_failed = sum(result[2] for result in results)
    print('%-16s %8s %8s %9.1f' % ('total', '', '', sum(result[3] for result in results)))
    print('%d passed, %d failed' % (total_passed, total_failed))
    return 1 if total_failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
