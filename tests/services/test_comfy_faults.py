"""Jobs against a misbehaving ComfyUI: cached outputs, duplicated client ids, transient errors (issue 11)."""

from __future__ import annotations

from pathlib import Path

from websockets.asyncio.client import connect

from tests.fixtures import USER_A, USER_B, make_settings, services, simulator, wait_for
from vcc_ui.db import session
from vcc_ui.models import Image


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
