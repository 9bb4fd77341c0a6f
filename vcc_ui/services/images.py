"""The image index: what a user's gallery lists, from the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from vcc_ui.models import Image
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.storage import Storage

MAX_PAGE_SIZE = 100


@dataclass(kw_only=True, slots=True)
class ImagePage:
    """One page of a listing."""

    items: list[Image]
    page: int
    size: int
    total: int

    @property
    def has_more(self) -> bool:
        """Whether a next page exists."""
        return self.page * self.size < self.total


class ImageIndex:
    """Lists and reads image rows; every query is scoped to one owner."""

    def __init__(self, writer: DbWriter) -> None:
        self.writer = writer

    async def page(self, owner: str, *, page: int = 1, size: int = 50, kind: str | None = None) -> ImagePage:
        """Return the owner's active images, newest first."""
        size = max(1, min(size, MAX_PAGE_SIZE))
        page = max(1, page)
        where = [Image.owner == owner, Image.status == 'active', *([Image.kind == kind] if kind else [])]

        def query(db: Session) -> ImagePage:
            total = db.exec(select(func.count()).select_from(Image).where(*where)).one()
            items = db.exec(select(Image).where(*where).order_by(col(Image.created_at).desc(), col(Image.id).desc())
                            .offset((page - 1) * size).limit(size)).all()
            return ImagePage(items=list(items), page=page, size=size, total=total)

        return await self.writer.read(query)

    async def get(self, owner: str, image_id: str) -> Image | None:
        """Return one of the owner's images, or None (also for other owners' ids)."""
        row = await self.writer.read(lambda db: db.get(Image, image_id))
        return row if row is not None and row.owner == owner else None


def image_dict(row: Image) -> dict:
    """The JSON shape of an image in API answers."""
    return {'id': row.id, 'kind': row.kind, 'url': Storage.url(row.rel_path),
            'thumb_url': Storage.url(row.thumb_path) if row.thumb_path else None, 'mime': row.mime,
            'bytes': row.bytes, 'width': row.width, 'height': row.height, 'sha256': row.sha256,
            'created_at': row.created_at.isoformat(), 'status': row.status, 'workflow_id': row.workflow_id,
            'mode': row.mode, 'prompt': row.prompt, 'negative_prompt': row.negative_prompt, 'seed': row.seed,
            'aspect_ratio': row.aspect_ratio, 'job_id': row.job_id, 'server': row.server, 'tags': row.tags,
            'favorite': row.favorite}
