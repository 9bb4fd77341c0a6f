"""File layout under the output root: atomic writes, sha256, thumbnails, JSON sidecars and path guards."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import struct
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from PIL import Image, ImageOps, features

log = logging.getLogger(__name__)

Kind = Literal['generated', 'control', 'input']
OWNER_RE = re.compile(r'^[A-Za-z0-9_-]{1,64}$')
FORBIDDEN_IN_PATH = re.compile(r'[\x00-\x1f\\:]')
IMAGE_ID_RE = re.compile(r'^[0-9a-f]{32}$')
DEFAULT_ALLOWED = ('image/png', 'image/jpeg', 'image/webp')
THUMB_MAX_SIDE = 320
DEFAULT_MAX_PIXELS = 40_000_000  # a 40 MP RGBA image decodes to 160 MB
DEFAULT_MAX_DECODES = 2  # images decoded at once; each may take 4 bytes per pixel
THUMB_QUALITY = 80
_KIND_DIRS: dict[str, tuple[str, ...]] = {'generated': (), 'control': ('controls',), 'input': ('inputs',)}
_EXT_BY_MIME = {'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp'}
_THUMB_EXTS = ('webp', 'jpg')
RELEASE_AFTER_PIXELS = 4_000_000
FLUSH_INTERVAL = 1.0  # seconds between two flushes of the files saved without their own fsync
_LIBC = ctypes.CDLL(ctypes.util.find_library('c')) if sys.platform.startswith('linux') else None


class StorageError(Exception):
    """Raised for path escapes, bad owners or ids, and files that cannot be read or written."""


class StorageUnavailable(StorageError):
    """Raised when the output folder cannot take a write now (read-only, full, gone); names no server path."""


class ImageRejected(ValueError):
    """Raised when uploaded or fetched bytes are not an acceptable image; `reason` is safe to show to users."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(kw_only=True, slots=True)
class SniffedImage:
    """What the content of an image file says it is."""

    mime: str
    ext: str
    width: int
    height: int


@dataclass(kw_only=True, slots=True)
class StoredFile:
    """One saved original with its thumbnail and sidecar, paths relative to the output root."""

    id: str
    owner: str
    kind: str
    rel_path: str
    thumb_rel: str
    sidecar_rel: str
    mime: str
    bytes: int
    width: int
    height: int
    sha256: str
    created_at: datetime


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def _decode(
    data: bytes, *, max_bytes: int | None, allowed: tuple[str, ...], max_pixels: int
) -> tuple[SniffedImage, Image.Image]:
    """Check `data` by content and return its description and the fully decoded image."""
    if max_bytes is not None and len(data) > max_bytes:
        raise ImageRejected('too large')
    # NOTE: Pillow warns above Image.MAX_IMAGE_PIXELS; capping our limit there refuses those without
    # touching the process-wide (and thread-unsafe) warnings filters.
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS) if Image.MAX_IMAGE_PIXELS else max_pixels
    try:
        with Image.open(io.BytesIO(data)) as probe:
            # NOTE: phone cameras write multi-picture JPEGs that Pillow reports as MPO; they are JPEG files.
            mime = 'image/jpeg' if probe.format == 'MPO' else Image.MIME.get(probe.format or '', '')
            if mime not in allowed or mime not in _EXT_BY_MIME:
                raise ImageRejected('type not allowed')
            width, height = probe.size
            if width * height > limit:
                raise ImageRejected('decompression bomb')
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRejected('decompression bomb') from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        raise ImageRejected('not an image') from exc
    if image.size != (width, height) or width < 1 or height < 1:
        raise ImageRejected('not an image')
    return SniffedImage(mime=mime, ext=_EXT_BY_MIME[mime], width=width, height=height), image


def sniff_image(
    data: bytes, *, max_bytes: int, allowed: tuple[str, ...] = DEFAULT_ALLOWED, max_pixels: int = DEFAULT_MAX_PIXELS
) -> SniffedImage:
    """Identify an image by its content (never its name), refusing disallowed, oversized, truncated or bomb files."""
    sniffed, image = _decode(data, max_bytes=max_bytes, allowed=allowed, max_pixels=max_pixels)
    image.close()
    return sniffed


