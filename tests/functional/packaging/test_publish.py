"""What Galaxy and the Ansible docsite check before they publish the collection (`make publish`).

One module-scoped fixture builds the tarball (`ansible-galaxy collection build`; build_ignore decides
what ships) and installs it into a collections directory of its own. On that:

- galaxy-importer, Galaxy's own import code at the version pinned in requirements-dev.txt, runs on the
  tarball with galaxy-importer.cfg (every check of an upload but ansible-test, which needs a
  container); the import must succeed and print no WARNING or ERROR line (its ansible-lint findings
  are printed as warnings);
- `antsibull-docs lint-collection-docs --plugin-docs` lints the installed copy: docs/docsite (links.yml,
  extra-docs.yml and the pages it lists), every plugin's and the role's documentation, and the
  references between them;
- every relative link in a Markdown or RST file of the tarball must point at a file of the tarball;
- `antsibull-changelog release`, run in a staged copy of the work tree with the plugins and roles
  scanned again, must list safe_shutdown under "New Roles" of the release its argument_specs name.

`make functional` leaves this module out: it is the `publish` suite of `make test`.
"""

import configparser
import hashlib
import importlib.util
import os
import posixpath
import re
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)
HERE = os.path.dirname(os.path.abspath(__file__))
IMPORTER_CONFIG = os.path.join(HERE, "galaxy-importer.cfg")
TIMEOUT = 600
# SHA-256 of the GNU GPL version 3 text as the FSF publishes it (35,149 bytes): LICENSE must be that text, byte for byte.
GPL3_SHA256 = "3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986"
# Galaxy's tag rule: lowercase letters, digits and underscores, at most 64 characters; at most 20 tags.
TAG = re.compile(r"^[a-z0-9_]{1,64}$")
PROJECT = "https://github.com/vergeos-power/vergeos.power"

pytestmark = pytest.mark.xdist_group("publish")


def clean_env(**extra):
    """The caller's environment without ANSIBLE_*, VERGEOS_* and GALAXY_IMPORTER_* settings, with this venv first on PATH."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("ANSIBLE_", "VERGEOS_", "GALAXY_IMPORTER_"))}
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    env.update(ANSIBLE_NOCOLOR="1", NO_COLOR="1")
    env.update(extra)
    return env


def run(*command, cwd, env=None):
    return subprocess.run(list(command), cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL, check=False)


def checked(result, what):
    assert result.returncode == 0, "%s failed (rc %s)\nstdout:\n%s\nstderr:\n%s" % (what, result.returncode, result.stdout, result.stderr)
    return result


def galaxy_metadata():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build the tarball and install it into a collections directory of its own."""
    base = tmp_path_factory.mktemp("publish")
    galaxy = galaxy_metadata()
    checked(run(os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(base), ROOT, cwd=str(base)),
            "ansible-galaxy collection build")
    tarball = base / ("%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"]))
    assert tarball.is_file(), sorted(path.name for path in base.iterdir())
    collections = base / "collections"
    checked(run(os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections), str(tarball),
                cwd=str(base)), "ansible-galaxy collection install")
    with tarfile.open(tarball) as tar:
        names = {member.name for member in tar.getmembers() if member.isfile()}
    return {"base": base, "galaxy": galaxy, "tarball": tarball, "names": names,
            "collections": collections, "installed": collections / "ansible_collections" / galaxy["namespace"] / galaxy["name"]}


# ------------------------------------------------------------------ metadata


