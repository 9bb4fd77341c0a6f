"""Ops work on the index and the stored files: reindex (both ways), thumbnails, quota report, reset."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select

from vcc_ui.models import Image, User
from vcc_ui.services.dbwriter import read, write
from vcc_ui.services.image_meta import MUTABLE, row_from_sidecar, sidecar_fields, sidecar_of_row
from vcc_ui.services.images import delete_rows
from vcc_ui.services.queries import ImageTotals, image_totals, usage_of, user_rows
from vcc_ui.services.storage import (
    IMAGE_ID_RE,
    OWNER_RE,
    FileInfo,
    ImageRejected,
    Storage,
    StorageError,
    sha256_bytes,
)
from vcc_ui.services.storage import sniff_image as sniff
from vcc_ui.settings import Settings

log = logging.getLogger(__name__)

ORIGINAL_EXTS = ('.png', '.jpg', '.webp')
Progress = Callable[[int, int], None]


def _no_progress(done: int, total: int) -> None:
    """Ignore progress."""


@dataclass(kw_only=True, slots=True)
class ReindexReport:
    """What reindex found (and with fix=True, repaired)."""

    files_without_rows: list[str] = field(default_factory=list)
    rows_without_files: list[str] = field(default_factory=list)
    corrupt_sidecars: list[str] = field(default_factory=list)
    missing_sidecars: list[str] = field(default_factory=list)
    sidecars_without_files: list[str] = field(default_factory=list)
    mismatched_rows: list[str] = field(default_factory=list)
    missing_thumbnails: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)
    unrecoverable: list[str] = field(default_factory=list)
    fixed: int = 0

    @property
    def problems(self) -> int:
        """How many findings in total."""
        return sum(len(v) for k, v in self.as_dict().items() if isinstance(v, list))

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain data."""
        return {name: getattr(self, name) for name in self.__slots__}


def scan(storage: Storage) -> tuple[dict[str, FileInfo], dict[str, FileInfo], list[str]]:
    """Return the originals and sidecars under users/ (by relative path) and stray temp files."""
    originals: dict[str, FileInfo] = {}
    sidecars: dict[str, FileInfo] = {}
    temps: list[str] = []
    for info in storage.list_files('users'):
        path = PurePosixPath(info.rel_path)
        if path.name.startswith('.') and path.name.endswith('.tmp'):
            temps.append(info.rel_path)
        elif path.parent.name == 'thumb':
            continue
        elif path.suffix == '.json':
            sidecars[info.rel_path] = info
        elif path.suffix in ORIGINAL_EXTS and IMAGE_ID_RE.fullmatch(path.stem):
            originals[info.rel_path] = info
    return originals, sidecars, temps


def _id_of(rel: str) -> str:
    return PurePosixPath(rel).stem


def _kind_and_owner(rel: str) -> tuple[str, str, datetime]:
    """Read owner, kind and creation day from a path of the scheme users/{owner}/[controls|inputs/]YYYY/MM/DD/."""
    parts = rel.split('/')
    kind = {'controls': 'control', 'inputs': 'input'}.get(parts[2], 'generated')
    y, m, d = parts[-4:-1]
    return parts[1], kind, datetime(int(y), int(m), int(d), tzinfo=UTC)


def _meta_from_file(storage: Storage, info: FileInfo) -> dict[str, Any]:
    """Rebuild a sidecar for an original that has none, from its path, content and write time."""
    rel = info.rel_path
    owner, kind, day = _kind_and_owner(rel)
    data = storage.read_bytes(rel)
    sniffed = sniff(data, max_bytes=len(data) + 1)
    mtime = info.modified.astimezone(UTC)
    created = mtime if mtime.date() == day.date() else day
    return {
        'id': _id_of(rel),
        'owner': owner,
        'kind': kind,
        'path': rel,
        'thumb': None,
        'mime': sniffed.mime,
        'bytes': len(data),
        'width': sniffed.width,
        'height': sniffed.height,
        'sha256': sha256_bytes(data),
        'created_at': created.isoformat(),
        'status': 'active',
        'trashed_at': None,
        'tags': [],
        'favorite': False,
        'recovered': True,
    }


def _valid_sidecar(storage: Storage, rel: str) -> dict[str, Any] | None:
    """Return the sidecar of an original when it is readable and describes that original, else None."""
    try:
        meta = storage.read_sidecar(rel)
        row = row_from_sidecar(meta)
    except (StorageError, KeyError, ValueError, TypeError):
        return None
    owner, kind, _ = _kind_and_owner(rel)
    same = (row.id, row.owner, row.kind, row.rel_path) == (_id_of(rel), owner, kind, rel)
    return meta if same else None


