"""Stats: live counters, the queue-depth ring buffer and the 24 h figures from the Job table (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from nicegui import Event
from sqlalchemy import Engine
from sqlmodel import Session

from tests.fixtures import USER_A, USER_B, make_settings, services, simulator, wait_for
from vcc_ui.models import Job, QueueDepth
from vcc_ui.services import Services
from vcc_ui.services import stats as stats_module
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.stats import Sample, Stats

NOW = datetime(2025, 3, 14, 12, 30, tzinfo=UTC)
PROMPT = {'prompt': 'a lighthouse in a storm', 'seed': 3, 'steps': 4}


@pytest.fixture
async def writer(engine: Engine) -> AsyncIterator[DbWriter]:
    """A started DbWriter on the test engine."""
    db_writer = DbWriter(engine)
    db_writer.start()
    yield db_writer
    await db_writer.stop()


def job(
    n: int, status: str, finished_ago: timedelta | None, *, workflow: str = 'sd15_txt2img', took: float | None = None
) -> Job:
    """A stored job that finished `finished_ago` before NOW after running `took` seconds."""
    finished = NOW - finished_ago if finished_ago is not None else None
    started = finished - timedelta(seconds=took) if finished is not None and took is not None else None
    return Job(
        id=f'{n:032x}',
        owner=USER_A,
        workflow_id=workflow,
        mode='txt2img',
        params={},
        status=status,
        queued_at=NOW - timedelta(days=2),
        started_at=started,
        finished_at=finished,
    )


async def test_figures_count_per_clock_hour_the_last_hour_and_average_durations(writer: DbWriter) -> None:
    rows = [
        job(1, 'completed', timedelta(minutes=10), took=10),
        job(2, 'completed', timedelta(minutes=50), took=20),
        job(3, 'failed', timedelta(minutes=20)),
        job(4, 'timed_out', timedelta(minutes=40)),
        job(5, 'completed', timedelta(hours=2), took=30, workflow='test_pattern'),
        job(6, 'cancelled', timedelta(minutes=5)),
        job(7, 'completed', timedelta(hours=25), took=999),  # older than the 24 h window
        job(8, 'queued', None),
        job(9, 'running', None),
    ]
    await writer.write(lambda db: db.add_all(rows))
    stats = Stats(writer, SimpleNamespace(views={}, changed=Event()))  # type: ignore[arg-type]

    figures = await stats.refresh(NOW)

    assert len(figures.per_hour) == 24
    assert figures.per_hour[-1].start == datetime(2025, 3, 14, 12, tzinfo=UTC)
    assert figures.per_hour[0].start == datetime(2025, 3, 13, 13, tzinfo=UTC)
    by_hour = {
        h.start.hour: (h.done, h.failed, h.cancelled) for h in figures.per_hour if h.done or h.failed or h.cancelled
    }
    assert by_hour == {12: (1, 1, 1), 11: (1, 1, 0), 10: (1, 0, 0)}
    assert (figures.done_hour, figures.failed_hour) == (2, 2)
    assert (stats.counters.done_hour, stats.counters.failed_hour) == (2, 2)
    assert figures.durations == pytest.approx({'sd15_txt2img': 15.0, 'test_pattern': 30.0}, abs=0.01)


async def test_refresh_fires_changed(writer: DbWriter) -> None:
    stats = Stats(writer, SimpleNamespace(views={}, changed=Event()))  # type: ignore[arg-type]
    fired: list[bool] = []
    stats.changed.subscribe(lambda: fired.append(True))
    figures = await stats.refresh(NOW)
    assert fired == [True]
    assert sum(h.done + h.failed for h in figures.per_hour) == 0 and figures.durations == {}


async def test_counters_follow_jobs_and_samples_record_queue_depth(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.05) as sim, services(make_settings(tmp_path, sim.url)) as app:
        stats = app.stats
        first = await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
        await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
        await app.jobs.submit(USER_B, 'sd15_txt2img', PROMPT)
        await wait_for(lambda: stats.counters.running == 1)
        assert stats.counters.queued == 2
        sample = stats.sample()
        assert (sample.queued, sample.running) == (2, 1)
        assert stats.series()[-1] is sample
        await app.jobs.cancel(first.id)
        await wait_for(lambda: (stats.counters.queued, stats.counters.running) == (0, 0))
        assert all(v.finished for v in app.jobs.views.values())
        await wait_for(lambda: stats.counters.done_hour == 2)  # the refresh after the finishes
        assert stats.counters.failed_hour == 0


def test_the_depth_buckets_keep_each_10_s_peak_and_24_hours() -> None:
    stats = Stats(None, SimpleNamespace(views={}, changed=Event()))  # type: ignore[arg-type]
    stats.writer = SimpleNamespace(write_later=lambda fn: None)  # type: ignore[assignment]
    for queued, second in [(1, 0), (4, 3), (2, 9), (0, 12)]:
        stats.counters.queued = queued
        stats._note(NOW + timedelta(seconds=second))
    assert [(s.at.second, s.queued) for s in stats.series()] == [(0, 4), (10, 0)]  # the burst's peak, not its end
    for n in range(9000):
        stats._note(NOW + timedelta(seconds=10 * n + 20))
    assert len(stats.depth) == 24 * 360


async def test_a_burst_between_two_minute_samples_is_kept_in_the_database_across_a_restart(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.05) as sim:
        async with services(make_settings(tmp_path, sim.url)) as app:
            burst = [await app.jobs.submit(owner, 'sd15_txt2img', PROMPT) for owner in (USER_A, USER_B) * 2]
            await wait_for(lambda: app.stats.counters.queued == 3)
            for view in burst:
                await app.jobs.cancel(view.id)
            await wait_for(lambda: (app.stats.counters.queued, app.stats.counters.running) == (0, 0))
            assert max(s.queued for s in app.stats.series()) == 3  # seen although no minute sample fell in it
        async with services(make_settings(tmp_path, sim.url)) as again:  # a restart: the series is read back
            assert max(s.queued for s in again.stats.series()) == 3
            assert max(s.running for s in again.stats.series()) >= 1


async def test_a_second_stop_after_a_late_job_event_does_not_wait_for_the_stopped_writer(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim:
        app = Services(make_settings(tmp_path, sim.url))
        await app.start()
        view = await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
        await app.stop()  # NiceGUI's test fixtures may run the shutdown handlers twice
        view.status = 'cancelled'
        app.jobs.changed.emit(view)  # a job event after the stop
        await asyncio.wait_for(app.stats.stop(), timeout=5)


def test_two_instances_storing_the_same_bucket_at_once_keep_the_higher_peak(engine: Engine) -> None:
    """The second writer of a bucket (another instance, its insert blocked by the first one's) updates it."""
    at = NOW.replace(second=0)
    first = Session(engine)
    stats_module._store(first, Sample(at=at, queued=5, running=1))
    first.flush()  # the first instance's insert holds the key until it commits
    errors: list[Exception] = []

    def second() -> None:
        with Session(engine) as db:
            try:
                stats_module._store(db, Sample(at=at, queued=2, running=3))
                db.commit()
            except Exception as error:
                errors.append(error)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)  # its insert waits for the first one's (PostgreSQL's row lock, SQLite's writer lock)
    first.commit()
    first.close()
    thread.join()
    assert errors == []
    with Session(engine) as db:
        row = db.get(QueueDepth, at)
        assert row is not None and (row.queued, row.running) == (5, 3)
