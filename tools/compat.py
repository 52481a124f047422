"""Run the smoke subset of the functional tests with each newer ansible-core, each on a newer Python of this machine.

    python tools/compat.py [PYTEST_OPTION ...]

The targets are the `# compat:` lines of requirements-dev.txt (or a file it includes with -r), one per ansible-core
release line newer than the pinned one:

    # compat: ansible-core==2.21.5                (on the newest Python of the machine)
    # compat: ansible-core==2.20.10 python3.12    (on that Python; the newest one if it is missing)

The other packages the subset needs keep their pins from the same file. A Python
is a python3.N newer than the running one, found on PATH or under pyenv's root,
that can make a virtualenv. Without any, it says so and passes: the machine has
nothing newer to test on. The virtualenv of the newest target is .venv-newest, the
others' live under .cache/compat/ (both ignored by git and left out of the build).

It leaves out the tests marked `engine` (tests/functional/pytest.ini): the collection's own
Python decides them whatever ansible-core runs it, and the main suite proves them once.

Options after the script's name go to pytest: `make compat` passes
`--junit-xml=FILE` when tools/run_suites.py asks for JUnit XML. Each target then
writes FILE with `-<ansible-core version>` before `.xml`, and its test cases'
class names start with `core<version>.`, so one test passing on one release and
failing on the other counts as two results.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEWEST_VENV = os.path.join(ROOT, ".venv-newest")
OTHER_VENVS = os.path.join(ROOT, ".cache", "compat")
REQUIREMENTS = os.path.join(ROOT, "requirements-dev.txt")
NEEDED = ("requests", "pytest", "pytest-xdist", "cryptography", "PyYAML", "ansible-runner")
# What a newer ansible-core can change: how modules, action plugins, the inventory plugin and their documentation are
# loaded, run and shown (every module's examples, the action plugins on inventory hosts, progress lines, argument
# errors). The engine's own behaviour under faults (tests/functional/modules/test_power_failures.py, test_snapshot_faults.py,
# test_wait_for_agent.py) is the collection's Python whatever runs it: the main suite proves it once. So are the tests
# marked `engine` in the subset (the bad-input cases the collection's own checks refuse, its handling of faulty answers
# with their retries, the inventory plugin's requests, pages and filters): LEAVE_OUT_ENGINE leaves them out. What
# ansible-core words or decides (argument-spec errors, TLS errors, templating, hosts, groups, host variables) stays.
SUBSET = ["tests/functional/modules/test_modules_on_inventory_hosts.py", "tests/functional/modules/test_progress.py",
          "tests/functional/docs", "tests/functional/inventory/test_inventory_hosts.py",
          "tests/functional/inventory/test_inventory_with_modules.py", "tests/functional/reliability/test_bad_input.py",
          "tests/functional/packaging/test_private_interfaces.py"]
LEAVE_OUT_ENGINE = ["-m", "not engine"]
COMPAT_LINE = re.compile(r"^# compat: (ansible-core==(\S+))(?:[ \t]+python(3\.\d+))?[ \t]*$", re.M)


def requirements_text(path, seen=None):
    """Return the text of a pip requirements file followed by the files it includes with -r, each once."""
    seen = set() if seen is None else seen
    seen.add(os.path.abspath(path))
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    for name in re.findall(r"^-r[ \t]+(\S+)[ \t]*$", text, re.M):
        included = os.path.join(os.path.dirname(path), name)
        if os.path.abspath(included) not in seen:
            text += "\n" + requirements_text(included, seen)
    return text


def pins():
    """Return ([(ansible-core requirement, its version, wanted Python 'X.Y' or None)], the pinned requirements of NEEDED)."""
    text = requirements_text(REQUIREMENTS)
    targets = [match.groups() for match in COMPAT_LINE.finditer(text)]
    if not targets:
        raise SystemExit("requirements-dev.txt has no '# compat: ansible-core==X' line")
    pinned = [line.strip() for line in text.splitlines() if re.match(r"^(%s)==" % "|".join(map(re.escape, NEEDED)), line.strip(), re.I)]
    return targets, pinned


def candidates():
    """Yield (minor, python3.N executable) newer than the running Python, newest first."""
    found = {}
    for minor in range(sys.version_info[1] + 1, 20):
        name = "python3.%d" % minor
        for path in [shutil.which(name)] + sorted(glob.glob(os.path.join(pyenv_root(), "versions", "3.%d*" % minor, "bin", name))):
            if path:
                found.setdefault(minor, []).append(path)
    for minor in sorted(found, reverse=True):
        for path in found[minor]:
            yield minor, path


def pyenv_root():
    pyenv = shutil.which("pyenv")
    if not pyenv:
        return os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    return subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip() or os.path.expanduser("~/.pyenv")


def usable_pythons():
    """Return [(path, 'X.Y')] of the newer Pythons that start and have ssl and venv, newest first."""
    usable = []
    for _minor, path in candidates():
        probe = subprocess.run([path, "-c", "import ssl, venv, sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() not in [version for _path, version in usable]:
            usable.append((path, probe.stdout.strip()))
    return usable


def python_for(wanted, usable):
    """Return (path, 'X.Y') for a target: the wanted Python if the machine has it, else the newest one."""
    for path, version in usable:
        if version == wanted:
            return path, version
    return usable[0]


def junit_option(pytest_options, core_version):
    """Return the pytest options with --junit-xml=FILE turned into FILE-<core_version>.xml, and that file (or None)."""
    options, junit = [], None
    for option in pytest_options:
        if option.startswith("--junit-xml="):
            base, extension = os.path.splitext(option[len("--junit-xml="):])
            junit = "%s-%s%s" % (base, core_version, extension or ".xml")
            options.append("--junit-xml=" + junit)
        else:
            options.append(option)
    return options, junit


def label_junit(path, core_version):
    """Prefix every test case's class name in a JUnit XML file with core<version>."""
    if not path or not os.path.exists(path):
        return
    tree = ET.parse(path)
    for testcase in tree.getroot().iter("testcase"):
        testcase.set("classname", "core%s.%s" % (core_version, testcase.get("classname", "")))
    tree.write(path, encoding="utf-8", xml_declaration=True)


