"""The job and image rows the plain INSERTs store read back as the objects they came from, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from tests.fixtures import make_settings
from vcc_ui.db import session
from vcc_ui.models import Image, Job, JobStatus, utcnow
from vcc_ui.services.dbwriter import write
from vcc_ui.services.jobs.rows import IMAGE_TABLE, JOB_TABLE, admit_job, claim_job, finish_job

OWNER = 'anon-' + 'b' * 32


def _job(job_id: str, key: str | None = None) -> Job:
    params = {'prompt': '여우 fox', 'seed': 2**40, 'cfg': 6.5, 'loras': [{'name': 'a', 'strength': 0.5}]}
    return Job(id=job_id, owner=OWNER, workflow_id='test_pattern', mode='txt2img', params=params, idempotency_key=key)


def _image(image_id: str, job_id: str) -> Image:
    return Image(
        id=image_id,
        owner=OWNER,
        rel_path=f'{OWNER}/generated/2026/11/30/{image_id}.png',
        thumb_path=f'{OWNER}/generated/2026/11/30/thumb/{image_id}.webp',
        mime='image/png',
        bytes=5_000_000_000,
        width=512,
        height=768,
        sha256='c' * 64,
        created_at=utcnow() - timedelta(seconds=3),
        workflow_id='test_pattern',
        mode='txt2img',
        prompt='여우 fox',
        negative_prompt='',
        seed=2**40,
        aspect_ratio='2:3',
        job_id=job_id,
        server='one',
        original_filename='vcc_00001_.png',
        llm_action='translate',
        params={'prompt': '여우 fox', 'workflow_version': 'v1'},
        tags=[],
    )


def _columns(row: Job | Image) -> dict[str, object]:
    table = JOB_TABLE if isinstance(row, Job) else IMAGE_TABLE
    return {column.key: getattr(row, column.key) for column in table.columns}


def _never_refused(_db: object, _owner: str) -> tuple[str | None, str | None]:
    return None, None


def test_admitted_jobs_and_finished_images_read_back_as_given(engine: Engine, tmp_path: Path) -> None:
    since = utcnow() - timedelta(days=1)
    plain, counted = _job('a' * 32), _job('b' * 32, key='retry-1')
    limits = make_settings(tmp_path, 'http://127.0.0.1:1', max_per_user_queue=5)
    assert write(engine, lambda db: admit_job(db, plain, since, check=_never_refused)).refusal is None
    assert write(engine, lambda db: admit_job(db, counted, since, check=_never_refused, limits=limits)).refusal is None
    again = write(engine, lambda db: admit_job(db, _job('c' * 32, key='retry-1'), since, check=_never_refused))
    assert again.earlier is not None and again.earlier.id == counted.id  # the stored key is found
    image = _image('d' * 32, plain.id)

    def claim_and_finish(db: Session) -> bool:  # a row inserted in this transaction is updated in it too
        claimed = claim_job(db, plain.id, server_id=1, prompt_id='p-1')
        fields = {'status': JobStatus.COMPLETED, 'finished_at': utcnow(), 'image_ids': [image.id]}
        finish_job(db, plain.id, fields=fields, images=[image], merge=False)
        return claimed

    assert write(engine, claim_and_finish)
    with session(engine) as db:
        stored_counted, stored_image = db.get(Job, counted.id), db.get(Image, image.id)
        stored_plain = db.get(Job, plain.id)
    assert stored_counted is not None and _columns(stored_counted) == _columns(counted)
    assert stored_image is not None and _columns(stored_image) == _columns(image)
    assert stored_plain is not None and stored_plain.status == 'completed' and stored_plain.image_ids == [image.id]
    assert stored_plain.prompt_id == 'p-1' and stored_plain.params == plain.params
