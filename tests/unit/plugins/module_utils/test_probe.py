# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The probe's judgements of what it read (the reads themselves run against the simulator in tests/functional/probe)."""

from __future__ import annotations

import pytest

from ansible_collections.vergeos.power.plugins.module_utils.errors import VergeOSError
from ansible_collections.vergeos.power.plugins.module_utils.probe import (
    check_maintenance_category, check_preflight_reads, check_status_key, run_check,
)


class Answers:
    """A client whose GETs answer from a table of path -> rows (or a VergeOSError to raise)."""

    def __init__(self, **answers):
        self.answers = answers

    def get(self, path, params=None, attempted=None):
        answer = self.answers[path]
        if isinstance(answer, VergeOSError):
            raise answer
        return answer


@pytest.mark.parametrize('rows, value', [
    ([{'$key': 101, 'machine': 101}, {'$key': '102', 'machine': 102}], 'equal'),
    ([{'$key': 5001, 'machine': 101}], 'differs'),
    ([{'$key': 101, 'machine': 101}, {'$key': 5002, 'machine': 102}], 'mixed'),
    ([], 'unknown'),
    ([{'$key': None, 'machine': 101}], 'unknown'),
])
def test_status_keys_against_machine_keys(rows, value):
    assert check_status_key(Answers(machine_status=rows))[0] == value


@pytest.mark.parametrize('rows, value', [
    ([{'$key': 1, 'name': 'vergeos_power_maintenance', 'taggable_vms': True}], 'taggable'),
    ([{'$key': 1, 'name': 'vergeos_power_maintenance', 'taggable_vms': False}], 'not_taggable'),
    ([{'$key': 1, 'name': 'vergeos_power_maintenance'}], 'unknown'),
    ([], 'unknown'),
    ([{'$key': 2, 'name': 'another'}], 'unknown'),  # a proxy that dropped the filter
])
def test_the_maintenance_category(rows, value):
    assert check_maintenance_category(Answers(tag_categories=rows))[0] == value


def test_preflight_reads_refused_or_without_ram_are_never_works():
    refused = Answers(nodes=VergeOSError('Permission denied', 403, 'reading the nodes for the pre-flight check'), machine_status=[])
    assert run_check(refused, check_preflight_reads, True)['value'] == 'refused'
    assert check_preflight_reads(Answers(nodes=[], machine_status=[]))[0] == 'unknown'
    assert check_preflight_reads(Answers(nodes=[{'$key': 1, 'name': 'n1'}], machine_status=[]))[0] == 'unknown'
    assert check_preflight_reads(Answers(nodes=[{'$key': 1, 'name': 'n1', 'ram': 65536}], machine_status=[]))[0] == 'works'
