"""Copy the collection into a fresh ``ansible_collections/vergeos/power`` tree.

ansible-test must run from ``<dir>/ansible_collections/<namespace>/<name>`` and
resolves symlinks, so it gets a real copy: the files git tracks plus the
untracked ones it does not ignore, exactly what a commit would hold. The copy
lives outside the work tree (inside an ignored folder ansible-test's git file
lister would see nothing and skip every target). Prints the copy's path.
"""

import os
import shutil
import subprocess
import sys
import tempfile


def collection_files(root):
    """Return the relative paths of the files that make up the collection."""
    listed = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
        cwd=root, check=True, capture_output=True,
    ).stdout.decode('utf-8').split('\0')
    # A tracked file deleted in the work tree is still listed; skip it.
    return [path for path in listed if path and os.path.isfile(os.path.join(root, path))]


def stage(root, parent):
    """Copy the collection below ``parent`` and return the collection folder."""
    target = os.path.join(parent, 'ansible_collections', 'vergeos', 'power')
    for path in collection_files(root):
        destination = os.path.join(target, path)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copy2(os.path.join(root, path), destination)
    return target


def main():
    """Stage the collection that holds this script."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parent = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix='vergeos-power-')
    print(stage(root, parent))


if __name__ == '__main__':
    main()
