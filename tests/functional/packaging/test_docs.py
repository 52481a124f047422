"""The documentation says what the code does: YAML examples mean what they seem to, and ansible-doc shows no false requirement.

- Every fenced YAML block of the Markdown pages (README.md, docs/, the role's README) parses, and no plain
  scalar in it is one of YAML 1.1's word booleans (on, off, yes, no): `prefix: on` is read as `prefix: true`,
  and a group prefix `on` becomes `True`. Write true/false for a boolean and quote the word for a string.
- `host` is not marked required in ansible-doc for any module or the inventory plugin that takes the
  connection options: VERGEOS_HOST supplies it (and the inventory plugin may be given `sites`).
"""

import glob
import json
import os
import re

import pytest
import yaml

from run_ansible import ROOT, run

BOOL_TAG = "tag:yaml.org,2002:bool"
FENCED_YAML = re.compile(r"^```ya?ml[^\n]*\n(.*?)^```", re.S | re.M)


def markdown_pages():
    pages = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "CONTRIBUTING.md")]
    pages += sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    pages += sorted(glob.glob(os.path.join(ROOT, "roles", "*", "README.md")))
    return [page for page in pages if os.path.isfile(page)]


def yaml_blocks(text):
    """Return (line number, text) of each fenced YAML block of a Markdown text."""
    return [(text.count("\n", 0, match.start(1)) + 1, match.group(1)) for match in FENCED_YAML.finditer(text)]


def word_booleans(block):
    """Return (line, value) of every plain scalar YAML reads as a boolean without writing true or false."""
    found = []
    pending = [node for node in yaml.compose_all(block, Loader=yaml.SafeLoader) if node is not None]
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.ScalarNode):
            if node.tag == BOOL_TAG and node.style is None and node.value.lower() not in ("true", "false"):
                found.append((node.start_mark.line, node.value))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                pending.extend((key, value))
    return sorted(found)


def test_the_check_finds_word_booleans_and_passes_true_false_and_quoted_words():
    block = "keyed_groups:\n  - key: vergeos_node\n    prefix: on\n  - prefix: 'off'\nstrict: yes\ncache: true\nwant: False\nlist: [no, \"yes\"]\n"
    assert word_booleans(block) == [(2, "on"), (4, "yes"), (7, "no")]
    text = "# Page\n\n```yaml\na: on\n```\n\ntext\n\n```yml\nb: 1\n```\n\n```sh\nc: off\n```\n"
    assert yaml_blocks(text) == [(4, "a: on\n"), (10, "b: 1\n")]


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda page: os.path.relpath(page, ROOT))
def test_yaml_blocks_of_the_docs_have_no_word_booleans(page):
    with open(page, encoding="utf-8") as handle:
        text = handle.read()
    problems = []
    for first_line, block in yaml_blocks(text):
        try:
            problems += ["line %d: %s" % (first_line + line, value) for line, value in word_booleans(block)]
        except yaml.YAMLError as exc:
            problems.append("line %d: the block does not parse: %s" % (first_line, exc))
    assert problems == [], "%s: a bare on/off/yes/no is a boolean in YAML; write true/false, or quote the word" % os.path.relpath(page, ROOT)


def connection_plugins():
    """Return (type, name) of every plugin whose documentation takes the connection doc fragment."""
    found = []
    for kind, folder in (("module", "modules"), ("inventory", "inventory")):
        for path in sorted(glob.glob(os.path.join(ROOT, "plugins", folder, "*.py"))):
            with open(path, encoding="utf-8") as handle:
                if "vergeos.power.connection" in handle.read():
                    found.append((kind, "vergeos.power." + os.path.basename(path)[:-3]))
    return found


def test_host_is_not_shown_as_required():
    plugins = connection_plugins()
    assert ("module", "vergeos.power.vergeos_vm_power") in plugins and ("inventory", "vergeos.power.vergeos") in plugins
    # One ansible-doc per plugin type: it renders every name it is given.
    for kind in sorted({kind for kind, _name in plugins}):
        names = [name for plugin_kind, name in plugins if plugin_kind == kind]
        result = run("ansible-doc", "--json", "-t", kind, *names)
        assert result.returncode == 0, result.stderr
        docs = json.loads(result.stdout)
        assert sorted(docs) == sorted(names), (kind, sorted(docs))
        for name in names:
            host = docs[name]["doc"]["options"]["host"]
            assert not host.get("required"), (name, host)
            assert "VERGEOS_HOST" in json.dumps(host), (name, host)
