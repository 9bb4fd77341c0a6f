"""The identity middleware as a pure ASGI middleware: the same cookie, the same user, no BaseHTTPMiddleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.middleware.base import BaseHTTPMiddleware

from tests.api.test_api import client_for
from tests.fixtures import make_settings, services, simulator, wait_for
from vcc_ui.services import Services
from vcc_ui.web.app import install


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Services]:
    async with simulator(tmp_path, step_delay=0.0) as sim, services(make_settings(tmp_path, sim.url)) as ready:
        yield ready


def test_no_middleware_of_ours_runs_through_base_http_middleware(app: Services) -> None:
    web = FastAPI()
    install(web, app)
    assert [m.cls for m in web.user_middleware if issubclass(m.cls, BaseHTTPMiddleware)] == []  # type: ignore[arg-type]


async def test_a_fresh_browser_gets_one_id_cookie_and_keeps_its_user(app: Services) -> None:
    async with client_for(app) as http:
        first = await http.post('/api/v1/jobs', json={'workflow_id': 'test_pattern', 'params': {'prompt': 'x'}})
        assert first.status_code == 201, first.text
        cookies = first.headers.get_list('set-cookie')
        anon = [c for c in cookies if c.startswith('vcc_anon=')]
        assert len(anon) == 1 and 'HttpOnly' in anon[0] and 'SameSite=lax' in anon[0] and 'Max-Age=31536000' in anon[0]
        user = app.identity.read(http.cookies['vcc_anon'])
        assert user is not None and app.jobs.views[first.json()['id']].owner == user
        await wait_for(lambda: app.jobs.views[first.json()['id']].finished)
        again = await http.get('/api/v1/jobs')
        assert 'set-cookie' not in again.headers  # a known browser gets no new cookie
        assert [j['id'] for j in again.json()['items']] == [first.json()['id']]


async def test_public_paths_mint_no_cookie(app: Services) -> None:
    async with client_for(app) as http:
        answer = await http.get('/healthz')
        assert answer.status_code == 200 and 'vcc_anon' not in answer.headers.get('set-cookie', '')
