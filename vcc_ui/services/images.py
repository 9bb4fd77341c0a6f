"""The image index: what a user's gallery lists, from the database; files and sidecars change with it.

Consistency: the sidecar is the record and the row is the index. Every metadata change (favourite, tags,
trash, restore) writes the sidecar first and the row second, so an interrupted change leaves a sidecar that
`cli reindex --fix` copies into the row. Purge removes the files first (original, thumbnail, sidecar) and
the row last, so an interrupted purge leaves a row without files, which `reindex --fix` removes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, delete
from sqlmodel import Session, col, func, select

from vcc_ui.models import Image, ShareLink, User, utcnow
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.image_meta import (
    ImageFilter,
    ImageNotFound,
    ImageProblem,
    QuotaExceeded,
    UploadRejected,
    Usage,
    clean_filename,
    ids_of,
    normalize_tags,
    rejected,
    sidecar_fields,
    sidecar_of_row,
)
from vcc_ui.services.storage import IMAGE_ID_RE, ImageRejected, Storage, StorageError, StoredFile, sniff_image
from vcc_ui.settings import Settings

__all__ = [
    'ImageFilter',
    'ImageIndex',
    'ImageNotFound',
    'ImagePage',
    'ImageProblem',
    'QuotaExceeded',
    'UploadRejected',
    'Usage',
    'image_dict',
]

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
MAX_BULK = 500
PURGE_INTERVAL_SECONDS = 24 * 3600


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

    @property
    def pages(self) -> int:
        """How many pages of this size the listing has (at least one)."""
        return max(1, math.ceil(self.total / self.size))


def _like(text: str) -> str:
    """Return a LIKE pattern matching `text` anywhere, with LIKE's wildcards escaped."""
    return '%' + text.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_') + '%'


def _where(owner: str, f: ImageFilter) -> list[Any]:
    """Return the SQL conditions of a filter, always scoped to one owner."""
    where: list[Any] = [Image.owner == owner, Image.status == f.status]
    kinds = (f.kind,) if isinstance(f.kind, str) else tuple(f.kind or ())
    if kinds:
        where.append(Image.kind == kinds[0] if len(kinds) == 1 else col(Image.kind).in_(kinds))
    if f.from_date:
        where.append(col(Image.created_at) >= datetime.combine(f.from_date, time.min, UTC))
    if f.to_date:
        where.append(col(Image.created_at) < datetime.combine(f.to_date + timedelta(days=1), time.min, UTC))
    if f.aspect_ratio:
        where.append(Image.aspect_ratio == f.aspect_ratio)
    if f.workflow_id:
        where.append(Image.workflow_id == f.workflow_id)
    if f.favorite is not None:
        where.append(Image.favorite == f.favorite)
    if f.tag:
        # NOTE: tags are a JSON list stored as json.dumps text on SQLite and PostgreSQL (json, not jsonb).
        where.append(cast(Image.tags, Text).like(_like(json.dumps(f.tag.strip().lower())), escape='\\'))
    if f.q and f.q.strip():
        where.append(col(Image.prompt).ilike(_like(f.q.strip()), escape='\\'))
    return where


