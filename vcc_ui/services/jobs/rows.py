"""The job table's reads and writes, each a function of one session for the DbWriter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, update
from sqlmodel import Session, col, select

from vcc_ui.models import FINISHED, Image, Job

JOB_TABLE: Table = Job.__table__  # type: ignore[attr-defined]


def update_job(db: Session, job_id: str, **fields: object) -> None:
    """Set fields of one job row: a plain UPDATE (the ORM's synchronisation of loaded rows doubles its cost)."""
    db.flush()  # a row added earlier in the same transaction is inserted before it is updated
    db.connection().execute(update(JOB_TABLE).where(JOB_TABLE.c.id == job_id).values(**fields))


def unfinished_jobs(db: Session) -> list[Job]:
    """Every job not in an end state, oldest first."""
    return list(
        db.exec(
            select(Job).where(col(Job.status).not_in([s.value for s in FINISHED])).order_by(col(Job.queued_at))
        ).all()
    )


def newest_jobs(db: Session, owner: str, limit: int) -> list[Job]:
    """The newest jobs of one user."""
    return list(db.exec(select(Job).where(Job.owner == owner).order_by(col(Job.queued_at).desc()).limit(limit)).all())


def keyed_job(db: Session, owner: str, key: str, since: datetime) -> Job | None:
    """The newest job the owner submitted with this idempotency key since `since`, or None."""
    query = select(Job).where(Job.owner == owner, Job.idempotency_key == key, col(Job.queued_at) >= since)
    return db.exec(query.order_by(col(Job.queued_at).desc()).limit(1)).first()


def add_job_once(db: Session, row: Job, since: datetime) -> Job | None:
    """Add the job row unless the owner stored one with the same idempotency key since `since`; return that one."""
    if row.idempotency_key is not None and (earlier := keyed_job(db, row.owner, row.idempotency_key, since)):
        return earlier
    db.add(row)
    return None


def get_image(db: Session, image_id: str) -> Image | None:
    """The image row with this id, or None."""
    return db.get(Image, image_id)


def put_image(db: Session, *, row: Image, merge: bool) -> None:
    """Add a new image row, or merge it over one an earlier run may have stored."""
    if merge:
        db.merge(row)
    else:
        db.add(row)