def _render_thumbnail(image: Image.Image, ext: str) -> bytes:
    """Encode a thumbnail of `image` (EXIF orientation applied, long side <= THUMB_MAX_SIDE) as webp or jpg.

    `image` is shrunk in place first, so no full-size copy is made of the common RGB(A) images. Big images are
    first reduced by an integer factor (`reducing_gap=1.0`), then resampled bilinearly: a mean difference under one
    level of 255 from a Lanczos thumbnail, at a third of the bicubic cost.
    """
    has_alpha = image.mode in ('RGBA', 'LA', 'PA') or (image.mode == 'P' and 'transparency' in image.info)
    mode = 'RGBA' if has_alpha else 'RGB'
    small = image if image.mode == mode else image.convert(mode)
    small.thumbnail((THUMB_MAX_SIDE, THUMB_MAX_SIDE), Image.Resampling.BILINEAR, reducing_gap=1.0)
    thumb = ImageOps.exif_transpose(small) or small
    if ext == 'jpg' and thumb.mode == 'RGBA':
        background = Image.new('RGB', thumb.size, (255, 255, 255))
        background.paste(thumb, mask=thumb.getchannel('A'))
        thumb = background
    out = io.BytesIO()
    options = {'method': 2} if ext == 'webp' else {'optimize': False}
    thumb.save(out, format='WEBP' if ext == 'webp' else 'JPEG', quality=THUMB_QUALITY, **options)
    return out.getvalue()


def _release_memory(pixels: int) -> None:
    """Hand the freed pages of a big decode back to the system (glibc keeps them in its arenas otherwise)."""
    if pixels < RELEASE_AFTER_PIXELS or _LIBC is None:
        return
    with contextlib.suppress(AttributeError, OSError):
        _LIBC.malloc_trim(0)