class ImageIndex:
    """Lists, reads and changes image rows with their files; every user-facing call is scoped to one owner."""

    def __init__(self, writer: DbWriter, storage: Storage, settings: Settings) -> None:
        self.writer = writer
        self.storage = storage
        self.settings = settings
        self.block_check: Callable[[str], Awaitable[str | None]] | None = None  # owner -> refusal or None

    # ---- queries ---------------------------------------------------------------------------------------------

    async def page(
        self,
        owner: str,
        *,
        page: int = 1,
        size: int = 50,
        filters: ImageFilter | None = None,
        kind: str | tuple[str, ...] | None = None,
    ) -> ImagePage:
        """Return one page of the owner's images (active by default), newest first."""
        size, page = max(1, min(size, MAX_PAGE_SIZE)), max(1, page)
        f = filters or ImageFilter()
        if kind is not None:
            f = ImageFilter(**{**{k: getattr(f, k) for k in f.__slots__}, 'kind': kind})
        where = _where(owner, f)

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

    async def get(self, owner: str, image_id: str) -> Image | None:
        """Return one of the owner's images, or None (also for other owners' ids)."""
        if not isinstance(image_id, str) or not IMAGE_ID_RE.fullmatch(image_id):
            return None
        row = await self.writer.read(lambda db: db.get(Image, image_id))
        return row if row is not None and row.owner == owner else None

    async def results(self, owner: str, image_ids: list[str]) -> list[Image]:
        """Return the owner's active generated images among these ids, the last first (a job's newest first)."""
        rows = [await self.get(owner, image_id) for image_id in image_ids]
        return [row for row in reversed(rows) if row is not None and row.status == 'active' and row.kind == 'generated']

    def purge_at(self, row: Image) -> datetime | None:
        """When a trashed image will be removed for good."""
        return row.trashed_at + timedelta(days=self.settings.trash_retention_days) if row.trashed_at else None

    # ---- metadata changes ------------------------------------------------------------------------------------

    async def set_favorite(self, owner: str, image_id: str, favorite: bool) -> Image:
        """Mark or unmark one of the owner's images as a favourite."""
        return (await self._change(owner, [image_id], {'favorite': bool(favorite)}, strict=True))[0]

    async def set_tags(self, owner: str, image_id: str, tags: list[str]) -> Image:
        """Replace the tags of one of the owner's images (normalised: trimmed, lower case, unique)."""
        return (await self._change(owner, [image_id], {'tags': normalize_tags(tags)}, strict=True))[0]

    async def delete(self, owner: str, image_id: str) -> Image:
        """Move one of the owner's images to the trash."""
        return (await self.bulk_delete(owner, [image_id], strict=True))[0]

    async def restore(self, owner: str, image_id: str) -> Image:
        """Bring one of the owner's images back from the trash."""
        return (await self.bulk_restore(owner, [image_id], strict=True))[0]

    async def bulk_delete(self, owner: str, image_ids: list[str], *, strict: bool = False) -> list[Image]:
        """Move the owner's listed images to the trash; return the rows changed (others' ids are skipped)."""
        return await self._change(owner, image_ids, {'status': 'trash', 'trashed_at': utcnow()}, strict=strict)

    async def bulk_restore(self, owner: str, image_ids: list[str], *, strict: bool = False) -> list[Image]:
        """Bring the owner's listed images back from the trash; return the rows changed."""
        return await self._change(owner, image_ids, {'status': 'active', 'trashed_at': None}, strict=strict)

    async def _change(self, owner: str, image_ids: list[str], fields: dict[str, Any], *, strict: bool) -> list[Image]:
        ids = ids_of(image_ids, MAX_BULK)
        rows = await self.writer.read(
            lambda db: list(db.exec(select(Image).where(col(Image.id).in_(ids), Image.owner == owner)).all())
        )
        if 'status' in fields:  # restore only trashed rows, trash only active ones
            rows = [r for r in rows if r.status != fields['status']]
        if strict and not rows:
            raise ImageNotFound()
        for row in rows:
            await asyncio.to_thread(self._write_sidecar, row, fields)

        def apply(db: Session) -> list[Image]:
            changed = []
            for row in rows:
                current = db.get(Image, row.id)
                if current is None or current.owner != owner:
                    continue
                for key, value in fields.items():
                    setattr(current, key, value)
                db.add(current)
                changed.append(current)
            return changed

        return await self.writer.write(apply)

    def _write_sidecar(self, row: Image, fields: dict[str, Any]) -> None:
        """Update the sidecar of `row` with `fields` (rebuilt from the row when missing or unreadable)."""
        try:
            meta = self.storage.read_sidecar(row.rel_path)
        except StorageError as error:
            log.warning('sidecar of %s unreadable (%s); rebuilding it from the row', row.id, error)
            meta = sidecar_of_row(row)
        meta.update(sidecar_fields(fields))
        try:
            self.storage.write_sidecar(row.rel_path, meta)
        except StorageError as error:
            log.warning('cannot update sidecar of %s: %s (reindex will report it)', row.id, error)

    # ---- inputs ----------------------------------------------------------------------------------------------

    async def upload_input(self, owner: str, data: bytes, filename: str) -> Image:
        """Store an uploaded png/jpg/webp in the owner's inputs library, or raise UploadRejected / QuotaExceeded."""
        if self.block_check and (refusal := await self.block_check(owner)):
            raise ImageProblem('blocked', refusal)
        limit = self.settings.controls_max_bytes
        if len(data) > limit:
            raise rejected('too large', limit)
        try:
            await asyncio.to_thread(sniff_image, data, max_bytes=limit)
        except ImageRejected as error:
            raise rejected(error.reason, limit) from error
        await self.check_quota(owner, add_bytes=len(data), add_images=1)
        meta = {'original_filename': clean_filename(filename), 'tags': [], 'favorite': False}
        return await self._store(owner, data, meta, limit)

    async def copy_to_inputs(self, owner: str, image_id: str) -> Image:
        """Copy one of the owner's generated or control images into the inputs library as a new input image."""
        row = await self.get(owner, image_id)
        if row is None or row.status != 'active':
            raise ImageNotFound()
        if row.kind == 'input':
            raise ImageProblem('invalid', 'This image is already in your inputs.')
        try:
            data = await asyncio.to_thread(self.storage.read_bytes, row.rel_path)
        except StorageError as error:
            log.warning('copy of %s failed: %s', row.id, error)
            raise ImageNotFound('The file of this image is missing.') from error
        await self.check_quota(owner, add_bytes=len(data), add_images=1)
        meta = {
            'original_filename': row.original_filename or os.path.basename(row.rel_path),
            'source_image_id': row.id,
            'prompt': row.prompt,
            'tags': [],
            'favorite': False,
        }
        return await self._store(owner, data, meta, None, prompt=row.prompt)

    async def as_input(self, owner: str, image_id: str) -> Image | None:
        """Return the input image a job can use for one of the owner's images: an input as it is, others copied."""
        row = await self.get(owner, image_id)
        if row is None or row.kind == 'input':
            return row
        return await self.copy_to_inputs(owner, image_id)

    async def _store(self, owner: str, data: bytes, meta: dict, limit: int | None, **extra: Any) -> Image:
        try:
            stored: StoredFile = await asyncio.to_thread(
                self.storage.save, owner=owner, kind='input', data=data, meta=meta, max_bytes=limit
            )
        except ImageRejected as error:
            raise rejected(error.reason, limit or len(data)) from error
        row = Image(
            id=stored.id,
            owner=owner,
            kind='input',
            rel_path=stored.rel_path,
            thumb_path=stored.thumb_rel,
            mime=stored.mime,
            bytes=stored.bytes,
            width=stored.width,
            height=stored.height,
            sha256=stored.sha256,
            created_at=stored.created_at,
            original_filename=meta['original_filename'],
            **extra,
        )
        try:
            await self.writer.write(lambda db: db.add(row))
        except Exception:
            log.exception('indexing input %s failed; removing its files', stored.id)
            await asyncio.to_thread(self.storage.delete, stored.rel_path)
            raise
        log.info('input image stored', extra={'owner': owner, 'image_id': row.id, 'bytes': row.bytes})
        return row

    # ---- quotas ----------------------------------------------------------------------------------------------

    async def usage(self, owner: str) -> Usage:
        """Return what the owner's active images use and the limits that apply (0 = unlimited)."""

        def query(db: Session) -> Usage:
            used, count = db.exec(
                select(func.coalesce(func.sum(Image.bytes), 0), func.count()).where(
                    Image.owner == owner, Image.status == 'active'
                )
            ).one()
            user = db.get(User, owner)
            max_bytes = user.quota_max_bytes if user and user.quota_max_bytes is not None else None
            max_images = user.quota_max_images if user and user.quota_max_images is not None else None
            return Usage(
                bytes=int(used),
                images=int(count),
                max_bytes=self.settings.quota_max_bytes if max_bytes is None else max_bytes,
                max_images=self.settings.quota_max_images if max_images is None else max_images,
            )

        return await self.writer.read(query)

    async def check_quota(self, owner: str, *, add_bytes: int = 0, add_images: int = 1) -> None:
        """Raise QuotaExceeded (saying what to delete) when adding this much would pass the owner's limits."""
        message = (await self.usage(owner)).refusal(add_bytes=add_bytes, add_images=add_images)
        if message:
            raise QuotaExceeded(message)

    async def quota_refusal(self, owner: str) -> str | None:
        """The JobManager hook: why the owner may not generate now, or None."""
        return (await self.usage(owner)).refusal(add_bytes=1, add_images=1)

    # ---- trash purge and ZIP ---------------------------------------------------------------------------------

    async def purge_trash(self, *, older_than_days: float | None = None, now: datetime | None = None) -> int:
        """Remove for good every image trashed longer ago than the retention; return how many."""
        return (await self.purge(older_than_days=older_than_days, now=now))[0]

    async def purge(self, *, older_than_days: float | None = None, now: datetime | None = None) -> tuple[int, int]:
        """Like purge_trash; return how many images went and their bytes."""
        days = self.settings.trash_retention_days if older_than_days is None else older_than_days
        cutoff = (now or utcnow()) - timedelta(days=days)
        rows: list[Image] = await self.writer.read(
            lambda db: list(
                db.exec(select(Image).where(Image.status == 'trash', col(Image.trashed_at) <= cutoff)).all()
            )
        )
        purged = purged_bytes = 0
        for row in rows:
            try:
                await asyncio.to_thread(self.storage.delete, row.rel_path)
            except StorageError as error:
                log.warning('purge of %s skipped: %s', row.id, error)
                continue
            await self.writer.write(lambda db, i=row.id: _delete_row(db, i))
            purged, purged_bytes = purged + 1, purged_bytes + row.bytes
        if rows:
            log.info('purged %d trashed image(s) older than %s days', purged, days)
        return purged, purged_bytes

    async def trash_summary(
        self, *, older_than_days: float | None = None, now: datetime | None = None
    ) -> tuple[int, int]:
        """How many images (and bytes) a purge with these arguments would remove now."""
        days = self.settings.trash_retention_days if older_than_days is None else older_than_days
        cutoff = (now or utcnow()) - timedelta(days=days)
        count, size = await self.writer.read(
            lambda db: db.exec(
                select(func.count(), func.coalesce(func.sum(Image.bytes), 0)).where(
                    Image.status == 'trash', col(Image.trashed_at) <= cutoff
                )
            ).one()
        )
        return int(count), int(size)

    async def purge_loop(self, interval: float = PURGE_INTERVAL_SECONDS) -> None:
        """Purge the trash now and then once per interval, until cancelled."""
        while True:
            try:
                await self.purge_trash()
            except Exception:
                log.exception('trash purge failed; retrying at the next interval')
            await asyncio.sleep(interval)

    async def zip_images(self, owner: str, image_ids: list[str]) -> Path:
        """Write the owner's listed images into a temporary ZIP file and return its path (the caller removes it)."""
        ids = ids_of(image_ids, MAX_BULK)
        rows = await self.writer.read(
            lambda db: list(
                db.exec(
                    select(Image).where(col(Image.id).in_(ids), Image.owner == owner).order_by(col(Image.created_at))
                ).all()
            )
        )
        if not rows:
            raise ImageNotFound()
        return await asyncio.to_thread(self._zip, rows)

    def _zip(self, rows: list[Image]) -> Path:
        fd, name = tempfile.mkstemp(prefix='vcc-images-', suffix='.zip')
        os.close(fd)
        try:
            with zipfile.ZipFile(name, 'w', compression=zipfile.ZIP_STORED) as archive:
                for row in rows:
                    try:
                        path = self.storage.resolve(row.rel_path)
                    except StorageError:
                        continue
                    if path.is_file():
                        archive.write(path, f'{row.created_at:%Y%m%d-%H%M%S}_{row.id}{path.suffix}')
        except BaseException:
            os.unlink(name)
            raise
        return Path(name)


