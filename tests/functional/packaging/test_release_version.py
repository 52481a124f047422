"""The version the tree builds, the changelog, every version_added and the docs agree (no network, a few seconds).

- `galaxy.yml` is the next release: with fragments in changelogs/fragments/, one step above the last release
  of changelogs/changelog.yaml, the step semantic versioning asks for given the fragments' sections (a
  breaking change or a removal: major; a new feature or deprecation: at least minor); with no fragment,
  equal to it (the release commit, `antsibull-changelog release`, has been made). One fragment gives the
  coming release its `release_summary`.
- No `version_added` in plugins/, the roles' argument specs or extensions/ is above galaxy.yml's version.
- CHANGELOG.md is exactly what `antsibull-changelog generate` writes from changelog.yaml (it is never
  edited by hand).
- The README's status and every tarball name in README.md and docs/ name galaxy.yml's version.

The checks are pure functions; the first tests feed them drifted inputs, so they cannot pass vacuously.
"""

import glob
import os
import re
import shutil
import subprocess

import yaml

from run_ansible import BIN, ROOT

MAJOR_SECTIONS = frozenset(("breaking_changes", "removed_features"))
MINOR_SECTIONS = frozenset(("major_changes", "minor_changes", "deprecated_features"))
VERSION_ADDED = re.compile(r"""^\s*version_added:\s*['"]?([0-9][^'"\s#]*)""", re.M)
TARBALL = re.compile(r"vergeos-power-([0-9]+\.[0-9]+\.[0-9]+)\.tar\.gz")
STATUS = re.compile(r"^> Status: ([0-9]+\.[0-9]+\.[0-9]+)\b", re.M)


def version(text):
    """Return a version 'X.Y.Z' as a tuple of ints (a pre-release suffix is not used here)."""
    match = re.fullmatch(r"([0-9]+)\.([0-9]+)\.([0-9]+)", str(text))
    assert match, "not a version X.Y.Z: %r" % (text,)
    return tuple(int(part) for part in match.groups())


def release_problems(galaxy, released, fragments):
    """Return what is wrong with galaxy.yml's version given the released versions and {fragment: its sections}."""
    galaxy = version(galaxy)
    last = max(version(name) for name in released)
    last_text = "%d.%d.%d" % last
    if not fragments:
        return [] if galaxy == last else ["galaxy.yml says %d.%d.%d, the last release is %s and no fragment is waiting"
                                          % (galaxy + (last_text,))]
    sections = set().union(*fragments.values())
    if sections & MAJOR_SECTIONS:
        wanted, why = (last[0] + 1, 0, 0), "a fragment has %s" % ", ".join(sorted(sections & MAJOR_SECTIONS))
    elif sections & MINOR_SECTIONS:
        wanted, why = (last[0], last[1] + 1, 0), "a fragment has %s" % ", ".join(sorted(sections & MINOR_SECTIONS))
    else:
        wanted, why = (last[0], last[1], last[2] + 1), "the fragments hold fixes only"
    problems = []
    if galaxy != wanted:
        problems.append("galaxy.yml says %d.%d.%d; after %s the next release is %d.%d.%d (%s)" % (galaxy + (last_text,) + wanted + (why,)))
    if "release_summary" not in sections:
        problems.append("no fragment gives the coming release a release_summary")
    return problems


def version_added_problems(galaxy, found):
    """Return the (file, version) pairs of `found` whose version_added is above galaxy.yml's version."""
    return [(path, value) for path, value in found if version(value) > version(galaxy)]


def galaxy_version():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return str(yaml.safe_load(handle)["version"])


def fragments():
    """Return {fragment file: the set of its sections}."""
    found = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "changelogs", "fragments", "*.y*ml"))):
        with open(path, encoding="utf-8") as handle:
            found[os.path.basename(path)] = set(yaml.safe_load(handle) or {})
    return found


def released():
    with open(os.path.join(ROOT, "changelogs", "changelog.yaml"), encoding="utf-8") as handle:
        return [str(name) for name in yaml.safe_load(handle)["releases"]]


