"""The API when the database or the output folder cannot take writes: clear refusals, nothing half-done."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event
from sqlmodel import select

from tests.fixtures import make_settings, services, simulator
from vcc_ui.db import session
from vcc_ui.models import Job
from vcc_ui.services import Services
from vcc_ui.web.app import install

JOB = {'workflow_id': 'test_pattern', 'params': {'prompt': 'x', 'seed': 1}}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Services]:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        yield app


def client_for(app: Services) -> httpx.AsyncClient:
    web = FastAPI()
    install(web, app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url='http://test')


@contextmanager
def read_only_database(engine: Engine) -> Iterator[None]:
    """Every new connection refuses writes (SQLite's query_only), as a database that cannot be written."""

    def query_only(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute('PRAGMA query_only=1')
        cursor.close()

    event.listen(engine, 'connect', query_only)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, 'connect', query_only)
        engine.dispose()


async def test_a_job_that_cannot_be_stored_answers_503_and_is_not_queued(stack: Services) -> None:
    app = stack
    async with client_for(app) as http:
        assert (await http.get('/api/v1/jobs')).status_code == 200  # the caller's identity exists
        with read_only_database(app.engine):
            answer = await http.post('/api/v1/jobs', json=JOB)
        assert answer.status_code == 503, answer.text
        assert answer.json()['detail']['code'] == 'unavailable'
        assert not app.jobs.views
        with session(app.engine) as db:
            assert db.exec(select(Job)).all() == []
        assert (await http.post('/api/v1/jobs', json=JOB)).status_code == 201
