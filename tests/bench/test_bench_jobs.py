"""Issue 2 and 16 figures: submit -> /prompt latency, completions per second with the app's CPU per job, WS
message -> Event latency, and the time the app adds to a job over posting it straight to the simulator."""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.bench.conftest import percentiles, report
from tests.bench.stamps import stamp_prompt_posts
from tests.bench.test_bench_tabs import cpu_seconds
from tests.e2e.conftest import PASSWORD, start_app, stop_app
from tests.fixtures import make_settings, services, simulator, simulator_process, wait_for
from vcc_ui.pages import speedups
from vcc_ui.pages.live import JobFeed
from vcc_ui.services import WORKFLOWS_DIR
from vcc_ui.services.jobs.types import JobView
from vcc_ui.services.workflows import GenerateParams, WorkflowRegistry

# main at 277d9b4 on this 2-core machine: the sustained figure quiet, the added time with other work running (load
# about 5; the direct side took 35 ms instead of 10-15); the lead re-measures both on a quiet machine
BEFORE_SUSTAINED = '38.9 jobs/s, 26.07 ms app CPU per job'
BEFORE_ADDED = 'direct 35.3 ms, app 104.3 ms, added 69.0 ms (medians), app CPU 47.0 ms per job (loaded machine)'
ADDED_PAIRS = 40  # measured pairs (direct, through the app), after 3 warm-up pairs
POLL_INTERVAL = 0.01  # seconds between two GET /api/v1/jobs/{id}: faster polls load the app they measure

pytestmark = pytest.mark.bench