def test_license_is_the_gpl3_text_in_the_repository_and_the_tarball(built):
    with open(os.path.join(ROOT, "LICENSE"), "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == GPL3_SHA256
    assert "LICENSE" in built["names"]
    with tarfile.open(built["tarball"]) as tar:
        assert hashlib.sha256(tar.extractfile("LICENSE").read()).hexdigest() == GPL3_SHA256
    assert built["galaxy"]["license"] == ["GPL-3.0-or-later"]
    for name in ("README.md", "CHANGELOG.md", "CONTRIBUTING.md", "CODE_OF_CONDUCT.md"):
        assert name in built["names"], name + " is not in the tarball"


def test_tarball_ships_the_event_source_and_the_rulebooks_not_the_molecule_scenario(built):
    for name in ("extensions/eda/plugins/event_source/vm_power_events.py", "extensions/eda/rulebooks/restart_stopped_vms.yml",
                 "extensions/eda/rulebooks/report_stuck_vms.yml", "playbooks/eda_restart_vm.yml", "playbooks/eda_report_stuck.yml"):
        assert name in built["names"], name + " is not in the tarball"
    assert not [name for name in built["names"] if name.startswith("extensions/molecule/")]


def test_galaxy_metadata_names_the_project_and_the_product():
    galaxy = galaxy_metadata()
    assert galaxy["repository"] == PROJECT
    assert galaxy["issues"] == PROJECT + "/issues"
    assert galaxy["documentation"].startswith(PROJECT + "/")
    assert galaxy["homepage"].startswith(PROJECT + "/")
    tags = galaxy["tags"]
    assert 0 < len(tags) <= 20, tags
    assert [tag for tag in tags if not TAG.match(str(tag))] == []
    assert len(set(tags)) == len(tags), tags
    assert {"vergeos", "virtualization", "power"} <= set(tags)


# ------------------------------------------------------------------ galaxy-importer


def importer_problems(output):
    """Return the lines of galaxy-importer's output that are not information (it prefixes the others with their level)."""
    return [line for line in output.splitlines() if re.match(r"^(WARNING|ERROR|CRITICAL)\b", line) or line.startswith("Traceback")]


def test_importer_problems_are_found():
    output = "Importing with galaxy-importer 0.4.44\nLoading module_utils errors\nWARNING: playbooks/x.yml:1:1: syntax-check\n" \
             "ERROR: The import failed\nImporter processing completed successfully\n"
    assert importer_problems(output) == ["WARNING: playbooks/x.yml:1:1: syntax-check", "ERROR: The import failed"]


def test_importer_config_turns_off_only_what_needs_a_container():
    parser = configparser.ConfigParser()
    assert parser.read(IMPORTER_CONFIG) == [IMPORTER_CONFIG]
    section = parser["galaxy-importer"]
    assert section.getboolean("run_ansible_test") is False
    for check in ("run_ansible_lint", "offline_ansible_lint", "run_ansible_doc", "check_changelog", "check_required_tags",
                  "require_v1_or_greater"):
        assert section.getboolean(check) is True, check


def test_galaxy_importer_accepts_the_tarball_without_a_warning(built):
    work = built["base"] / "importer"
    work.mkdir()
    env = clean_env(GALAXY_IMPORTER_CONFIG=IMPORTER_CONFIG, GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=str(work / "ansible-tmp"),
                    GALAXY_IMPORTER_TMP_ROOT_DIR=str(work))
    result = run(sys.executable, "-m", "galaxy_importer.main", str(built["tarball"]), cwd=str(work), env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Importer processing completed successfully" in output, output
    assert importer_problems(output) == [], output
    # It looked at everything: the role, the modules, the inventory plugin and ansible-lint ran.
    for line in ("Loading role safe_shutdown", "Loading module vergeos_vm_power", "Loading inventory vergeos", "...ansible-lint run complete"):
        assert line in output, line + " is not in the importer's output:\n" + output
    with open(work / "importer_result.json", encoding="utf-8") as handle:
        metadata = yaml.safe_load(handle)["metadata"]
    assert (metadata["repository"], metadata["license"]) == (PROJECT, ["GPL-3.0-or-later"])


# ------------------------------------------------------------------ antsibull-docs


def test_antsibull_docs_lints_the_installed_collection(built):
    result = run(os.path.join(BIN, "antsibull-docs"), "lint-collection-docs", "--plugin-docs", "--check-extra-docs-refs",
                 "--validate-collection-refs", "self", ".", cwd=str(built["installed"]),
                 env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(built["collections"]), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"))
    checked(result, "antsibull-docs lint-collection-docs")
    assert result.stdout.strip() == "", result.stdout
    # The docsite files ship, so the linter above saw them.
    for name in ("docs/docsite/links.yml", "docs/docsite/extra-docs.yml"):
        assert name in built["names"], name + " is not in the tarball"


# ------------------------------------------------------------------ links


FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
MARKDOWN_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$|<a\s[^>]*href=\"([^\"]+)\"", re.M)
RST_LINK = re.compile(r"`[^`<]*<([^>`]+)>`__?")
RST_CODE = re.compile(r"^(\s*)\.\. code-block::.*?(?=^\S)|::\n\n(?:[ \t]+.*\n|\n)+", re.S | re.M)


def relative_links(name, text):
    """Return the link targets of a Markdown or RST file that are paths (no scheme, no bare anchor), code blocks left out."""
    if name.endswith(".rst"):
        text = RST_CODE.sub("", text)
        found = RST_LINK.findall(text)
    else:
        text = FENCE.sub("", text)
        found = [next(group for group in groups if group) for groups in MARKDOWN_LINK.findall(text)]
    return [target for target in found if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("#")]


def broken_links(files):
    """Return 'file: target' for every relative link in files ({path: text}) whose target is not among the paths (or their folders)."""
    paths = set(files)
    folders = {posixpath.dirname(path) for path in paths}
    while "" not in folders and folders:
        folders |= {posixpath.dirname(folder) for folder in folders}
    broken = []
    for name, text in sorted(files.items()):
        if not name.endswith((".md", ".rst")):
            continue
        for target in relative_links(name, text):
            path = target.split("#", 1)[0].split("?", 1)[0]
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), path)) if not path.startswith("/") else path
            if resolved.startswith("../") or resolved.startswith("/") or (resolved not in paths and resolved not in folders):
                broken.append("%s: %s" % (name, target))
    return broken


