"""DbWriter against a real SQLite file: a failed write fails only its caller, the others of its batch commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from tests.fixtures import wait_for
from vcc_ui.db import make_engine, migrate, session
from vcc_ui.models import Job, JobStatus
from vcc_ui.services.dbwriter import DbWriter, write
from vcc_ui.services.jobs.rows import update_job


def _job(job_id: str) -> Job:
    return Job(id=job_id, owner='anon-' + 'a' * 32, workflow_id='sd15_txt2img', mode='txt2img', params={})


def _ids(engine: object) -> set[str]:
    with session(engine) as db:  # type: ignore[arg-type]
        return {row.id for row in db.exec(select(Job)).all()}


async def test_a_failed_write_in_a_batch_fails_alone_and_the_others_commit(tmp_path: Path) -> None:
    engine = make_engine(f'sqlite:///{tmp_path / "app.db"}')
    migrate(engine)
    writer = DbWriter(engine)
    writer.start()
    try:
        await writer.write(lambda db: [db.add(_job('taken')), db.add(_job('other'))])
        first, last = _job('first'), _job('last')
        # queued in one loop turn, so the writer takes them as one batch; the second fails after 'first' was flushed
        results = await asyncio.gather(
            writer.write(lambda db: db.add(first)),
            writer.write(lambda db: update_job(db, 'other', id='taken')),
            writer.write(lambda db: db.add(last)),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], IntegrityError)
    assert _ids(engine) == {'taken', 'other', 'first', 'last'}
    engine.dispose()


async def test_a_full_disk_fails_every_write_of_the_batch_and_claims_nothing(tmp_path: Path) -> None:
    engine = make_engine(f'sqlite:///{tmp_path / "app.db"}')
    migrate(engine)
    with engine.connect() as conn:
        pages = conn.exec_driver_sql('PRAGMA page_count').scalar()
    full = {'on': False}

    def limit_pages(dbapi_connection: object, _record: object) -> None:
        if full['on']:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute(f'PRAGMA max_page_count={pages}')  # no page more: 'database or disk is full'
            cursor.close()

    event.listen(engine, 'connect', limit_pages)
    full['on'] = True
    engine.dispose()
    writer = DbWriter(engine)
    writer.start()
    try:
        rows = [_job(f'job{i}') for i in range(20)]
        writes = []
        for row in rows:  # an insert, then a growing update of it: a statement that fails after a flush
            writes.append(writer.write(lambda db, row=row: db.add(row)))
            writes.append(writer.write(lambda db, row=row: update_job(db, row.id, error='e' * 3000)))
        results = (await asyncio.gather(*writes, return_exceptions=True))[::2]
    finally:
        await writer.stop()
    full['on'] = False
    engine.dispose()
    stored = _ids(engine)
    claimed = {row.id for row, result in zip(rows, results, strict=True) if result is None}
    assert claimed == stored  # a write reported done is a row on disk, and only those
    assert all(isinstance(r, OperationalError) for row, r in zip(rows, results, strict=True) if row.id not in stored)
    assert len(stored) < len(rows)
    engine.dispose()


def test_a_job_added_and_updated_in_one_transaction_keeps_the_update(engine: Engine) -> None:
    def add_then_update(db: Session) -> None:
        db.add(_job('batched'))
        update_job(db, 'batched', status=JobStatus.DISPATCHED, prompt_id='p-1')

    write(engine, add_then_update)
    with session(engine) as db:
        row = db.get(Job, 'batched')
        assert row is not None and (row.status, row.prompt_id) == (JobStatus.DISPATCHED, 'p-1')


async def test_a_write_soon_shares_the_next_writes_commit_and_keeps_its_order(tmp_path: Path) -> None:
    engine = make_engine(f'sqlite:///{tmp_path / "app.db"}')
    migrate(engine)
    commits: list[int] = []
    event.listen(engine, 'commit', lambda _conn: commits.append(1))
    writer = DbWriter(engine)
    writer.start()
    try:
        await writer.write(lambda db: db.add(_job('one')))
        before = len(commits)
        writer.write_soon(lambda db: update_job(db, 'one', status=JobStatus.RUNNING, error='soon'))
        await asyncio.sleep(0.01)  # the writer has taken the soon write and waits for company
        await writer.write(lambda db: update_job(db, 'one', status=JobStatus.SAVING))
        assert len(commits) == before + 1  # both in one transaction
        with session(engine) as db:
            row = db.get(Job, 'one')
            assert row is not None and (row.status, row.error) == (JobStatus.SAVING, 'soon')  # the later one last
        writer.write_soon(lambda db: update_job(db, 'one', progress_value=3))
        await wait_for(lambda: _progress(engine, 'one') == 3, timeout=5)  # alone, it commits after SOON_WAIT
        writer.write_soon(lambda db: update_job(db, 'one', progress_value=4))
    finally:
        await writer.stop()  # and a pending one is committed by stop
    assert _progress(engine, 'one') == 4
    engine.dispose()


def _progress(engine: Engine, job_id: str) -> int | None:
    with session(engine) as db:
        row = db.get(Job, job_id)
        return None if row is None else row.progress_value


async def test_a_later_write_with_the_same_key_takes_the_place_of_the_queued_soon_ones(tmp_path: Path) -> None:
    engine = make_engine(f'sqlite:///{tmp_path / "app.db"}')
    migrate(engine)
    writer = DbWriter(engine)
    writer.start()
    ran: list[str] = []
    try:
        await writer.write(lambda db: db.add(_job('one')))
        writer.write_soon(
            lambda db: ran.append('running') or update_job(db, 'one', status=JobStatus.RUNNING), key='one'
        )
        writer.write_soon(lambda db: ran.append('another job'))
        writer.write_soon(lambda db: ran.append('saving') or update_job(db, 'one', status=JobStatus.SAVING), key='one')
        await writer.write(lambda db: ran.append('end') or update_job(db, 'one', status=JobStatus.COMPLETED), key='one')
        assert ran == ['another job', 'end']  # the end wrote what the queued steps would have
        assert _status(engine, 'one') == JobStatus.COMPLETED
        ran.clear()
        awaited = asyncio.create_task(writer.write(lambda db: ran.append('awaited'), key='one'))
        await asyncio.sleep(0)  # queued
        writer.write_soon(lambda db: ran.append('soon'), key='one')
        await asyncio.wait_for(awaited, timeout=5)  # a write someone waits for always runs
        await wait_for(lambda: ran == ['awaited', 'soon'], timeout=5)
        writer.write_soon(lambda db: ran.append('alone'), key='two')
    finally:
        await writer.stop()
    assert ran[-1] == 'alone'  # a keyed write nothing took the place of runs
    engine.dispose()


def _status(engine: Engine, job_id: str) -> str | None:
    with session(engine) as db:
        row = db.get(Job, job_id)
        return None if row is None else row.status
