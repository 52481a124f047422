"""Counting in tools/run_suites.py: JUnit XML, ansible-test's integration JSON, exit statuses."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def load_run_suites():
    """Import tools/run_suites.py by path (tools/ is no package)."""
    spec = importlib.util.spec_from_file_location('run_suites', os.path.join(ROOT, 'tools', 'run_suites.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_suites = load_run_suites()


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding='utf-8')
    return str(path)


# One test case of each kind, in the layout pytest writes (testsuites > testsuite > testcase).
PYTEST_STYLE = """
    <?xml version="1.0" encoding="utf-8"?>
    <testsuites name="pytest tests">
      <testsuite name="pytest" errors="1" failures="1" skipped="2" tests="6">
        <testcase classname="tests.test_a" name="test_ok" time="0.1" />
        <testcase classname="tests.test_a" name="test_ok_too" time="0.1"><system-out>chatter</system-out></testcase>
        <testcase classname="tests.test_a" name="test_wrong"><failure message="assert 1 == 2">trace</failure></testcase>
        <testcase classname="tests.test_a" name="test_fixture_broke"><error message="setup failed">trace</error></testcase>
        <testcase classname="tests.test_a" name="test_later"><skipped type="pytest.skip" message="later" /></testcase>
        <testcase classname="tests.test_a" name="test_known_bug"><skipped type="pytest.xfail" message="bug" /></testcase>
      </testsuite>
    </testsuites>
