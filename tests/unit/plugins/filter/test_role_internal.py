# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The roles' one filter, vergeos.power.role_internal: its documentation says it is internal and lists exactly its steps."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.vergeos.power.plugins.filter.role_internal import STEPS, FilterModule

DOC = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'filter', 'role_internal.yml')


def documentation():
    with open(DOC, encoding='utf-8') as handle:
        return yaml.safe_load(handle)['DOCUMENTATION']


def test_the_documented_steps_are_the_steps():
    assert sorted(documentation()['options']['step']['choices']) == sorted(STEPS)


def test_ansible_doc_and_galaxy_show_it_as_internal():
    doc = documentation()
    assert 'not a user API' in doc['short_description']
    assert any('Not part of the collection' in line and 'public API' in line for line in doc['description'])


def test_the_filter_is_the_only_one_the_plugin_offers_and_it_dispatches_by_step():
    filters = FilterModule().filters()
    assert list(filters) == ['role_internal']
    assert filters['role_internal']({'safe_startup_tiers': [{'targets': 'db01'}]}, 'role_inputs', 'safe_startup')['tiers'][0]['targets'] == ['db01']
    with pytest.raises(AnsibleFilterError, match="no step 'plan'"):
        filters['role_internal']([], 'plan')
