"""vergeos_vm_power's documentation of the raw statuses cannot drift from the plan rules.

The notes by phase in the module's DOCUMENTATION and the page docs/power-states.md are
generated from the rules in plugins/module_utils/plan.py by tools/power_states_docgen.py
(tools/power_states_doc.py writes the page and prints the notes). The generator does not ship,
so these tests live here, beside the tool, not in tests/unit (which ships). They fail when a
pasted copy differs from what the rules give, or when the generator misreads the rules.

Options are not checked here: ansible-test sanity's validate-modules already compares every
module's documented options (types, defaults, choices) with its argument spec.
"""

import ast
import importlib.util
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PAGE = 'docs/power-states.md'
MODULE = os.path.join(ROOT, 'plugins', 'modules', 'vergeos_vm_power.py')


@pytest.fixture(scope='module')
def docgen(tmp_path_factory):
    """tools/power_states_docgen.py, imported as tools/power_states_doc.py imports it."""
    spec = importlib.util.spec_from_file_location('power_states_doc', os.path.join(ROOT, 'tools', 'power_states_doc.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.load_docgen(str(tmp_path_factory.mktemp('collections')))


def _notes():
    """The module's DOCUMENTATION notes, read from its source (the module is not imported)."""
    with open(MODULE, encoding='utf-8') as handle:
        tree = ast.parse(handle.read())
    (text,) = [ast.literal_eval(node.value) for node in tree.body
               if isinstance(node, ast.Assign) and [getattr(target, 'id', None) for target in node.targets] == ['DOCUMENTATION']]
    return yaml.safe_load(text)['notes']


def _phase_notes_in_doc(docgen):
    notes = _notes()
    generated = docgen.phase_notes()
    starts = [index for index in range(len(notes)) if notes[index:index + len(generated)] == generated]
    assert len(starts) == 1, 'paste the output of: python tools/power_states_doc.py --notes'
    return notes[starts[0]:starts[0] + len(generated)]


def _page():
    with open(os.path.join(ROOT, PAGE), encoding='utf-8') as handle:
        return handle.read()


def test_the_pasted_notes_by_phase_equal_the_generated_ones(docgen):
    pasted = _phase_notes_in_doc(docgen)
    assert len(pasted) == len(docgen.PHASES) == 8
    assert [note.split(' ', 2)[1] for note in pasted] == list(docgen.PHASES)


def test_every_raw_status_is_named_in_exactly_one_note(docgen):
    named = re.findall(r'C\((\w+)\)', ' '.join(_phase_notes_in_doc(docgen)))
    assert sorted(named) == sorted(docgen.RAW_STATUSES)
    assert len(docgen.RAW_STATUSES) == 21


def test_the_notes_point_to_the_page():
    assert [note for note in _notes() if 'C(%s)' % PAGE in note]
    assert os.path.isfile(os.path.join(ROOT, PAGE))


def test_the_page_equals_the_generated_one(docgen):
    assert _page() == docgen.power_states_page(), 'run: python tools/power_states_doc.py'


def test_the_tool_checks_the_page_from_the_rules():
    checked = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'power_states_doc.py'), '--check'], capture_output=True,
                             text=True, check=False, timeout=120)
    assert (checked.returncode, checked.stdout.strip()) == (0, 'docs/power-states.md is up to date'), checked


def test_the_page_has_a_row_for_every_raw_status(docgen):
    for status in docgen.RAW_STATUSES:
        assert _page().count('\n| `%s` |' % status) == 1, status


def test_the_generator_ships_nowhere():
    with open(os.path.join(ROOT, 'galaxy.yml'), encoding='utf-8') as handle:
        assert 'tools' in yaml.safe_load(handle)['build_ignore']
    for folder, _dirs, files in os.walk(os.path.join(ROOT, 'plugins')):
        for name in files:
            if name.endswith('.py'):
                with open(os.path.join(folder, name), encoding='utf-8') as handle:
                    assert 'power_states_page' not in handle.read(), os.path.join(folder, name)


def test_transition_table_documents_every_status_and_matches_the_plans(docgen):
    table = docgen.transition_table()
    assert sorted(table) == sorted(docgen.RAW_STATUSES)
    for row in table.values():
        assert set(row) == {'power_state', 'meaning', 'running', 'running, force', 'stopped', 'stopped, force', 'restarted', 'restarted, force'}
        assert row['meaning']
    assert table['stopping']['stopped, force'] == 'kill'
    assert table['stopping']['stopped'] == 'wait until stopped'
    assert table['running']['restarted'] == 'reset (graceful) when on, poweron when off'
    assert table['running']['restarted, force'] == 'reset (hard) when on, poweron when off'
    assert table['starting']['stopped'] == 'wait until it settles, then decide again'
    assert table['maintenance']['running'] == 'fail'
    assert table['hibernating']['power_state'] == 'hibernated'


def test_phase_notes_say_for_every_status_and_flag_what_plan_power_does(docgen):
    notes = dict(zip(docgen.PHASES, docgen.phase_notes(), strict=True))
    assert 'when the running flag is true' in notes['on'] and 'phase on when the running flag is false' in notes['off']
    for status in docgen.RAW_STATUSES:
        for running in (True, False):
            note = notes[docgen.phase_of(status, running)]
            for wanted in ('running', 'stopped', 'restarted'):
                for force in (False, True):
                    assert docgen.describe_plan(docgen.plan_power(status, running, wanted, force)) in note, (status, running, wanted, force)
    assert notes['blocked'].count('O(state=stopped): fail when on, nothing to do when off.') == 1
    assert notes['unknown'].endswith('Any O(state), with or without O(force): fail.')


def test_the_diagram_has_an_arrow_or_a_note_for_every_action(docgen):
    diagram = '\n'.join(docgen.power_states_diagram())
    assert '    off --> on : poweron' in diagram
    assert '    on --> off : poweroff or kill with force' in diagram
    assert '    stopping --> off : wait or kill with force' in diagram
    assert 'state=restarted: reset (graceful) or reset (hard) with force' in diagram
    assert ' on --> on ' not in diagram
