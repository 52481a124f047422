# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The login guard: what one process learns about credentials, the next one of the run knows, and no secret is written."""

from __future__ import annotations

import os
import stat

from ansible_collections.vergeos.power.plugins.module_utils.logins import GOOD, REFUSED, LoginGuard

URL = 'https://vergeos.example.com'


def guard(tmp_path, authorization='Basic dHlwbw==', user='admin', run_id='run-1'):
    return LoginGuard(URL, user, authorization, base_dir=str(tmp_path / 'guard'), run_id=run_id)


def test_a_refusal_is_known_to_the_next_client_of_the_run_and_only_for_those_credentials(tmp_path):
    first = guard(tmp_path)
    assert first.acquire() == (None, '')
    first.answered(401, 'Invalid username or password')
    first.release()
    second = guard(tmp_path)
    assert second.acquire() == (REFUSED, 'Invalid username or password')
    second.release()
    other_password = guard(tmp_path, authorization='Basic b3RoZXI=')
    assert other_password.acquire() == (None, '')
    other_password.answered(200, '')
    other_password.release()
    assert guard(tmp_path, authorization='Basic b3RoZXI=').acquire()[0] == GOOD


def test_another_run_or_user_starts_afresh(tmp_path):
    first = guard(tmp_path)
    first.acquire()
    first.answered(401, 'no')
    first.release()
    assert guard(tmp_path, run_id='run-2').acquire() == (None, '')
    assert guard(tmp_path, user='viewer').acquire() == (None, '')


def test_no_answer_teaches_nothing(tmp_path):
    first = guard(tmp_path)
    first.acquire()
    first.answered(None, 'timed out')
    first.release()
    assert guard(tmp_path).acquire() == (None, '')


def test_the_files_are_private_and_hold_no_secret(tmp_path):
    first = guard(tmp_path, authorization='Basic c2VjcmV0LXBhc3N3b3Jk')
    first.acquire()
    first.answered(401, 'refused')
    first.release()
    directory = os.path.dirname(first.record_path)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for name in os.listdir(directory):
        content = open(os.path.join(directory, name), 'rb').read()
        assert b'c2VjcmV0LXBhc3N3b3Jk' not in content and b'admin' not in content and b'vergeos.example.com' not in content
