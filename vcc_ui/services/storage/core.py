"""What every storage backend shares: the key scheme, content sniffing, thumbnails, JSON sidecars and path guards."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import io
import json
import logging
import re
import struct
import sys
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

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
Problem = Literal['full', 'read_only']  # why new images cannot be stored now
_KIND_DIRS: dict[str, tuple[str, ...]] = {'generated': (), 'control': ('controls',), 'input': ('inputs',)}
_EXT_BY_MIME = {'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp'}
_THUMB_EXTS = ('webp', 'jpg')
RELEASE_AFTER_PIXELS = 4_000_000
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


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One stored file: its path relative to the root, its size and when it was last written."""

    rel_path: str
    size: int
    modified: datetime


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
    level of 255 from a Lanczos thumbnail, at a third of the bicubic cost (a box filter is cheaper still, but leaves
    stepped edges). WebP's fastest method (0) takes 0.4 ms less than method 2 for a 320 px thumbnail, at about a
    third more bytes (a few KB) and no visible difference.
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
    options = {'method': 0} if ext == 'webp' else {'optimize': False}
    thumb.save(out, format='WEBP' if ext == 'webp' else 'JPEG', quality=THUMB_QUALITY, **options)
    return out.getvalue()


def libc() -> ctypes.CDLL | None:
    """The C library on Linux (malloc_trim, syncfs), else None."""
    return _LIBC


def _release_memory(pixels: int) -> None:
    """Hand the freed pages of a big decode back to the system (glibc keeps them in its arenas otherwise)."""
    if pixels < RELEASE_AFTER_PIXELS or _LIBC is None:
        return
    with contextlib.suppress(AttributeError, OSError):
        _LIBC.malloc_trim(0)


def check_rel(rel_path: str) -> list[str]:
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


def sidecar_of(rel_path: str) -> str:
    """Return the sidecar path beside an original."""
    return rel_path.rsplit('.', 1)[0] + '.json' if '.' in rel_path.rsplit('/', 1)[-1] else rel_path + '.json'


def thumbs_of(rel_path: str) -> list[str]:
    """Return every possible thumbnail path of an original, one per thumbnail format."""
    head, _, name = rel_path.rpartition('/')
    stem = name.rsplit('.', 1)[0]
    return [f'{head}/thumb/{stem}.{ext}' if head else f'thumb/{stem}.{ext}' for ext in _THUMB_EXTS]


def folder_of(owner: str, kind: str, created: datetime) -> str:
    """Return the folder of an owner's images of one kind and UTC day."""
    return '/'.join(('users', owner, *_KIND_DIRS[kind], created.astimezone(UTC).strftime('%Y/%m/%d')))


