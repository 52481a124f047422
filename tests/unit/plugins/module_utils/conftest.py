# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fakes for the pure-logic tests of module_utils: an HTTP session and a client that answer from scripts."""

from __future__ import annotations

import json

import pytest


class FakeResponse:
    """Just what VergeOSClient reads of a requests.Response."""

    def __init__(self, status_code=200, body=None, raw=None, headers=None, reason='OK'):
        self.status_code = status_code
        if raw is not None:
            self.content = raw if isinstance(raw, bytes) else raw.encode('utf-8')
        else:
            self.content = b'' if body is None else json.dumps(body).encode('utf-8')
        self.headers = headers or {}
        self.reason = reason


class FakeSession:
    """A requests.Session stand-in: answers (or raises) from a list, records every call."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []
        self.headers = {}
        self.closed = False

    def request(self, method, url, **kwargs):
        self.calls.append(dict(kwargs, method=method, url=url, headers=dict(self.headers)))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def close(self):
        self.closed = True


class FakeClient:
    """A VergeOSClient stand-in for the readers: ``get`` answers from a function of (table, params)."""

    url = 'https://vergeos.example.com'

    def __init__(self, answer):
        self.answer = answer
        self.gets = []
        self.posts = []
        self.puts = []

    def get(self, path, params=None, attempted=None):
        self.gets.append((path, dict(params or {}), attempted))
        return self.answer(path, dict(params or {}))

    def post(self, path, body, attempted=None):
        self.posts.append((path, body, attempted))

    def put(self, path, body, attempted=None):
        self.puts.append((path, body, attempted))


@pytest.fixture
def fake_session():
    return FakeSession


@pytest.fixture
def fake_response():
    return FakeResponse


@pytest.fixture
def fake_client():
    return FakeClient