def prepare(venv, python, version, core, needed):
    """Create or refresh the virtualenv of one target.

    Without a pip of its own: the pip running this script installs into it (pip's --python), from pip's cache when
    it has the wheels. Nothing is byte-compiled up front (--no-compile): of ansible-core's thousands of files, a test
    run compiles the ones it imports. Both halve the time a fresh clone spends making the two virtualenvs.
    """
    stamp = os.path.join(venv, ".installed")
    wanted = "%s %s %s" % (version, core, " ".join(needed))
    if not os.path.exists(stamp) or open(stamp, encoding="utf-8").read() != wanted:
        shutil.rmtree(venv, ignore_errors=True)
        os.makedirs(os.path.dirname(venv), exist_ok=True)
        subprocess.run([python, "-m", "venv", "--without-pip", venv], check=True)
        subprocess.run([sys.executable, "-m", "pip", "--python", os.path.join(venv, "bin", "python"), "install", "--quiet", "--no-compile",
                        core] + needed, check=True)
        with open(stamp, "w", encoding="utf-8") as handle:
            handle.write(wanted)


def main(pytest_options):
    usable = usable_pythons()
    if not usable:
        print("compat: no Python newer than %d.%d on this machine: nothing to run" % sys.version_info[:2])
        return 0
    targets, needed = pins()
    status = 0
    for index, (core, core_version, wanted) in enumerate(targets):
        python, version = python_for(wanted, usable)
        venv = NEWEST_VENV if index == 0 else os.path.join(OTHER_VENVS, "ansible-core-%s" % core_version)
        prepare(venv, python, version, core, needed)
        options, junit = junit_option(pytest_options, core_version)
        print("compat: Python %s, %s: %s" % (version, core, " ".join(SUBSET)), flush=True)
        command = [os.path.join(venv, "bin", "python"), "-m", "pytest", "-n", "2", "--dist", "loadfile", "-q", "-p", "no:cacheprovider"]
        returncode = subprocess.run(command + LEAVE_OUT_ENGINE + options + SUBSET, cwd=ROOT, check=False).returncode
        label_junit(junit, core_version)
        status = status or returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
