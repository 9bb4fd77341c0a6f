"""ServerPool: where each server setting comes from, bad stored rows, the bundled simulator, pre-checks (issue 11)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import pytest
from sqlmodel import select

from tests.fixtures import USER_A, make_settings, services, simulator, wait_for
from vcc_ui.db import make_engine, session
from vcc_ui.i18n import translate
from vcc_ui.models import ComfyServer
from vcc_ui.services import Services, servers
from vcc_ui.services.servers import ServerProblem
from vcc_ui.settings import Settings
from vcc_ui.simulator import Simulator


@asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A loopback server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f'http://127.0.0.1:{port}'
    finally:
        for writer in held:
            writer.close()
        server.close()


def _checks_pending() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if not t.done() and 'ServerPool._check' in repr(t.get_coro())]


async def test_precheck_leaves_no_check_running_after_its_wait(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(servers, 'PRECHECK_TIMEOUT', 0.2)
    async with silent_server() as url, services(make_settings(tmp_path, url)) as app:
        assert not app.pool.any_reachable()
        reason = await app.pool.precheck('test_pattern')
        assert reason == 'ComfyUI is not reachable'
        assert _checks_pending() == []


BAD_URLS = ['http://127.0.0.1:9/\u0010x', 'http://h :1', 'ftp://x', 'http://', 'http://h:99999', 'http://u:p@h:1']


async def test_a_bad_url_is_refused_before_saving(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        for url in BAD_URLS:
            with pytest.raises(ServerProblem) as refused:
                await app.pool.add_server(name='bad', url=url)
            assert refused.value.code == 'invalid' and refused.value.field == 'url'
            assert 'not a ComfyUI address' in refused.value.message
            assert '주소가 아닙니다' in translate(refused.value.key, 'ko', **refused.value.values)
        entry = next(iter(app.pool.entries.values()))
        with pytest.raises(ServerProblem):
            await app.pool.update_server(entry.id, url=BAD_URLS[0])
        with session(app.engine) as db:
            assert [r.base_url for r in db.exec(select(ComfyServer)).all()] == [sim.url]


async def test_a_bad_stored_row_is_reported_and_skipped_and_the_app_starts(tmp_path: Path, caplog) -> None:
    async with simulator(tmp_path) as sim:
        settings = make_settings(tmp_path, sim.url)
        async with services(settings):
            pass
        engine = make_engine(settings.db_url)
        with session(engine) as db:
            db.add(ComfyServer(name='ghost', base_url=BAD_URLS[0], client_id='vcc-x'))
            db.commit()
        engine.dispose()
        async with services(settings) as app:
            assert [e.row.base_url for e in app.pool.entries.values()] == [sim.url]
            ((skipped_id, skipped),) = app.pool.skipped.items()
            assert skipped.name == 'ghost'
            assert any('ghost skipped' in r.getMessage() for r in caplog.records)
            view = await app.jobs.submit(USER_A, 'test_pattern', {})
            await wait_for(lambda: view.finished)
            assert view.status == 'completed', view.error
            await app.pool.remove_skipped(skipped_id)
            assert not app.pool.skipped
        async with services(settings) as app:
            assert not app.pool.skipped


async def test_env_servers_take_address_and_slots_from_env_at_each_start(tmp_path: Path) -> None:
    async with simulator(tmp_path, 'a') as a, simulator(tmp_path, 'b') as b:
        async with services(make_settings(tmp_path, a.url, server_max_inflight=1)) as app:
            entry = next(iter(app.pool.entries.values()))
            assert entry.health.from_env and entry.health.max_inflight == 1
            with pytest.raises(ServerProblem, match=r'comes from \.env'):
                await app.pool.update_server(entry.id, max_inflight=3)
            await app.pool.update_server(entry.id, name='gpu-a')  # the name is the admin's
            added = await app.pool.add_server(name='b', url=b.url, max_inflight=2)
            assert not added.health.from_env
        async with services(make_settings(tmp_path, a.url, server_max_inflight=4)) as app:
            by_url = {e.row.base_url: e.health for e in app.pool.entries.values()}
            assert (by_url[a.url].max_inflight, by_url[a.url].name) == (4, 'gpu-a')
            assert (by_url[b.url].max_inflight, by_url[b.url].from_env) == (2, False)
        async with services(make_settings(tmp_path, b.url)) as app:  # a left .env: disabled, kept for its history
            by_url = {e.row.base_url: e.health for e in app.pool.entries.values()}
            assert not by_url[a.url].enabled and not by_url[a.url].from_env
            assert by_url[b.url].enabled and by_url[b.url].from_env


async def _bundled(tmp_path: Path, settings: Settings) -> Simulator:
    sim = Simulator(root=tmp_path / 'bundled')
    sim.faults.step_delay = 0.0
    await sim.start()
    return sim


async def test_the_simulator_row_is_disabled_once_a_real_server_is_configured(tmp_path: Path) -> None:
    start = partial(_bundled, tmp_path)
    async with simulator(tmp_path, 'real') as real:
        bare = make_settings(tmp_path)
        app = Services(bare, start_simulator=start)
        await app.start()
        try:
            assert app.pool.simulator is not None
            await app.pool.add_server(name='real', url=real.url)
        finally:
            await app.stop()
        for settings in (bare, make_settings(tmp_path, real.url)):  # added on the admin page, then in .env
            app = Services(settings, start_simulator=start)
            await app.start()
            try:
                assert app.pool.simulator is None
                sim_entry = next(e for e in app.pool.entries.values() if e.row.simulated)
                assert not sim_entry.health.enabled and not sim_entry.client.state.connected
                assert all(e.health.reachable for e in app.pool.entries.values() if e.health.enabled)
                _, checks = await app.health.run()
                assert checks['comfyui']['ok'] and list(checks['comfyui']['servers']) == ['real']
                with pytest.raises(ServerProblem, match='not running'):
                    await app.pool.set_enabled(sim_entry.id, True)
            finally:
                await app.stop()


async def test_healthz_is_not_ok_while_every_enabled_server_is_dead(tmp_path: Path) -> None:
    async with simulator(tmp_path, 'a') as a, services(make_settings(tmp_path, a.url)) as app:
        await a.go_down()
        ok, checks = await app.health.run()
        assert not ok and not checks['comfyui']['ok']


async def test_a_stop_during_start_waits_for_it_and_leaves_no_client_running(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim:
        app = Services(make_settings(tmp_path, sim.url))
        starting = asyncio.create_task(app.start())
        await asyncio.sleep(0)  # under way: a page test's app can be shut down before its start is done
        await app.stop()
        await starting
        clients = [entry.client for entry in app.pool.entries.values()]
        assert clients and all(not client.state.connected and client._http is None for client in clients)


async def test_a_refreshed_catalogue_that_did_not_change_keeps_the_dict_it_had(tmp_path: Path, monkeypatch) -> None:
    # a real ComfyUI's /object_info is some 100,000 objects, parsed anew every minute: kept while unchanged, so a
    # refresh during a peak of pages leaves nothing long-lived among them to pin the heap's pages after they go
    monkeypatch.setattr(servers, 'OBJECT_INFO_MAX_AGE', 0.0)
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        entry = next(iter(app.pool.entries.values()))
        await wait_for(lambda: bool(entry.object_info))
        first = entry.object_info
        await app.pool.check_all()
        assert entry.object_info is first
        sim.catalogue.restrict('KSampler', 'sampler_name', ['euler'])
        await app.pool.check_all()
        assert entry.object_info is not first  # a changed catalogue is taken at once
        assert entry.object_info['KSampler'] == sim.catalogue.info('KSampler')
