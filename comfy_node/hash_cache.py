"""Persistent SHA256 cache of LoRA files, validated by size and mtime, safe across threads and restarts."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import hashlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_ENV = 'VCC_LORA_HASH_CACHE'
CACHE_FORMAT = 1
CHUNK_SIZE = 1 << 20  # NOTE: 1-4 MiB reads were fastest on our machines (tests/bench/test_bench_hash.py)
SAVE_DELAY = 2.0


def default_cache_path() -> Path:
    """Return the cache file: `VCC_LORA_HASH_CACHE` or `cache/lora_hash_cache.json` beside this package."""
    configured = os.environ.get(CACHE_ENV, '').strip()
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parent / 'cache' / 'lora_hash_cache.json'


def sha256_file(path: str, chunk_size: int = CHUNK_SIZE) -> str:
    """Hash one file with reads of chunk_size into a reused buffer (blocking; call it off the event loop)."""
    digest = hashlib.sha256()
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    with open(path, 'rb', buffering=0) as file:
        while n := file.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class HashResult:
    """The hash of one file with the stat it was validated against."""

    path: str
    sha256: str
    size: int
    mtime_ns: int
    cached: bool

    @property
    def mtime(self) -> float:
        """Return the modification time in seconds since the epoch."""
        return self.mtime_ns / 1e9


@dataclass(slots=True)
class _Claim:
    """What a caller got when it asked for a path: a valid cached hit, or a future it owns or joins."""

    key: str
    hit: HashResult | None = None
    future: concurrent.futures.Future[HashResult] | None = None
    owner: bool = False


class HashCache:
    """Map absolute path -> {sha256, size, mtime_ns}; entries are dropped when the file changes or vanishes."""

    def __init__(
        self, path: str | os.PathLike[str] | None, *, chunk_size: int = CHUNK_SIZE, save_delay: float = SAVE_DELAY
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.chunk_size = chunk_size
        self.save_delay = save_delay
        self.stats = {'hits': 0, 'hashed': 0, 'joined': 0, 'dropped': 0}
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._entries: dict[str, dict[str, object]] = {}
        self._inflight: dict[str, concurrent.futures.Future[HashResult]] = {}
        self._dirty = False
        self._timer: threading.Timer | None = None
        self._load()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def inflight(self) -> int:
        """Return how many files are being hashed right now."""
        with self._lock:
            return len(self._inflight)

    def entries(self) -> dict[str, dict[str, object]]:
        """Return a copy of all entries."""
        with self._lock:
            return {key: dict(value) for key, value in self._entries.items()}

    def lookup(self, path: str | os.PathLike[str]) -> HashResult | None:
        """Return the cached hash if the file still has the recorded size and mtime, else drop it and return None."""
        key = os.path.abspath(path)
        try:
            st = os.stat(key)
        except OSError:
            self._drop(key)
            return None
        with self._lock:
            return self._valid_hit(key, st)

    def get(self, path: str | os.PathLike[str]) -> HashResult:
        """Return the hash of a file, from the cache or by hashing it in this thread (blocking)."""
        claim = self._claim(path)
        if claim.hit is not None:
            return claim.hit
        assert claim.future is not None
        if claim.owner:
            self._compute(claim.key, claim.future)
        return claim.future.result()

    async def get_async(self, path: str | os.PathLike[str]) -> HashResult:
        """Return the hash of a file without blocking the event loop; concurrent callers share one hashing."""
        claim = await asyncio.to_thread(self._claim, path)
        if claim.hit is not None:
            return claim.hit
        assert claim.future is not None
        if claim.owner:
            await asyncio.to_thread(self._compute, claim.key, claim.future)
        return await asyncio.wrap_future(claim.future)

    def forget(self, path: str | os.PathLike[str]) -> None:
        """Drop the entry of one file, for example because it is no longer listed."""
        self._drop(os.path.abspath(path))

    def prune(self) -> int:
        """Drop the entries whose files vanished or changed; return how many were dropped."""
        stale = []
        for key, entry in self.entries().items():
            try:
                st = os.stat(key)
            except OSError:
                stale.append(key)
                continue
            if (st.st_size, st.st_mtime_ns) != (entry['size'], entry['mtime_ns']):
                stale.append(key)
        for key in stale:
            self._drop(key)
        return len(stale)

    def clear(self) -> None:
        """Forget every hash and save the empty cache."""
        with self._lock:
            self._entries.clear()
            self._dirty = True
        self.save()

    def save(self) -> None:
        """Write the cache atomically (temporary file + os.replace) if there is anything new."""
        with self._save_lock:
            with self._lock:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                if not self._dirty or self.path is None:
                    return
                snapshot = {key: dict(value) for key, value in self._entries.items()}
                self._dirty = False
            try:
                write_json_atomic(self.path, {'format': CACHE_FORMAT, 'entries': snapshot})
                self.last_error = None
            except OSError as error:
                self.last_error = f'cannot save {self.path}: {error}'
                log.warning('LoRA hash cache: %s', self.last_error)
                with self._lock:
                    self._dirty = True

    def close(self) -> None:
        """Save pending changes and stop the delayed-save timer."""
        self.save()

    def _claim(self, path: str | os.PathLike[str]) -> _Claim:
        key = os.path.abspath(path)
        try:
            st = os.stat(key)
        except OSError:
            self._drop(key)
            raise
        with self._lock:
            hit = self._valid_hit(key, st)
            if hit is not None:
                return _Claim(key, hit=hit)
            future = self._inflight.get(key)
            if future is not None:
                self.stats['joined'] += 1
                return _Claim(key, future=future)
            future = self._inflight[key] = concurrent.futures.Future()
            return _Claim(key, future=future, owner=True)

    def _compute(self, key: str, future: concurrent.futures.Future[HashResult]) -> None:
        try:
            before = os.stat(key)
            sha = sha256_file(key, self.chunk_size)
            after = os.stat(key)
        except BaseException as error:
            with self._lock:
                self._inflight.pop(key, None)
                self._entries.pop(key, None)
            future.set_exception(error)
            return
        result = HashResult(path=key, sha256=sha, size=after.st_size, mtime_ns=after.st_mtime_ns, cached=False)
        unchanged = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
        with self._lock:
            self._inflight.pop(key, None)
            self.stats['hashed'] += 1
            if unchanged:
                self._entries[key] = {'sha256': sha, 'size': after.st_size, 'mtime_ns': after.st_mtime_ns}
                self._dirty = True
        if not unchanged:
            log.warning('LoRA hash cache: %s changed while it was hashed; not cached', key)
        future.set_result(result)
        self._schedule_save()

    def _valid_hit(self, key: str, st: os.stat_result) -> HashResult | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if (entry['size'], entry['mtime_ns']) != (st.st_size, st.st_mtime_ns):
            del self._entries[key]
            self._dirty = True
            self.stats['dropped'] += 1
            return None
        self.stats['hits'] += 1
        return HashResult(path=key, sha256=str(entry['sha256']), size=st.st_size, mtime_ns=st.st_mtime_ns, cached=True)

    def _drop(self, key: str) -> None:
        with self._lock:
            if self._entries.pop(key, None) is None:
                return
            self._dirty = True
            self.stats['dropped'] += 1
        self._schedule_save()

    def _schedule_save(self) -> None:
        if self.save_delay <= 0:
            self.save()
            return
        with self._lock:
            if self._timer is not None or not self._dirty:
                return
            self._timer = threading.Timer(self.save_delay, self.save)
            self._timer.daemon = True
            self._timer.start()

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding='utf-8'))
            entries = data['entries'] if data.get('format') == CACHE_FORMAT else {}
        except (OSError, ValueError, KeyError, AttributeError) as error:
            self.last_error = f'cannot read {self.path}: {error}'
            log.warning('LoRA hash cache: %s; starting empty', self.last_error)
            return
        for key, entry in entries.items():
            if _valid_entry(entry):
                self._entries[key] = {'sha256': entry['sha256'], 'size': entry['size'], 'mtime_ns': entry['mtime_ns']}


def _valid_entry(entry: object) -> bool:
    if not isinstance(entry, dict):
        return False
    sha, size, mtime_ns = entry.get('sha256'), entry.get('size'), entry.get('mtime_ns')
    return isinstance(sha, str) and len(sha) == 64 and isinstance(size, int) and isinstance(mtime_ns, int)


def write_json_atomic(path: Path, data: object) -> None:
    """Write JSON to a temporary file in the same folder, flush it to disk, then os.replace it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as file:
            json.dump(data, file, separators=(',', ':'))
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_default: HashCache | None = None
_default_lock = threading.Lock()


def get_cache() -> HashCache:
    """Return the process-wide cache at default_cache_path(), created on first use."""
    global _default  # noqa: PLW0603
    with _default_lock:
        if _default is None:
            _default = HashCache(default_cache_path())
            atexit.register(_default.close)
        return _default
