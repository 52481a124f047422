# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Jinja test vergeos.power.same_system is the client's rule (the role's own regex disagreed on an explicit :443)."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.test.same_system import TestModule as SameSystemTests

same_system = SameSystemTests().tests()['same_system']


@pytest.mark.parametrize('value, other, expected', [
    ('https://vergeos.example.com', 'vergeos.example.com:443', True),
    ('https://VERGEOS.example.com/', 'vergeos.example.com', True),
    ('https://vergeos.example.com:8443', 'vergeos.example.com', False),
    ('http://vergeos.example.com', 'vergeos.example.com', False),
    (42, 'vergeos.example.com', False),
    (None, None, False),
])
def test_same_system(value, other, expected):
    assert same_system(value, other) is expected
