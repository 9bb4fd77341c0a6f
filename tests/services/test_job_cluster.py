"""The queue across instances: two Services on one real PostgreSQL and Redis, one simulator over loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text, update
from sqlmodel import select

from tests.cluster import fresh_database
from tests.fixtures import make_settings, wait_for
from vcc_ui.db import session
from vcc_ui.models import ACTIVE, Image, Job
from vcc_ui.services import Services
from vcc_ui.services.dbwriter import write
from vcc_ui.services.jobs import JobView, SubmitError
from vcc_ui.services.jobs.cluster import apply_state, preview_of, scaled, view_state
from vcc_ui.services.jobs.rows import claim_job, holds_leader_lock
from vcc_ui.simulator import Simulator
from vcc_ui.simulator.promptlog import read_prompt_log

SLOW = {'prompt': 'a slow fox', 'seed': 1, 'steps': 12}


def _user(i: int) -> str:
    return f'anon-{i:032x}'


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_database(postgres_url) as url:
        yield url


@asynccontextmanager
async def prompt_simulator(tmp: Path, *, step_delay: float = 0.0) -> AsyncIterator[Simulator]:
    """A simulator that logs every prompt it receives."""
    sim = Simulator(root=tmp / 'sim', prompt_log=tmp / 'prompts.jsonl')
    sim.faults.step_delay = step_delay
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@asynccontextmanager
async def instances(
    tmp: Path, db_url: str, redis_url: str, server: str, *, count: int = 2, **overrides: object
) -> AsyncIterator[list[Services]]:
    """`count` instances on one database, bus and output folder; the first one started leads."""
    apps: list[Services] = []
    try:
        for index in range(count):
            settings = make_settings(
                tmp, server, database_url=db_url, redis_url=redis_url, instance_id=f'i{index}', **overrides
            )
            app = Services(settings)
            apps.append(app)
            await app.start()
            await asyncio.wait_for(app.bus.connected.wait(), 10)  # type: ignore[attr-defined]
            if index == 0:
                await wait_for(lambda: apps[0].jobs.leading)
        yield apps
    finally:
        for app in reversed(apps):
            with suppress(Exception):
                await app.stop()


def _received(tmp: Path) -> list[str]:
    return [e['prompt_id'] for e in read_prompt_log(tmp / 'prompts.jsonl') if e['event'] == 'received']


async def _watch_limits(app: Services, sim: Simulator, violations: list[str], *, per_user: int, inflight: int) -> None:
    """Sample active jobs per user in the database and the simulator's queue until cancelled."""
    async with httpx.AsyncClient(base_url=sim.url) as http:
        while True:
            with session(app.engine) as db:
                rows = db.exec(select(Job.owner, Job.status).where(Job.status.in_([s.value for s in ACTIVE]))).all()
            for owner in {o for o, _ in rows}:
                if sum(o == owner for o, _ in rows) > per_user:
                    violations.append(f'{owner} has more than {per_user} active jobs')
            queue = (await http.get('/queue')).json()
            if len(queue['queue_running']) + len(queue['queue_pending']) > inflight:
                violations.append(f'the server holds more than {inflight} prompts')
            await asyncio.sleep(0.02)


async def test_jobs_submitted_on_two_instances_run_once_each_in_fair_order_within_every_limit(
    tmp_path: Path, pg_db: str, redis_url: str
) -> None:
    async with (
        prompt_simulator(tmp_path, step_delay=0.03) as sim,
        instances(tmp_path, pg_db, redis_url, sim.url, max_per_user_queue=2, max_per_user_concurrent=1) as apps,
    ):
        leader, follower = apps
        assert leader.jobs.leading and not follower.jobs.leading
        await sim.go_down(keep_state=True)  # every job waits until all are in: the order is the fair queue's alone
        await leader.pool.check_all()
        violations: list[str] = []
        views: list[JobView] = []
        for n in range(3):
            for user in range(4):
                app = apps[(user + n) % 2]
                views.append(await app.jobs.submit(_user(user), 'sd15_txt2img', {**SLOW, 'seed': n * 10 + user}))
        with pytest.raises(SubmitError) as refused:  # the user's three places are taken, on whichever instance
            await apps[1].jobs.submit(_user(0), 'sd15_txt2img', SLOW)
        assert refused.value.code == 'limit' and refused.value.reason == 'queue_full'
        round_robin = list(range(1, 13))  # submitted round by round: user 0, 1, 2, 3, then their second jobs, ...
        await wait_for(lambda: [follower.jobs.views[v.id].position for v in views] == round_robin)
        assert [leader.jobs.views[v.id].position for v in views] == round_robin
        await sim.come_back()
        watch = asyncio.create_task(_watch_limits(leader, sim, violations, per_user=1, inflight=1))
        await leader.pool.check_all()
        await wait_for(lambda: all(follower.jobs.views[v.id].finished for v in views), timeout=60)
        watch.cancel()
        assert violations == []
        assert [follower.jobs.views[v.id].status for v in views] == ['completed'] * 12
        with session(leader.engine) as db:
            rows = db.exec(select(Job)).all()
            images = db.exec(select(Image)).all()
        received = _received(tmp_path)
        assert sorted(received) == sorted(r.prompt_id for r in rows)  # each job posted once, nothing else posted
        assert sorted(i.job_id for i in images) == sorted(r.id for r in rows)  # one image per job, saved once
        job_of = {r.prompt_id: r.id for r in rows}
        assert [job_of[p] for p in received] == [v.id for v in views]  # posted in the order the follower showed


