"""The local backend: files under one folder (`OUTPUT_DIR`), written atomically, never outside it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from vcc_ui.services.storage.core import (
    DEFAULT_MAX_DECODES,
    DEFAULT_MAX_PIXELS,
    FileInfo,
    Storage,
    StorageError,
    StorageUnavailable,
    check_rel,
    libc,
)

log = logging.getLogger(__name__)
CHUNK = 1 << 20
FLUSH_INTERVAL = 1.0  # seconds between two flushes of the files saved without their own fsync


def _temp_beside(path: Path) -> tuple[int, str]:
    """Create a new temp file beside `path` (`.{name}.{random}.tmp`, only we can open it); return its fd and path.

    What tempfile.mkstemp does, without its per-name Random.choices and retry machinery (a sixth of a save's Python
    time): 96 random bits make a collision with a file we did not create practically impossible; O_EXCL refuses one.
    """
    tmp = f'{path.parent}/.{path.name}.{os.urandom(12).hex()}.tmp'
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), tmp


def _atomic_write(path: Path, data: bytes, *, sync_dir: bool = True, sync: bool = True) -> None:
    """Write `data` to `path` via a temp file in the same folder, fsync (unless `sync` is False) and os.replace."""
    fd, tmp = _temp_beside(path)
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


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


class LocalStorage(Storage):
    """The output root on this machine's disk: builds every path and never reads or writes outside it."""

    kind = 'local'

    def __init__(
        self, root: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_decodes: int = DEFAULT_MAX_DECODES
    ) -> None:
        super().__init__(max_pixels=max_pixels, max_decodes=max_decodes)
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self._inside = str(self.root).rstrip('/') + '/'  # what every resolved path under the root starts with
        self._unflushed = threading.Event()  # set by a save without fsync, cleared by the flush that covers it
        self._flusher: asyncio.Task | None = None

    @property
    def location(self) -> str:
        """The output folder."""
        return str(self.root)

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
            log.warning('cannot flush the output folder: %s', _reason(exc))
            return
        try:
            c = libc()
            if c is not None and hasattr(c, 'syncfs'):
                c.syncfs(fd)
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
        parts = check_rel(rel_path)
        target = self._inside + '/'.join(parts)
        # NOTE: the root is resolved once, so a path below it without a symlink is already itself: only the parts below
        # the root are looked at, and a path through a symlink alone pays for os.path.realpath over the whole of it
        # (which looked up every folder of the root's own path too: half of a save's lookups)
        here = self._inside
        for part in parts:
            here += part
            try:
                linked = stat.S_ISLNK(os.lstat(here).st_mode)
            except OSError:  # missing (so is everything below it) or unreadable: nothing further to follow
                break
            if linked:
                target = os.path.realpath(target)
                break
            here += '/'
        if not target.startswith(self._inside):
            raise StorageError(f'path leaves the output root: {rel_path!r}')
        return Path(target)

    def check(self, rel_path: str) -> None:
        """Refuse a path that leaves the root, through `..` or a symlink."""
        self.resolve(rel_path)

    def read_bytes(self, rel_path: str) -> bytes:
        """Return the content of a file under the root."""
        path = self.resolve(rel_path)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise StorageError(f'cannot read {rel_path!r}: {_reason(exc)}') from exc

    def stat(self, rel_path: str) -> FileInfo | None:
        """Return the size and write time of a regular file under the root, or None."""
        try:
            info = self.resolve(rel_path).stat()
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        return FileInfo(rel_path, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    def write_file(self, rel_path: str, data: bytes) -> None:
        """Write a file atomically (temp file, fsync, rename), creating its folder."""
        path = self.resolve(rel_path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, data)
        except OSError as exc:
            raise StorageUnavailable(f'cannot write {rel_path}: {_reason(exc)}') from exc

    def write_files(self, files: list[tuple[str, bytes]], *, durable: bool = True) -> None:
        """Write several files atomically, fsyncing their folders once (or leaving them to the next flush)."""
        written: list[Path] = []
        folders: set[Path] = set()
        rel = files[0][0] if files else ''
        try:
            for rel, payload in files:
                path = self.resolve(rel)
                if path.parent not in folders:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    folders.add(path.parent)
                written.append(path)
                _atomic_write(path, payload, sync_dir=False, sync=durable)
            if not durable:
                self._unflushed.set()
            for folder in folders if durable else ():
                _fsync_dir(folder)
        except Exception as exc:
            log.warning('writing %s failed (%s); removing partial files', rel, exc)
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            if isinstance(exc, OSError):
                raise StorageUnavailable(f'cannot write {rel}: {_reason(exc)}') from exc
            raise

    def remove(self, rel_path: str) -> None:
        """Remove one file; a missing one is ignored."""
        try:
            self.resolve(rel_path).unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageUnavailable(f'cannot delete {rel_path}: {_reason(exc)}') from exc

    def list_files(self, prefix: str) -> Iterator[FileInfo]:
        """Yield every regular file under a folder (symlinks skipped), temp files included."""
        base = self.resolve(prefix.rstrip('/'))
        if not base.is_dir():
            return
        for path in base.rglob('*'):
            if path.is_symlink() or not path.is_file():
                continue
            try:
                info = path.stat()
            except OSError:  # removed while listing
                continue
            yield FileInfo(
                path.relative_to(self.root).as_posix(), info.st_size, datetime.fromtimestamp(info.st_mtime, UTC)
            )

    def remove_tree(self, prefix: str) -> bool:
        """Remove a folder under the root with everything in it."""
        base = self.resolve(prefix.rstrip('/'))
        if not base.is_dir():
            return False
        shutil.rmtree(base)
        return True

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
            log.warning('the output folder cannot be written: %s', _reason(exc))
            return False
        return True

    def local_path(self, rel_path: str) -> Path | None:
        """Return the path of an existing regular file under the root, or None."""
        try:
            path = self.resolve(rel_path)
        except StorageError:
            return None
        return path if path.is_file() else None

    def open_chunks(self, rel_path: str) -> tuple[int, Iterator[bytes]]:
        """Return a file's size and its content in 1 MiB chunks."""
        path = self.local_path(rel_path)
        if path is None:
            raise StorageError(f'no file at {rel_path!r}')

        def chunks() -> Iterator[bytes]:
            with path.open('rb') as fh:
                yield from iter(lambda: fh.read(CHUNK), b'')

        return path.stat().st_size, chunks()
