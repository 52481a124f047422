"""The GitHub workflows run only what this repository runs and checks itself (they cannot run here).

- actionlint passes on .github/workflows (also run by `make lint`).
- Every `run:` line of a job is `make TARGET` for a target of the Makefile (a matrix value counts
  for each of its values), or one of the few documented commands below, each of which the README
  documents and a test of this suite runs the same way.
- The suites job runs every suite `make test` runs; the ansible-test job runs sanity and units
  through ansible-community/ansible-test-gh-action on ansible-core 2.19, 2.20, 2.21 and devel, units
  on each Python the line supports on the controller.
- The release workflow runs on a tag, builds the tarball and uploads it.

Pure file reads and one actionlint run: about a second.
"""

import glob
import os
import re
import subprocess

import yaml

from run_ansible import BIN, ROOT

WORKFLOWS = os.path.join(ROOT, ".github", "workflows")
# command run by a workflow -> (the page that documents it, the test file that runs it, what the test's source contains)
DOCUMENTED = {
    ".venv/bin/ansible-galaxy collection build": ("README.md", "tests/functional/packaging/test_publish.py", '"collection", "build"'),
}
LINES = {"stable-2.19": {"3.11", "3.12", "3.13"}, "stable-2.20": {"3.12", "3.13", "3.14"},
         "stable-2.21": {"3.12", "3.13", "3.14"}, "devel": {"3.12", "3.13", "3.14"}}
MATRIX_VALUE = re.compile(r"\$\{\{\s*matrix\.(\w+)\s*\}\}")


def workflows():
    found = {}
    for path in sorted(glob.glob(os.path.join(WORKFLOWS, "*.yml"))):
        with open(path, encoding="utf-8") as handle:
            found[os.path.basename(path)] = yaml.safe_load(handle)
    return found


def makefile_targets():
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as handle:
        return set(re.findall(r"^([a-z][a-z-]*):.*## ", handle.read(), re.M))


def make_test_suites():
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as handle:
        recipe = re.search(r"^test:.*\n\t.*run_suites\.py ([a-z +-]+)", handle.read(), re.M)
    assert recipe, "the Makefile's test target no longer runs tools/run_suites.py SUITE..."
    # Suites joined by + run side by side; each is a suite all the same.
    return recipe.group(1).replace("+", " ").split()


def expanded(line, matrix):
    """Return the line once per value of each matrix variable it names (a list of lines)."""
    match = MATRIX_VALUE.search(line)
    if not match:
        return [line]
    values = matrix.get(match.group(1))
    assert isinstance(values, list), "matrix.%s has no list of values: %r" % (match.group(1), matrix)
    return [text for value in values for text in expanded(line[:match.start()] + str(value) + line[match.end():], matrix)]


def run_lines():
    """Yield (workflow, job, command line) of every run: step, matrix values expanded."""
    for name, workflow in workflows().items():
        for job_name, job in workflow["jobs"].items():
            matrix = (job.get("strategy") or {}).get("matrix") or {}
            for step in job["steps"]:
                for text in step.get("run", "").splitlines():
                    line = text.split("#", 1)[0].strip()
                    if line:
                        for command in expanded(line, matrix):
                            yield name, job_name, command


def allowed(command, targets):
    """Return why a command may run in a workflow, or None."""
    match = re.fullmatch(r"make ([a-z][a-z-]*)", command)
    if match:
        return "Makefile target" if match.group(1) in targets else None
    if command not in DOCUMENTED:
        return None
    page, test, needle = DOCUMENTED[command]
    documented = command.replace(".venv/bin/", "")
    with open(os.path.join(ROOT, page), encoding="utf-8") as handle:
        if documented not in handle.read():
            return None
    with open(os.path.join(ROOT, test), encoding="utf-8") as handle:
        return "documented in %s, run by %s" % (page, test) if needle in handle.read() else None


def test_the_command_check_refuses_what_the_repository_does_not_run():
    targets = {"lint", "units"}
    assert allowed("make lint", targets) == "Makefile target"
    assert allowed("make deploy", targets) is None
    assert allowed("pip install -r requirements.txt", targets) is None
    assert allowed("make lint && curl example.invalid | sh", targets) is None
    assert allowed(".venv/bin/ansible-galaxy collection build", targets).startswith("documented in README.md")
    assert expanded("make ${{ matrix.suite }}", {"suite": ["a", "b"]}) == ["make a", "make b"]


def test_actionlint_passes():
    assert glob.glob(os.path.join(WORKFLOWS, "*.yml")), "no workflow in .github/workflows"
    result = subprocess.run([os.path.join(BIN, "actionlint"), "-no-color"], cwd=ROOT, capture_output=True, text=True, check=False,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_run_line_is_a_make_target_or_a_documented_command():
    targets = makefile_targets()
    lines = list(run_lines())
    assert lines
    assert [(name, job, command) for name, job, command in lines if not allowed(command, targets)] == []


def test_ci_runs_every_suite_of_make_test_on_push_and_pull_request():
    ci = workflows()["ci.yml"]
    assert {"push", "pull_request"} <= set(ci["on"])
    assert sorted(ci["jobs"]["suites"]["strategy"]["matrix"]["suite"]) == sorted(make_test_suites())


def test_ansible_test_runs_sanity_and_units_on_every_supported_line_with_its_pythons():
    job = workflows()["ci.yml"]["jobs"]["ansible-test"]
    assert [step["uses"] for step in job["steps"]] == ["ansible-community/ansible-test-gh-action@release/v1"]
    include = job["strategy"]["matrix"]["include"]
    sanity = {entry["ansible"] for entry in include if entry["test"] == "sanity"}
    units = {}
    for entry in include:
        if entry["test"] == "units":
            units.setdefault(entry["ansible"], set()).add(entry["python"])
    assert sanity == set(LINES)
    assert units == LINES
    step = job["steps"][0]["with"]
    assert step["ansible-core-version"] == "${{ matrix.ansible }}" and step["testing-type"] == "${{ matrix.test }}"


def test_the_release_workflow_builds_the_tarball_on_a_tag():
    release = workflows()["release.yml"]
    assert set(release["on"]) == {"push"} and release["on"]["push"].get("tags")
    steps = release["jobs"]["build"]["steps"]
    assert any("ansible-galaxy collection build" in step.get("run", "") for step in steps)
    upload = [step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload and upload[0]["with"]["path"] == "vergeos-power-*.tar.gz"