class Storage(ABC):
    """Files by relative path (`users/{owner}/YYYY/MM/DD/{id}.png`...): one interface, a local or an S3 backend.

    Every method is blocking; async callers run them in worker threads. Paths are checked by `check_rel` before any
    backend sees them. Failures of the backend itself (a full disk, an unreachable S3) raise `StorageUnavailable`.
    """

    kind: ClassVar[str]
    presign_seconds = 0  # > 0: files are fetched from presigned URLs valid this long, not through the app

    def __init__(self, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_decodes: int = DEFAULT_MAX_DECODES) -> None:
        self.max_pixels = max_pixels
        # NOTE: decodes run in worker threads; this bounds how many full-size images are in memory at once
        self.decoding = threading.BoundedSemaphore(max_decodes)
        self.thumb_ext = 'webp' if features.check('webp') else 'jpg'
        self.failed_at = float('-inf')  # when (monotonic) the backend last refused a save's files
        if self.thumb_ext != 'webp':
            log.warning('Pillow has no WEBP support; thumbnails are written as JPEG')

    # ---- what a backend provides -----------------------------------------------------------------------------

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the files are, for operators' messages (a folder or s3://bucket/prefix)."""

    @abstractmethod
    async def start(self) -> None:
        """Prepare the backend before anything writes (the local one removes stale temp files)."""

    @abstractmethod
    async def stop(self) -> None:
        """Put on durable storage what saves with `durable=False` left."""

    @abstractmethod
    def read_bytes(self, rel_path: str) -> bytes:
        """Return the content of a file; StorageError when it is missing, StorageUnavailable when it cannot be read."""

    @abstractmethod
    def stat(self, rel_path: str) -> FileInfo | None:
        """Return the size and write time of a file, or None when there is none."""

    @abstractmethod
    def write_file(self, rel_path: str, data: bytes) -> None:
        """Write a whole file atomically (readers see the old or the new content); StorageUnavailable on failure."""

    @abstractmethod
    def write_files(self, files: list[tuple[str, bytes]], *, durable: bool = True) -> None:
        """Write several files; on a failure remove those written and raise StorageUnavailable.

        With `durable` False a backend may leave the files to a flush within a second (a killed process still never
        leaves a torn file).
        """

    @abstractmethod
    def remove(self, rel_path: str) -> None:
        """Remove one file; a missing one is ignored; StorageUnavailable when it cannot be removed."""

    @abstractmethod
    def list_files(self, prefix: str) -> Iterator[FileInfo]:
        """Yield every file under a folder (`users/`), temp files of interrupted local writes included."""

    @abstractmethod
    def remove_tree(self, prefix: str) -> bool:
        """Remove every file under a folder; return whether there was any."""

    @abstractmethod
    def writable(self) -> bool:
        """Whether a file can be created, written and removed now (a real write, not a guess)."""

    @abstractmethod
    def disk_free_mb(self) -> float | None:
        """Return the free space in MiB of a local folder's filesystem; None where it does not apply (S3)."""

    @abstractmethod
    def local_path(self, rel_path: str) -> Path | None:
        """Return the path of an existing local file for serving it directly, or None (missing, or not local)."""

    @abstractmethod
    def open_chunks(self, rel_path: str) -> tuple[int, Iterator[bytes]]:
        """Return a file's size and an iterator over its content; StorageError when it is missing."""

    def presigned_url(self, rel_path: str, *, media_type: str, disposition: str | None = None) -> str | None:
        """Return a short-lived URL the browser may fetch the file from directly, or None to serve through the app."""
        return None

    def direct_origin(self) -> str | None:
        """The scheme://host[:port] browsers fetch presigned URLs from (pages must allow its images), or None."""
        url = self.presigned_url('users/origin.png', media_type='image/png')  # signing only: nothing is sent
        return None if url is None else '{0.scheme}://{0.netloc}'.format(urlsplit(url))

    # ---- shared logic ----------------------------------------------------------------------------------------

    def check(self, rel_path: str) -> None:
        """Refuse (StorageError) a path that could name a place outside the root."""
        check_rel(rel_path)

    def exists(self, rel_path: str) -> bool:
        """Whether a file is stored at `rel_path`."""
        return self.stat(rel_path) is not None

    @staticmethod
    def url(rel_path: str) -> str:
        """Return the browser URL of a file under the /outputs route."""
        return '/outputs/' + '/'.join(quote(part, safe='') for part in check_rel(rel_path))

    def problem(self, min_free_mb: float) -> Problem | None:
        """Why new images cannot be stored now: 'full' (less than min_free_mb free), 'read_only', or None."""
        try:
            free_mb = self.disk_free_mb()
        except OSError:
            return 'read_only'
        if free_mb is not None and free_mb < min_free_mb:
            return 'full'
        if self.writable():
            return None
        return 'full' if free_mb is not None and free_mb < 1 else 'read_only'

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

        `durable=False` (job outputs: ComfyUI keeps its copy) lets the local backend skip five fsyncs on the caller's
        path; its next flush, within FLUSH_INTERVAL, puts the files on the disk.
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
        folder = folder_of(owner, kind, created)
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
        for rel in (stored.rel_path, stored.thumb_rel, stored.sidecar_rel):
            check_rel(rel)
        if self.exists(stored.sidecar_rel):
            raise StorageError(f'image {image_id} already exists for {owner}')
        # NOTE: an original without its sidecar is what a kill between the two leaves; the same bytes are completed
        # (the original kept), other bytes replace it
        kept = self._same_content(stored.rel_path, stored.bytes, stored.sha256)
        if kept:
            log.info('completing %s: its original was written before an interruption', stored.rel_path)
        files = [(stored.rel_path, data)] if not kept else []
        files += [(stored.thumb_rel, thumb_bytes), (stored.sidecar_rel, sidecar_bytes)]
        try:
            self.write_files(files, durable=durable)
        except Exception as exc:
            if isinstance(exc, StorageUnavailable):
                self.failed_at = time.monotonic()
            log.warning('saving %s image %s for %s failed (%s)', kind, image_id, owner, exc)
            raise
        log.debug('saved %s (%d bytes)', stored.rel_path, stored.bytes)
        return stored

    def _same_content(self, rel_path: str, size: int, sha256: str) -> bool:
        """Whether the file at `rel_path` has this size and sha256."""
        info = self.stat(rel_path)
        if info is None or info.size != size:
            return False
        try:
            return sha256_bytes(self.read_bytes(rel_path)) == sha256
        except StorageError:
            return False

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
        sidecar = f'{folder_of(owner, kind, created_at)}/{image_id}.json'
        if not self.exists(sidecar):
            return None
        meta = self.read_sidecar(sidecar)
        return meta if isinstance(meta.get('path'), str) and self.exists(meta['path']) else None

    def read_sidecar(self, rel_path: str) -> dict[str, Any]:
        """Return the metadata stored beside the original at `rel_path`."""
        sidecar_rel = sidecar_of(rel_path)
        try:
            meta = json.loads(self.read_bytes(sidecar_rel))
        except ValueError as exc:
            raise StorageError(f'sidecar {sidecar_rel!r} is not valid JSON') from exc
        if not isinstance(meta, dict):
            raise StorageError(f'sidecar {sidecar_rel!r} is not a JSON object')
        return meta

    def write_sidecar(self, rel_path: str, meta: dict[str, Any]) -> None:
        """Atomically replace the metadata stored beside the existing original at `rel_path`."""
        if not self.exists(rel_path):
            raise StorageError(f'no file at {rel_path!r}')
        self.write_file(sidecar_of(rel_path), self._encode_json(meta))

    def make_thumbnail(self, rel_path: str) -> str:
        """(Re)generate the thumbnail of an original, point its sidecar at it and return its relative path."""
        data = self.read_bytes(rel_path)
        try:
            _, thumb_bytes = self._thumbnail_of(data, max_bytes=None)
        except ImageRejected as exc:
            raise StorageError(f'{rel_path!r} is not a usable image: {exc.reason}') from exc
        thumb_rel = next(t for t in thumbs_of(rel_path) if t.endswith('.' + self.thumb_ext))
        self.write_file(thumb_rel, thumb_bytes)
        for stale in thumbs_of(rel_path):
            if stale != thumb_rel:
                self.remove(stale)
        if self.exists(sidecar_of(rel_path)):
            meta = self.read_sidecar(rel_path)
            if meta.get('thumb') != thumb_rel:
                self.write_sidecar(rel_path, {**meta, 'thumb': thumb_rel})
        return thumb_rel

    def delete(self, rel_path: str) -> None:
        """Remove an original with its thumbnail and sidecar; missing files are ignored."""
        for rel in (rel_path, *thumbs_of(rel_path), sidecar_of(rel_path)):
            self.remove(rel)
        log.info('deleted %s with its thumbnail and sidecar', rel_path)

    @staticmethod
    def _encode_json(meta: dict[str, Any]) -> bytes:
        """Serialise metadata for a sidecar."""
        return json.dumps(meta, ensure_ascii=False, indent=2).encode('utf-8')
