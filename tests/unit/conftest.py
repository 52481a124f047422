# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Plain pytest from the checkout: ``.venv/bin/python -m pytest tests/unit`` imports the collection as ansible-test units does.

ansible-test units installs ansible-core's collection finder over its staged copy before any
conftest is read; then this file does nothing. Run by plain pytest, it installs the same finder
over ``.cache/collections`` (whose ``ansible_collections/vergeos/power`` links to this checkout;
``make venv`` creates the link, and so does this file when it is missing), so the tests import
``ansible_collections.vergeos.power`` and Ansible's plugin loader finds the collection's plugins.
"""

from __future__ import annotations

import os
import sys

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collections_dir():
    """Return the folder holding ``ansible_collections/vergeos/power`` for this checkout."""
    parts = ROOT.split(os.sep)
    if parts[-3:] == ['ansible_collections', 'vergeos', 'power']:
        return os.sep.join(parts[:-3]) or os.sep
    cached = os.path.join(ROOT, '.cache', 'collections')
    link = os.path.join(cached, 'ansible_collections', 'vergeos', 'power')
    if not os.path.lexists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    return cached


if not any(type(finder).__name__ == '_AnsibleCollectionFinder' for finder in sys.meta_path):
    _AnsibleCollectionFinder(paths=[_collections_dir()], scan_sys_paths=False)._install()  # pylint: disable=protected-access
