"""What admins read and change across all users: the user list, block and quota, everyone's images, server history."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, case, func
from sqlmodel import Session, col, select

from vcc_ui.models import Image, Job, JobStatus, User, utcnow
from vcc_ui.services.auth import ANON_RE
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.image_meta import AdminImageView, ImageFilter, IsoTime
from vcc_ui.services.images import ImageIndex, ImageNotFound, ImagePage
from vcc_ui.services.queries import (
    ImageTotals,
    image_rows,
    image_totals,
    is_known_owner,
    page_bounds,
    server_jobs,
    usage_of,
    user_rows,
)
from vcc_ui.services.stats import seconds_between
from vcc_ui.services.users import UserDirectory, clean_nickname
from vcc_ui.settings import Settings

log = logging.getLogger(__name__)

Include = Literal['active', 'trash', 'all']
MAX_USERS = 1000


class UserSummary(BaseModel):
    """One row of the admin's user list; the field names are the JSON keys of GET /api/v1/admin/users items."""

    model_config = ConfigDict(frozen=True)

    id: str
    display_name: str | None
    created_at: IsoTime | None
    last_seen: IsoTime | None
    blocked: bool
    jobs: int
    jobs_done: int = 0  # completed
    gpu_seconds: float = 0.0  # summed execution time (start of execution to the end) of every job that ran
    images: int
    bytes: int
    trash_images: int
    quota_max_bytes: int | None  # the user's own limit, None = the default applies
    quota_max_images: int | None
    max_bytes: int  # the limit that applies, 0 = unlimited
    max_images: int

    @property
    def quota_fill(self) -> float:
        """How full the fuller of the two quotas is, 0..1 (0 when both are unlimited)."""
        ratios = [
            self.images / self.max_images if self.max_images else 0.0,
            self.bytes / self.max_bytes if self.max_bytes else 0.0,
        ]
        return min(1.0, max(ratios))

    def matches(self, search: str) -> bool:
        """Whether a search finds the user by a part of the id or of the display name (any case)."""
        needle = search.strip().lower()
        return not needle or needle in self.id or needle in (self.display_name or '').lower()


class ServerJob(BaseModel):
    """One job of a server's recent history; the field names are the JSON keys of a history item."""

    model_config = ConfigDict(frozen=True)

    id: str
    owner: str
    workflow_id: str
    status: str
    queued_at: IsoTime
    started_at: IsoTime | None
    finished_at: IsoTime | None
    duration: float | None  # seconds from start to finish, when both are known
    error: str | None

    @classmethod
    def of(cls, job: Job) -> ServerJob:
        """Return the history item of a job row."""
        duration = (
            max(0.0, (job.finished_at - job.started_at).total_seconds()) if job.started_at and job.finished_at else None
        )
        return cls(
            id=job.id,
            owner=job.owner,
            workflow_id=job.workflow_id,
            status=job.status,
            queued_at=job.queued_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            duration=duration,
            error=job.error,
        )


@dataclass(frozen=True, slots=True)
class JobUsage:
    """One owner's jobs: how many, how many completed, and their summed execution seconds."""

    count: int = 0
    done: int = 0
    seconds: float = 0.0


NO_JOBS = JobUsage()


def job_usage(db: Session) -> dict[str, JobUsage]:
    """Per owner: jobs, completed jobs and time on a GPU (started_at is when the server began executing)."""
    ran = and_(col(Job.started_at).is_not(None), col(Job.finished_at).is_not(None))
    seconds = func.sum(case((ran, seconds_between(db, Job.started_at, Job.finished_at)), else_=0.0))
    done = func.sum(case((col(Job.status) == JobStatus.COMPLETED, 1), else_=0))
    rows = db.exec(select(Job.owner, func.count(), done, seconds).group_by(Job.owner)).all()
    return {owner: JobUsage(int(n), int(d or 0), round(float(s or 0.0), 1)) for owner, n, d, s in rows}


