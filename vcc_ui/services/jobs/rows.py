"""The job table's reads and writes, each a function of one session for the DbWriter."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Table, bindparam, func, insert, text, update
from sqlmodel import Session, col, select

from vcc_ui.models import FINISHED, Image, Job, JobStatus
from vcc_ui.services.jobs.cluster import LEADER_LOCK
from vcc_ui.services.jobs.queue import Limits, limit_refusal
from vcc_ui.services.jobs.types import AdmissionCheck, JobView, SubmitError

ADMIT_LOCK = 0x76636331  # 'vcc1': the transaction-level advisory lock every instance's submit takes on PostgreSQL
HOLDS_LEADER_LOCK = (  # a bigint advisory key shows as classid (high half) and objid (low half), objsubid 1
    "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid::bigint = :key "
    'AND objsubid = 1 AND pid = :pid AND granted)'
)

JOB_TABLE: Table = Job.__table__  # type: ignore[attr-defined]
# NOTE: built once: the SET columns come from each call's parameters (SQLAlchemy keeps one compiled form per set of
# columns), so a call builds no statement; building them per call, as ORM statements, was most of a job's DB time
UPDATE_JOB = update(JOB_TABLE).where(JOB_TABLE.c.id == bindparam('job_id'))
CLAIM_JOB = UPDATE_JOB.where(
    JOB_TABLE.c.status.in_([JobStatus.QUEUED.value, JobStatus.DISPATCHED.value]), JOB_TABLE.c.prompt_id.is_(None)
)
CLAIM_JOB_AS_LEADER = CLAIM_JOB.where(text(HOLDS_LEADER_LOCK))
IMAGE_TABLE: Table = Image.__table__  # type: ignore[attr-defined]
INSERT_JOB = insert(JOB_TABLE)
INSERT_IMAGE = insert(IMAGE_TABLE)


def insert_row(db: Session, row: Job | Image) -> None:
    """INSERT a new job or image row as it is: a plain statement built once (the ORM's unit of work costs more)."""
    table, statement = (JOB_TABLE, INSERT_JOB) if isinstance(row, Job) else (IMAGE_TABLE, INSERT_IMAGE)
    db.connection().execute(statement, {column.key: getattr(row, column.key) for column in table.columns})


def update_job(db: Session, job_id: str, **fields: object) -> None:
    """Set fields of one job row: a plain UPDATE (the ORM's synchronisation of loaded rows doubles its cost)."""
    db.flush()  # a row added earlier in the same transaction is inserted before it is updated
    db.connection().execute(UPDATE_JOB, {'job_id': job_id, **fields})


def state_fields(view: JobView, status: JobStatus) -> dict[str, object]:
    """A job row's status with what its earlier state steps wrote (`started_at`), for a write that takes their place."""
    return {'status': status} if view.started_at is None else {'status': status, 'started_at': view.started_at}


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


class Admission(NamedTuple):
    """What admit_job did: nothing new (the earlier job with the same key, or why not), or added the row."""

    earlier: Job | None = None
    refusal: SubmitError | None = None


def admit_job(
    db: Session,
    row: Job,
    since: datetime,
    *,
    check: AdmissionCheck,
    refusal: SubmitError | None = None,
    limits: Limits | None = None,
) -> Admission:
    """Add the job row unless something refuses it; else the earlier job with its idempotency key, or the refusal.

    In this one transaction: the earlier keyed job, then `check` (blocked, then over quota) around `refusal` (what the
    caller found without the database: LoRA, limits, address, storage), then with `limits` (several instances) the
    per-user and global limits counted in the database. On PostgreSQL that counting takes one advisory transaction
    lock, so two instances cannot both count the same free place: the check and the insert commit together.
    """
    if limits is not None and db.get_bind().dialect.name == 'postgresql':
        db.exec(text('SELECT pg_advisory_xact_lock(:key)').bindparams(key=ADMIT_LOCK))  # type: ignore[call-overload]
    if row.idempotency_key is not None and (earlier := keyed_job(db, row.owner, row.idempotency_key, since)):
        return Admission(earlier=earlier)
    blocked, over_quota = check(db, row.owner)
    if blocked:
        return Admission(refusal=SubmitError('blocked', blocked))
    if refusal is not None:
        return Admission(refusal=refusal)
    if over_quota:
        return Admission(refusal=SubmitError('quota', over_quota))
    if limits is None:
        insert_row(db, row)
        return Admission()
    unfinished = col(Job.status).not_in([s.value for s in FINISHED])
    counts = dict(
        db.exec(select(Job.status, func.count()).where(Job.owner == row.owner, unfinished).group_by(Job.status)).all()
    )
    queued = counts.pop(JobStatus.QUEUED.value, 0)
    total = db.exec(select(func.count()).where(Job.status == JobStatus.QUEUED)).one() if limits.max_queued_jobs else 0
    if refusal := limit_refusal(limits, queued, sum(counts.values()), total):
        return Admission(refusal=refusal)
    insert_row(db, row)
    return Admission()


def claim_job(db: Session, job_id: str, server_id: int, prompt_id: str, leader: int | None = None) -> bool:
    """Mark a waiting job dispatched with its server and prompt id; False when it no longer waits (taken or ended).

    With `leader` (several instances: the backend pid of the caller's lock connection) only while that connection
    still holds the leader lock, so an instance that lost it without noticing yet takes no job.
    """
    values = {'job_id': job_id, 'status': JobStatus.DISPATCHED, 'server_id': server_id, 'prompt_id': prompt_id}
    if leader is None:
        result = db.connection().execute(CLAIM_JOB, values)
    else:
        result = db.connection().execute(CLAIM_JOB_AS_LEADER, {**values, 'key': LEADER_LOCK, 'pid': leader})
    return bool(result.rowcount)


def holds_leader_lock(db: Session, pid: int) -> bool:
    """Whether the backend `pid` (an instance's lock connection) holds the leader lock now."""
    query = text(f'SELECT {HOLDS_LEADER_LOCK}').bindparams(key=LEADER_LOCK, pid=pid)
    return bool(db.exec(query).one()[0])  # type: ignore[call-overload]


def new_queued_jobs(db: Session, known: Collection[str]) -> list[Job]:
    """Waiting jobs whose ids are not in `known`, oldest first."""
    waiting = db.exec(select(Job.id).where(Job.status == JobStatus.QUEUED)).all()
    unknown = [job_id for job_id in waiting if job_id not in known]
    return sorted(jobs_by_id(db, unknown), key=lambda row: row.queued_at)


def cancel_requests(db: Session) -> list[str]:
    """The unfinished jobs someone asked to cancel."""
    unfinished = col(Job.status).not_in([s.value for s in FINISHED])
    return list(db.exec(select(Job.id).where(col(Job.cancel_requested), unfinished)).all())


def jobs_by_id(db: Session, ids: Collection[str]) -> list[Job]:
    """The job rows with these ids."""
    return list(db.exec(select(Job).where(col(Job.id).in_(list(ids)))).all()) if ids else []


def owner_front_priority(db: Session, job_id: str) -> float | None:
    """Give a waiting job a priority before its owner's other waiting jobs; the new value, None if it does not wait."""
    row = db.get(Job, job_id)
    if row is None or row.status != JobStatus.QUEUED:
        return None
    lowest = db.exec(select(func.min(Job.priority)).where(Job.owner == row.owner, Job.status == JobStatus.QUEUED)).one()
    row.priority = (lowest or 0.0) - 1
    db.add(row)
    return row.priority


def get_image(db: Session, image_id: str) -> Image | None:
    """The image row with this id, or None."""
    return db.get(Image, image_id)


def finish_job(db: Session, job_id: str, *, fields: dict[str, object], images: list[Image], merge: bool) -> None:
    """End a job in one transaction: the image rows of its outputs first, then its row's end fields."""
    for row in images:
        put_image(db, row=row, merge=merge)
    update_job(db, job_id, **fields)


def put_image(db: Session, *, row: Image, merge: bool) -> None:
    """Add a new image row, or merge it over one an earlier run may have stored."""
    if merge:
        db.merge(row)
    else:
        insert_row(db, row)