"""


def test_junit_counts_each_outcome(tmp_path):
    counts = run_suites.junit_counts([write(tmp_path / 'a.xml', PYTEST_STYLE)])
    assert (counts.passed, counts.failed, counts.skipped, counts.note) == (2, 2, 2, '')


def test_errors_and_failures_both_fail_and_skipped_is_not_passed(tmp_path):
    xml = """
        <testsuite name="s">
          <testcase classname="c" name="error_only"><error message="boom" /></testcase>
          <testcase classname="c" name="failure_only"><failure message="no" /></testcase>
          <testcase classname="c" name="failed_then_teardown_error"><failure /><error /></testcase>
          <testcase classname="c" name="skipped"><skipped /></testcase>
        </testsuite>
    """
    counts = run_suites.junit_counts([write(tmp_path / 'b.xml', xml)])
    assert (counts.passed, counts.failed, counts.skipped) == (0, 3, 1)


def test_a_test_case_reported_twice_counts_once_with_its_worst_outcome(tmp_path):
    xml = """
        <testsuite name="s">
          <testcase classname="c" name="twice"><failure /></testcase>
          <testcase classname="c" name="twice"><error /></testcase>
          <testcase classname="c" name="pass_then_fail" />
          <testcase classname="c" name="pass_then_fail"><failure /></testcase>
        </testsuite>
    """
    counts = run_suites.junit_counts([write(tmp_path / 'c.xml', xml)])
    assert (counts.passed, counts.failed, counts.skipped) == (0, 2, 0)


def test_the_attributes_of_the_testsuite_are_not_trusted(tmp_path):
    xml = '<testsuite name="s" tests="40" failures="0"><testcase classname="c" name="t"><failure /></testcase></testsuite>'
    counts = run_suites.junit_counts([write(tmp_path / 'd.xml', xml)])
    assert (counts.passed, counts.failed) == (0, 1)


def test_counts_are_summed_over_files(tmp_path):
    # ansible-test sanity writes one file per sanity test, with one test case each.
    paths = [
        write(tmp_path / 'junit' / 'ansible-test-sanity-pep8.xml',
              '<testsuites><testsuite name="ansible-test"><testcase classname="sanity" name="pep8" /></testsuite></testsuites>'),
        write(tmp_path / 'junit' / 'ansible-test-sanity-pslint.xml',
              '<testsuites><testsuite name="ansible-test"><testcase classname="sanity" name="pslint">'
              '<skipped>pwsh not found</skipped></testcase></testsuite></testsuites>'),
        write(tmp_path / 'junit' / 'ansible-test-sanity-yamllint.xml',
              '<testsuites><testsuite name="ansible-test"><testcase classname="sanity" name="yamllint">'
              '<failure message="yamllint: 2 issues" /></testcase></testsuite></testsuites>'),
    ]
    assert run_suites.junit_files(str(tmp_path)) and sorted(run_suites.junit_files(str(tmp_path))) == sorted(paths)
    counts = run_suites.junit_counts(paths)
    assert (counts.passed, counts.failed, counts.skipped) == (1, 1, 1)


def test_no_junit_file_counts_nothing(tmp_path):
    assert run_suites.junit_counts([]) == run_suites.Counts(0, 0, 0, 'no JUnit XML')
    assert run_suites.junit_files(str(tmp_path / 'absent')) == []


def test_an_unreadable_file_counts_as_one_failed(tmp_path):
    good = write(tmp_path / 'good.xml', '<testsuite><testcase classname="c" name="t" /></testsuite>')
    cut = write(tmp_path / 'cut.xml', '<testsuite><testcase classname="c" name="t"')
    counts = run_suites.junit_counts([good, cut])
    assert (counts.passed, counts.failed) == (1, 1)
    assert 'cut.xml' in counts.note


def test_pytest_junit_xml_as_pytest_writes_it(tmp_path):
    """Run pytest on a small file with one test of each outcome and count its JUnit XML."""
    write(tmp_path / 'test_sample.py', """
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError('setup')

        def test_pass():
            pass

        def test_fail():
            assert False

        def test_error(broken):
            pass

        @pytest.mark.skip(reason='later')
        def test_skip():
            pass

        @pytest.mark.xfail(reason='known')
        def test_xfail():
            assert False

        @pytest.mark.parametrize('value', [1, 2])
        def test_many(value):
            assert value
    """)
    report = tmp_path / 'out' / 'junit.xml'
    completed = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-p', 'no:xdist', '--rootdir', str(tmp_path),
                                '--junit-xml', str(report), str(tmp_path / 'test_sample.py')],
                               cwd=str(tmp_path), capture_output=True, text=True, check=False)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    counts = run_suites.suite_counts('functional', str(report.parent), completed.returncode)
    assert (counts.passed, counts.failed, counts.skipped) == (3, 2, 2)
    assert counts.note == 'exit status 1'


@pytest.mark.parametrize('suite', ['sanity', 'units', 'functional', 'compat'])
def test_a_junit_suite_that_wrote_nothing_and_passed_ran_no_test(tmp_path, suite):
    counts = run_suites.suite_counts(suite, str(tmp_path), 0)
    assert (counts.passed, counts.failed) == (0, 1)
    assert counts.note.startswith('ran no test')


def test_only_skipped_tests_is_no_test_run(tmp_path):
    write(tmp_path / 'functional.xml', '<testsuite><testcase classname="c" name="t"><skipped /></testcase></testsuite>')
    counts = run_suites.suite_counts('functional', str(tmp_path), 0)
    assert (counts.passed, counts.failed, counts.skipped) == (0, 1, 1)


def test_a_non_zero_exit_counts_one_failed_even_if_the_xml_says_none(tmp_path):
    write(tmp_path / 'functional.xml', '<testsuite><testcase classname="c" name="t" /></testsuite>')
    counts = run_suites.suite_counts('functional', str(tmp_path), 2)
    assert (counts.passed, counts.failed) == (1, 1)
    assert counts.note == 'exit status 2'


def test_a_non_zero_exit_keeps_the_failures_the_xml_counts(tmp_path):
    write(tmp_path / 'functional.xml', '<testsuite><testcase classname="c" name="a"><failure /></testcase>'
                                       '<testcase classname="c" name="b"><failure /></testcase></testsuite>')
    counts = run_suites.suite_counts('functional', str(tmp_path), 1)
    assert (counts.passed, counts.failed) == (0, 2)


def test_failures_in_the_xml_count_even_when_the_exit_status_is_zero(tmp_path):
    write(tmp_path / 'functional.xml', '<testsuite><testcase classname="c" name="a"><failure /></testcase></testsuite>')
    assert run_suites.suite_counts('functional', str(tmp_path), 0).failed == 1


def test_nothing_to_run_yet(tmp_path):
    assert run_suites.suite_counts('compat', str(tmp_path), 0, said_nothing_to_run=True) == run_suites.Counts(note='nothing to run yet')
    assert run_suites.suite_counts('compat', str(tmp_path / 'absent'), 0, said_nothing_to_run=True).note == 'nothing to run yet'


def test_nothing_to_run_does_not_hide_a_failure_or_results(tmp_path):
    assert run_suites.suite_counts('compat', str(tmp_path), 1, said_nothing_to_run=True).failed == 1
    write(tmp_path / 'compat.xml', '<testsuite><testcase classname="c" name="a" /></testsuite>')
    counts = run_suites.suite_counts('compat', str(tmp_path), 0, said_nothing_to_run=True)
    assert (counts.passed, counts.failed, counts.note) == (1, 0, '')


@pytest.mark.parametrize(('returncode', 'passed', 'failed'), [(0, 1, 0), (1, 0, 1), (2, 0, 1)])
@pytest.mark.parametrize('suite', ['lint', 'changelog-lint'])
def test_a_single_check_is_counted_by_its_exit_status(tmp_path, suite, returncode, passed, failed):
    counts = run_suites.suite_counts(suite, str(tmp_path), returncode)
    assert (counts.passed, counts.failed) == (passed, failed)


def integration_dir(tmp_path, passed, listed):
    write(tmp_path / 'data' / 'integration-2024-01-01-00-00-00.json', json.dumps({'targets': {name: {'name': name} for name in passed}}))
    write(tmp_path / 'targets.txt', ''.join(name + '\n' for name in listed))
    # The junit callback's per-task files do not count targets.
    write(tmp_path / 'junit' / 'play-1.xml', '<testsuites><testsuite><testcase classname="x" name="task" /></testsuite></testsuites>')
    return str(tmp_path)


def test_integration_counts_targets(tmp_path):
    directory = integration_dir(tmp_path, ['a', 'b'], ['a', 'b', 'c'])
    assert run_suites.suite_counts('integration', directory, 1) == run_suites.Counts(2, 1, 0, 'exit status 1')
    directory = integration_dir(tmp_path, ['a', 'b', 'c'], ['a', 'b', 'c'])
    assert run_suites.suite_counts('integration', directory, 0) == run_suites.Counts(3, 0, 0, '')


def test_integration_without_results(tmp_path):
    counts = run_suites.suite_counts('integration', str(tmp_path), 1)
    assert (counts.passed, counts.failed) == (0, 1)
    write(tmp_path / 'data' / 'integration-x.json', '{"targets": {"a"')
    assert run_suites.suite_counts('integration', str(tmp_path), 0).failed == 1


def test_molecule_counts_scenarios_by_exit_status(tmp_path):
    for name in ('default', 'second'):
        write(tmp_path / 'extensions' / 'molecule' / name / 'molecule.yml', '---\n')
    (tmp_path / 'extensions' / 'molecule' / 'not_a_scenario').mkdir()
    assert run_suites.molecule_scenarios(str(tmp_path)) == ['default', 'second']
    assert run_suites.molecule_results(None, 0, root=str(tmp_path)) == run_suites.Counts(2)
    assert run_suites.molecule_results(None, 1, root=str(tmp_path)).failed == 1


def test_a_fresh_directory_holds_no_stale_result(tmp_path):
    stale = write(tmp_path / 'units' / 'junit' / 'old.xml', '<testsuite><testcase classname="c" name="t" /></testsuite>')
    run_suites.fresh_directory(str(tmp_path / 'units'))
    assert not os.path.exists(stale)
    assert os.listdir(str(tmp_path / 'units')) == []


def test_the_summary_ends_with_the_totals_line():
    results = [('units', run_suites.Counts(10, 1, 2, 'exit status 1'), 3.0), ('lint', run_suites.Counts(1, 0), 1.5),
               ('compat', run_suites.Counts(note='nothing to run yet'), 0.1)]
    lines = run_suites.summary(results)
    assert lines[-1] == '11 passed, 1 failed'
    assert lines[1].split() == ['units', '10', '1', '2', '3.0', 'exit', 'status', '1']
    assert lines[3].endswith('nothing to run yet')
    assert lines[-2].split() == ['total', '4.6']
