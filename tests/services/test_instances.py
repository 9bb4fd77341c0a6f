"""Two instances on one PostgreSQL and one Redis: sessions, login limits, counters, presence, LoRA sync and health."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.fixtures import USER_A, make_settings, services, simulator, wait_for
from vcc_ui.db import make_engine
from vcc_ui.services import Services, auth, servers
from vcc_ui.services.auth import RedisLoginThrottle
from vcc_ui.services.bus import RedisBus
from vcc_ui.services.presence import Presence
from vcc_ui.simulator import Simulator

PROMPT = {'prompt': 'a lighthouse in a storm', 'seed': 3, 'steps': 6}


def fresh_database(postgres_url: str, tmp_path: Path) -> str:
    """A new, empty database on the session's PostgreSQL; its URL."""
    name = f'inst_{tmp_path.name.lower().replace("-", "_")[:40]}'
    admin = make_engine(postgres_url)
    with admin.connect().execution_options(isolation_level='AUTOCOMMIT') as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS {name}'))
        conn.execute(text(f'CREATE DATABASE {name}'))
    admin.dispose()
    return postgres_url.rsplit('/', 1)[0] + f'/{name}'


@dataclass
class Pair:
    """Two started instances and the simulator they share."""

    a: Services
    b: Services
    sim: Simulator


@pytest.fixture
async def pair(
    tmp_path: Path, postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Pair]:
    """Instances `a` and `b`: one database, one Redis, one SECRET_KEY, one output folder; no health rounds."""
    monkeypatch.setattr(servers, 'HEALTH_INTERVAL', 3600.0)  # only the bus makes `b` look again
    monkeypatch.setattr(auth, 'WRONG_PASSWORD_DELAY', 0.0)
    database = fresh_database(postgres_url, tmp_path)
    async with simulator(tmp_path, step_delay=0.05) as sim:

        def settings(name: str) -> object:
            return make_settings(
                tmp_path / name,
                sim.url,
                database_url=database,
                redis_url=redis_url,
                instance_id=name,
                output_dir=tmp_path / 'outputs',
                beta_password='beta',
                admin_password='admin',
                civitai_base_url='http://127.0.0.1:9',
            )

        async with services(settings('a')) as a, services(settings('b')) as b:  # type: ignore[arg-type]
            for bus in (a.bus, b.bus):
                assert isinstance(bus, RedisBus)
                await bus.connected.wait()
            yield Pair(a, b, sim)


async def test_a_session_opened_on_one_instance_is_good_on_the_other_and_revoking_ends_it_everywhere(
    pair: Pair,
) -> None:
    cookie = pair.a.gate.cookie_value()
    await wait_for(lambda: pair.b.gate.is_open(cookie), timeout=5)
    admin = pair.a.admin.cookie_value()
    await wait_for(lambda: pair.b.admin.is_session(admin), timeout=5)
    assert pair.b.gate.revoke_all() == 1
    await wait_for(lambda: not pair.a.gate.is_open(cookie), timeout=5)
    sid = pair.b.sessions.open('admin', 60)
    await wait_for(lambda: pair.a.sessions.is_live(sid, 'admin'), timeout=5)
    pair.a.sessions.revoke(sid)
    await wait_for(lambda: not pair.b.sessions.is_live(sid, 'admin'), timeout=5)


async def test_wrong_passwords_count_across_instances(pair: Pair) -> None:
    for _ in range(10):  # the beta gate's budget, all spent on `a`
        assert not (await pair.a.gate.attempt('wrong', '10.0.0.1')).ok
    assert not (await pair.b.gate.attempt('wrong', '10.0.0.1')).ok  # over budget: the one check per interval
    refused = await pair.b.gate.attempt('beta', '10.0.0.1')
    assert not refused.ok and 0 < refused.retry_after <= 15
    assert (await pair.a.gate.attempt('wrong', '10.0.0.1')).retry_after > 0  # the probe was `b`'s
    assert (await pair.b.gate.attempt('beta', '10.0.0.2')).ok


