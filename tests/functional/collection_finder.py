"""Make ``ansible_collections.vergeos.power`` importable for plain pytest (ansible-test is not running here), on import.

Installs ansible's collection finder over a directory holding
``ansible_collections/vergeos/power`` -> this checkout, unless a finder is already installed.
The tests that import the collection's Python in their own process import this module first
(tests/functional/client/conftest.py, probe/test_probe.py).
"""

import os
import sys
import tempfile

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collections_dir():
    """Return a directory whose ansible_collections/vergeos/power is this checkout."""
    parts = COLLECTION_ROOT.split(os.sep)
    if parts[-3:-1] == ['ansible_collections', 'vergeos'] and parts[-1] == 'power':
        return os.sep.join(parts[:-3])
    cached = os.path.join(COLLECTION_ROOT, '.cache', 'collections')
    if os.path.realpath(os.path.join(cached, 'ansible_collections', 'vergeos', 'power')) == os.path.realpath(COLLECTION_ROOT):
        return cached
    staged = tempfile.mkdtemp(prefix='vergeos-power-collections-')
    os.makedirs(os.path.join(staged, 'ansible_collections', 'vergeos'))
    os.symlink(COLLECTION_ROOT, os.path.join(staged, 'ansible_collections', 'vergeos', 'power'))
    return staged


if not any(type(finder).__name__ == '_AnsibleCollectionFinder' for finder in sys.meta_path):
    _AnsibleCollectionFinder(paths=[_collections_dir()], scan_sys_paths=False)._install()  # pylint: disable=protected-access
