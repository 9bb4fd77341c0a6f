"""The persistent hash cache: correct hashes, reuse across restarts, invalidation, one hashing per file."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from comfy_node import hash_cache
from comfy_node.hash_cache import HashCache
from tests.fixtures import wait_for


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every file actually hashed."""
    calls: list[str] = []
    real = hash_cache.sha256_file

    def spy(path: str, chunk_size: int = hash_cache.CHUNK_SIZE) -> str:
        calls.append(path)
        return real(path, chunk_size)

    monkeypatch.setattr(hash_cache, 'sha256_file', spy)
    return calls


def test_hash_matches_hashlib_across_chunk_boundaries(tmp_path: Path) -> None:
    data = os.urandom(3 * 4096 + 17)
    lora = write(tmp_path / 'a.safetensors', data)
    cache = HashCache(tmp_path / 'cache.json', chunk_size=4096, save_delay=0)
    result = cache.get(lora)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert (result.size, result.cached) == (len(data), False)
    assert result.mtime_ns == lora.stat().st_mtime_ns


def test_hit_after_restart_reads_nothing(tmp_path: Path, counted: list[str]) -> None:
    lora = write(tmp_path / 'a.safetensors', b'lora weights')
    HashCache(tmp_path / 'cache.json', save_delay=0).get(lora)
    saved = json.loads((tmp_path / 'cache.json').read_text())
    assert saved['entries'][str(lora)]['sha256'] == hashlib.sha256(b'lora weights').hexdigest()

    restarted = HashCache(tmp_path / 'cache.json', save_delay=0)
    result = restarted.get(lora)
    assert result.cached
    assert result.sha256 == hashlib.sha256(b'lora weights').hexdigest()
    assert counted == [str(lora)]


def test_delayed_save_writes_once_later_and_on_close(tmp_path: Path) -> None:
    cache = HashCache(tmp_path / 'cache.json', save_delay=60)
    cache.get(write(tmp_path / 'a.safetensors', b'a'))
    assert not (tmp_path / 'cache.json').exists()
    cache.close()
    assert len(HashCache(tmp_path / 'cache.json')) == 1
    assert not list(tmp_path.glob('.cache.json.*.tmp'))


def test_touch_invalidates(tmp_path: Path, counted: list[str]) -> None:
    lora = write(tmp_path / 'a.safetensors', b'same bytes')
    cache = HashCache(tmp_path / 'cache.json', save_delay=0)
    cache.get(lora)
    stat = lora.stat()
    os.utime(lora, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    result = HashCache(tmp_path / 'cache.json', save_delay=0).get(lora)
    assert not result.cached
    assert len(counted) == 2


def test_size_change_invalidates(tmp_path: Path) -> None:
    lora = write(tmp_path / 'a.safetensors', b'short')
    cache = HashCache(tmp_path / 'cache.json', save_delay=0)
    cache.get(lora)
    stat = lora.stat()
    lora.write_bytes(b'longer content')
    os.utime(lora, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: only the size tells
    assert cache.lookup(lora) is None
    result = cache.get(lora)
    assert result.sha256 == hashlib.sha256(b'longer content').hexdigest()
    assert not result.cached


def test_vanished_file_is_dropped_and_saved(tmp_path: Path) -> None:
    keep = write(tmp_path / 'keep.safetensors', b'keep')
    gone = write(tmp_path / 'gone.safetensors', b'gone')
    cache = HashCache(tmp_path / 'cache.json', save_delay=0)
    cache.get(keep)
    cache.get(gone)
    gone.unlink()
    with pytest.raises(FileNotFoundError):
        cache.get(gone)
    assert set(HashCache(tmp_path / 'cache.json').entries()) == {str(keep)}


def test_prune_drops_vanished_and_changed(tmp_path: Path) -> None:
    files = [write(tmp_path / f'{n}.safetensors', n.encode()) for n in ('a', 'b', 'c')]
    cache = HashCache(tmp_path / 'cache.json', save_delay=0)
    for file in files:
        cache.get(file)
    files[0].unlink()
    files[1].write_bytes(b'changed')
    assert cache.prune() == 2
    assert set(cache.entries()) == {str(files[2])}


def test_corrupt_cache_file_starts_empty(tmp_path: Path) -> None:
    (tmp_path / 'cache.json').write_text('{not json')
    cache = HashCache(tmp_path / 'cache.json', save_delay=0)
    assert len(cache) == 0
    assert cache.last_error
    cache.get(write(tmp_path / 'a.safetensors', b'a'))
    assert len(HashCache(tmp_path / 'cache.json')) == 1


def test_threads_asking_for_one_file_hash_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lora = write(tmp_path / 'a.safetensors', b'x' * 10_000)
    cache = HashCache(tmp_path / 'cache.json', save_delay=0)
    release = threading.Event()
    calls: list[str] = []
    real = hash_cache.sha256_file

    def gated(path: str, chunk_size: int = hash_cache.CHUNK_SIZE) -> str:
        calls.append(path)
        release.wait(10)
        return real(path, chunk_size)

    monkeypatch.setattr(hash_cache, 'sha256_file', gated)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(lora))) for _ in range(6)]
    for thread in threads:
        thread.start()
    asyncio.run(wait_for(lambda: cache.stats['joined'] == 5))
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1
    assert {result.sha256 for result in results} == {hashlib.sha256(b'x' * 10_000).hexdigest()}


async def test_async_get_hashes_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lora = write(tmp_path / 'a.safetensors', b'data')
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real = hash_cache.sha256_file

    def spy(path: str, chunk_size: int = hash_cache.CHUNK_SIZE) -> str:
        threads.append(threading.get_ident())
        return real(path, chunk_size)

    monkeypatch.setattr(hash_cache, 'sha256_file', spy)
    result = await HashCache(tmp_path / 'cache.json', save_delay=0).get_async(lora)
    assert result.sha256 == hashlib.sha256(b'data').hexdigest()
    assert threads and loop_thread not in threads


def test_default_path_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(hash_cache.CACHE_ENV, str(tmp_path / 'x.json'))
    assert hash_cache.default_cache_path() == tmp_path / 'x.json'
    monkeypatch.delenv(hash_cache.CACHE_ENV)
    assert hash_cache.default_cache_path().parent.parent == Path(hash_cache.__file__).resolve().parent