async def test_a_shared_throttle_falls_back_to_memory_when_redis_is_away() -> None:
    throttle = RedisLoginThrottle('redis://127.0.0.1:9/0', 'test', 1, 60.0, probe_interval=15.0)
    try:
        assert await throttle.take('x') == 0
        await throttle.count_failure('x')
        assert await throttle.take('x') == 0  # the probe
        assert await throttle.take('x') > 0
    finally:
        await throttle.close()


async def test_the_counters_on_one_instance_follow_a_job_on_the_other(pair: Pair) -> None:
    seen: list[tuple[int, int]] = []

    def busy() -> bool:
        seen.append((pair.b.stats.counters.queued, pair.b.stats.counters.running))
        return pair.b.stats.counters.running == 1

    view = await pair.a.jobs.submit(USER_A, 'sd15_txt2img', PROMPT)
    await wait_for(busy)
    await wait_for(lambda: view.finished)
    await wait_for(lambda: (pair.b.stats.counters.queued, pair.b.stats.counters.running) == (0, 0))
    await wait_for(lambda: pair.b.stats.counters.done_hour == 1)  # `b` refreshed its figures after the finish
    assert max(sample.running for sample in pair.b.stats.series()) == 1


async def test_every_instance_lists_the_tabs_of_all(pair: Pair) -> None:
    pair.a.presence.connected('tab-1', user=USER_A, path='/gallery?token=x', since=time.time())
    await wait_for(
        lambda: [(v.client_id, v.instance, v.path) for v in pair.b.presence.list()] == [('tab-1', 'a', '/gallery')]
    )
    pair.a.presence.moved('tab-1', '/generate')
    await wait_for(lambda: [v.path for v in pair.b.presence.list()] == ['/generate'])
    pair.a.presence.disconnected('tab-1')
    await wait_for(lambda: pair.b.presence.list() == [])


async def test_a_new_instance_hears_the_tabs_at_once_and_forgets_a_silent_one(redis_url: str) -> None:
    buses = [RedisBus(redis_url, name) for name in ('one', 'two')]
    one, two = Presence(buses[0], heartbeat=0.2), Presence(buses[1], heartbeat=0.2)
    for bus in buses:
        await bus.start()
        await bus.connected.wait()
    try:
        await one.start()
        one.connected('tab', user=USER_A, path='/', since=time.time())
        await two.start()  # its hello makes `one` send its list now
        await wait_for(lambda: [v.client_id for v in two.list()] == ['tab'], timeout=5)
        await one.stop()
        await buses[0].stop()  # `one` dies: no more heartbeats
        await wait_for(lambda: two.list() == [], timeout=5)
    finally:
        await two.stop()
        for bus in buses:
            await bus.stop()


async def test_lora_sync_progress_shows_on_the_other_instance(pair: Pair) -> None:
    server_id = next(iter(pair.a.pool.entries))
    stages: list[str] = []
    pair.b.loras.changed.subscribe(lambda status: stages.append(status.stage))
    await pair.a.loras.sync(server_id)
    await wait_for(lambda: pair.b.loras.status_of(server_id).stage == pair.a.loras.status_of(server_id).stage)
    shown, synced = pair.b.loras.status_of(server_id), pair.a.loras.status_of(server_id)
    assert stages[0] == 'listing' and stages[-1] == synced.stage == 'done'
    assert (shown.lora_count, shown.hashed, shown.last_sync) == (synced.lora_count, synced.hashed, synced.last_sync)
    assert shown.lora_count > 0


async def test_a_server_one_instance_sees_go_down_is_checked_at_once_by_the_other(pair: Pair) -> None:
    server_id = next(iter(pair.a.pool.entries))
    b_health = pair.b.pool.entries[server_id].health
    assert b_health.reachable
    await pair.sim.stop()
    await pair.a.pool.check_all()
    assert not pair.a.pool.entries[server_id].health.reachable
    await wait_for(lambda: not b_health.reachable, timeout=5)