def _delete_row(db: Session, image_id: str) -> None:
    """Delete an image row and its share links."""
    db.exec(delete(ShareLink).where(col(ShareLink.image_id) == image_id))  # type: ignore[call-overload]
    row = db.get(Image, image_id)
    if row is not None:
        db.delete(row)


def image_dict(row: Image, *, retention_days: int | None = None) -> dict:
    """The JSON shape of an image in API answers."""
    purge_at = (
        row.trashed_at + timedelta(days=retention_days) if row.trashed_at and retention_days is not None else None
    )
    return {
        'id': row.id,
        'kind': row.kind,
        'url': Storage.url(row.rel_path),
        'thumb_url': Storage.url(row.thumb_path) if row.thumb_path else None,
        'mime': row.mime,
        'bytes': row.bytes,
        'width': row.width,
        'height': row.height,
        'sha256': row.sha256,
        'created_at': row.created_at.isoformat(),
        'status': row.status,
        'workflow_id': row.workflow_id,
        'mode': row.mode,
        'prompt': row.prompt,
        'negative_prompt': row.negative_prompt,
        'seed': row.seed,
        'aspect_ratio': row.aspect_ratio,
        'job_id': row.job_id,
        'server': row.server,
        'tags': row.tags,
        'favorite': row.favorite,
        'original_filename': row.original_filename,
        'trashed_at': row.trashed_at.isoformat() if row.trashed_at else None,
        'purge_at': purge_at.isoformat() if purge_at else None,
    }
