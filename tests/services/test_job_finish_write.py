"""A completed job's image rows go in with its end: one write, and a failed one loses no image."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tests.fixtures import USER_A, make_settings, services, simulator, wait_for
from vcc_ui.models import Job
from vcc_ui.services import Services
from vcc_ui.services.jobs.rows import finish_job, get_image, put_image

PROMPT = {'prompt': 'a red fox', 'seed': 7}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Services]:
    async with simulator(tmp_path, step_delay=0.0) as sim, services(make_settings(tmp_path, sim.url)) as ready:
        yield ready


def record_writes(app: Services, monkeypatch: pytest.MonkeyPatch, *, fail_finish: int = 0) -> list[Any]:
    """Record every fn the writer is handed; the first `fail_finish` finish writes with images raise instead."""
    seen: list[Any] = []
    write = app.writer.write
    failures = [fail_finish]

    async def recording(fn: Any, **options: Any) -> Any:
        seen.append(fn)
        if getattr(fn, 'func', None) is finish_job and fn.keywords['images'] and failures[0] > 0:
            failures[0] -= 1
            raise RuntimeError('the database went away for a moment')
        return await write(fn, **options)

    monkeypatch.setattr(app.writer, 'write', recording)
    return seen


async def assert_completed_with_its_image(app: Services, job_id: str) -> None:
    view = app.jobs.views[job_id]
    assert view.status == 'completed', view.error
    (image_id,) = view.image_ids
    row = await app.writer.read(partial(get_image, image_id=image_id))
    assert row is not None and row.owner == USER_A and row.job_id == job_id
    assert (app.settings.output_dir / row.rel_path).is_file()
    job = await app.writer.read(lambda db: db.get(Job, job_id))
    assert job.status == 'completed' and job.image_ids == [image_id]


async def test_the_image_row_is_written_with_the_jobs_end(app: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = record_writes(app, monkeypatch)
    view = await app.jobs.submit(USER_A, 'test_pattern', PROMPT)
    await wait_for(lambda: view.finished)
    await assert_completed_with_its_image(app, view.id)
    assert not [fn for fn in seen if getattr(fn, 'func', None) is put_image]  # no write of its own per image
    (finish,) = [fn for fn in seen if getattr(fn, 'func', None) is finish_job]
    assert [row.id for row in finish.keywords['images']] == view.image_ids


async def test_a_job_commits_three_times_and_its_row_keeps_every_step(app: Services) -> None:
    commits: list[int] = []
    event.listen(app.engine, 'commit', lambda _conn: commits.append(1))
    views = []
    for seed in range(5):
        views.append(view := await app.jobs.submit(USER_A, 'test_pattern', {**PROMPT, 'seed': seed}))
        await wait_for(lambda v=view: v.finished)
    await app.writer.write(lambda db: None)  # after whatever is still queued (it touches no connection itself)
    # submit, claim, finish: the running and saving steps ride with the finish (one more: the stats' minute bucket)
    assert len(commits) <= 3 * len(views) + 1
    for view in views:
        job = await app.writer.read(lambda db, v=view: db.get(Job, v.id))
        assert job.status == 'completed' and job.started_at is not None and job.image_ids == view.image_ids


async def test_a_failed_finish_write_loses_no_image(app: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = record_writes(app, monkeypatch, fail_finish=1)
    view = await app.jobs.submit(USER_A, 'test_pattern', PROMPT)
    await wait_for(lambda: view.finished)
    await assert_completed_with_its_image(app, view.id)
    assert [getattr(fn, 'func', None) for fn in seen].count(put_image) == 1  # the rows alone, then the end


async def test_a_failed_job_writes_no_image_row(app: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = record_writes(app, monkeypatch)
    view = await app.jobs.submit(USER_A, 'sd15_txt2img', {'prompt': 'x', 'steps': 60})
    await wait_for(lambda: view.status == 'running')
    await app.jobs.cancel(view.id)
    await wait_for(lambda: view.finished)
    assert view.status == 'cancelled' and view.image_ids == []
    assert all(not fn.keywords['images'] for fn in seen if getattr(fn, 'func', None) is finish_job)
