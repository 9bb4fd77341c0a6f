"""Backup and restore of a date range: one tar with the rows as JSON and the files, each verified by sha256."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tarfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from vcc_ui.models import Image, User, utcnow
from vcc_ui.services.dbwriter import read, write
from vcc_ui.services.image_meta import ImageFilter
from vcc_ui.services.queries import image_conditions
from vcc_ui.services.storage import Storage, StorageError, StorageUnavailable

log = logging.getLogger(__name__)

FORMAT = 'vcc-backup/1'
MANIFEST = 'manifest.json'
Progress = Callable[[int, int], None]


class BackupError(Exception):
    """A backup that cannot be written or an archive that cannot be restored (nothing was changed)."""


def _files_of(storage: Storage, row: Image) -> list[str]:
    """Return the existing files of an image: original, thumbnail and sidecar."""
    rels = [row.rel_path, *([row.thumb_path] if row.thumb_path else []), row.rel_path.rsplit('.', 1)[0] + '.json']
    out = []
    for rel in rels:
        try:
            if storage.exists(rel):
                out.append(rel)
        except StorageUnavailable:
            raise
        except StorageError:
            continue
    return out


def backup(
    engine: Engine,
    storage: Storage,
    out: Path,
    *,
    from_date: date,
    to_date: date,
    progress: Progress = lambda done, total: None,
) -> dict[str, int]:
    """Write every image created in [from_date, to_date] (UTC days, any user, any status) to a tar file."""
    where = image_conditions(ImageFilter(from_date=from_date, to_date=to_date, status=None))

    def query(db: Session) -> tuple[list[Image], list[User]]:
        rows = list(db.exec(select(Image).where(*where).order_by(col(Image.created_at))).all())
        owners = {r.owner for r in rows}
        return rows, list(db.exec(select(User).where(col(User.id).in_(owners))).all()) if owners else []

    rows, users = read(engine, query)
    hashes: dict[str, str] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f'.{out.name}.tmp')
    try:
        with tarfile.open(tmp, 'w') as tar:
            for done, row in enumerate(rows, 1):
                progress(done, len(rows))
                for rel in _files_of(storage, row):
                    data = storage.read_bytes(rel)
                    hashes[rel] = hashlib.sha256(data).hexdigest()
                    _add(tar, f'files/{rel}', data)
            manifest = {
                'format': FORMAT,
                'created_at': utcnow().isoformat(),
                'from': from_date.isoformat(),
                'to': to_date.isoformat(),
                'images': [r.model_dump(mode='json') for r in rows],
                'users': [u.model_dump(mode='json') for u in users],
                'files': hashes,
            }
            _add(tar, MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode('utf-8'))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info('backup written: %s (%d images, %d files)', out, len(rows), len(hashes))
    return {'images': len(rows), 'files': len(hashes), 'users': len(users)}


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(utcnow().timestamp())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        manifest = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
    except (KeyError, AttributeError, ValueError) as error:
        raise BackupError(f'not a VCC backup: {error}') from error
    if not isinstance(manifest, dict) or manifest.get('format') != FORMAT:
        raise BackupError('not a VCC backup (unknown format)')
    return manifest


def restore(
    engine: Engine, storage: Storage, archive: Path, progress: Progress = lambda done, total: None
) -> dict[str, int]:
    """Verify every file of a backup by sha256, then write the files and upsert the rows; return counts."""
    try:
        tar = tarfile.open(archive, 'r')
    except (OSError, tarfile.TarError) as error:
        raise BackupError(f'cannot open {archive}: {error}') from error
    with tar:
        manifest = _read_manifest(tar)
        files: dict[str, str] = manifest.get('files') or {}
        for rel, digest in files.items():  # pass 1: verify everything before touching anything
            try:
                if not rel.startswith('users/'):
                    raise StorageError('outside users/')
                storage.check(rel)
            except StorageError as error:
                raise BackupError(f'refusing the path {rel!r}: {error}') from error
            if _digest(tar, rel) != digest:
                raise BackupError(f'sha256 mismatch for {rel}: the archive is damaged')
        try:
            images = [Image.model_validate(item) for item in manifest.get('images') or []]
            users = [User.model_validate(item) for item in manifest.get('users') or []]
        except ValueError as error:
            raise BackupError(f'bad rows in the manifest: {error}') from error
        for done, rel in enumerate(files, 1):  # pass 2: write
            progress(done, len(files))
            storage.write_file(rel, tar.extractfile(f'files/{rel}').read())  # type: ignore[union-attr]
    write(engine, lambda db: [db.merge(row) for row in [*users, *images]])
    log.info('restored %d image row(s) and %d file(s) from %s', len(images), len(files), archive)
    return {'images': len(images), 'files': len(files), 'users': len(users)}


def _digest(tar: tarfile.TarFile, rel: str) -> str | None:
    try:
        handle = tar.extractfile(f'files/{rel}')
    except KeyError:
        return None
    if handle is None:
        return None
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1 << 20), b''):
        digest.update(chunk)
    return digest.hexdigest()