def reindex(engine: Engine, storage: Storage, *, fix: bool = False, progress: Progress = _no_progress) -> ReindexReport:
    """Compare the index with the folder; with fix=True the folder (originals + sidecars) wins and rows follow."""
    report = ReindexReport()
    originals, sidecars, temps = scan(storage)
    rows: dict[str, Image] = read(engine, lambda db: {r.rel_path: r for r in db.exec(select(Image)).all()})
    total = len(originals) + len(rows)
    for done, rel in enumerate(sorted(originals), 1):
        progress(done, total)
        try:
            if not OWNER_RE.fullmatch(rel.split('/')[1]):
                raise ValueError('bad owner folder')
            _check_original(
                engine, storage, originals[rel], row=rows.get(rel), sidecars=sidecars, report=report, fix=fix
            )
        except (ValueError, IndexError) as error:
            report.unrecoverable.append(rel)
            log.warning('cannot index %s: %s', rel, error)
    for done, (rel, row) in enumerate(sorted(rows.items()), len(originals) + 1):
        progress(done, total)
        if rel not in originals:
            report.rows_without_files.append(row.id)
            if fix:
                with contextlib.suppress(StorageError):
                    storage.delete(rel)
                write(engine, partial(delete_rows, image_ids=[row.id]))
                report.fixed += 1
    covered = {rel.rsplit('.', 1)[0] + '.json' for rel in originals}
    for rel in sorted(set(sidecars) - covered):
        report.sidecars_without_files.append(rel)
        if fix:
            storage.remove(rel)
            report.fixed += 1
    for rel in temps:
        report.temp_files.append(rel)
        if fix:
            storage.remove(rel)
            report.fixed += 1
    log.info('reindex: %d finding(s), %d fixed', report.problems, report.fixed)
    return report


def _check_original(
    engine: Engine,
    storage: Storage,
    info: FileInfo,
    *,
    row: Image | None,
    sidecars: dict[str, FileInfo],
    report: ReindexReport,
    fix: bool,
) -> None:
    rel = info.rel_path
    sidecar_rel = rel.rsplit('.', 1)[0] + '.json'
    meta = _valid_sidecar(storage, rel)
    if meta is None:
        (report.corrupt_sidecars if sidecar_rel in sidecars else report.missing_sidecars).append(sidecar_rel)
        if fix:
            try:
                meta = sidecar_of_row(row) if row is not None else _meta_from_file(storage, info)
            except (StorageError, ImageRejected) as error:
                report.unrecoverable.append(rel)
                log.warning('cannot recover %s: %s', rel, error)
                return
            storage.write_sidecar(rel, meta)
            report.fixed += 1
    if row is None:
        report.files_without_rows.append(rel)
        if fix and meta is not None:
            fresh = row_from_sidecar(meta)
            write(engine, lambda db: db.merge(fresh))
            report.fixed += 1
    elif meta is not None and any(sidecar_fields({k: getattr(row, k)})[k] != meta.get(k) for k in MUTABLE):
        report.mismatched_rows.append(row.id)
        if fix:
            fresh = row_from_sidecar(meta)
            _update(engine, row.id, {k: getattr(fresh, k) for k in MUTABLE})
            report.fixed += 1
    thumb = (row.thumb_path if row is not None else None) or (meta or {}).get('thumb')
    if not thumb or not storage.exists(thumb):
        report.missing_thumbnails.append(rel)
        if fix and (meta is not None or row is not None):
            try:
                _update(engine, _id_of(rel), {'thumb_path': storage.make_thumbnail(rel)})
                report.fixed += 1
            except StorageError as error:
                report.unrecoverable.append(rel)
                log.warning('cannot make a thumbnail for %s: %s', rel, error)


def _update(engine: Engine, image_id: str, values: dict[str, Any]) -> None:
    def apply(db: Session) -> None:
        row = db.get(Image, image_id)
        if row is not None:
            for key, value in values.items():
                setattr(row, key, value)
            db.add(row)

    write(engine, apply)


def thumbnails(
    engine: Engine, storage: Storage, *, regenerate_all: bool = False, progress: Progress = _no_progress
) -> tuple[int, int]:
    """Make missing thumbnails (or all of them); return (made, failed)."""
    rows: list[tuple[str, str, str | None]] = read(
        engine, lambda db: list(db.exec(select(Image.id, Image.rel_path, Image.thumb_path)).all())
    )
    made = failed = 0
    for done, (image_id, rel, thumb) in enumerate(rows, 1):
        progress(done, len(rows))
        try:
            if regenerate_all or not thumb or not storage.exists(thumb):
                new = storage.make_thumbnail(rel)
                if new != thumb:
                    _update(engine, image_id, {'thumb_path': new})
                made += 1
        except StorageError as error:
            failed += 1
            log.warning('thumbnail of %s failed: %s', image_id, error)
    return made, failed


def quota_report(engine: Engine, settings: Settings) -> list[dict[str, Any]]:
    """Return per user: active and trashed images and bytes, limits and whether they are over."""
    totals: dict[str, ImageTotals] = read(engine, image_totals)
    users: dict[str, User] = read(engine, lambda db: {u.id: u for u in user_rows(db)})
    report = []
    for owner, owner_totals in totals.items():
        usage = usage_of(owner_totals, users.get(owner), settings)
        over = (usage.max_bytes and usage.bytes > usage.max_bytes) or (
            usage.max_images and usage.images > usage.max_images
        )
        report.append(
            {
                'owner': owner,
                'images': usage.images,
                'bytes': usage.bytes,
                'trash_images': usage.trash_images,
                'trash_bytes': usage.trash_bytes,
                'max_bytes': usage.max_bytes,
                'max_images': usage.max_images,
                'over': bool(over),
            }
        )
    return sorted(report, key=lambda e: -e['bytes'])


def reset(engine: Engine, storage: Storage) -> tuple[int, bool]:
    """Delete every row of every app table and every file under users/; return (rows deleted, files removed)."""

    def delete_all(db: Session) -> int:
        return sum(db.exec(table.delete()).rowcount or 0 for table in reversed(SQLModel.metadata.sorted_tables))

    deleted: int = write(engine, delete_all)
    existed = storage.remove_tree('users')
    log.warning('local data reset: %d row(s) deleted, outputs removed: %s', deleted, existed)
    return deleted, existed
