# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""vergeos_vm_power's documentation of the raw statuses cannot drift from the plan rules.

The notes by phase in DOCUMENTATION and the page docs/power-states.md are generated from
plugins/module_utils/plan.py (tools/power_states_doc.py writes the page and prints the notes);
these tests fail when a pasted copy differs from what the rules give.

Options are not checked here: ansible-test sanity's validate-modules already compares every
module's documented options (types, defaults, choices) with its argument spec.
"""

from __future__ import annotations

import os
import re

import yaml

from ansible_collections.vergeos.power.plugins.module_utils.plan import PHASES, phase_notes, power_states_page
from ansible_collections.vergeos.power.plugins.module_utils.power_state import RAW_STATUSES
from ansible_collections.vergeos.power.plugins.modules import vergeos_vm_power

PAGE = 'docs/power-states.md'
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(vergeos_vm_power.__file__))))


def _notes():
    return yaml.safe_load(vergeos_vm_power.DOCUMENTATION)['notes']


def _phase_notes_in_doc():
    notes = _notes()
    generated = phase_notes()
    starts = [index for index in range(len(notes)) if notes[index:index + len(generated)] == generated]
    assert len(starts) == 1, 'paste the output of: python tools/power_states_doc.py --notes'
    return notes[starts[0]:starts[0] + len(generated)]


def _page():
    with open(os.path.join(ROOT, PAGE), encoding='utf-8') as handle:
        return handle.read()


def test_the_pasted_notes_by_phase_equal_the_generated_ones():
    pasted = _phase_notes_in_doc()
    assert len(pasted) == len(PHASES) == 8
    assert [note.split(' ', 2)[1] for note in pasted] == list(PHASES)


def test_every_raw_status_is_named_in_exactly_one_note():
    named = re.findall(r'C\((\w+)\)', ' '.join(_phase_notes_in_doc()))
    assert sorted(named) == sorted(RAW_STATUSES)
    assert len(RAW_STATUSES) == 21


def test_the_notes_point_to_the_page():
    assert [note for note in _notes() if 'C(%s)' % PAGE in note]
    assert os.path.isfile(os.path.join(ROOT, PAGE))


def test_the_page_equals_the_generated_one():
    assert _page() == power_states_page(), 'run: python tools/power_states_doc.py'


def test_the_page_has_a_row_for_every_raw_status():
    for status in RAW_STATUSES:
        assert _page().count('\n| `%s` |' % status) == 1, status


# What the diagram may use: a small, standard part of Mermaid's stateDiagram-v2 grammar. Descriptions and
# labels hold no ':' or ';' (they would end them), and no line says "direction" (the lexer reads it anywhere).
_MERMAID_LINE = re.compile(r'''
    (?P<describe>\ {4}(?P<state>[a-z]+)\ :\ [^:;\n]+)
    |(?P<arrow>\ {4}(?P<start>[a-z]+)\ -->\ (?P<end>[a-z]+)\ :\ [^:;\n-]+)
    |(?P<note>\ {4}note\ right\ of\ (?P<noted>[a-z]+))
    |(?P<text>\ {8}[^\n]+)
    |(?P<close>\ {4}end\ note)
''', re.VERBOSE)


def test_the_page_diagram_is_plain_mermaid_of_the_phases():
    blocks = re.findall(r'\n```mermaid\n(.*?)\n```\n', _page(), re.DOTALL)
    assert len(blocks) == 1
    lines = blocks[0].split('\n')
    assert lines[0] == 'stateDiagram-v2'
    described, arrows, in_note = [], [], False
    for line in lines[1:]:
        match = _MERMAID_LINE.fullmatch(line)
        assert match, line
        assert 'direction' not in line and '%%' not in line and '#' not in line, line
        if in_note:
            assert match['text'] or match['close'], line
            in_note = not match['close']
        elif match['describe']:
            described.append(match['state'])
        elif match['arrow']:
            assert match['start'] != match['end'], line
            arrows.append((match['start'], match['end']))
        else:
            assert match['note'] and match['noted'] in PHASES, line
            in_note = True
    assert not in_note
    assert described == list(PHASES)
    assert {phase for arrow in arrows for phase in arrow} <= set(PHASES)
    assert len(set(arrows)) == len(arrows)
    for action in ('poweron', 'poweroff', 'kill', 'reset', 'wait'):
        assert re.search(r'\b%s\b' % action, blocks[0]), action


def test_every_vm_key_is_in_return():
    contained = yaml.safe_load(vergeos_vm_power.RETURN)['vms']['contains']
    for key in ('previous_power_state', 'actions', 'escalated', 'elapsed', 'changed', 'failed', 'msg', 'timed_out', 'power_state', 'status'):
        assert key in contained
