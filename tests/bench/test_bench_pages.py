"""Issue 16 item 4: server time to build each page for a user with 10,000 images and 100 jobs in history.

The app runs as a subprocess (tests/e2e/conftest.py start_app); its database gets the user's rows written straight
into it once the user is known (the first job's owner). A build is one GET of the page over loopback, as a browser's
first request: routing, the gate, the page function with its database reads, the page's first content (the grid's
first page, the job history with its thumbnails, the dashboard's recent jobs: vcc_ui/pages/first_loads.py) and the
HTML. Each page's line says whether its answer carried that content: an answer without it is a skeleton whose content
was built after it (into the next request), and its wall figure leaves that work out. Each page also prints the app
process's CPU over its builds divided by the builds: steadier than wall time on a shared machine, and it counts all of
that work wherever it ran."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.bench.conftest import percentiles, report
from tests.bench.test_bench_gallery import _rows
from tests.bench.test_bench_memory import ADMIN_PASSWORD, render, signed_in
from tests.bench.test_bench_tabs import cpu_seconds
from tests.e2e.conftest import start_app, stop_app
from vcc_ui.db import make_engine
from vcc_ui.models import Image, Job, JobStatus

pytestmark = pytest.mark.bench

IMAGES = 10_000
JOBS = 100
BUILDS = 30
PAGES = ('/', '/gallery', '/inputs', '/admin', '/admin/images')
CONTENT = {  # a prop of the first content each page's answer carries
    '/': '"data-job-id"',  # the history's cards
    '/gallery': '"data-image-id"',  # the grid's tiles
    '/inputs': '"data-image-id"',
    '/admin': '"data-job-id"',  # the recent jobs
    '/admin/images': '"owner-id"',  # everyone's images
}


def seed(database: Path, owner: str) -> None:
    """Give the owner IMAGES images and JOBS finished jobs (each with one of them), written straight to the database."""
    rng = random.Random(16)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    images = _rows(owner, IMAGES, rng, start)
    generated = [row['id'] for row in images if row['kind'] == 'generated' and row['status'] == 'active']
    jobs = [
        {
            'id': uuid.UUID(int=rng.getrandbits(128)).hex,
            'owner': owner,
            'workflow_id': 'sd15_txt2img',
            'mode': 'txt2img',
            'params': {'prompt': f'history {n}', 'seed': n, 'steps': 20},
            'status': JobStatus.COMPLETED if n % 10 else JobStatus.FAILED,
            'priority': 0.0,
            'queued_at': start + timedelta(minutes=n),
            'started_at': start + timedelta(minutes=n, seconds=1),
            'finished_at': start + timedelta(minutes=n, seconds=9),
            'progress_value': 20.0,
            'progress_max': 20.0,
            'error': None if n % 10 else 'the server went away',
            'image_ids': [generated[n]] if n % 10 else [],
            'idempotency_key': None,
        }
        for n in range(JOBS - 1)
    ]
    engine = make_engine(f'sqlite:///{database}')
    with engine.begin() as conn:
        for chunk in range(0, len(images), 2_000):
            conn.execute(Image.__table__.insert(), images[chunk : chunk + 2_000])  # type: ignore[attr-defined]
        conn.execute(Job.__table__.insert(), jobs)  # type: ignore[attr-defined]
    engine.dispose()


async def test_page_build_time_with_a_full_history(tmp_path: Path) -> None:
    app = await asyncio.to_thread(start_app, tmp_path / 'app', ADMIN_PASSWORD=ADMIN_PASSWORD)
    try:
        cookies = await signed_in(app.url)
        async with httpx.AsyncClient(base_url=app.url, timeout=120, cookies=cookies) as http:
            first = await http.post(
                '/api/v1/jobs', json={'workflow_id': 'test_pattern', 'params': {'prompt': 'first', 'seed': 1}}
            )
            first.raise_for_status()
            owner = first.json()['owner']
            await asyncio.to_thread(seed, app.data / 'db' / 'app.db', owner)
            carried = {}
            for path in PAGES:  # warm-up: code paths and caches a first request fills
                await render(http, path)
                carried[path] = 'yes' if CONTENT[path] in (await http.get(path)).text else 'NO (built after the answer)'
            figures = {}
            for path in PAGES:
                samples = []
                cpu_before = cpu_seconds(app.process.pid)
                for _ in range(BUILDS):
                    began = time.perf_counter()
                    await render(http, path)
                    samples.append((time.perf_counter() - began) * 1000)
                cpu_ms = (cpu_seconds(app.process.pid) - cpu_before) * 1000 / BUILDS
                p50, p95 = percentiles(samples)
                figures[path] = (
                    f'wall p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(samples):.1f} ms; '
                    f'app CPU {cpu_ms:.1f} ms per build; first content in the answer: {carried[path]}'
                )
    finally:
        await asyncio.to_thread(stop_app, app.process)
    report(
        f'page build (one GET over loopback) for a user with {IMAGES:,} images and {JOBS} jobs, {BUILDS} builds each',
        **{f'page {path}': figure for path, figure in figures.items()},
        goal='p95 <= 50 ms per page (wall; CPU ms per build is the steadier figure on a shared machine)',
    )