async def test_a_follower_shows_progress_and_previews_and_cancels_through_the_leader(
    tmp_path: Path, pg_db: str, redis_url: str
) -> None:
    async with (
        prompt_simulator(tmp_path, step_delay=0.1) as sim,
        instances(tmp_path, pg_db, redis_url, sim.url) as (leader, follower),
    ):
        steps: list[int] = []
        follower.jobs.changed.subscribe(lambda view: steps.append(view.step), unsubscribe_on_delete=False)
        running = await follower.jobs.submit(_user(1), 'sd15_txt2img', SLOW)
        queued = await follower.jobs.submit(_user(2), 'sd15_txt2img', SLOW)
        await wait_for(lambda: follower.jobs.preview(running.id) is not None and running.step >= 2)
        image_type, data = follower.jobs.preview(running.id) or ('', b'')
        assert image_type == 'image/jpeg' and data.startswith(b'\xff\xd8')
        assert running.preview_seq > 0 and running.status == 'running' and len(set(steps)) > 2
        assert queued.status == 'queued' and queued.position == 1
        await follower.jobs.cancel(queued.id)
        await follower.jobs.cancel(running.id)
        await wait_for(lambda: queued.status == 'cancelled' and running.status == 'cancelled')
        assert leader.jobs.views[running.id].status == 'cancelled'
        assert follower.jobs.preview(running.id) is None
        assert len(_received(tmp_path)) == 1  # the cancelled queued job never reached ComfyUI


async def test_a_leader_that_loses_its_lock_stops_and_the_other_instance_takes_over_its_running_job(
    tmp_path: Path, pg_db: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        prompt_simulator(tmp_path, step_delay=0.1) as sim,
        instances(tmp_path, pg_db, redis_url, sim.url, server_max_inflight=2) as (old, new),
    ):
        first = await new.jobs.submit(_user(1), 'sd15_txt2img', {**SLOW, 'steps': 30})
        waiting = await new.jobs.submit(_user(1), 'sd15_txt2img', {**SLOW, 'steps': 2})  # behind its owner's first
        await wait_for(lambda: old.jobs.views[first.id].status == 'running')
        leadership = old.jobs._leadership
        assert leadership is not None
        with session(old.engine) as db:  # as if the leader's database connection broke
            db.exec(text(f'SELECT pg_terminate_backend({leadership.backend_pid})'))  # type: ignore[call-overload]
        with caplog.at_level(logging.ERROR, logger='vcc_ui.jobs'):
            await wait_for(lambda: not old.jobs.leading)
            await wait_for(lambda: new.jobs.leading, timeout=10)
        assert 'stopped dispatching' in caplog.text
        assert first.status == 'running'  # re-attached while ComfyUI still runs it
        # the new leader's own prompts keep its ComfyUI socket busy: the re-attached one is settled from /history;
        # theirs last about 5 s in all (2 at a time), well past the at most 3 s left of the re-attached one, so a
        # loaded machine cannot turn the order below around
        later = [await new.jobs.submit(_user(u), 'sd15_txt2img', {**SLOW, 'steps': 16}) for u in range(2, 7)]
        everything = (first, waiting, *later)
        await wait_for(lambda: all(v.finished for v in everything), timeout=60)
        assert [v.status for v in everything] == ['completed'] * 7, [v.error for v in everything]
        assert first.finished_at and first.finished_at < max(v.finished_at or first.finished_at for v in later)
        with session(new.engine) as db:
            images = db.exec(select(Image)).all()
            rows = db.exec(select(Job)).all()
        assert sorted(i.job_id for i in images) == sorted(r.id for r in rows)
        assert sorted(_received(tmp_path)) == sorted(r.prompt_id for r in rows)
        assert old.jobs.views[first.id].status == 'completed'  # the old leader now mirrors the new one


