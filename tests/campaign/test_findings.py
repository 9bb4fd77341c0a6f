"""Defects the fault campaign found, each reproduced small with the simulator's knobs."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures import USER_A, make_settings, services, simulator, wait_for


async def test_failure_missed_on_a_dropped_socket_keeps_its_reason(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim:
        sim.faults.error_rate, sim.faults.ws_drop_every = 1.0, 1
        async with services(make_settings(tmp_path, sim.url)) as app:
            view = await app.jobs.submit(USER_A, 'sd15_txt2img', {'prompt': 'fox', 'seed': 1, 'steps': 2})
            await wait_for(lambda: view.finished, timeout=30)
    assert view.status == 'failed'
    assert view.error is not None and sim.faults.fail_message in view.error, view.error
