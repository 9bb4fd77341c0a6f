"""What admins read and change across all users: the user list, block and quota, everyone's images, server history."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlmodel import Session, col, func, select

from vcc_ui.models import Image, Job, User, utcnow
from vcc_ui.services.auth import ANON_RE
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.images import MAX_PAGE_SIZE, ImageIndex, ImageNotFound, ImagePage
from vcc_ui.settings import Settings

log = logging.getLogger(__name__)

Include = Literal['active', 'trash', 'all']
MAX_USERS = 1000


@dataclass(kw_only=True, slots=True)
class UserSummary:
    """One row of the admin's user list."""

    id: str
    display_name: str | None
    created_at: datetime | None
    last_seen: datetime | None
    blocked: bool
    jobs: int
    images: int
    bytes: int
    trash_images: int
    quota_max_bytes: int | None  # the user's own limit, None = the default applies
    quota_max_images: int | None
    max_bytes: int  # the limit that applies, 0 = unlimited
    max_images: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of GET /api/v1/admin/users items."""
        return {
            'id': self.id,
            'display_name': self.display_name,
            'created_at': self.created_at.isoformat() if self.created_at else None,
            'last_seen': self.last_seen.isoformat() if self.last_seen else None,
            'blocked': self.blocked,
            'jobs': self.jobs,
            'images': self.images,
            'bytes': self.bytes,
            'trash_images': self.trash_images,
            'quota_max_bytes': self.quota_max_bytes,
            'quota_max_images': self.quota_max_images,
            'max_bytes': self.max_bytes,
            'max_images': self.max_images,
        }

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


@dataclass(kw_only=True, slots=True)
class ServerJob:
    """One job of a server's recent history."""

    id: str
    owner: str
    workflow_id: str
    status: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, when both are known."""
        if self.started_at and self.finished_at:
            return max(0.0, (self.finished_at - self.started_at).total_seconds())
        return None

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of a history item."""
        return {
            'id': self.id,
            'owner': self.owner,
            'workflow_id': self.workflow_id,
            'status': self.status,
            'queued_at': self.queued_at.isoformat(),
            'started_at': self.started_at.isoformat() if self.started_at else None,
            'finished_at': self.finished_at.isoformat() if self.finished_at else None,
            'duration': self.duration,
            'error': self.error,
        }