def versions_added():
    """Return (relative path, value) of every version_added in plugins/, the roles' argument specs and extensions/."""
    paths = glob.glob(os.path.join(ROOT, "plugins", "**", "*.py"), recursive=True)
    paths += glob.glob(os.path.join(ROOT, "plugins", "**", "*.yml"), recursive=True)
    paths += glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml"))
    paths += glob.glob(os.path.join(ROOT, "extensions", "**", "*.py"), recursive=True)
    paths += glob.glob(os.path.join(ROOT, "extensions", "**", "*.yml"), recursive=True)
    found = []
    for path in sorted(set(paths)):
        with open(path, encoding="utf-8") as handle:
            found += [(os.path.relpath(path, ROOT), value) for value in VERSION_ADDED.findall(handle.read())]
    return found


def test_the_release_check_asks_for_the_step_semver_asks_for():
    breaking = {"a.yml": {"breaking_changes", "bugfixes"}, "summary.yml": {"release_summary"}}
    feature = {"a.yml": {"minor_changes"}, "summary.yml": {"release_summary"}}
    fixes = {"a.yml": {"bugfixes"}, "summary.yml": {"release_summary"}}
    assert release_problems("2.0.0", ["1.0.0"], breaking) == []
    assert release_problems("1.1.0", ["1.0.0"], feature) == []
    assert release_problems("1.0.1", ["1.0.0"], fixes) == []
    assert release_problems("1.0.0", ["1.0.0"], {}) == []
    # A version left behind, or bumped alone, is caught.
    assert "the next release is 2.0.0" in release_problems("1.1.0", ["1.0.0"], breaking)[0]
    assert "the next release is 2.0.0" in release_problems("1.0.0", ["1.0.0"], breaking)[0]
    assert "the next release is 1.1.0" in release_problems("1.0.1", ["1.0.0"], feature)[0]
    assert "the next release is 2.0.0" in release_problems("3.0.0", ["1.0.0", "0.9.0"], breaking)[0]
    assert release_problems("2.0.0", ["1.0.0", "2.0.0"], {}) == []
    assert "no fragment is waiting" in release_problems("2.0.0", ["1.0.0"], {})[0]
    assert release_problems("2.0.0", ["1.0.0"], {"a.yml": {"breaking_changes"}}) == [
        "no fragment gives the coming release a release_summary"]


def test_the_version_added_check_finds_a_version_above_the_collection():
    found = [("a.py", "1.0.0"), ("b.yml", "2.0.0"), ("c.yml", "2.1.0"), ("d.yml", "10.0.0")]
    assert version_added_problems("2.0.0", found) == [("c.yml", "2.1.0"), ("d.yml", "10.0.0")]
    assert version_added_problems("10.0.0", found) == []


def test_galaxy_yml_is_the_next_release_of_the_changelog():
    assert release_problems(galaxy_version(), released(), fragments()) == []


def test_no_version_added_is_above_the_collection_version():
    found = versions_added()
    assert len(found) > 10, "the version_added scan found almost nothing: %r" % found
    assert version_added_problems(galaxy_version(), found) == []


def test_changelog_md_is_what_antsibull_changelog_generates(tmp_path):
    # A copy of what `generate` reads: galaxy.yml and changelogs/ (config and changelog.yaml; no fragment is read).
    shutil.copy(os.path.join(ROOT, "galaxy.yml"), tmp_path / "galaxy.yml")
    (tmp_path / "changelogs" / "fragments").mkdir(parents=True)
    for name in ("config.yaml", "changelog.yaml"):
        shutil.copy(os.path.join(ROOT, "changelogs", name), tmp_path / "changelogs" / name)
    result = subprocess.run([os.path.join(BIN, "antsibull-changelog"), "generate"], cwd=str(tmp_path), capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    generated = (tmp_path / "CHANGELOG.md").read_text(encoding="utf-8")
    with open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8") as handle:
        assert handle.read() == generated, "CHANGELOG.md differs from what `antsibull-changelog generate` writes: run it"


def test_the_docs_name_the_version_galaxy_yml_builds():
    pages = ["README.md"] + sorted(os.path.relpath(path, ROOT) for path in glob.glob(os.path.join(ROOT, "docs", "**", "*"), recursive=True)
                                   if os.path.isfile(path))
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        assert STATUS.search(handle.read()), "README.md has no '> Status: X.Y.Z' line"
    wrong = {}
    for page in pages:
        with open(os.path.join(ROOT, page), encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        named = set(TARBALL.findall(text)) | (set(STATUS.findall(text)) if page == "README.md" else set())
        if named - {galaxy_version()}:
            wrong[page] = sorted(named)
    assert not wrong, "galaxy.yml builds %s, but these pages name other versions: %r" % (galaxy_version(), wrong)