class AdminData:
    """Cross-user queries and changes; every call here is for admins only (the routes check that)."""

    def __init__(self, writer: DbWriter, images: ImageIndex, settings: Settings, users: UserDirectory) -> None:
        self.writer = writer
        self.images = images
        self.settings = settings
        self.directory = users

    # ---- users -----------------------------------------------------------------------------------------------

    async def users(self) -> list[UserSummary]:
        """Every user (rows, and owners of jobs or images without a row), most recently seen first."""

        def query(db: Session) -> list[UserSummary]:
            rows = {u.id: u for u in user_rows(db, limit=MAX_USERS)}
            jobs = job_usage(db)
            totals = image_totals(db)
            ids = list(rows) + sorted((set(jobs) | set(totals)) - set(rows))
            return [
                self._summary(user_id, rows.get(user_id), jobs.get(user_id, NO_JOBS), totals.get(user_id))
                for user_id in ids
            ]

        return await self.writer.read(query)

    async def user(self, user_id: str) -> UserSummary | None:
        """One user's summary, or None for an unknown id."""
        return next((u for u in await self.users() if u.id == user_id), None)

    def _summary(self, user_id: str, row: User | None, jobs: JobUsage, totals: ImageTotals | None) -> UserSummary:
        usage = usage_of(totals, row, self.settings)
        return UserSummary(
            id=user_id,
            display_name=row.display_name if row else None,
            created_at=row.created_at if row else None,
            last_seen=row.last_seen if row else None,
            blocked=bool(row and row.blocked),
            jobs=jobs.count,
            jobs_done=jobs.done,
            gpu_seconds=jobs.seconds,
            images=usage.images,
            bytes=usage.bytes,
            trash_images=usage.trash_images,
            quota_max_bytes=row.quota_max_bytes if row else None,
            quota_max_images=row.quota_max_images if row else None,
            max_bytes=usage.max_bytes,
            max_images=usage.max_images,
        )

    async def update_user(self, user_id: str, **fields: Any) -> UserSummary:
        """Set display_name, blocked, quota_max_bytes or quota_max_images (None = default) of a user."""
        allowed = {'display_name', 'blocked', 'quota_max_bytes', 'quota_max_images'}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f'cannot change {", ".join(sorted(unknown))}')
        if not ANON_RE.fullmatch(user_id):
            raise ImageNotFound('No such user.')
        if 'display_name' in fields:
            fields['display_name'] = clean_nickname(fields['display_name'])

        def apply(db: Session) -> None:
            row = db.get(User, user_id)
            if row is None:
                if not is_known_owner(db, user_id):
                    raise ImageNotFound('No such user.')
                now = utcnow()
                row = User(id=user_id, created_at=now, last_seen=now)
            for key, value in fields.items():
                setattr(row, key, value)
            db.add(row)

        await self.writer.write(apply)
        if 'display_name' in fields:
            self.directory.remember(user_id, fields['display_name'])
        log.info('admin changed user %s: %s', user_id, ', '.join(f'{k}={v!r}' for k, v in fields.items()))
        summary = await self.user(user_id)
        assert summary is not None
        return summary

    # ---- images ----------------------------------------------------------------------------------------------

    async def images_page(
        self,
        *,
        user_id: str | None = None,
        page: int = 1,
        size: int = 50,
        include: Include = 'active',
        from_date: date | None = None,
        to_date: date | None = None,
    ) -> ImagePage[AdminImageView]:
        """One page of everyone's (or one user's) images, newest first."""
        page, size = page_bounds(page, size)
        f = ImageFilter(status=None if include == 'all' else include, from_date=from_date, to_date=to_date)
        found = await self.writer.read(lambda db: image_rows(db, f, owner=user_id or None, page=page, size=size))
        return ImagePage.of(found, [self._view(row) for row in found.rows], page=page, size=size)

    async def image(self, image_id: str) -> AdminImageView:
        """Any user's image, or raise ImageNotFound."""
        row = await self.writer.read(lambda db: db.get(Image, image_id))
        if row is None:
            raise ImageNotFound()
        return self._view(row)

    def _view(self, row: Image) -> AdminImageView:
        return AdminImageView.of(row, purge_at=self.images.purge_at(row))

    async def delete_image(self, image_id: str) -> AdminImageView:
        """Move any user's image to the trash (sidecar and row, like the owner's own delete)."""
        owner = (await self.image(image_id)).owner
        await self.images.delete(owner, image_id)
        log.info('admin trashed image %s of %s', image_id, owner)
        return await self.image(image_id)

    async def restore_image(self, image_id: str) -> AdminImageView:
        """Bring any user's image back from the trash."""
        owner = (await self.image(image_id)).owner
        await self.images.restore(owner, image_id)
        log.info('admin restored image %s of %s', image_id, owner)
        return await self.image(image_id)

    # ---- servers ---------------------------------------------------------------------------------------------

    async def server_history(self, server_id: int, *, limit: int = 20) -> list[ServerJob]:
        """The newest jobs sent to one server."""
        rows: list[Job] = await self.writer.read(lambda db: server_jobs(db, server_id, limit=limit))
        return [ServerJob.of(row) for row in rows]
