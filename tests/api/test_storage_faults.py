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

from tests.disks import small_disk
from tests.fixtures import make_settings, services, simulator
from tests.images import png_bytes
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


async def test_fresh_ids_per_address_are_limited_in_the_users_language(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, 'http://127.0.0.1:9', max_new_ids_per_source=3)
    async with services(settings) as app:
        web = FastAPI()
        install(web, app)
        transport = httpx.ASGITransport(app=web)
        for _ in range(3):  # a client that drops its cookie gets a new id each time, up to the limit
            async with httpx.AsyncClient(transport=transport, base_url='http://test') as http:
                assert (await http.get('/api/v1/jobs')).status_code == 200
        async with httpx.AsyncClient(transport=transport, base_url='http://test') as http:
            assert (await http.get('/healthz')).status_code in {200, 503}  # public paths need no id
            answer = await http.get('/api/v1/jobs', headers={'accept-language': 'ko'})
            assert answer.status_code == 429 and '새 방문자' in answer.json()['detail']['message']
            assert 'set-cookie' not in answer.headers


async def test_fresh_ids_cannot_pass_the_per_address_job_limit(tmp_path: Path) -> None:
    # sampler steps of 10 s: no job ends while the three are submitted (the test pattern has no steps to wait on)
    job = {'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'x', 'seed': 1, 'steps': 2}}
    async with simulator(tmp_path, step_delay=10) as sim:
        settings = make_settings(tmp_path, sim.url, max_queued_per_source=2)
        async with services(settings) as app:
            web = FastAPI()
            install(web, app)
            transport = httpx.ASGITransport(app=web)
            codes = []
            for _ in range(3):
                async with httpx.AsyncClient(transport=transport, base_url='http://test') as http:
                    answer = await http.post('/api/v1/jobs', json=job, headers={'accept-language': 'en'})
                    codes.append(answer.status_code)
            assert codes == [201, 201, 429]
            assert 'your network' in answer.json()['detail']['message']


async def test_read_only_storage_answers_503_and_refuses_new_jobs(tmp_path: Path) -> None:
    with small_disk(tmp_path / 'outputs') as remount:
        async with (
            simulator(tmp_path) as sim,
            services(make_settings(tmp_path, sim.url, healthz_disk_min_free_mb=0)) as app,
        ):
            async with client_for(app) as http:
                item = (
                    await http.post('/api/v1/inputs/upload', files={'file': ('a.png', png_bytes(), 'image/png')})
                ).json()
                remount('ro')
                try:
                    health = await http.get('/healthz')
                    upload = await http.post(
                        '/api/v1/inputs/upload',
                        files={
                            'file': ('b.png', png_bytes(color=(10, 20, 30)), 'image/png')
                        },  # new bytes: no twin to reuse
                        headers={'accept-language': 'ko'},
                    )
                    favourite = await http.post(f'/api/v1/images/{item["id"]}/favorite', json={'favorite': True})
                    deleted = await http.post(f'/api/v1/images/{item["id"]}/delete')
                    job = await http.post('/api/v1/jobs', json=JOB)
                finally:
                    remount('rw')
                assert health.status_code == 503
                assert [upload.status_code, favourite.status_code, deleted.status_code] == [503, 503, 503]
                assert '저장소' in upload.json()['detail']['message']
                assert job.status_code == 503 and job.json()['detail']['code'] == 'unavailable'
                for answer in (upload, favourite, deleted, job):
                    assert str(tmp_path) not in answer.text
                after = (await http.get(f'/api/v1/images/{item["id"]}')).json()
                assert after['favorite'] is False and after['status'] == 'active'  # nothing changed
