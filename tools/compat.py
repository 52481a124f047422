"""Run the smoke subset of the functional tests on the newest Python of this machine with the newest ansible-core.

    python tools/compat.py [PYTEST_OPTION ...]

The pin of that ansible-core is the `# compat:` line of requirements-dev.txt; the
other packages the subset needs keep their pins from the same file. The newest
Python is the highest python3.N (N > the running one) found on PATH or under
pyenv's root that can make a virtualenv. Without one, it says so and passes: the
machine has nothing newer to test on. The virtualenv is .venv-newest.

Options after the script's name go to pytest: `make compat` passes
`--junit-xml=FILE` when tools/run_suites.py asks for JUnit XML.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv-newest")
REQUIREMENTS = os.path.join(ROOT, "requirements-dev.txt")
NEEDED = ("requests", "pytest", "pytest-xdist", "cryptography", "PyYAML", "ansible-runner")
SUBSET = ["tests/functional/modules", "tests/functional/docs", "tests/functional/inventory/test_inventory_hosts.py",
          "tests/functional/inventory/test_inventory_with_modules.py", "tests/functional/reliability/test_bad_input.py"]


def pins():
    """Return (the compat ansible-core requirement, the pinned requirements of NEEDED) from requirements-dev.txt."""
    with open(REQUIREMENTS, encoding="utf-8") as handle:
        text = handle.read()
    core = re.search(r"^# compat: (ansible-core==\S+)", text, re.M)
    if not core:
        raise SystemExit("requirements-dev.txt has no '# compat: ansible-core==X' line")
    pinned = [line.strip() for line in text.splitlines() if re.match(r"^(%s)==" % "|".join(map(re.escape, NEEDED)), line.strip(), re.I)]
    return core.group(1), pinned


def candidates():
    """Yield python3.N executables newer than the running Python, newest first."""
    found = {}
    for minor in range(sys.version_info[1] + 1, 20):
        name = "python3.%d" % minor
        for path in [shutil.which(name)] + sorted(glob.glob(os.path.join(pyenv_root(), "versions", "3.%d*" % minor, "bin", name))):
            if path:
                found.setdefault(minor, []).append(path)
    for minor in sorted(found, reverse=True):
        yield from found[minor]


def pyenv_root():
    pyenv = shutil.which("pyenv")
    if not pyenv:
        return os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    return subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip() or os.path.expanduser("~/.pyenv")


def newest_python():
    for path in candidates():
        probe = subprocess.run([path, "-c", "import ssl, venv, sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return path, probe.stdout.strip()
    return None, None


def main(pytest_options):
    python, version = newest_python()
    if python is None:
        print("compat: no Python newer than %d.%d on this machine: nothing to run" % sys.version_info[:2])
        return 0
    core, needed = pins()
    stamp = os.path.join(VENV, ".installed")
    wanted = "%s %s %s" % (version, core, " ".join(needed))
    if not os.path.exists(stamp) or open(stamp, encoding="utf-8").read() != wanted:
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([python, "-m", "venv", VENV], check=True)
        subprocess.run([os.path.join(VENV, "bin", "python"), "-m", "pip", "install", "--quiet", core] + needed, check=True)
        with open(stamp, "w", encoding="utf-8") as handle:
            handle.write(wanted)
    print("compat: Python %s, %s: %s" % (version, core, " ".join(SUBSET)), flush=True)
    command = [os.path.join(VENV, "bin", "python"), "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider"] + pytest_options + SUBSET
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
