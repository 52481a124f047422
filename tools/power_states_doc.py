"""Write docs/power-states.md, or print vergeos_vm_power's notes by phase, from the plan rules.

    python tools/power_states_doc.py            # rewrite docs/power-states.md
    python tools/power_states_doc.py --check    # exit 1 when the page differs from the rules
    python tools/power_states_doc.py --notes    # print the notes to paste into the module's DOCUMENTATION

Both are generated from the rules in plugins/module_utils/plan.py by tools/power_states_docgen.py
(``power_states_page()``, ``phase_notes()``), which does not ship with the collection;
tests/functional/tools/test_power_states_doc.py fails when either pasted copy differs.
"""

import argparse
import importlib
import os
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, 'docs', 'power-states.md')


def load_docgen(tree):
    """Import tools/power_states_docgen.py, the collection's plan module reached through an ``ansible_collections/vergeos/power``
    link in ``tree``."""
    link = os.path.join(tree, 'ansible_collections', 'vergeos', 'power')
    os.makedirs(os.path.dirname(link))
    os.symlink(ROOT, link)
    sys.path.insert(0, tree)
    if os.path.join(ROOT, 'tools') not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, 'tools'))
    return importlib.import_module('power_states_docgen')


def notes_yaml(notes):
    """Return ``notes`` as YAML list items (single-quoted, wrapped as in the module's DOCUMENTATION)."""
    lines = []
    for note in notes:
        wrapped = textwrap.wrap("'%s'" % note.replace("'", "''"), width=148, break_long_words=False, break_on_hyphens=False)
        lines.append('  - ' + wrapped[0])
        lines.extend('    ' + line for line in wrapped[1:])
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='only compare docs/power-states.md with the rules')
    parser.add_argument('--notes', action='store_true', help="print the module's notes by phase as YAML")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tree:
        docgen = load_docgen(tree)
        if args.notes:
            print(notes_yaml(docgen.phase_notes()))
            return 0
        page = docgen.power_states_page()
    current = ''
    if os.path.exists(PAGE):
        with open(PAGE, encoding='utf-8') as handle:
            current = handle.read()
    if current == page:
        print('docs/power-states.md is up to date')
        return 0
    if args.check:
        print('docs/power-states.md differs from the rules; run: python tools/power_states_doc.py')
        return 1
    with open(PAGE, 'w', encoding='utf-8') as handle:
        handle.write(page)
    print('wrote docs/power-states.md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