def test_link_check_finds_what_is_broken_and_passes_what_is_not():
    files = {
        "README.md": "[ok](docs/a.md) [anchor](docs/a.md#top) [gone](tests/simulator/README.md) [web](https://example.org/x)\n"
                     "[self](#here) <a href=\"docs/missing.md\">x</a>\n[ref]: docs/also-missing.md\n"
                     "```yaml\n# [not a link](nowhere.md)\n```\n",
        "docs/a.md": "[up](../README.md) [out](../../outside.md) [folder](ee/) [mail](mailto:someone@example.org)\n",
        "docs/ee/x.yml": "",
        "docs/docsite/rst/guide.rst": "See `the table <../../a.md>`_ and `lost <missing.rst>`__.\n\n"
                                      ".. code-block:: yaml\n\n   x: `y <nowhere>`_\n\nEnd.\n",
    }
    assert broken_links(files) == [
        "README.md: tests/simulator/README.md",
        "README.md: docs/missing.md",
        "README.md: docs/also-missing.md",
        "docs/a.md: ../../outside.md",
        "docs/docsite/rst/guide.rst: missing.rst",
    ]


def test_no_relative_link_in_the_tarball_points_outside_it(built):
    files = {}
    with tarfile.open(built["tarball"]) as tar:
        for member in tar.getmembers():
            if member.isfile():
                data = tar.extractfile(member).read()
                files[member.name] = data.decode("utf-8", "replace") if member.name.endswith((".md", ".rst")) else ""
            elif member.issym():
                # A link inside the tarball (docs/awx/credential_type.yml) is a target too.
                files[member.name] = ""
    assert [name for name in files if name.endswith((".md", ".rst"))], "no Markdown or RST file in the tarball"
    assert broken_links(files) == []


# ------------------------------------------------------------------ the AWX playbook from the installed collection


AWX_STAND_IN = """
import json
import os

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        super().run(tmp, task_vars)
        with open(os.path.join(os.environ["AWX_STAND_IN_LOG"], NAME + ".json"), "w", encoding="utf-8") as handle:
            json.dump(self._task.args, handle)
        return {"changed": True}
"""


