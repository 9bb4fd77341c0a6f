"""Dashboard figures: live queue counters, queue depth peaks per 10 s (kept in the DB), jobs per hour and durations.

On a shared bus (several instances) the queued and running counters are the whole cluster's: after a local job
changes status the instance counts the unfinished jobs in the database (at most every COUNT_DELAY) and publishes the
counts on `stats`; the others take them as they are, and refresh their hourly figures when a job finished somewhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nicegui import Event, binding
from sqlalchemy import case, func
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from vcc_ui.models import ACTIVE, Job, JobStatus, QueueDepth, utcnow
from vcc_ui.services.bus import Bus
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.jobs import JobManager, JobView

log = logging.getLogger(__name__)

SAMPLE_INTERVAL = 60.0
BUCKET_SECONDS = 10  # the depth chart's resolution: a burst of a few seconds shows as its bucket's peak
HOURS = 24
REFRESH_DELAY = 2.0  # finishes that arrive in a burst cost one query
FAILED = frozenset({JobStatus.FAILED, JobStatus.TIMED_OUT})
STATS_TOPIC = 'stats'
COUNT_DELAY = 0.25  # a burst of job changes costs one count of the cluster's queue


@binding.bindable_dataclass
class Counters:
    """The dashboard's headline numbers; queued and running follow every job change."""

    queued: int = 0
    running: int = 0
    done_hour: int = 0
    failed_hour: int = 0


@dataclass(frozen=True, slots=True)
class Sample:
    """The queue's peak within the bucket that starts at `at`."""

    at: datetime
    queued: int
    running: int


@dataclass(frozen=True, slots=True)
class HourCount:
    """Jobs that finished within one clock hour."""

    start: datetime
    done: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass(slots=True)
class Figures:
    """What one database refresh found."""

    per_hour: list[HourCount] = field(default_factory=list)
    done_hour: int = 0
    failed_hour: int = 0
    durations: dict[str, float] = field(default_factory=dict)


