"""The runbook's ComfyUI-down rehearsal against the simulator's fault switches, with the real health loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from tests.fixtures import USER_A, USER_B, make_settings, services, simulator, wait_for
from vcc_ui.services import servers
from vcc_ui.services.jobs import manager
from vcc_ui.simulator import Simulator

PROMPT = {'prompt': 'a harbour at night', 'seed': 11}
BANNER_DEADLINE = 10.0  # the runbook: the admin banner shows FAIL within 10 s


async def stop_listening(sim: Simulator) -> Callable[[], Awaitable[None]]:
    """ComfyUI's process stops: connections are refused; returns how to start it again."""
    await sim.go_down()
    return sim.come_back


async def refuse_requests(sim: Simulator) -> Callable[[], Awaitable[None]]:
    """ComfyUI hangs up on every request (POST /sim/faults refuse); returns how to heal it."""
    async with httpx.AsyncClient(base_url=sim.url) as http:
        (await http.post('/sim/faults', json={'refuse': True})).raise_for_status()

    async def heal() -> None:
        async with httpx.AsyncClient(base_url=sim.url) as http:
            (await http.post('/sim/faults', json={'refuse': False})).raise_for_status()

    return heal


# the real 5 s health interval once (the 10 s promise), a short one for the second fault to keep the suite quick
@pytest.mark.parametrize(('fault', 'interval'), [(stop_listening, None), (refuse_requests, 0.5)])
async def test_comfyui_down_blocks_fails_running_job_shows_fail_and_recovers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interval: float | None,
    fault: Callable[[Simulator], Awaitable[Callable[[], Awaitable[None]]]],
) -> None:
    if interval is not None:
        monkeypatch.setattr(servers, 'HEALTH_INTERVAL', interval)
    monkeypatch.setattr(manager, 'SERVER_LOSS_GRACE', 1.0)  # the running job waits this long for its server
    async with simulator(tmp_path, step_delay=0.05) as sim, services(make_settings(tmp_path, sim.url)) as app:
        ok, _ = await app.health.run()
        assert ok
        health = next(iter(app.pool.entries.values())).health
        running = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 150})
        waiting = await app.jobs.submit(USER_B, 'sd15_txt2img', {**PROMPT, 'steps': 3})
        await wait_for(lambda: running.status == 'running' and running.step > 0)

        heal = await fault(sim)

        # the health loop alone (no manual check) must notice within the runbook's 10 s
        await wait_for(lambda: not health.reachable, timeout=BANNER_DEADLINE)
        ok, checks = await app.health.run()
        assert not ok and not checks['comfyui']['ok']
        server = checks['comfyui']['servers'][health.name]
        assert server['ok'] is False and server['last_error']
        await wait_for(lambda: running.finished)
        assert running.status == 'failed'
        assert (
            f'ComfyUI server {health.name} went down with this job' in running.error
            or 'Lost contact with ComfyUI' in running.error
        ), running.error
        assert waiting.status == 'queued'  # nothing is sent to a server that is down
        assert await app.pool.precheck('sd15_txt2img') == 'ComfyUI is not reachable'

        await heal()

        await wait_for(lambda: health.reachable, timeout=BANNER_DEADLINE)
        ok, checks = await app.health.run()
        assert ok and checks['comfyui']['servers'][health.name]['last_error'] is None
        assert await app.pool.precheck('sd15_txt2img') is None
        await wait_for(lambda: waiting.finished)
        assert waiting.status == 'completed', waiting.error
        fresh = await app.jobs.submit(USER_A, 'sd15_txt2img', {**PROMPT, 'steps': 3})
        await wait_for(lambda: fresh.finished)
        assert fresh.status == 'completed', fresh.error