def test_awx_playbook_runs_from_the_installed_collection_with_its_own_files(built):
    """The playbook reads the credential type from its own files/ folder; docs/awx links to that one copy."""
    base = built["base"] / "awx"
    actions = base / "collections" / "ansible_collections" / "awx" / "awx" / "plugins" / "action"
    actions.mkdir(parents=True)
    (actions.parents[1] / "galaxy.yml").write_text("namespace: awx\nname: awx\nversion: 0.0.1\n")
    for name in ("credential_type", "credential", "inventory_source"):
        (actions / (name + ".py")).write_text("NAME = %r\n%s" % (name, AWX_STAND_IN))
    result = run(os.path.join(BIN, "ansible-playbook"), "vergeos.power.awx_register_credential_type", cwd=str(base),
                 env=clean_env(ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([str(base / "collections"), str(built["collections"])]),
                               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_LOCALHOST_WARNING="false",
                               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", AWX_STAND_IN_LOG=str(base)))
    checked(result, "ansible-playbook vergeos.power.awx_register_credential_type")
    shipped = built["installed"] / "playbooks" / "files" / "vergeos_credential_type.yml"
    with open(shipped, encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)
    assert sorted(path.name for path in base.glob("*.json")) == ["credential_type.json"]
    made = yaml.safe_load((base / "credential_type.json").read_text())
    assert (made["inputs"], made["injectors"]) == (definition["inputs"], definition["injectors"])
    with tarfile.open(built["tarball"]) as tar:
        pointer = tar.getmember("docs/awx/credential_type.yml")
    assert pointer.issym(), "docs/awx/credential_type.yml is a copy, not a link to playbooks/files/vergeos_credential_type.yml"
    assert posixpath.normpath(posixpath.join("docs/awx", pointer.linkname)) == "playbooks/files/vergeos_credential_type.yml"


# ------------------------------------------------------------------ changelog


def load_stage():
    spec = importlib.util.spec_from_file_location("stage", os.path.join(ROOT, "tools", "stage.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def next_version(changelog, version):
    """The version a release dry run can use: galaxy.yml's if it is not released yet, else the next minor one."""
    if version not in (changelog.get("releases") or {}):
        return version
    major, minor = version.split(".")[:2]
    return "%s.%d.0" % (major, int(minor) + 1)


def markdown_section(text, heading, level):
    """Return the lines below a Markdown heading up to the next heading of the same or a higher level."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if re.match(r"^#{1,%d} " % level, lines[i])), len(lines))
    return lines[start:end]


def test_changelog_release_lists_the_role_under_new_roles(tmp_path):
    with open(os.path.join(ROOT, "roles", "safe_shutdown", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        added = yaml.safe_load(handle)["argument_specs"]["main"]["version_added"]
    stage = load_stage().stage(ROOT, str(tmp_path))
    with open(os.path.join(stage, "changelogs", "changelog.yaml"), encoding="utf-8") as handle:
        changelog = yaml.safe_load(handle)
    version = next_version(changelog, galaxy_metadata()["version"])
    # The plugins and roles scanned again (ansible-doc), entries of objects it no longer finds removed.
    result = run(os.path.join(BIN, "antsibull-changelog"), "release", "--version", version, "--date", "2030-01-01", "--reload-plugins",
                 "--refresh-plugins", "allow-removal", cwd=stage,
                 env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(tmp_path), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"))
    checked(result, "antsibull-changelog release")
    with open(os.path.join(stage, "changelogs", "changelog.yaml"), encoding="utf-8") as handle:
        released = yaml.safe_load(handle)["releases"]
    roles = {str(release): [entry["name"] for entry in (data.get("objects") or {}).get("role", [])] for release, data in released.items()}
    assert [release for release, names in roles.items() if "safe_shutdown" in names] == [str(added)], roles
    with open(os.path.join(stage, "CHANGELOG.md"), encoding="utf-8") as handle:
        text = handle.read()
    release = markdown_section(text, "## v" + str(added).replace(".", "\\."), 2)
    new_roles = markdown_section("\n".join(release), "### New Roles", 3)
    assert [line for line in new_roles if line.startswith("* ")] == [
        "* vergeos\\.power\\.safe\\_shutdown \\- Shut VergeOS VMs down gracefully\\; kill only those that ignore ACPI past their deadline\\."
    ], release
