"""Issue 2 figures: submit -> /prompt latency, completions per second, WS message -> Event latency."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.bench.conftest import percentiles, report
from tests.fixtures import make_settings, services, simulator, simulator_process, wait_for

pytestmark = pytest.mark.bench


async def test_submit_to_prompt_posted_latency(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim:
        posted: list[float] = []
        handler = sim._post_prompt

        async def stamped(request):
            posted.append(time.perf_counter())
            return await handler(request)

        sim._post_prompt = stamped
        await sim.go_down(keep_state=True)
        await sim.come_back()  # rebuild the routes with the stamped handler
        async with services(make_settings(tmp_path, sim.url, max_per_user_queue=1)) as app:
            latencies = []
            for index in range(200):
                before = len(posted)
                started = time.perf_counter()
                view = await app.jobs.submit(f'anon-{index:032x}', 'test_pattern', {'prompt': 'x', 'seed': index})
                await wait_for(lambda b=before: len(posted) > b)
                latencies.append((posted[-1] - started) * 1000)
                await wait_for(lambda v=view: v.finished)
    p50, p95 = percentiles(latencies[10:])
    report(
        'submit -> /prompt received by ComfyUI (free server)',
        samples=len(latencies) - 10,
        p50_ms=f'{p50:.2f}',
        p95_ms=f'{p95:.2f}',
        goal='p50 <= 10 ms',
    )


async def test_sustained_completions_per_second(tmp_path: Path) -> None:
    jobs_per_user, users = 3, 100
    async with simulator_process(tmp_path, 'one') as one, simulator_process(tmp_path, 'two') as two:
        settings = make_settings(tmp_path, one, two, max_per_user_queue=jobs_per_user, server_max_inflight=2)
        async with services(settings) as app:
            await app.jobs.submit('anon-' + 'f' * 32, 'test_pattern', {'prompt': 'warm-up', 'seed': 1})
            started = time.perf_counter()
            views = []
            for round_ in range(jobs_per_user):
                for user in range(users):
                    views.append(
                        await app.jobs.submit(
                            f'anon-{user:032x}',
                            'test_pattern',
                            {'prompt': f'user {user}', 'seed': round_ * 1000 + user},
                        )
                    )
            await wait_for(lambda: all(v.finished for v in views), timeout=300)
            took = time.perf_counter() - started
    completed = sum(v.status == 'completed' for v in views)
    report(
        'sustained completions, 100 users, model-free 0-step jobs, two simulator processes (2 in flight each)',
        jobs=len(views),
        completed=completed,
        seconds=f'{took:.2f}',
        completions_per_s=f'{completed / took:.1f}',
        goal='>= 50/s',
    )


async def test_ws_message_to_job_event_latency(tmp_path: Path) -> None:
    async with simulator(tmp_path, step_delay=0.12) as sim:
        sent: dict[int, float] = {}
        send_json = sim.hub.send_json

        async def stamped(event, data, sid):
            if event == 'progress':
                sent[int(data['value'])] = time.perf_counter()
            await send_json(event, data, sid)

        sim.hub.send_json = stamped
        async with services(make_settings(tmp_path, sim.url)) as app:
            latencies: list[float] = []

            def on_change(view) -> None:
                if view.step in sent and view.status == 'running':
                    latencies.append((time.perf_counter() - sent.pop(view.step)) * 1000)

            app.jobs.changed.subscribe(on_change)
            for seed in range(4):
                sent.clear()
                view = await app.jobs.submit(
                    'anon-' + 'a' * 32, 'sd15_txt2img', {'prompt': 'fox', 'seed': seed, 'steps': 25}
                )
                await wait_for(lambda v=view: v.finished, timeout=60)
                await asyncio.sleep(0)
    p50, p95 = percentiles(latencies)
    report(
        'simulator WS progress message -> JobView Event',
        samples=len(latencies),
        p50_ms=f'{p50:.2f}',
        p95_ms=f'{p95:.2f}',
    )
