"""The image index: what a user's gallery lists, from the database; files and sidecars change with it.

Consistency: the sidecar is the record and the row is the index. Every metadata change (favourite, tags,
trash, restore) writes the sidecar first and the row second, so an interrupted change leaves a sidecar that
`cli reindex --fix` copies into the row. Purge removes the files first (original, thumbnail, sidecar) and
the row last, so an interrupted purge leaves a row without files, which `reindex --fix` removes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import delete
from sqlmodel import Session, col

from vcc_ui.models import Image, ShareLink, utcnow
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.image_meta import (
    ImageFilter,
    ImageNotFound,
    ImageProblem,
    ImageView,
    QuotaExceeded,
    UploadRejected,
    Usage,
    clean_filename,
    download_name,
    ids_of,
    normalize_tags,
    rejected,
    sidecar_fields,
    sidecar_of_row,
)
from vcc_ui.services.queries import (
    ImageRows,
    image_rows,
    input_by_sha256,
    owned_rows,
    owner_usage,
    page_bounds,
    trash_rows,
    trash_totals,
)
from vcc_ui.services.storage import (
    IMAGE_ID_RE,
    ImageRejected,
    Storage,
    StorageError,
    StorageUnavailable,
    StoredFile,
    sha256_bytes,
)
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
]

log = logging.getLogger(__name__)

MAX_BULK = 500
STORAGE_UNAVAILABLE = 'The image storage cannot be written right now, so nothing was changed. Try again later.'
PURGE_INTERVAL_SECONDS = 24 * 3600

V = TypeVar('V', bound=ImageView)


@dataclass(kw_only=True, slots=True)
class ImagePage(Generic[V]):
    """One page of a listing."""

    items: list[V]
    page: int
    size: int
    total: int
    total_capped: bool = False  # counting stopped at `total`: there are more
    more: bool | None = None  # whether a next page exists, when the query found out (else told by `total`)

    @classmethod
    def of(cls, found: ImageRows, items: list[V], *, page: int, size: int) -> ImagePage[V]:
        """Return the page of a query's rows, given as items."""
        return cls(items=items, page=page, size=size, total=found.total, total_capped=found.capped, more=found.more)

    @property
    def has_more(self) -> bool:
        """Whether a next page exists."""
        return self.page * self.size < self.total if self.more is None else self.more

    @property
    def pages(self) -> int:
        """How many pages of this size are known (at least one; one more past a capped total)."""
        return max(1, math.ceil(self.total / self.size) + (1 if self.total_capped else 0))


def image_row(stored: StoredFile, **fields: Any) -> Image:
    """Return the index row of a stored original, with these metadata fields."""
    return Image(
        id=stored.id,
        owner=stored.owner,
        kind=stored.kind,
        rel_path=stored.rel_path,
        thumb_path=stored.thumb_rel,
        mime=stored.mime,
        bytes=stored.bytes,
        width=stored.width,
        height=stored.height,
        sha256=stored.sha256,
        created_at=stored.created_at,
        **fields,
    )


async def no_refusal(owner: str) -> None:
    """Refuse nobody (the admission check of the CLI and tests, which act for no signed-in user)."""


