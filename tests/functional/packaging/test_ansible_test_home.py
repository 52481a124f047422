"""ansible-test runs with the project's own HOME: the contributor's ~/.ansible is left as it was.

`tools/ansible-test.sh` (behind make sanity, units and integration) sets HOME to
$XDG_CACHE_HOME/vergeos.power/ansible-test-home (~/.cache/... by default, VERGEOS_ANSIBLE_TEST_HOME
to name another), where it puts the get-pip stand-in and where ansible-test keeps its cache.
The test snapshots the real ~/.ansible (every file with its size and mtime, every folder) around
`tools/ansible-test.sh units` of one small unit test file and finds no change, and finds the
stand-in in the project's HOME instead.

Other ansible commands that run at the same time (the other pytest worker) create and remove their
own `ansible-local-*` and `ansible-tmp-*` folders under ~/.ansible/tmp; those are left out of the
snapshot. About 7 s.
"""

import os
import subprocess

import pytest

from run_ansible import ROOT

SMALL_UNIT_TEST = "tests/unit/test_runtime_metadata.py"
PROJECT_HOME = os.environ.get("VERGEOS_ANSIBLE_TEST_HOME") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "vergeos.power", "ansible-test-home")
# ansible's own per-process temporary folders under ~/.ansible/tmp (local, and remote_tmp on a local connection).
TEMPORARY = ("ansible-local-", "ansible-tmp-")

# The whole ansible-test run on its own worker's time, never next to another ansible-test of this file.
pytestmark = pytest.mark.xdist_group("ansible-test-home")


def snapshot(folder):
    """Return {relative path: (size, mtime_ns) for a file, 'dir' for a folder} below folder, or None if it does not exist."""
    if not os.path.isdir(folder):
        return None
    found = {}
    for parent, dirs, files in os.walk(folder):
        relative = os.path.relpath(parent, folder)
        if relative == "tmp":
            dirs[:] = [name for name in dirs if not name.startswith(TEMPORARY)]
        for name in dirs:
            found[os.path.normpath(os.path.join(relative, name))] = "dir"
        for name in files:
            path = os.path.join(parent, name)
            try:
                stat = os.lstat(path)
            except FileNotFoundError:
                continue
            found[os.path.normpath(os.path.join(relative, name))] = (stat.st_size, stat.st_mtime_ns)
    return found


def test_the_snapshot_sees_a_new_file_and_a_touched_one(tmp_path):
    assert snapshot(str(tmp_path / "absent")) is None
    (tmp_path / "test" / "cache").mkdir(parents=True)
    (tmp_path / "tmp" / "ansible-local-1x").mkdir(parents=True)
    (tmp_path / "test" / "cache" / "a.py").write_text("a")
    before = snapshot(str(tmp_path))
    (tmp_path / "tmp" / "ansible-local-1x" / "ignored").write_text("x")
    (tmp_path / "tmp" / "ansible-tmp-1.2-3-4").mkdir()
    assert snapshot(str(tmp_path)) == before
    (tmp_path / "test" / "cache" / "get_pip_24_2.py").write_text("b")
    assert snapshot(str(tmp_path)) != before
    os.remove(tmp_path / "test" / "cache" / "get_pip_24_2.py")
    os.utime(tmp_path / "test" / "cache" / "a.py", ns=(1, 1))
    assert snapshot(str(tmp_path)) != before


def test_ansible_test_leaves_the_real_home_alone():
    real = os.path.join(os.path.expanduser("~"), ".ansible")
    assert os.path.realpath(real) != os.path.realpath(os.path.join(PROJECT_HOME, ".ansible"))
    before = snapshot(real)
    env = {name: value for name, value in os.environ.items() if name != "JUNIT_DIR"}  # results of a real run stay as they are
    result = subprocess.run([os.path.join(ROOT, "tools", "ansible-test.sh"), "units", SMALL_UNIT_TEST], cwd=ROOT, env=env,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600, check=False)
    assert result.returncode == 0, "stdout:\n%s\nstderr:\n%s" % (result.stdout[-4000:], result.stderr[-4000:])
    assert "passed" in result.stdout, result.stdout[-2000:]
    assert snapshot(real) == before
    cache = os.path.join(PROJECT_HOME, ".ansible", "test", "cache")
    assert any(name.startswith("get_pip_") for name in os.listdir(cache)), os.listdir(cache)
