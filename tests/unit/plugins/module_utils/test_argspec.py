# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The shared argument specs: environment fallbacks, no_log, and agreement with the doc fragments."""

from __future__ import annotations

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.vergeos.power.plugins.doc_fragments.connection import ModuleDocFragment as ConnectionDoc
from ansible_collections.vergeos.power.plugins.doc_fragments.selection import ModuleDocFragment as SelectionDoc
from ansible_collections.vergeos.power.plugins.module_utils.argspec import (
    CONNECTION_ENV, SELECTION_MUTUALLY_EXCLUSIVE, client_from_params, connection_argument_spec, selection_argument_spec,
    selection_from_params,
)
from ansible_collections.vergeos.power.plugins.module_utils.client import VergeOSClient
from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError

ENV_NAMES = ['VERGEOS_HOST', 'VERGEOS_USERNAME', 'VERGEOS_PASSWORD', 'VERGEOS_API_KEY', 'VERGEOS_VALIDATE_CERTS',
             'VERGEOS_CA_PATH', 'VERGEOS_API_TIMEOUT']


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_environment_names_are_the_design_ones():
    assert sorted(CONNECTION_ENV.values()) == sorted(ENV_NAMES)
    spec = connection_argument_spec()
    assert sorted(spec) == sorted(CONNECTION_ENV)
    for option, settings in spec.items():
        assert settings['fallback'][1] == [CONNECTION_ENV[option]]


def test_secrets_are_no_log_and_nothing_else_is():
    spec = connection_argument_spec()
    assert sorted(name for name, settings in spec.items() if settings.get('no_log')) == ['api_key', 'password']


def test_environment_fills_every_connection_option(clean_env):
    for name, value in [('VERGEOS_HOST', 'vergeos.example.com:8443'), ('VERGEOS_USERNAME', 'admin'), ('VERGEOS_PASSWORD', 's3cret'),
                        ('VERGEOS_VALIDATE_CERTS', 'false'), ('VERGEOS_CA_PATH', '/etc/ca.pem'), ('VERGEOS_API_TIMEOUT', '12')]:
        clean_env.setenv(name, value)
    result = ArgumentSpecValidator(connection_argument_spec()).validate({})
    assert not result.error_messages
    params = result.validated_parameters
    assert params['host'] == 'vergeos.example.com:8443' and params['username'] == 'admin'
    assert params['validate_certs'] is False and params['api_timeout'] == 12 and params['ca_path'] == '/etc/ca.pem'
    assert 's3cret' in result._no_log_values  # pylint: disable=protected-access


def test_task_options_win_over_the_environment_and_defaults_apply(clean_env):
    clean_env.setenv('VERGEOS_HOST', 'from-env')
    result = ArgumentSpecValidator(connection_argument_spec()).validate({'host': 'from-task', 'api_key': 'k'})
    params = result.validated_parameters
    assert params['host'] == 'from-task'
    assert params['validate_certs'] is True and params['api_timeout'] == 30


def test_no_host_from_task_nor_environment_is_named_with_vergeos_host(clean_env):
    result = ArgumentSpecValidator(connection_argument_spec()).validate({'api_key': 'k'})
    assert not result.error_messages and result.validated_parameters['host'] is None
    with pytest.raises(VergeOSError, match=r'set host \(or the environment variable VERGEOS_HOST\)'):
        client_from_params(result.validated_parameters)


def test_client_from_params(clean_env):
    spec_params = ArgumentSpecValidator(connection_argument_spec()).validate({'host': 'h:9443', 'api_key': 'k'}).validated_parameters
    client = client_from_params(spec_params, session=_NullSession())
    assert isinstance(client, VergeOSClient)
    assert client.url == 'https://h:9443' and client.verify is True and client.timeout == 30.0 and client.auth_method == 'api_key'
    with pytest.raises(VergeOSError, match='no credentials'):
        client_from_params({'host': 'h'}, session=_NullSession())


class _NullSession:
    headers: dict

    def __init__(self):
        self.headers = {}


def _options(fragment_text):
    return yaml.safe_load(fragment_text)['options']