async def test_submit_to_prompt_posted_latency(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim:
        posted = await stamp_prompt_posts(sim)
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
            # NOTE: what the running app sets up around its services (pages/root.create) that a job's path meets:
            # NiceGUI's bindings made cheaper (speedups), the tabs' feed following every change of a job, and the
            # start's collection, after which what the start made is frozen (Housekeeping), so the collector's full
            # collections only walk what came since (unfrozen, this process's heap, pytest's and every test module's,
            # made each 120 ms, in the measure or not: 0.4 ms per job of noise)
            speedups.install()
            JobFeed(app.jobs.changed)
            warm = await app.jobs.submit('anon-' + 'f' * 32, 'test_pattern', {'prompt': 'warm-up', 'seed': 1})
            await wait_for(lambda: warm.finished, timeout=60)
            gc.collect()
            gc.freeze()
            try:
                started, cpu_started, loop_started = time.perf_counter(), time.process_time(), time.thread_time()
                views: list[JobView] = []
                for round_ in range(jobs_per_user):
                    for user in range(users):
                        views.append(
                            await app.jobs.submit(
                                f'anon-{user:032x}',
                                'test_pattern',
                                {'prompt': f'user {user}', 'seed': round_ * 1000 + user},
                            )
                        )
                await wait_for(partial(all_finished, deque(views)), timeout=300)
                # NOTE: this process runs the app only (the simulators are processes of their own), all its threads
                # counted
                took, cpu = time.perf_counter() - started, time.process_time() - cpu_started
                loop_cpu = time.thread_time() - loop_started  # the event loop's thread: the rest is the workers'
            finally:
                gc.unfreeze()
    completed = sum(v.status == 'completed' for v in views)
    report(
        'sustained completions, 100 users, model-free 0-step jobs, two simulator processes (2 in flight each)',
        jobs=len(views),
        completed=completed,
        seconds=f'{took:.2f}',
        completions_per_s=f'{completed / took:.1f}',
        app_cpu_ms_per_job=f'{cpu / max(1, completed) * 1000:.2f}',
        of_it_event_loop_ms=f'{loop_cpu / max(1, completed) * 1000:.2f}',
        goal='>= 50/s and <= 10 ms app CPU per job',
        before=BEFORE_SUSTAINED,
    )


def all_finished(waiting: deque[JobView]) -> bool:
    """Whether every job left in `waiting` (in submission order) finished; those found finished are dropped.

    A poll of `all(v.finished for v in views)` read every finished view again, 100 times a second: CPU the bench
    charged to the app.
    """
    while waiting and waiting[0].finished:
        waiting.popleft()
    return not waiting


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


async def _direct_job(http: httpx.AsyncClient, ws, client_id: str, graph: dict) -> float:
    """Post a prompt straight to the simulator, wait for its done signal on the socket, fetch its image; seconds."""
    prompt_id = str(uuid.uuid4())
    started = time.perf_counter()
    answer = await http.post('/prompt', json={'prompt': graph, 'client_id': client_id, 'prompt_id': prompt_id})
    assert answer.status_code == 200, answer.text
    images: list[dict] = []
    while True:
        raw = await ws.recv()
        if not isinstance(raw, str):
            continue
        message = json.loads(raw)
        data = message.get('data') or {}
        if data.get('prompt_id') != prompt_id:
            continue
        if message['type'] == 'executed':
            images += (data.get('output') or {}).get('images') or []
        elif message['type'] == 'executing' and data.get('node') is None:
            break
    image = images[0]
    got = await http.get(
        '/view', params={'filename': image['filename'], 'subfolder': image['subfolder'], 'type': image['type']}
    )
    assert got.status_code == 200 and got.content.startswith(b'\x89PNG')
    return time.perf_counter() - started


async def _app_job(http: httpx.AsyncClient, seed: int) -> tuple[float, float]:
    """POST /api/v1/jobs, poll GET /api/v1/jobs/{id} every POLL_INTERVAL until it reads completed; return seconds to
    the job's own finished_at (stamped as its end is committed; this machine's clock) and to the poll that saw it."""
    started, wall = time.perf_counter(), datetime.now(UTC)
    answer = await http.post('/api/v1/jobs', json={'workflow_id': 'test_pattern', 'params': {'seed': seed}})
    assert answer.status_code == 201, answer.text
    job_id = answer.json()['id']
    while True:
        job = (await http.get(f'/api/v1/jobs/{job_id}')).json()
        if job['status'] == 'completed':
            seen = time.perf_counter() - started
            return (datetime.fromisoformat(job['finished_at']) - wall).total_seconds(), seen
        assert job['status'] not in ('failed', 'cancelled', 'timed_out'), job
        await asyncio.sleep(POLL_INTERVAL)


async def test_app_added_time_per_job(tmp_path: Path) -> None:
    registry = WorkflowRegistry(WORKFLOWS_DIR)
    registry.load()
    workflow = registry.get('test_pattern')
    assert workflow is not None
    async with simulator_process(tmp_path, 'sim') as url:
        app = await asyncio.to_thread(start_app, tmp_path / 'app', COMFYUI_SERVERS=url, LOG_LEVEL='WARNING')
        try:
            client_id = uuid.uuid4().hex
            async with (
                httpx.AsyncClient(base_url=url) as direct,
                httpx.AsyncClient(base_url=app.url) as through,
                connect(f'ws://{url.split("://", 1)[1]}/ws?clientId={client_id}', compression=None) as ws,
            ):
                await through.post('/beta-login', data={'password': PASSWORD})
                straight: list[float] = []
                via_app: list[float] = []
                seen: list[float] = []
                cpu_started = 0.0
                for index in range(ADDED_PAIRS + 3):
                    if index == 3:
                        cpu_started = cpu_seconds(app.process.pid)
                    graph = workflow.build(GenerateParams(seed=index), output_prefix=f'direct_{index}')
                    took_direct = await _direct_job(direct, ws, client_id, graph)
                    took_app, took_seen = await _app_job(through, index)
                    if index >= 3:
                        straight.append(took_direct * 1000)
                        via_app.append(took_app * 1000)
                        seen.append(took_seen * 1000)
                app_cpu = cpu_seconds(app.process.pid) - cpu_started
        finally:
            await asyncio.to_thread(stop_app, app.process)
    direct_median, app_median = statistics.median(straight), statistics.median(via_app)
    report(
        'time the app adds to a job: test pattern straight to the simulator process vs POST /api/v1/jobs',
        pairs=len(straight),
        method='alternating; direct = POST /prompt, done signal on the socket, GET /view; app = POST /api/v1/jobs '
        f'until its finished_at (read by GET /api/v1/jobs/{{id}} every {POLL_INTERVAL * 1000:g} ms)',
        direct_median_ms=f'{direct_median:.1f}',
        app_median_ms=f'{app_median:.1f}',
        app_seen_by_poll_median_ms=f'{statistics.median(seen):.1f}',
        added_median_ms=f'{app_median - direct_median:.1f}',
        app_cpu_ms_per_job=f'{app_cpu / len(straight) * 1000:.1f} (the app process, its polls and idle work included)',
        added_p95_ms=f'{percentiles([a - d for a, d in zip(via_app, straight, strict=True)])[1]:.1f}',
        goal='added median <= 15 ms',
        before=BEFORE_ADDED,
    )
