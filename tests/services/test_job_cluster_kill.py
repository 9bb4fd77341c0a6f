"""Three app processes on one PostgreSQL + Redis; the dispatching one is SIGKILLed while 50 users x 4 jobs run."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.campaign.procs import AppProcess, SimProcess
from tests.cluster import fresh_database
from tests.postgres import free_port
from vcc_ui.db import make_engine
from vcc_ui.simulator.promptlog import read_prompt_log

USERS, JOBS_PER_USER, INSTANCES = 50, 4, 3
MAX_CONCURRENT, MAX_INFLIGHT = 1, 2
ACTIVE = "('dispatched', 'running', 'saving')"
UNFINISHED = "('queued', 'dispatched', 'running', 'saving')"
LEADS = 'this instance leads'


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_database(postgres_url) as url:
        yield url


def _leader(apps: list[AppProcess]) -> AppProcess | None:
    """The live instance whose newest log says it took the leader lock."""
    for app in apps:
        if app.process is not None and app.process.poll() is None and LEADS in app.logs[-1].read_text():
            return app
    return None


async def _user(index: int, apps: list[AppProcess], accepted: dict[str, str]) -> None:
    """Submit this user's jobs round the instances; a dead instance's job goes to the next one with the same key."""
    async with httpx.AsyncClient(timeout=10) as http:
        for job in range(JOBS_PER_USER):
            body = {'workflow_id': 'sd15_txt2img', 'params': {'prompt': f'u{index} j{job}', 'seed': job, 'steps': 2}}
            turn = index + job
            while True:
                app = apps[turn % INSTANCES]
                try:
                    answer = await http.post(
                        f'{app.url}/api/v1/jobs', json=body, headers={'Idempotency-Key': f'{index}-{job}'}
                    )
                except httpx.TransportError:
                    turn += 1
                    continue
                if answer.status_code in (200, 201):
                    accepted[answer.json()['id']] = answer.json()['owner']
                    break
                assert answer.status_code in (429, 503), answer.text  # a full queue: try again in a moment
                turn += 1
                await asyncio.sleep(0.3)


async def _watch(url: str, sim: SimProcess, violations: list[str]) -> None:
    """Sample active jobs per user and per server in the database and the simulator's queue until cancelled."""
    engine = make_engine(url)
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                with engine.connect() as db:
                    users = db.execute(text(f'SELECT owner, count(*) FROM job WHERE status IN {ACTIVE} GROUP BY 1'))
                    servers = db.execute(text(f'SELECT count(*) FROM job WHERE status IN {ACTIVE}')).scalar_one()
                    violations += [f'{o}: {n} active' for o, n in users if n > MAX_CONCURRENT]
                if servers > MAX_INFLIGHT:
                    violations.append(f'{servers} jobs active on the one server')
                queue = (await http.get(f'{sim.url}/queue')).json()
                if len(queue['queue_running']) + len(queue['queue_pending']) > MAX_INFLIGHT:
                    violations.append('the simulator holds more prompts than SERVER_MAX_INFLIGHT')
                await asyncio.sleep(0.05)
    finally:
        engine.dispose()


async def test_sigkilling_the_dispatching_instance_loses_and_repeats_nothing(
    tmp_path: Path,
    pg_db: str,
    redis_url: str,
) -> None:
    sim = SimProcess(
        name='sim',
        port=free_port(),
        root=tmp_path / 'sim',
        step_delay=0.05,
        error_rate=0,
        ws_drop_every=0,
        slow_ms=0,
        seed=1,
    )
    env = {
        'DATABASE_URL': pg_db,
        'REDIS_URL': redis_url,
        'COMFYUI_SERVERS': sim.url,
        'OUTPUT_DIR': str(tmp_path / 'outputs'),
        'MAX_PER_USER_QUEUE': str(JOBS_PER_USER - MAX_CONCURRENT),
        'MAX_PER_USER_CONCURRENT': str(MAX_CONCURRENT),
        'SERVER_MAX_INFLIGHT': str(MAX_INFLIGHT),
        'MAX_NEW_IDS_PER_SOURCE': '0',
        'MAX_QUEUED_PER_SOURCE': '0',
    }
    apps = [
        AppProcess(port=free_port(), data=tmp_path / f'app{i}', env={**env, 'INSTANCE_ID': f'app{i}'})
        for i in range(INSTANCES)
    ]
    accepted: dict[str, str] = {}
    violations: list[str] = []
    engine = make_engine(pg_db)
    try:
        await sim.start()
        for app in apps:
            await app.start()
        watch = asyncio.create_task(_watch(pg_db, sim, violations))
        users = [asyncio.create_task(_user(i, apps, accepted)) for i in range(USERS)]

        def final() -> int:
            with engine.connect() as db:
                return db.execute(text(f'SELECT count(*) FROM job WHERE status NOT IN {UNFINISHED}')).scalar_one()

        while final() < USERS * JOBS_PER_USER // 4:
            await asyncio.sleep(0.1)
        killed = _leader(apps)
        assert killed is not None
        killed.kill()
        gone = time.monotonic()
        while (taker := _leader(apps)) is None:
            assert time.monotonic() - gone < 10, 'no instance took over within 10 s'
            await asyncio.sleep(0.1)
        await asyncio.wait_for(asyncio.gather(*users), timeout=120)
        deadline = time.monotonic() + 120
        while final() < USERS * JOBS_PER_USER and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        watch.cancel()
        with engine.connect() as db:
            jobs = db.execute(text('SELECT id, status, prompt_id, error FROM job')).all()
            images = db.execute(text('SELECT job_id, rel_path FROM image')).all()
    finally:
        for app in apps:
            app.stop()
        sim.stop()
        engine.dispose()
    assert taker is not killed and violations == []
    assert 'recovering job' in taker.logs[-1].read_text()  # the killed one's running prompts were re-attached
    assert sorted(j.id for j in jobs) == sorted(accepted) and len(jobs) == USERS * JOBS_PER_USER
    assert Counter(j.status for j in jobs) == {'completed': len(jobs)}, [j.error for j in jobs if j.error]
    assert sorted(i.job_id for i in images) == sorted(accepted)  # one image each: none lost, none saved twice
    files = sorted(p.relative_to(tmp_path / 'outputs').as_posix() for p in (tmp_path / 'outputs').rglob('*.png'))
    assert files == sorted(i.rel_path for i in images)
    received = [e['prompt_id'] for e in read_prompt_log(sim.prompt_log) if e['event'] == 'received']
    assert sorted(received) == sorted(j.prompt_id for j in jobs)  # every job reached ComfyUI exactly once
