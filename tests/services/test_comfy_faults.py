"""Jobs against a misbehaving ComfyUI: cached outputs, duplicated client ids, transient errors (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select
from websockets.asyncio.client import connect

from tests.fixtures import USER_A, USER_B, make_settings, services, simulator, wait_for
from vcc_ui.db import session
from vcc_ui.models import Image
from vcc_ui.services import Services
from vcc_ui.services.storage import Storage, StorageError, StoredFile


async def test_test_pattern_runs_without_a_prompt(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        view = await app.jobs.submit(USER_A, 'test_pattern', {'seed': 1})
        await wait_for(lambda: view.finished)
        assert view.status == 'completed', view.error


async def test_identical_jobs_get_their_own_server_file_even_when_the_cached_one_is_gone(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        params = {'prompt': 'same', 'seed': 5}
        first = await app.jobs.submit(USER_A, 'test_pattern', params)
        await wait_for(lambda: first.finished)
        assert first.status == 'completed', first.error
        for png in (tmp_path / 'sim' / 'output').rglob('*.png'):
            png.unlink()  # ComfyUI's output folder was cleaned; its cache still names the old file
        second = await app.jobs.submit(USER_B, 'test_pattern', params)
        await wait_for(lambda: second.finished)
        assert second.status == 'completed', second.error
        with session(app.engine) as db:
            names = [db.get(Image, v.image_ids[0]).original_filename for v in (first, second)]  # type: ignore[union-attr]
        assert names[0] != names[1] and all(n.startswith('vcc_') for n in names)


async def test_a_socket_stealing_our_client_id_does_not_freeze_a_job(tmp_path: Path) -> None:
    async with (
        simulator(tmp_path, step_delay=0.1) as sim,
        services(make_settings(tmp_path, sim.url, comfy_ws_idle_timeout=600)) as app,
    ):
        client = next(iter(app.pool.entries.values())).client
        view = await app.jobs.submit(USER_A, 'sd15_txt2img', {'prompt': 'x', 'seed': 1, 'steps': 10})
        await wait_for(lambda: view.step >= 1)
        # like ComfyUI, the simulator hands the id to the newest socket and forgets it when that one closes
        async with connect(client.ws_url):
            pass
        await wait_for(lambda: view.finished, timeout=30)
        assert view.status == 'completed', view.error


async def test_every_app_process_uses_a_fresh_client_id(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim:
        settings = make_settings(tmp_path, sim.url)
        ids = []
        for _ in range(2):
            async with services(settings) as app:
                ids.append(next(iter(app.pool.entries.values())).client.client_id)
        assert ids[0] != ids[1]


async def test_transient_500s_on_reads_do_not_fail_a_job(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        sim.faults.http_errors = {'/view': 2, '/system_stats': 1}
        await app.pool.check_all()  # a health blip: one failed /system_stats
        assert app.pool.any_reachable()
        view = await app.jobs.submit(USER_A, 'test_pattern', {'seed': 9, 'batch_size': 2})
        await wait_for(lambda: view.finished)
        assert view.status == 'completed', view.error
        assert len(view.image_ids) == 2 and sim.faults.http_errors == {'/view': 0, '/system_stats': 0}


def job_images(app: Services, job_id: str) -> list[Image]:
    """The image rows of one job."""
    with session(app.engine) as db:
        return list(db.exec(select(Image).where(Image.job_id == job_id)).all())


async def test_an_output_removed_after_the_prompt_ran_reruns_the_job_once(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        sim.faults.lose_last_output = 1
        view = await app.jobs.submit(USER_A, 'test_pattern', {'seed': 3})
        await wait_for(lambda: view.finished)
        assert view.status == 'completed', view.error
        assert len(sim.history_ids) == 2  # the second prompt, with a fresh prefix, made a new file
        first, second = (sim.executor.state.history[p]['outputs'] for p in sim.history_ids)
        [image] = job_images(app, view.id)
        assert image.original_filename == next(iter(second.values()))['images'][0]['filename']
        assert image.original_filename != next(iter(first.values()))['images'][0]['filename']


async def test_a_batch_whose_output_stays_missing_fails_and_keeps_no_image(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        sim.faults.lose_last_output = 2  # the first image of the batch is there, the second is gone, twice
        view = await app.jobs.submit(USER_A, 'test_pattern', {'seed': 4, 'batch_size': 2})
        await wait_for(lambda: view.finished)
        assert view.status == 'failed' and '404' in view.error
        assert len(sim.history_ids) == 2
        assert job_images(app, view.id) == [] and view.image_ids == []
        assert list((tmp_path / 'outputs').rglob('*.png')) == []


@pytest.mark.parametrize('how', ['500', 'drop'])
async def test_a_prompt_queued_before_its_answer_failed_runs_once(tmp_path: Path, how: str) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        sim.faults.accept_then_fail = [how]
        view = await app.jobs.submit(USER_A, 'test_pattern', {'seed': 5})
        await wait_for(lambda: view.finished)
        assert view.status == 'completed', view.error
        assert sim.prompts_received == 1 and len(sim.history_ids) == 1
        assert len(job_images(app, view.id)) == 1


async def test_a_prompt_refused_with_a_500_before_queueing_is_posted_again(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        sim.faults.http_errors = {'/prompt': 1}
        view = await app.jobs.submit(USER_A, 'test_pattern', {'seed': 6})
        await wait_for(lambda: view.finished)
        assert view.status == 'completed', view.error
        assert sim.prompts_received == 1 and sim.faults.http_errors == {'/prompt': 0}


async def test_one_failed_health_check_does_not_fail_a_running_job(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.05) as sim, services(make_settings(tmp_path, sim.url)) as app:
        health = next(iter(app.pool.entries.values())).health
        view = await app.jobs.submit(USER_A, 'sd15_txt2img', {'prompt': 'x', 'seed': 1, 'steps': 80})
        await wait_for(lambda: view.step >= 1)
        sim.faults.http_errors = {'/system_stats': 8}  # more than the retries: this round fails
        await app.pool.check_all()
        assert not health.reachable
        sim.faults.http_errors = {}
        await wait_for(lambda: view.finished, timeout=30)
        assert view.status == 'completed', view.error


async def test_a_save_that_fails_half_way_removes_what_it_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        save = Storage.save
        calls = []

        def full_after_one(self: Storage, **kwargs: object) -> StoredFile:
            calls.append(kwargs['image_id'])
            if len(calls) == 2:
                raise StorageError('disk full (fault injection)')
            return save(self, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Storage, 'save', full_after_one)
        view = await app.jobs.submit(USER_A, 'test_pattern', {'seed': 7, 'batch_size': 2})
        await wait_for(lambda: view.finished)
        assert view.status == 'failed' and view.image_ids == [] and len(calls) == 2
        assert job_images(app, view.id) == []
        assert [p for p in (tmp_path / 'outputs').rglob('*') if p.is_file()] == []
