"""Defects the fault campaign found, each reproduced small with the simulator's knobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import USER_A, USER_B, USER_C, make_settings, services, simulator, wait_for
from vcc_ui.services.jobs import manager


async def test_failure_missed_on_a_dropped_socket_keeps_its_reason(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim:
        sim.faults.error_rate, sim.faults.ws_drop_every = 1.0, 1
        async with services(make_settings(tmp_path, sim.url)) as app:
            view = await app.jobs.submit(USER_A, 'sd15_txt2img', {'prompt': 'fox', 'seed': 1, 'steps': 2})
            await wait_for(lambda: view.finished, timeout=30)
    assert view.status == 'failed'
    assert view.error is not None and sim.faults.fail_message in view.error, view.error


async def test_jobs_bounced_by_a_killed_server_all_complete_on_the_other(tmp_path: Path) -> None:
    async with simulator(tmp_path, 'a', step_delay=0.01) as a, simulator(tmp_path, 'b') as b:
        settings = make_settings(tmp_path, a.url, b.url, server_max_inflight=2, max_per_user_concurrent=2)
        async with services(settings) as app:
            await b.go_down()  # killed: it refuses connections, and no health check has noticed yet
            views = [
                await app.jobs.submit(user, 'sd15_txt2img', {'prompt': 'fox', 'seed': n, 'steps': 2})
                for user in (USER_A, USER_B, USER_C)
                for n in range(3)
            ]
            await wait_for(lambda: all(v.finished for v in views), timeout=60)
            b_health = app.pool.entries[2].health
            assert not b_health.reachable and 'cannot connect' in b_health.last_error
    assert [v.status for v in views] == ['completed'] * len(views), [v.error for v in views]
    assert {v.server for v in views} == {app.pool.entries[1].health.name}


@pytest.mark.parametrize('comes_back', [False, True], ids=['stays_gone', 'restarts_without_it'])
async def test_a_posted_job_whose_server_dies_is_not_posted_again_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, comes_back: bool
) -> None:
    monkeypatch.setattr(manager, 'SERVER_LOSS_GRACE', 2.0, raising=False)
    async with simulator(tmp_path, 'a') as a, simulator(tmp_path, 'b', step_delay=0.1) as b:
        async with services(make_settings(tmp_path, a.url, b.url, server_max_inflight=2)) as app:
            await app.pool.set_enabled(1, False)
            params = {'prompt': 'fox', 'seed': 1, 'steps': 150}
            running = await app.jobs.submit(USER_A, 'sd15_txt2img', params)
            posted = await app.jobs.submit(USER_B, 'sd15_txt2img', params)  # waits in b's own queue
            await wait_for(lambda: running.status == 'running' and posted.waiting)
            await app.pool.set_enabled(1, True)
            await b.go_down()  # killed with both prompts the app posted
            await app.pool.check_all()
            if comes_back:
                await b.come_back()  # restarted: its queue and history are gone
            await wait_for(lambda: running.finished and posted.finished, timeout=30)
    assert (running.status, posted.status) == ('failed', 'failed')
    assert 'Submit it again' in posted.error, posted.error
    assert a.history_ids == [] and a.running_prompt_id is None