class AdminData:
    """Cross-user queries and changes; every call here is for admins only (the routes check that)."""

    def __init__(self, writer: DbWriter, images: ImageIndex, settings: Settings) -> None:
        self.writer = writer
        self.images = images
        self.settings = settings

    # ---- users -----------------------------------------------------------------------------------------------

    async def users(self) -> list[UserSummary]:
        """Every user (rows, and owners of jobs or images without a row), most recently seen first."""

        def query(db: Session) -> list[UserSummary]:
            rows = {u.id: u for u in db.exec(select(User).order_by(col(User.last_seen).desc()).limit(MAX_USERS))}
            jobs = dict(db.exec(select(Job.owner, func.count()).group_by(Job.owner)).all())
            stats: dict[str, dict[str, int]] = {}
            for owner, status, count, size in db.exec(
                select(Image.owner, Image.status, func.count(), func.coalesce(func.sum(Image.bytes), 0)).group_by(
                    Image.owner, Image.status
                )
            ).all():
                stats.setdefault(owner, {})[status] = int(count)
                if status == 'active':
                    stats[owner]['bytes'] = int(size)
            ids = list(rows) + sorted((set(jobs) | set(stats)) - set(rows))
            return [
                self._summary(user_id, rows.get(user_id), jobs.get(user_id, 0), stats.get(user_id, {}))
                for user_id in ids
            ]

        return await self.writer.read(query)

    async def user(self, user_id: str) -> UserSummary | None:
        """One user's summary, or None for an unknown id."""
        return next((u for u in await self.users() if u.id == user_id), None)

    def _summary(self, user_id: str, row: User | None, jobs: int, stats: dict[str, int]) -> UserSummary:
        own_bytes = row.quota_max_bytes if row else None
        own_images = row.quota_max_images if row else None
        return UserSummary(
            id=user_id,
            display_name=row.display_name if row else None,
            created_at=row.created_at if row else None,
            last_seen=row.last_seen if row else None,
            blocked=bool(row and row.blocked),
            jobs=int(jobs),
            images=stats.get('active', 0),
            bytes=stats.get('bytes', 0),
            trash_images=stats.get('trash', 0),
            quota_max_bytes=own_bytes,
            quota_max_images=own_images,
            max_bytes=self.settings.quota_max_bytes if own_bytes is None else own_bytes,
            max_images=self.settings.quota_max_images if own_images is None else own_images,
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
            fields['display_name'] = (fields['display_name'] or '').strip()[:100] or None

        def apply(db: Session) -> None:
            row = db.get(User, user_id)
            if row is None:
                known = (
                    db.exec(select(func.count()).select_from(Job).where(Job.owner == user_id)).one()
                    or db.exec(select(func.count()).select_from(Image).where(Image.owner == user_id)).one()
                )
                if not known:
                    raise ImageNotFound('No such user.')
                now = utcnow()
                row = User(id=user_id, created_at=now, last_seen=now)
            for key, value in fields.items():
                setattr(row, key, value)
            db.add(row)

        await self.writer.write(apply)
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
    ) -> ImagePage:
        """One page of everyone's (or one user's) images, newest first."""
        size, page = max(1, min(size, MAX_PAGE_SIZE)), max(1, page)
        where: list[Any] = []
        if user_id:
            where.append(Image.owner == user_id)
        if include != 'all':
            where.append(Image.status == include)
        if from_date:
            where.append(col(Image.created_at) >= datetime.combine(from_date, time.min, UTC))
        if to_date:
            where.append(col(Image.created_at) < datetime.combine(to_date + timedelta(days=1), time.min, UTC))

        def query(db: Session) -> ImagePage:
            total = db.exec(select(func.count()).select_from(Image).where(*where)).one()
            items = db.exec(
                select(Image)
                .where(*where)
                .order_by(col(Image.created_at).desc(), col(Image.id).desc())
                .offset((page - 1) * size)
                .limit(size)
            ).all()
            return ImagePage(items=list(items), page=page, size=size, total=total)

        return await self.writer.read(query)

    async def image(self, image_id: str) -> Image:
        """Any user's image, or raise ImageNotFound."""
        row = await self.writer.read(lambda db: db.get(Image, image_id))
        if row is None:
            raise ImageNotFound()
        return row

    async def delete_image(self, image_id: str) -> Image:
        """Move any user's image to the trash (sidecar and row, like the owner's own delete)."""
        row = await self.image(image_id)
        changed = await self.images.delete(row.owner, image_id)
        log.info('admin trashed image %s of %s', image_id, row.owner)
        return changed

    async def restore_image(self, image_id: str) -> Image:
        """Bring any user's image back from the trash."""
        row = await self.image(image_id)
        changed = await self.images.restore(row.owner, image_id)
        log.info('admin restored image %s of %s', image_id, row.owner)
        return changed

    # ---- servers ---------------------------------------------------------------------------------------------

    async def server_history(self, server_id: int, *, limit: int = 20) -> list[ServerJob]:
        """The newest jobs sent to one server."""
        rows: list[Job] = await self.writer.read(
            lambda db: list(
                db.exec(
                    select(Job).where(Job.server_id == server_id).order_by(col(Job.queued_at).desc()).limit(limit)
                ).all()
            )
        )
        return [
            ServerJob(
                id=r.id,
                owner=r.owner,
                workflow_id=r.workflow_id,
                status=r.status,
                queued_at=r.queued_at,
                started_at=r.started_at,
                finished_at=r.finished_at,
                error=r.error,
            )
            for r in rows
        ]
