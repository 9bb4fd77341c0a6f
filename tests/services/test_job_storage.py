"""Jobs when the output folder is full: a finished job waits for space instead of losing its image."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.disks import fill, small_disk
from tests.fixtures import USER_A, make_settings, services, simulator, wait_for
from vcc_ui.services.jobs import SubmitError, run

PROMPT = {'prompt': 'a red fox', 'seed': 7, 'steps': 6}


async def test_a_full_disk_holds_the_output_until_there_is_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, 'SAVE_RETRY_FIRST', 0.05)
    outputs = tmp_path / 'outputs'
    with small_disk(outputs):
        async with (
            simulator(tmp_path, step_delay=0.05) as sim,
            services(make_settings(tmp_path, sim.url, healthz_disk_min_free_mb=0)) as app,
        ):
            view = await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
            await wait_for(lambda: view.status == 'running')
            filler = fill(outputs)
            await wait_for(
                lambda: view.status == 'saving' and app.storage.failed_at > float('-inf')
            )  # its save was refused
            with pytest.raises(SubmitError) as refused:  # a full disk takes no new job
                await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
            assert refused.value.code == 'unavailable' and refused.value.reason == 'storage_full'
            assert not view.finished
            filler.unlink()
            await wait_for(lambda: view.finished)
            assert view.status == 'completed', view.error
            assert len(list(outputs.rglob('*.png'))) == 1


async def test_a_save_that_never_succeeds_fails_without_server_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, 'SAVE_RETRY_FIRST', 0.01)
    monkeypatch.setattr(run, 'SAVE_RETRY_FOR', 0.05)
    outputs = tmp_path / 'outputs'
    with small_disk(outputs):
        async with (
            simulator(tmp_path, step_delay=0.05) as sim,
            services(make_settings(tmp_path, sim.url, healthz_disk_min_free_mb=0)) as app,
        ):
            view = await app.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
            await wait_for(lambda: view.status == 'running')
            fill(outputs)
            await wait_for(lambda: view.finished)
            assert view.status == 'failed'
            assert 'Could not save the image' in view.error and 'users/' in view.error
            assert str(tmp_path) not in view.error
