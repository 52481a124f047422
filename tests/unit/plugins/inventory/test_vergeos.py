# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The vergeos.power.vergeos inventory plugin as the loader gives it: file names and options from the environment.

Its pure machinery is tested in tests/unit/plugins/plugin_utils/test_inventory.py.
"""

from __future__ import annotations

import pytest

from ansible.plugins.loader import inventory_loader

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError


@pytest.fixture(scope='module')
def plugin():
    found = inventory_loader.get('vergeos.power.vergeos')
    assert found is not None, 'inventory_loader cannot find vergeos.power.vergeos'
    return found


# ---------------------------------------------------------------- loading and file names


def test_loader_finds_the_plugin(plugin):
    assert plugin.NAME == 'vergeos.power.vergeos'


@pytest.mark.parametrize('name, accepted', [
    ('prod.vergeos.yml', True), ('prod.vergeos.yaml', True), ('prod.yml', False), ('vergeos.yml.bak', False),
])
def test_verify_file_wants_the_vergeos_suffix(plugin, tmp_path, name, accepted):
    path = tmp_path / name
    path.write_text('plugin: vergeos.power.vergeos\n')
    assert plugin.verify_file(str(path)) is accepted


def test_verify_file_refuses_a_missing_file(plugin, tmp_path):
    assert not plugin.verify_file(str(tmp_path / 'missing.vergeos.yml'))


# ---------------------------------------------------------------- validate_certs from the environment (VERGEOS_INSECURE)


def _validate_certs(monkeypatch, environ, direct=None):
    """Return the top-level validate_certs the plugin reads with only these VERGEOS_* variables set."""
    for name in ('VERGEOS_VALIDATE_CERTS', 'VERGEOS_INSECURE'):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    fresh = inventory_loader.get('vergeos.power.vergeos')
    fresh.set_options(direct=dict({'plugin': 'vergeos.power.vergeos'}, **(direct or {})))
    return fresh._connection_option('validate_certs')  # pylint: disable=protected-access


@pytest.mark.parametrize('environ, direct, expected', [
    ({}, None, True),
    ({'VERGEOS_INSECURE': 'true'}, None, False),
    ({'VERGEOS_INSECURE': 'false'}, None, True),
    ({'VERGEOS_INSECURE': ''}, None, True),
    ({'VERGEOS_INSECURE': 'true', 'VERGEOS_VALIDATE_CERTS': 'true'}, None, True),
    ({'VERGEOS_INSECURE': 'false', 'VERGEOS_VALIDATE_CERTS': 'false'}, None, False),
    ({'VERGEOS_INSECURE': 'true', 'VERGEOS_VALIDATE_CERTS': ''}, None, False),
    ({'VERGEOS_INSECURE': 'true'}, {'validate_certs': True}, True),
])
def test_vergeos_insecure_is_the_inverse_when_validate_certs_is_unset(monkeypatch, environ, direct, expected):
    assert bool(_validate_certs(monkeypatch, environ, direct)) is expected


def test_vergeos_insecure_that_is_no_boolean_fails_clearly(monkeypatch):
    with pytest.raises(VergeOSError, match='VERGEOS_INSECURE must be true or false'):
        _validate_certs(monkeypatch, {'VERGEOS_INSECURE': 'perhaps'})