@pytest.mark.parametrize('variant', ['DOCUMENTATION', 'PLUGIN'])
def test_connection_doc_fragment_agrees_with_the_spec(variant):
    documented = _options(getattr(ConnectionDoc, variant))
    spec = connection_argument_spec()
    assert sorted(documented) == sorted(spec)
    for name, settings in spec.items():
        doc = documented[name]
        assert doc['type'] == settings['type'], name
        assert doc.get('default') == settings.get('default'), name
        if variant == 'PLUGIN' and name == 'host':
            # The inventory plugin may be given its systems as sites instead; it checks for a host itself.
            assert not doc.get('required')
        else:
            assert bool(doc.get('required')) == bool(settings.get('required')), name
        if variant == 'PLUGIN':
            assert doc['env'] == [{'name': CONNECTION_ENV[name]}]
        else:
            assert CONNECTION_ENV[name] in ' '.join(doc['description'])


def test_selection_doc_fragment_agrees_with_the_spec():
    documented = _options(SelectionDoc.DOCUMENTATION)
    spec = selection_argument_spec()
    assert sorted(documented) == sorted(spec)
    for name, settings in spec.items():
        assert documented[name]['type'] == settings['type'], name
        assert documented[name].get('elements') == settings.get('elements'), name
        assert documented[name].get('default') == settings.get('default'), name
    filters_doc = documented['filters']['suboptions']
    for name, settings in spec['filters']['options'].items():
        assert filters_doc[name]['type'] == settings['type']
        assert filters_doc[name].get('choices') == settings.get('choices')


def test_selection_spec_refuses_filters_with_names(clean_env):
    validator = ArgumentSpecValidator(selection_argument_spec(), mutually_exclusive=SELECTION_MUTUALLY_EXCLUSIVE)
    assert validator.validate({'names': ['a'], 'filters': {'node': ['n1']}}).error_messages
    assert validator.validate({'name': 'a', 'id': 3}).error_messages
    assert not validator.validate({'names': ['a'], 'ids': [3]}).error_messages


def test_selection_from_params_drops_unset_filter_keys():
    params = ArgumentSpecValidator(selection_argument_spec()).validate({'filters': {'tags': ['web']}}).validated_parameters
    assert selection_from_params(params) == {'vm_id': None, 'name': None, 'ids': None, 'names': None,
                                             'filters': {'tags': ['web']}, 'allow_empty': False}
    params = ArgumentSpecValidator(selection_argument_spec()).validate({'name': 'web01'}).validated_parameters
    assert selection_from_params(params)['filters'] is None


def _validated(clean_env, environ, args=None):
    clean_env.delenv('VERGEOS_INSECURE', raising=False)
    for name, value in environ.items():
        clean_env.setenv(name, value)
    return ArgumentSpecValidator(connection_argument_spec()).validate(dict({'host': 'h', 'api_key': 'k'}, **(args or {})))


def test_empty_variables_count_as_unset(clean_env):
    """An AWX credential injects every variable of its type, filled or not."""
    result = _validated(clean_env, dict({name: '' for name in ENV_NAMES}, VERGEOS_HOST='h', VERGEOS_API_KEY='k'))
    assert not result.error_messages
    params = result.validated_parameters
    assert params['validate_certs'] is True and params['ca_path'] is None and params['api_timeout'] == 30
    assert params['username'] is None and params['password'] is None
    for blank in ('', '  '):
        clean_env.setenv('VERGEOS_HOST', blank)
        assert ArgumentSpecValidator(connection_argument_spec()).validate({'api_key': 'k'}).validated_parameters['host'] is None


@pytest.mark.parametrize('environ, args, expected', [
    ({'VERGEOS_INSECURE': 'true'}, None, False),
    ({'VERGEOS_INSECURE': 'yes'}, None, False),
    ({'VERGEOS_INSECURE': 'false'}, None, True),
    ({'VERGEOS_INSECURE': ''}, None, True),
    ({'VERGEOS_INSECURE': 'true', 'VERGEOS_VALIDATE_CERTS': 'true'}, None, True),
    ({'VERGEOS_INSECURE': 'false', 'VERGEOS_VALIDATE_CERTS': 'false'}, None, False),
    ({'VERGEOS_INSECURE': 'true', 'VERGEOS_VALIDATE_CERTS': ''}, None, False),
    ({'VERGEOS_INSECURE': 'true'}, {'validate_certs': True}, True),
])
def test_vergeos_insecure_is_the_inverse_of_validate_certs(clean_env, environ, args, expected):
    result = _validated(clean_env, environ, args)
    assert not result.error_messages
    assert result.validated_parameters['validate_certs'] is expected


def test_vergeos_insecure_that_is_no_boolean_fails_and_names_the_variable(clean_env):
    result = _validated(clean_env, {'VERGEOS_INSECURE': 'perhaps'})
    assert any('validate_certs' in message and 'VERGEOS_INSECURE=perhaps' in message for message in result.error_messages)