class Stats:
    """Keeps the counters live and refreshes the 24 h figures once a minute; `changed` fires after each refresh.

    The queue depth is noted on every change: each 10 s bucket keeps its peak, and a bucket is written to the
    database when it closes (at the latest by the minute sample or at stop), so the series survives restarts.
    """

    def __init__(
        self, writer: DbWriter, jobs: JobManager, *, interval: float = SAMPLE_INTERVAL, bus: Bus | None = None
    ) -> None:
        self.writer = writer
        self.jobs = jobs
        self.interval = interval
        self.bus = bus or Bus()
        self.counters = Counters()
        self.depth: deque[Sample] = deque(maxlen=HOURS * 3600 // BUCKET_SECONDS)  # closed buckets, oldest first
        self._bucket: Sample | None = None  # the open bucket
        self.figures = Figures()
        self.changed: Event[[]] = Event()
        self._status: dict[str, str] = {}
        self._task: asyncio.Task | None = None
        self._later: asyncio.Task | None = None
        self._counting: asyncio.Task | None = None
        self._finished_since_count = False
        jobs.changed.subscribe(self._on_job, unsubscribe_on_delete=False)
        self.bus.subscribe(STATS_TOPIC, self._on_remote)

    async def start(self) -> None:
        """Read the last 24 h of queue depth back, count the current queue and start the minute loop."""
        since = utcnow() - timedelta(hours=HOURS)
        rows = await self.writer.write(lambda db: _depth_since(db, since))
        self.depth.extend(rows)
        self._recount()
        if self.bus.shared:
            await self._count_cluster()
        self._task = asyncio.create_task(self._loop(), name='stats')

    async def stop(self) -> None:
        """Stop following jobs and the loop, and store the open bucket (a second stop writes nothing)."""
        self.jobs.changed.unsubscribe(self._on_job)  # jobs stopping after this must not open a bucket
        tasks = [t for t in (self._task, self._later, self._counting) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._bucket is not None:
            bucket, self._bucket = self._bucket, None
            await self.writer.write(lambda db: _store(db, bucket))

    def sample(self) -> Sample:
        """Count the queue again and note its depth now; returns the open bucket."""
        self._recount()
        return self._note()

    def series(self) -> list[Sample]:
        """The depth chart's points: every stored bucket of the last 24 h and the open one."""
        return [*self.depth, *([self._bucket] if self._bucket else [])]

    def _note(self, now: datetime | None = None) -> Sample:
        """Raise the open bucket's peak to the queue now, or close it and open the bucket `now` falls in."""
        now = now or utcnow()
        start = now.replace(second=now.second // BUCKET_SECONDS * BUCKET_SECONDS, microsecond=0)
        queued, running = self.counters.queued, self.counters.running
        bucket = self._bucket
        if bucket is not None and bucket.at == start:
            if queued > bucket.queued or running > bucket.running:
                bucket = Sample(at=start, queued=max(queued, bucket.queued), running=max(running, bucket.running))
        else:
            if bucket is not None:
                self._close(bucket)
            bucket = Sample(at=start, queued=queued, running=running)
        self._bucket = bucket
        return bucket

    def _close(self, bucket: Sample) -> None:
        self.depth.append(bucket)
        self.writer.write_later(lambda db: _store(db, bucket))
        self.changed.emit()  # the chart shows a burst once its bucket closed, not a minute later

    async def refresh(self, now: datetime | None = None) -> Figures:
        """Read jobs per hour, the last hour's outcomes and durations per workflow (one grouped query each)."""
        now = now or utcnow()
        self.figures = await self.writer.read(lambda db: _figures(db, now))
        self.counters.done_hour, self.counters.failed_hour = self.figures.done_hour, self.figures.failed_hour
        self.changed.emit()
        return self.figures

    async def recent_jobs(self, *, hours: float = 1.0, limit: int = 500) -> list[JobView]:
        """Jobs that finished in the last `hours`, newest first (the live view where there is one)."""
        since = utcnow() - timedelta(hours=hours)
        rows: list[Job] = await self.writer.read(
            lambda db: list(
                db.exec(
                    select(Job).where(col(Job.finished_at) >= since).order_by(col(Job.finished_at).desc()).limit(limit)
                ).all()
            )
        )
        views = []
        for row in rows:
            entry = self.jobs.pool.get(row.server_id)
            views.append(self.jobs.views.get(row.id) or JobView.from_row(row, entry.health.name if entry else ''))
        return views

    async def _loop(self) -> None:
        while True:
            if self.bus.shared:
                try:
                    await self._count_cluster()
                except Exception:
                    log.exception('counting the queue failed')
            else:
                self.sample()
            try:
                await self.refresh()
            except Exception:
                log.exception('stats refresh failed')
            await asyncio.sleep(self.interval)

    def _on_job(self, view: JobView) -> None:
        old = self._status.get(view.id)
        if old == view.status:
            return  # a progress step: nothing to count
        if view.finished:
            self._status.pop(view.id, None)
            self._refresh_soon()
            self._finished_since_count = True
        else:
            self._status[view.id] = view.status
        if self.bus.shared:
            self._count_soon()
            return
        self._count(old, -1)
        self._count(None if view.finished else view.status, 1)
        self._note()

    def _count(self, status: str | None, delta: int) -> None:
        if status == JobStatus.QUEUED:
            self.counters.queued += delta
        elif status in ACTIVE:
            self.counters.running += delta

    def _recount(self) -> None:
        """Count from the live views again (at start and with every sample); job events keep it up in between."""
        self._status = {view.id: view.status for view in self.jobs.views.values() if not view.finished}
        statuses = list(self._status.values())
        queued = statuses.count(JobStatus.QUEUED)
        running = sum(1 for status in statuses if status in ACTIVE)
        if (queued, running) != (self.counters.queued, self.counters.running):
            self.counters.queued, self.counters.running = queued, running

    def _count_soon(self) -> None:
        if self._task is None or (self._counting is not None and not self._counting.done()):
            return
        self._counting = asyncio.create_task(self._count_later(), name='stats-count')

    async def _count_later(self) -> None:
        await asyncio.sleep(COUNT_DELAY)
        try:
            await self._count_cluster()
        except Exception:
            log.exception('counting the queue failed')

    async def _count_cluster(self) -> None:
        """Count the unfinished jobs of every instance in the database, show them and tell the other instances."""
        finished, self._finished_since_count = self._finished_since_count, False
        queued, running = await self.writer.read(_unfinished_counts)
        self._set_counters(queued, running)
        self.bus.publish(STATS_TOPIC, {'queued': queued, 'running': running, 'finished': finished})

    def _on_remote(self, payload: dict[str, Any]) -> None:
        """Another instance counted the queue (and maybe saw a job finish)."""
        try:
            queued, running = int(payload['queued']), int(payload['running'])
        except (KeyError, TypeError, ValueError):
            log.warning('stats: ignored a malformed count %r', payload)
            return
        self._set_counters(queued, running)
        if payload.get('finished'):
            self._refresh_soon()

    def _set_counters(self, queued: int, running: int) -> None:
        if (queued, running) != (self.counters.queued, self.counters.running):
            self.counters.queued, self.counters.running = queued, running
        self._note()

    def _refresh_soon(self) -> None:
        if self._task is None or (self._later is not None and not self._later.done()):
            return
        self._later = asyncio.create_task(self._refresh_later(), name='stats-refresh')

    async def _refresh_later(self) -> None:
        await asyncio.sleep(REFRESH_DELAY)
        try:
            await self.refresh()
        except Exception:
            log.exception('stats refresh failed')


def hour_starts(now: datetime) -> list[datetime]:
    """The starts of the last 24 clock hours, oldest first (the last one is the current, partial hour)."""
    top = now.replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]


def _depth_since(db: Session, since: datetime) -> list[Sample]:
    """Drop buckets older than `since` and read the rest, oldest first."""
    for old in db.exec(select(QueueDepth).where(col(QueueDepth.at) < since)).all():
        db.delete(old)
    rows = db.exec(select(QueueDepth).where(col(QueueDepth.at) >= since).order_by(col(QueueDepth.at))).all()
    return [Sample(at=row.at, queued=row.queued, running=row.running) for row in rows]


def _unfinished_counts(db: Session) -> tuple[int, int]:
    """The jobs waiting and the jobs on servers, of every instance."""
    rows = db.exec(
        select(Job.status, func.count()).where(col(Job.status).in_([JobStatus.QUEUED, *ACTIVE])).group_by(Job.status)
    ).all()
    counts = dict(rows)
    return counts.get(JobStatus.QUEUED, 0), sum(n for status, n in counts.items() if status in ACTIVE)


def _store(db: Session, bucket: Sample) -> None:
    """Write a bucket; its peak wins over a row stored for the same start (before a restart, or by another instance).

    One statement (INSERT ... ON CONFLICT DO UPDATE), so two instances closing the same bucket at once both succeed.
    """
    dialect = db.get_bind().dialect.name
    insert = postgresql_insert if dialect == 'postgresql' else sqlite_insert
    higher = func.greatest if dialect == 'postgresql' else func.max
    statement = insert(QueueDepth).values(at=bucket.at, queued=bucket.queued, running=bucket.running)
    db.exec(
        statement.on_conflict_do_update(
            index_elements=['at'],
            set_={
                'queued': higher(QueueDepth.queued, statement.excluded.queued),
                'running': higher(QueueDepth.running, statement.excluded.running),
            },
        )
    )


def _figures(db: Session, now: datetime) -> Figures:
    starts = hour_starts(now)
    hour_ago = now - timedelta(hours=1)
    bucket = case(
        *[(col(Job.finished_at) >= start, index) for index, start in reversed(list(enumerate(starts)))], else_=-1
    )
    recent = case((col(Job.finished_at) >= hour_ago, 1), else_=0)
    rows = db.exec(
        select(bucket, recent, Job.status, func.count())
        .where(col(Job.finished_at) >= starts[0])
        .group_by(bucket, recent, Job.status)
    ).all()
    counts = [{'done': 0, 'failed': 0, 'cancelled': 0} for _ in starts]
    figures = Figures()
    for index, is_recent, status, number in rows:
        kind = 'done' if status == JobStatus.COMPLETED else 'failed' if status in FAILED else 'cancelled'
        if index >= 0:
            counts[index][kind] += number
        if is_recent and kind == 'done':
            figures.done_hour += number
        elif is_recent and kind == 'failed':
            figures.failed_hour += number
    figures.per_hour = [HourCount(start=start, **c) for start, c in zip(starts, counts, strict=True)]
    seconds = seconds_between(db, Job.started_at, Job.finished_at)
    figures.durations = {
        workflow: float(avg)
        for workflow, avg in db.exec(
            select(Job.workflow_id, func.avg(seconds))
            .where(
                Job.status == JobStatus.COMPLETED, col(Job.finished_at) >= starts[0], col(Job.started_at).is_not(None)
            )
            .group_by(Job.workflow_id)
            .order_by(Job.workflow_id)
        ).all()
        if avg is not None
    }
    return figures


def seconds_between(db: Session, start: Any, end: Any) -> Any:
    """The SQL expression of the seconds from `start` to `end` (SQLite or PostgreSQL)."""
    if db.get_bind().dialect.name == 'sqlite':
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract('epoch', end - start)