async def test_concurrent_submits_on_two_instances_never_pass_a_users_limit(
    tmp_path: Path, pg_db: str, redis_url: str
) -> None:
    async with instances(
        tmp_path, pg_db, redis_url, 'http://127.0.0.1:9', max_per_user_queue=2, max_queued_jobs=5
    ) as apps:
        tries = [app.jobs.submit(_user(1), 'test_pattern', {'prompt': 'x'}) for _ in range(8) for app in apps]
        results = await asyncio.gather(*tries, return_exceptions=True)
        assert sum(isinstance(r, JobView) for r in results) == 3  # two waiting + one that may run
        assert {r.reason for r in results if isinstance(r, SubmitError)} == {'queue_full'}
        others = [app.jobs.submit(_user(u), 'test_pattern', {'prompt': 'x'}) for u in range(2, 6) for app in apps]
        results = await asyncio.gather(*others, return_exceptions=True)
        assert sum(isinstance(r, JobView) for r in results) == 2  # the queue holds 5 of everyone's
        assert {r.reason for r in results if isinstance(r, SubmitError)} == {'server_full'}


async def test_move_to_front_on_a_follower_reorders_the_leaders_queue(
    tmp_path: Path, pg_db: str, redis_url: str
) -> None:
    async with instances(tmp_path, pg_db, redis_url, 'http://127.0.0.1:9') as (leader, follower):
        jobs = [await follower.jobs.submit(_user(1), 'test_pattern', {'prompt': f'{n}'}) for n in range(3)]
        await wait_for(lambda: all(j.id in leader.jobs.views for j in jobs))
        await wait_for(lambda: [j.position for j in jobs] == [1, 2, 3])
        assert follower.jobs.move_to_front(jobs[2].id)
        await wait_for(lambda: [j.position for j in jobs] == [2, 3, 1])  # as the follower shows them
        assert [leader.jobs.views[j.id].position for j in jobs] == [2, 3, 1]
        with session(leader.engine) as db:
            moved = db.get(Job, jobs[2].id)
        assert moved is not None and moved.priority < 0  # kept for the next leader


async def test_what_reaches_the_database_without_a_bus_message_is_still_acted_on(
    tmp_path: Path, pg_db: str, redis_url: str
) -> None:
    async with instances(tmp_path, pg_db, redis_url, 'http://127.0.0.1:9') as (leader, follower):
        flagged = await follower.jobs.submit(_user(1), 'test_pattern', {'prompt': 'flagged'})
        with session(leader.engine) as db:  # a cancel whose bus message was lost: only the row's flag
            db.exec(update(Job).where(Job.id == flagged.id).values(cancel_requested=True))  # type: ignore[call-overload]
            db.commit()
        await wait_for(lambda: flagged.status == 'cancelled', timeout=10)
        quiet = await follower.jobs.submit(_user(2), 'test_pattern', {'prompt': 'quiet'})
        await wait_for(lambda: quiet.id in leader.jobs.views)
        leader.jobs._live.publish = None  # the leader's next messages are lost
        await leader.jobs.cancel(quiet.id)
        assert leader.jobs.views[quiet.id].status == 'cancelled' and quiet.status == 'queued'
        await wait_for(lambda: quiet.status == 'cancelled', timeout=10)  # the follower read the row


def test_only_postgresql_with_a_shared_bus_is_scaled_and_a_view_survives_the_wire() -> None:
    assert scaled('postgresql+psycopg://vcc@127.0.0.1/vcc', shared_bus=True)
    assert not scaled('postgresql+psycopg://vcc@127.0.0.1/vcc', shared_bus=False)  # PostgreSQL alone: as before
    assert not scaled('sqlite:///db/app.db', shared_bus=True)
    view = JobView(id='j1', owner=_user(1), workflow_id='w', mode='txt2img', params={'prompt': 'x'}, step=3, steps=9)
    state = json.loads(json.dumps(view_state(view, ('image/jpeg', b'\xff\xd8frame'))))
    copy = apply_state(None, state)
    assert copy == view and preview_of(state) == ('image/jpeg', b'\xff\xd8frame')
    state['status'], state['step'] = 'running', 4
    assert apply_state(view, state) is view and (view.status, view.step) == ('running', 4)


async def test_a_claim_and_a_save_need_the_instances_lock_connection_to_still_hold_the_leader_lock(
    tmp_path: Path, pg_db: str, redis_url: str
) -> None:
    async with instances(tmp_path, pg_db, redis_url, 'http://127.0.0.1:9') as (leader, follower):
        job = await follower.jobs.submit(_user(1), 'test_pattern', {'prompt': 'x'})
        leadership = leader.jobs._leadership
        assert leadership is not None and leadership.backend_pid
        with session(leader.engine) as db:
            other_pid = db.exec(text('SELECT pg_backend_pid()')).one()[0]  # type: ignore[call-overload]
        prompt = str(uuid.uuid4())
        for pid, claimed in ((other_pid, False), (0, False), (leadership.backend_pid, True)):
            assert write(leader.engine, partial(holds_leader_lock, pid=pid)) is claimed  # checked before saving
            claim = partial(claim_job, job_id=job.id, server_id=1, prompt_id=prompt, leader=pid)
            assert write(leader.engine, claim) is claimed
        with session(leader.engine) as db:
            row = db.get(Job, job.id)
        assert row is not None and row.prompt_id == prompt and row.status == 'dispatched'