class ImageIndex:
    """Lists, reads and changes image rows with their files; every user-facing call is scoped to one owner."""

    def __init__(
        self,
        writer: DbWriter,
        storage: Storage,
        settings: Settings,
        *,
        block_check: Callable[[str], Awaitable[str | None]] = no_refusal,
    ) -> None:
        self.writer = writer
        self.storage = storage
        self.settings = settings
        self.block_check = block_check  # owner -> refusal message or None

    # ---- queries ---------------------------------------------------------------------------------------------

    async def page(
        self,
        owner: str,
        *,
        page: int = 1,
        size: int = 50,
        filters: ImageFilter | None = None,
        kind: str | tuple[str, ...] | None = None,
    ) -> ImagePage[ImageView]:
        """Return one page of the owner's images (active by default), newest first."""
        page, size = page_bounds(page, size)
        f = filters or ImageFilter()
        if kind is not None:
            f = replace(f, kind=kind)
        found = await self.writer.read(lambda db: image_rows(db, f, owner=owner, page=page, size=size))
        return ImagePage.of(found, [self.view(row) for row in found.rows], page=page, size=size)

    async def get(self, owner: str, image_id: str) -> ImageView | None:
        """Return one of the owner's images, or None (also for other owners' ids)."""
        row = await self.row(owner, image_id)
        return self.view(row) if row is not None else None

    async def row(self, owner: str, image_id: str) -> Image | None:
        """Return the row (with its file paths) of one of the owner's images, or None."""
        if not isinstance(image_id, str) or not IMAGE_ID_RE.fullmatch(image_id):
            return None
        row = await self.writer.read(lambda db: db.get(Image, image_id))
        return row if row is not None and row.owner == owner else None

    def view(self, row: Image) -> ImageView:
        """Return how the pages and the API show an image row."""
        return ImageView.of(row, purge_at=self.purge_at(row))

    async def many(self, owner: str, image_ids: list[str]) -> dict[str, ImageView]:
        """Return the owner's images among these ids by id, read in one query per MAX_BULK ids (others' ids skipped)."""
        ids = list(dict.fromkeys(i for i in image_ids if isinstance(i, str) and IMAGE_ID_RE.fullmatch(i)))
        found: dict[str, ImageView] = {}
        for start in range(0, len(ids), MAX_BULK):
            chunk = ids[start : start + MAX_BULK]
            rows = await self.writer.read(partial(owned_rows, owner=owner, image_ids=chunk))
            found.update((row.id, self.view(row)) for row in rows)
        return found

    async def results(self, owner: str, image_ids: list[str]) -> list[ImageView]:
        """Return the owner's active generated images among these ids, the last first (a job's newest first)."""
        views = await self.many(owner, image_ids)
        shown = [views[i] for i in dict.fromkeys(image_ids) if i in views]
        return [v for v in reversed(shown) if v.status == 'active' and v.kind == 'generated']

    def purge_at(self, row: Image | ImageView) -> datetime | None:
        """When a trashed image will be removed for good."""
        return row.trashed_at + timedelta(days=self.settings.trash_retention_days) if row.trashed_at else None

    # ---- metadata changes ------------------------------------------------------------------------------------

    async def set_favorite(self, owner: str, image_id: str, favorite: bool) -> ImageView:
        """Mark or unmark one of the owner's images as a favourite."""
        return (await self._change(owner, [image_id], {'favorite': bool(favorite)}, strict=True))[0]

    async def set_tags(self, owner: str, image_id: str, tags: list[str]) -> ImageView:
        """Replace the tags of one of the owner's images (normalised: trimmed, lower case, unique)."""
        return (await self._change(owner, [image_id], {'tags': normalize_tags(tags)}, strict=True))[0]

    async def delete(self, owner: str, image_id: str) -> ImageView:
        """Move one of the owner's images to the trash."""
        return (await self.bulk_delete(owner, [image_id], strict=True))[0]

    async def restore(self, owner: str, image_id: str) -> ImageView:
        """Bring one of the owner's images back from the trash."""
        return (await self.bulk_restore(owner, [image_id], strict=True))[0]

    async def bulk_delete(self, owner: str, image_ids: list[str], *, strict: bool = False) -> list[ImageView]:
        """Move the owner's listed images to the trash; return the images changed (others' ids are skipped)."""
        return await self._change(owner, image_ids, {'status': 'trash', 'trashed_at': utcnow()}, strict=strict)

    async def bulk_restore(self, owner: str, image_ids: list[str], *, strict: bool = False) -> list[ImageView]:
        """Bring the owner's listed images back from the trash; return the images changed."""
        return await self._change(owner, image_ids, {'status': 'active', 'trashed_at': None}, strict=strict)

    async def _change(
        self, owner: str, image_ids: list[str], fields: dict[str, Any], *, strict: bool
    ) -> list[ImageView]:
        ids = ids_of(image_ids, MAX_BULK)
        rows = await self.writer.read(lambda db: owned_rows(db, owner, ids))
        if 'status' in fields:  # restore only trashed rows, trash only active ones
            rows = [r for r in rows if r.status != fields['status']]
        if strict and not rows:
            raise ImageNotFound()
        if rows and not await asyncio.to_thread(self.storage.writable):
            raise ImageProblem('unavailable', STORAGE_UNAVAILABLE)
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

        return [self.view(row) for row in await self.writer.write(apply)]

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
        except StorageUnavailable as error:
            log.warning('cannot update sidecar of %s: %s', row.id, error)
            raise ImageProblem('unavailable', STORAGE_UNAVAILABLE) from error
        except StorageError as error:
            log.warning('cannot update sidecar of %s: %s (reindex will report it)', row.id, error)

    # ---- inputs ----------------------------------------------------------------------------------------------

    async def upload_input(self, owner: str, data: bytes, filename: str) -> ImageView:
        """Store an uploaded png/jpg/webp in the owner's inputs library, or raise UploadRejected / QuotaExceeded."""
        if refusal := await self.block_check(owner):
            raise ImageProblem('blocked', refusal)
        limit = self.settings.controls_max_bytes
        if len(data) > limit:
            raise rejected('too large', limit)
        if (same := await self._same_input(owner, data)) is not None:
            return same
        await self.check_quota(owner, add_bytes=len(data), add_images=1)
        meta = {'original_filename': clean_filename(filename), 'tags': [], 'favorite': False}
        return await self._store(owner, data, meta, limit)

    async def copy_to_inputs(self, owner: str, image_id: str) -> ImageView:
        """Copy one of the owner's generated or control images into the inputs library as a new input image."""
        row = await self.row(owner, image_id)
        if row is None or row.status != 'active':
            raise ImageNotFound()
        if row.kind == 'input':
            raise ImageProblem('invalid', 'This image is already in your inputs.')
        try:
            data = await asyncio.to_thread(self.storage.read_bytes, row.rel_path)
        except StorageError as error:
            log.warning('copy of %s failed: %s', row.id, error)
            raise ImageNotFound('The file of this image is missing.') from error
        if (same := await self._same_input(owner, data)) is not None:
            return same
        await self.check_quota(owner, add_bytes=len(data), add_images=1)
        meta: dict[str, Any] = {
            'original_filename': row.original_filename or os.path.basename(row.rel_path),
            'source_image_id': row.id,
            'prompt': row.prompt,
            'tags': [],
            'favorite': False,
        }
        return await self._store(owner, data, meta, None, prompt=row.prompt)

    async def as_input(self, owner: str, image_id: str) -> ImageView | None:
        """Return the input image a job can use for one of the owner's images: an input as it is, others copied."""
        view = await self.get(owner, image_id)
        if view is None or view.kind == 'input':
            return view
        return await self.copy_to_inputs(owner, image_id)

    async def _same_input(self, owner: str, data: bytes) -> ImageView | None:
        """Return the owner's input with these exact bytes (restored from the trash when there), or None."""
        digest = sha256_bytes(data)
        row = await self.writer.read(lambda db: input_by_sha256(db, owner, digest))
        if row is None:
            return None
        if row.status == 'trash':
            return await self.restore(owner, row.id)
        return self.view(row)

    async def _store(self, owner: str, data: bytes, meta: dict, limit: int | None, **extra: Any) -> ImageView:
        try:
            stored: StoredFile = await asyncio.to_thread(
                self.storage.save, owner=owner, kind='input', data=data, meta=meta, max_bytes=limit
            )
        except ImageRejected as error:
            raise rejected(error.reason, limit or len(data)) from error
        except StorageUnavailable as error:
            log.warning('storing an input of %s failed: %s', owner, error)
            raise ImageProblem('unavailable', STORAGE_UNAVAILABLE) from error
        row = image_row(stored, original_filename=meta['original_filename'], **extra)
        try:
            await self.writer.write(lambda db: db.add(row))
        except Exception as error:
            log.exception('indexing input %s failed; removing its files', stored.id)
            try:
                await asyncio.to_thread(self.storage.delete, stored.rel_path)
            except StorageError as cleanup:
                log.warning('cannot remove the files of %s (%s); reindex --fix will', stored.id, cleanup)
            raise ImageProblem('unavailable', STORAGE_UNAVAILABLE) from error
        log.info('input image stored', extra={'owner': owner, 'image_id': row.id, 'bytes': row.bytes})
        return self.view(row)

    # ---- quotas ----------------------------------------------------------------------------------------------

    async def usage(self, owner: str) -> Usage:
        """Return what the owner's active images use and the limits that apply (0 = unlimited)."""
        return await self.writer.read(lambda db: owner_usage(db, owner, self.settings))

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
        rows: list[Image] = await self.writer.read(lambda db: trash_rows(db, cutoff))
        purged = purged_bytes = 0
        for row in rows:
            try:
                await asyncio.to_thread(self.storage.delete, row.rel_path)
            except StorageError as error:
                log.warning('purge of %s skipped: %s', row.id, error)
                continue
            await self.writer.write(partial(delete_rows, image_ids=[row.id]))
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
        return await self.writer.read(lambda db: trash_totals(db, cutoff))

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
        rows = await self.writer.read(lambda db: owned_rows(db, owner, ids))
        if not rows:
            raise ImageNotFound()
        try:
            return await asyncio.to_thread(self._zip, rows)
        except StorageUnavailable as error:
            log.warning('ZIP of %d image(s) of %s failed: %s', len(rows), owner, error)
            raise ImageProblem('unavailable', STORAGE_UNAVAILABLE) from error

    def _zip(self, rows: list[Image]) -> Path:
        fd, name = tempfile.mkstemp(prefix='vcc-images-', suffix='.zip')
        os.close(fd)
        try:
            with zipfile.ZipFile(name, 'w', compression=zipfile.ZIP_STORED) as archive:
                taken: set[str] = set()
                for row in rows:
                    try:
                        data = self.storage.read_bytes(row.rel_path)
                    except StorageUnavailable:
                        raise
                    except StorageError:
                        continue
                    archive.writestr(unique_name(download_name(row), taken), data)
        except BaseException:
            os.unlink(name)
            raise
        return Path(name)


def unique_name(name: str, taken: set[str]) -> str:
    """Return `name`, or with '-2', '-3'... before its suffix when taken; remember it as taken."""
    stem, dot, suffix = name.rpartition('.')
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f'{stem}-{n}{dot}{suffix}'
    taken.add(candidate)
    return candidate


def delete_rows(db: Session, image_ids: list[str]) -> None:
    """Delete image rows and their share links."""
    db.exec(delete(ShareLink).where(col(ShareLink.image_id).in_(image_ids)))
    db.exec(delete(Image).where(col(Image.id).in_(image_ids)))
