"""StorageHealth: one storage probe a second for every submit, and a broken storage refused as before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.disks import small_disk
from tests.fixtures import USER_A, make_settings, services, simulator, wait_for
from tests.images import png_bytes
from vcc_ui.services.jobs.types import SubmitError
from vcc_ui.services.storage import LocalStorage, StorageUnavailable
from vcc_ui.services.storage import health as health_module
from vcc_ui.services.storage.health import StorageHealth


def counted(monkeypatch: pytest.MonkeyPatch, storage: LocalStorage) -> list[int]:
    """Count the real write probes the storage makes from now on."""
    calls = [0]
    writable: Callable[[], bool] = storage.writable

    def counting() -> bool:
        calls[0] += 1
        return writable()

    monkeypatch.setattr(storage, 'writable', counting)
    return calls


async def test_many_submits_share_one_storage_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health_module, 'PROBE_REFRESH', 60.0)  # no refresh falls due while the test runs
    monkeypatch.setattr(health_module, 'PROBE_INTERVAL', 120.0)
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        assert isinstance(app.storage, LocalStorage)
        calls = counted(monkeypatch, app.storage)
        views = [
            await app.jobs.submit(f'anon-{index:032x}', 'test_pattern', {'prompt': 'x', 'seed': index})
            for index in range(5)
        ]
        await wait_for(lambda: all(view.status == 'completed' for view in views))
    assert calls[0] == 1


async def test_a_storage_that_breaks_is_refused_and_taken_again_once_mended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health_module, 'PROBE_REFRESH', 0.0)  # every answer from memory starts a refresh
    monkeypatch.setattr(health_module, 'PROBE_INTERVAL', 120.0)  # and is given while the refresh runs
    with small_disk(tmp_path / 'outputs') as remount:
        storage = LocalStorage(tmp_path / 'outputs')
        health = StorageHealth(storage, 0)
        calls = counted(monkeypatch, storage)
        assert await health.problem() is None and calls[0] == 1
        remount('ro')
        try:
            await health.problem()  # the answer in memory, or already the new one; a refresh runs either way
            await wait_for(lambda: calls[0] >= 2 and health._probing is None)
            assert await health.problem() == 'read_only'
            assert await health.problem() == 'read_only'  # a problem is probed again for every caller
            probes = calls[0]
        finally:
            remount('rw')
        assert await health.problem() is None  # mended: taken at once, not after an interval
        assert calls[0] == probes + 1
        await health.stop()


async def test_a_refused_save_makes_the_next_caller_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health_module, 'PROBE_REFRESH', 60.0)
    monkeypatch.setattr(health_module, 'PROBE_INTERVAL', 120.0)
    with small_disk(tmp_path / 'outputs') as remount:
        storage = LocalStorage(tmp_path / 'outputs')
        health = StorageHealth(storage, 0)
        assert await health.problem() is None
        remount('ro')
        try:
            with pytest.raises(StorageUnavailable):
                storage.save(owner=USER_A, kind='generated', data=png_bytes(), meta={})
            assert await health.problem() == 'read_only'  # not the answer in memory
        finally:
            remount('rw')


async def test_jobs_are_refused_while_the_storage_is_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health_module, 'PROBE_REFRESH', 0.0)
    monkeypatch.setattr(health_module, 'PROBE_INTERVAL', 120.0)
    with small_disk(tmp_path / 'outputs') as remount:
        async with (
            simulator(tmp_path) as sim,
            services(make_settings(tmp_path, sim.url, healthz_disk_min_free_mb=0)) as app,
        ):
            first = await app.jobs.submit('anon-' + 'a' * 32, 'test_pattern', {'prompt': 'x', 'seed': 1})
            await wait_for(lambda: first.status == 'completed')
            remount('ro')
            try:
                await wait_for(lambda: app.jobs.storage_health._probing is None)
                await app.jobs.storage_health.problem()  # starts the refresh that sees the change
                await wait_for(lambda: app.jobs.storage_health._probing is None)
                with pytest.raises(SubmitError) as refused:
                    await app.jobs.submit('anon-' + 'a' * 32, 'test_pattern', {'prompt': 'x', 'seed': 2})
            finally:
                remount('rw')
            assert refused.value.code == 'unavailable' and refused.value.reason == 'storage_read_only'
            again = await app.jobs.submit('anon-' + 'a' * 32, 'test_pattern', {'prompt': 'x', 'seed': 3})
            await wait_for(lambda: again.status == 'completed')
