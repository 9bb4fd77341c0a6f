"""Restart recovery finishes every job it finds: a kill between an output file and its sidecar included."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import select

from tests.fixtures import USER_A, make_settings, services, simulator, wait_for
from vcc_ui.db import session
from vcc_ui.models import Image, Job
from vcc_ui.services.dbwriter import write
from vcc_ui.services.jobs.rows import update_job

PROMPT = {'prompt': 'a red fox in the snow', 'seed': 7, 'steps': 3}


async def test_a_kill_between_file_and_sidecar_completes_on_restart(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim:
        settings = make_settings(tmp_path, sim.url)
        async with services(settings) as app:
            view = await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
            await wait_for(lambda: view.finished)
            assert view.status == 'completed', view.error
            with session(app.engine) as db:
                image = db.get(Image, view.image_ids[0])
            assert image is not None
            original = app.storage.resolve(image.rel_path)
            data = original.read_bytes()
            sidecar = original.with_suffix('.json')
            # the state a kill leaves after the original was written: no thumbnail, no sidecar, no row, job saving
            sidecar.unlink()
            for thumb in original.parent.glob(f'thumb/{original.stem}.*'):
                thumb.unlink()
            write(app.engine, lambda db: db.delete(db.get(Image, image.id)))
            write(app.engine, lambda db: update_job(db, view.id, status='saving', finished_at=None, image_ids=[]))
        async with services(settings) as app:
            await wait_for(lambda: app.jobs.views[view.id].finished)
            restored = app.jobs.views[view.id]
            assert restored.status == 'completed', restored.error
            assert restored.image_ids == [image.id]
            assert all(e.health.inflight == 0 for e in app.pool.entries.values())
            with session(app.engine) as db:
                rows = db.exec(select(Image).where(Image.job_id == view.id)).all()
                job = db.get(Job, view.id)
            assert [r.id for r in rows] == [image.id] and job is not None and job.status == 'completed'
            assert original.read_bytes() == data
            assert json.loads(sidecar.read_text())['sha256'] == image.sha256
            assert list(original.parent.glob(f'thumb/{original.stem}.*'))
