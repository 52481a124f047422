"""Every piece of the collection is named where a reader looks first, and every topic page reaches the docsite.

- The README's status, galaxy.yml's description and the README's documentation table name every module,
  role, inventory plugin, test plugin and event source the tree has (the filters are the roles' own,
  documented as internal, and are left out).
- Every Markdown topic page under docs/ is linked from the docsite (docs/docsite/rst/*.rst or
  docs/docsite/links.yml), so the Ansible docsite shows it.

Pure file reads: well under a second.
"""

import glob
import os
import re

import yaml

from run_ansible import ROOT

DOCSITE_LINK = re.compile(r"/blob/main/(docs/[^>`\s]+\.md)")


def pieces():
    """Return {kind: sorted names} of what the collection ships for users."""
    def stems(pattern):
        return sorted(os.path.splitext(os.path.basename(path))[0] for path in glob.glob(os.path.join(ROOT, pattern))
                      if not os.path.basename(path).startswith("__"))
    return {
        "module": stems("plugins/modules/*.py"),
        "role": sorted(os.path.basename(path) for path in glob.glob(os.path.join(ROOT, "roles", "*")) if os.path.isdir(path)),
        "inventory plugin": stems("plugins/inventory/*.py"),
        "test plugin": stems("plugins/test/*.yml"),
        "event source": stems("extensions/eda/plugins/event_source/*.py"),
    }


def unnamed(text, found):
    """Return the 'kind name' entries of `found` that `text` does not name as a word."""
    return ["%s %s" % (kind, name) for kind, names in found.items() for name in names
            if not re.search(r"(?<![\w.])(vergeos\.power\.)?%s(?!\w)" % re.escape(name), text)]


def readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        return handle.read()


def section(text, heading):
    """Return the Markdown section under `heading` (a '## ' line), up to the next '## ' heading."""
    start = text.index(heading + "\n")
    following = text.find("\n## ", start + len(heading))
    return text[start:] if following < 0 else text[start:following]


def test_the_name_check_finds_a_missing_piece():
    found = {"module": ["vergeos_vm_info", "vergeos_vm_info_extra"], "role": ["safe_startup"]}
    assert unnamed("uses vergeos_vm_info_extra and vergeos.power.safe_startup", found) == ["module vergeos_vm_info"]
    assert unnamed("vergeos_vm_info, vergeos_vm_info_extra, safe_startup", found) == []


def test_the_tree_has_the_pieces_the_checks_look_for():
    found = pieces()
    assert all(found.values()), found
    assert {"safe_shutdown", "safe_startup"} <= set(found["role"])


def test_readme_status_names_every_piece():
    match = re.search(r"^> Status:.*?(?=\n[^>])", readme(), re.S | re.M)
    assert match, "README.md has no '> Status:' block"
    assert unnamed(match.group(0), pieces()) == []


def test_galaxy_description_names_every_piece():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        description = yaml.safe_load(handle)["description"]
    assert unnamed(description, pieces()) == []


def test_readme_documentation_table_names_every_piece():
    assert unnamed(section(readme(), "## Documentation"), pieces()) == []


def test_every_topic_page_is_linked_from_the_docsite():
    pages = sorted(os.path.relpath(path, ROOT) for path in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    assert len(pages) > 5, pages
    linked = set()
    for path in glob.glob(os.path.join(ROOT, "docs", "docsite", "**", "*.rst"), recursive=True) + [
            os.path.join(ROOT, "docs", "docsite", "links.yml")]:
        with open(path, encoding="utf-8") as handle:
            linked |= set(DOCSITE_LINK.findall(handle.read()))
    assert linked <= set(pages), "the docsite links pages that do not exist: %s" % sorted(linked - set(pages))
    assert [page for page in pages if page not in linked] == []