def _atomic_write(path: Path, data: bytes, *, sync_dir: bool = True, sync: bool = True) -> None:
    """Write `data` to `path` via a temp file in the same folder, fsync (unless `sync` is False) and os.replace."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), 0o644)
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if sync_dir:
        _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _same_file(path: Path, size: int, sha256: str) -> bool:
    """Whether the file at `path` has this size and sha256."""
    try:
        if path.stat().st_size != size:
            return False
        digest = hashlib.sha256()
        with path.open('rb') as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b''):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == sha256


def _check_rel(rel_path: str) -> list[str]:
    """Return the segments of a relative path, refusing anything that could name a place outside the root."""
    if not isinstance(rel_path, str) or not rel_path:
        raise StorageError('empty path')
    if FORBIDDEN_IN_PATH.search(rel_path):
        raise StorageError(f'forbidden character in path {rel_path!r}')
    if rel_path.startswith('/'):
        raise StorageError(f'absolute path {rel_path!r}')
    parts = rel_path.split('/')
    if any(part in ('', '.', '..') for part in parts):
        raise StorageError(f'bad path segment in {rel_path!r}')
    return parts


def _sidecar_of(rel_path: str) -> str:
    """Return the sidecar path beside an original."""
    return rel_path.rsplit('.', 1)[0] + '.json' if '.' in rel_path.rsplit('/', 1)[-1] else rel_path + '.json'


def _thumbs_of(rel_path: str) -> list[str]:
    """Return every possible thumbnail path of an original, one per thumbnail format."""
    head, _, name = rel_path.rpartition('/')
    stem = name.rsplit('.', 1)[0]
    return [f'{head}/thumb/{stem}.{ext}' if head else f'thumb/{stem}.{ext}' for ext in _THUMB_EXTS]


class Storage:
    """The output root: builds every path, writes files atomically and never reads or writes outside it."""

    def __init__(
        self, root: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_decodes: int = DEFAULT_MAX_DECODES
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self.max_pixels = max_pixels
        # NOTE: decodes run in worker threads; this bounds how many full-size images are in memory at once
        self.decoding = threading.BoundedSemaphore(max_decodes)
        self.thumb_ext = 'webp' if features.check('webp') else 'jpg'
        if self.thumb_ext != 'webp':
            log.warning('Pillow has no WEBP support; thumbnails are written as JPEG')
        self._unflushed = threading.Event()  # set by a save without fsync, cleared by the flush that covers it
        self._flusher: asyncio.Task | None = None

    async def start(self) -> None:
        """Remove the temp files of writes killed mid-way, in a worker thread; call before anything writes.

        Then flush, every FLUSH_INTERVAL, the files that saves with `durable=False` left to the system.
        """
        await asyncio.to_thread(self._remove_temp_files)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_loop(), name='storage-flush')

    async def stop(self) -> None:
        """Stop the flusher and flush what is left."""
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
        await asyncio.to_thread(self.flush)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            if self._unflushed.is_set():
                await asyncio.to_thread(self.flush)

    def flush(self) -> None:
        """Put every file saved with `durable=False` so far on the disk: one syncfs of the root's filesystem."""
        if not self._unflushed.is_set():
            return
        self._unflushed.clear()
        try:
            fd = os.open(self.root, os.O_RDONLY)
        except OSError as exc:
            log.warning('cannot flush the output folder: %s', exc.strerror or type(exc).__name__)
            return
        try:
            if _LIBC is not None and hasattr(_LIBC, 'syncfs'):
                _LIBC.syncfs(fd)
            else:
                os.sync()
        finally:
            os.close(fd)

    def _remove_temp_files(self) -> None:
        """Delete every `.*.tmp` file under the root, logging how many; symlinks and other names are left alone."""
        removed = 0
        for folder, _, names in os.walk(self.root):
            for name in names:
                if not (name.startswith('.') and name.endswith('.tmp')):
                    continue
                path = os.path.join(folder, name)
                try:
                    if stat.S_ISREG(os.lstat(path).st_mode):
                        os.unlink(path)
                        removed += 1
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    log.warning('cannot remove stale temp file %s: %s', path, exc.strerror or exc)
        if removed:
            log.info('removed %d stale temp file(s) left by interrupted writes under %s', removed, self.root)

    def resolve(self, rel_path: str) -> Path:
        """Return the absolute path of `rel_path`, refusing traversal and symlinks that leave the root."""
        target = self.root.joinpath(*_check_rel(rel_path)).resolve()
        if not target.is_relative_to(self.root) or target == self.root:
            raise StorageError(f'path leaves the output root: {rel_path!r}')
        return target

    @staticmethod
    def url(rel_path: str) -> str:
        """Return the browser URL of a file under the /outputs mount."""
        return '/outputs/' + '/'.join(quote(part, safe='') for part in _check_rel(rel_path))

    def disk_free_mb(self) -> float:
        """Return the free space of the root's filesystem in MiB."""
        return shutil.disk_usage(self.root).free / (1024 * 1024)

    def writable(self) -> bool:
        """Whether a file can be created, written and removed under the root now (a real write, not a guess)."""
        try:
            with tempfile.NamedTemporaryFile(dir=self.root, prefix='.probe.', suffix='.tmp') as fh:
                fh.write(b'probe')
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            log.warning('the output folder cannot be written: %s', exc.strerror or type(exc).__name__)
            return False
        return True

    def problem(self, min_free_mb: float) -> Literal['full', 'read_only'] | None:
        """Why new images cannot be stored now: 'full' (less than min_free_mb free), 'read_only', or None."""
        try:
            free_mb = self.disk_free_mb()
        except OSError:
            return 'read_only'
        if free_mb < min_free_mb:
            return 'full'
        if self.writable():
            return None
        return 'full' if free_mb < 1 else 'read_only'

    def save(
        self,
        *,
        owner: str,
        kind: Kind,
        data: bytes,
        meta: dict[str, Any],
        image_id: str | None = None,
        created_at: datetime | None = None,
        max_bytes: int | None = None,
        durable: bool = True,
    ) -> StoredFile:
        """Store an image with its thumbnail and sidecar; on any failure nothing is left behind.

        Each file is written whole under a temp name and renamed, so a killed process never leaves a torn file. With
        `durable` each is fsynced before it is renamed; without, the next flush (within FLUSH_INTERVAL) puts them on
        the disk, which takes five waits for the disk off the caller's path.
        """
        if not isinstance(owner, str) or not OWNER_RE.fullmatch(owner):
            raise StorageError(f'bad owner {owner!r}')
        if kind not in _KIND_DIRS:
            raise StorageError(f'bad kind {kind!r}')
        image_id = uuid.uuid4().hex if image_id is None else image_id
        if not isinstance(image_id, str) or not IMAGE_ID_RE.fullmatch(image_id):
            raise StorageError(f'bad image id {image_id!r}')
        created = datetime.now(UTC) if created_at is None else created_at
        if created.tzinfo is None:
            raise ValueError('created_at must be timezone-aware')
        created = created.astimezone(UTC)

        sniffed, thumb_bytes = self._thumbnail_of(data, max_bytes=max_bytes)
        folder = '/'.join(('users', owner, *_KIND_DIRS[kind], created.strftime('%Y/%m/%d')))
        stored = StoredFile(
            id=image_id,
            owner=owner,
            kind=kind,
            rel_path=f'{folder}/{image_id}.{sniffed.ext}',
            thumb_rel=f'{folder}/thumb/{image_id}.{self.thumb_ext}',
            sidecar_rel=f'{folder}/{image_id}.json',
            mime=sniffed.mime,
            bytes=len(data),
            width=sniffed.width,
            height=sniffed.height,
            sha256=sha256_bytes(data),
            created_at=created,
        )
        sidecar = {
            'tags': [],  # the fields users change start at the row's defaults, so a fresh sidecar matches its row
            'favorite': False,
            **meta,
            'id': image_id,
            'owner': owner,
            'kind': kind,
            'mime': stored.mime,
            'bytes': stored.bytes,
            'width': stored.width,
            'height': stored.height,
            'sha256': stored.sha256,
            'created_at': created.isoformat(),
            'status': 'active',
            'thumb': stored.thumb_rel,
            'path': stored.rel_path,
        }
        sidecar_bytes = self._encode_json(sidecar)  # fails on unserialisable meta before anything is written
        # NOTE: the names are a hex id and a fixed extension, so resolving the two folders checks every path
        place, thumbs = self.resolve(folder), self.resolve(f'{folder}/thumb')
        original, thumb, sidecar_path = (
            place / f'{image_id}.{sniffed.ext}',
            thumbs / f'{image_id}.{self.thumb_ext}',
            place / f'{image_id}.json',
        )
        if sidecar_path.exists():
            raise StorageError(f'image {image_id} already exists for {owner}')
        # NOTE: an original without its sidecar is what a kill between the two leaves; the same bytes are completed
        # (the original kept), other bytes replace it
        kept = original.is_file() and _same_file(original, stored.bytes, stored.sha256)
        if kept:
            log.info('completing %s: its original was written before an interruption', stored.rel_path)
        files = [(stored.rel_path, original, data)] if not kept else []
        files += [(stored.thumb_rel, thumb, thumb_bytes), (stored.sidecar_rel, sidecar_path, sidecar_bytes)]

        written: list[tuple[str, Path]] = []
        try:
            thumbs.mkdir(parents=True, exist_ok=True)
            for rel, path, payload in files:
                written.append((rel, path))
                _atomic_write(path, payload, sync_dir=False, sync=durable)
            if durable:
                _fsync_dir(thumbs)
                _fsync_dir(place)
            else:
                self._unflushed.set()
        except Exception as exc:
            log.warning('saving %s image %s for %s failed (%s); removing partial files', kind, image_id, owner, exc)
            for _, path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            if isinstance(exc, OSError):
                failed = written[-1][0] if written else stored.rel_path
                raise StorageUnavailable(f'cannot write {failed}: {exc.strerror or type(exc).__name__}') from exc
            raise
        log.debug('saved %s (%d bytes)', stored.rel_path, stored.bytes)
        return stored

    def _thumbnail_of(self, data: bytes, *, max_bytes: int | None) -> tuple[SniffedImage, bytes]:
        """Check `data` and render its thumbnail, at most `max_decodes` at once, handing the memory back after."""
        with self.decoding:
            sniffed, image = _decode(data, max_bytes=max_bytes, allowed=DEFAULT_ALLOWED, max_pixels=self.max_pixels)
            try:
                thumb_bytes = _render_thumbnail(image, self.thumb_ext)
            finally:
                image.close()
                del image
                _release_memory(sniffed.width * sniffed.height)
        return sniffed, thumb_bytes

    def find(self, *, owner: str, kind: Kind, image_id: str, created_at: datetime) -> dict[str, Any] | None:
        """Return the sidecar of an image saved earlier under this id and date, or None."""
        if not OWNER_RE.fullmatch(owner) or not IMAGE_ID_RE.fullmatch(image_id) or kind not in _KIND_DIRS:
            raise StorageError(f'bad owner, kind or id {owner!r} {kind!r} {image_id!r}')
        folder = '/'.join(('users', owner, *_KIND_DIRS[kind], created_at.astimezone(UTC).strftime('%Y/%m/%d')))
        sidecar = f'{folder}/{image_id}.json'
        if not self.resolve(sidecar).is_file():
            return None
        meta = self.read_sidecar(sidecar)
        return meta if isinstance(meta.get('path'), str) and self.resolve(meta['path']).is_file() else None

    def read_bytes(self, rel_path: str) -> bytes:
        """Return the content of a file under the root."""
        path = self.resolve(rel_path)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise StorageError(f'cannot read {rel_path!r}: {exc.strerror or type(exc).__name__}') from exc

    def read_sidecar(self, rel_path: str) -> dict[str, Any]:
        """Return the metadata stored beside the original at `rel_path`."""
        sidecar_rel = _sidecar_of(rel_path)
        try:
            meta = json.loads(self.read_bytes(sidecar_rel))
        except ValueError as exc:
            raise StorageError(f'sidecar {sidecar_rel!r} is not valid JSON') from exc
        if not isinstance(meta, dict):
            raise StorageError(f'sidecar {sidecar_rel!r} is not a JSON object')
        return meta

    def write_sidecar(self, rel_path: str, meta: dict[str, Any]) -> None:
        """Atomically replace the metadata stored beside the existing original at `rel_path`."""
        if not self.resolve(rel_path).is_file():
            raise StorageError(f'no file at {rel_path!r}')
        try:
            _atomic_write(self.resolve(_sidecar_of(rel_path)), self._encode_json(meta))
        except OSError as exc:
            raise StorageUnavailable(
                f'cannot write {_sidecar_of(rel_path)}: {exc.strerror or type(exc).__name__}'
            ) from exc

    def make_thumbnail(self, rel_path: str) -> str:
        """(Re)generate the thumbnail of an original, point its sidecar at it and return its relative path."""
        data = self.read_bytes(rel_path)
        try:
            _, thumb_bytes = self._thumbnail_of(data, max_bytes=None)
        except ImageRejected as exc:
            raise StorageError(f'{rel_path!r} is not a usable image: {exc.reason}') from exc
        thumb_rel = next(t for t in _thumbs_of(rel_path) if t.endswith('.' + self.thumb_ext))
        thumb = self.resolve(thumb_rel)
        thumb.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(thumb, thumb_bytes)
        for stale in _thumbs_of(rel_path):
            if stale != thumb_rel:
                with contextlib.suppress(FileNotFoundError):
                    self.resolve(stale).unlink()
        if self.resolve(_sidecar_of(rel_path)).is_file():
            meta = self.read_sidecar(rel_path)
            if meta.get('thumb') != thumb_rel:
                self.write_sidecar(rel_path, {**meta, 'thumb': thumb_rel})
        return thumb_rel

    def delete(self, rel_path: str) -> None:
        """Remove an original with its thumbnail and sidecar; missing files are ignored."""
        for rel in (rel_path, *_thumbs_of(rel_path), _sidecar_of(rel_path)):
            path = self.resolve(rel)
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StorageUnavailable(f'cannot delete {rel}: {exc.strerror or type(exc).__name__}') from exc
        log.info('deleted %s with its thumbnail and sidecar', rel_path)

    @staticmethod
    def _encode_json(meta: dict[str, Any]) -> bytes:
        """Serialise metadata for a sidecar."""
        return json.dumps(meta, ensure_ascii=False, indent=2).encode('utf-8')
