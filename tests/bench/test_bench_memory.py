"""Issue 16 item 2: memory comes back after pages that never connect and after tabs that connect, navigate and close.

The app runs as a subprocess (tests/e2e/conftest.py start_app); RSS is its VmRSS. "start" is after a warm-up of WARM_UP
renders of each page (first renders load code and fill caches that stay on purpose), then WARM_UP_ROUNDS rounds of
CONCURRENT renders at once: concurrent requests start the worker threads that requests one at a time never need
(asyncio's default pool, up to min(32, cpus + 4) threads, which live as long as the process), each with a malloc arena
of its own (0.5-1.8 MB resident each in a diff of the app's smaps): the pool at its size, not memory the renders failed
to give back. NiceGUI deletes a client that never connected 60 s after it was made (its prune runs every 10 s; the app
drops them sooner during a flood, vcc_ui/pages/housekeeping.py) and a tab that closed `reconnect_timeout` (10 s) after
its socket went, so "after" waits PRUNE_WAIT seconds past the last request.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest
import socketio

from tests.bench.conftest import report
from tests.bench.socket_tabs import SocketTab
from tests.bench.test_bench_tabs import rss_mb
from tests.e2e.conftest import PASSWORD, start_app, stop_app

pytestmark = pytest.mark.bench

RENDERS = int(os.environ.get('BENCH_RENDERS', '1000'))
PAGES = ('/', '/gallery', '/admin')
WARM_UP = 10
CONCURRENT = 20
WARM_UP_ROUNDS = 3  # rounds of CONCURRENT renders at once in the warm-up
PRUNE_WAIT = 110.0  # the prune (60-70 s), then the reclaim it schedules (at most 30 s after the one before)
ADMIN_PASSWORD = 'bench-admin-password'


async def signed_in(url: str) -> dict[str, str]:
    """The cookies of a beta user who is also the admin."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for path, form in (
            ('/beta-login', {'password': PASSWORD}),
            ('/admin/login', {'user': 'admin', 'password': ADMIN_PASSWORD, 'next': '/admin'}),
        ):
            answer = await http.post(path, data=form)
            if answer.status_code >= 400:
                raise RuntimeError(f'{path} refused the bench: {answer.status_code}')
        return dict(http.cookies.items())


async def render(http: httpx.AsyncClient, path: str) -> None:
    """GET one page like a browser that never runs its script (so never opens the socket)."""
    answer = await http.get(path)
    answer.raise_for_status()
    if 'nicegui' not in answer.text:
        raise RuntimeError(f'{path} answered no NiceGUI page')


async def tab_visit(url: str, cookies: dict[str, str], path: str, http: httpx.AsyncClient) -> bool:
    """Open a page, connect its socket, follow the links to the other two pages, close the tab; False on a failure."""
    tab = SocketTab(url, cookies, path)
    try:
        await tab.open(http)
    except (socketio.exceptions.ConnectionError, httpx.HTTPError):  # a busy app dropped the page or its socket
        return False
    try:
        for other in PAGES[PAGES.index(path) + 1 :] + PAGES[: PAGES.index(path)]:
            await tab.navigate(other)
    except (TimeoutError, socketio.exceptions.SocketIOError):  # a busy app did not build the page in time
        return False
    finally:
        await tab.sio.disconnect()
    return True


async def in_batches(count: int, work) -> None:
    """Run work(i) for i < count, CONCURRENT at a time."""
    for start in range(0, count, CONCURRENT):
        await asyncio.gather(*(work(i) for i in range(start, min(count, start + CONCURRENT))))


async def settle(pid: int, since: float) -> float:
    """Wait until PRUNE_WAIT seconds after `since`, then return RSS."""
    await asyncio.sleep(max(0.0, PRUNE_WAIT - (time.monotonic() - since)))
    return rss_mb(pid)


async def test_memory_comes_back_after_renders_and_closed_tabs(tmp_path: Path) -> None:
    # the app runs as deployed (Makefile, systemd unit, deploy/cluster.py): PYTHONMALLOC=malloc, unless the bench's
    # environment names another allocator (PYTHONMALLOC=pymalloc measures the interpreter's default)
    allocator = os.environ.get('PYTHONMALLOC', 'malloc')
    app = await asyncio.to_thread(start_app, tmp_path / 'app', ADMIN_PASSWORD=ADMIN_PASSWORD, PYTHONMALLOC=allocator)
    pid = app.process.pid
    try:
        cookies = await signed_in(app.url)
        async with httpx.AsyncClient(base_url=app.url, timeout=120, cookies=cookies) as http:
            for path in PAGES * WARM_UP:
                await render(http, path)
            await in_batches(CONCURRENT * WARM_UP_ROUNDS, lambda i: render(http, PAGES[i % len(PAGES)]))
            for i in range(len(PAGES) * 3):  # connected tabs warm up too
                await tab_visit(app.url, cookies, PAGES[i % len(PAGES)], http)
            start = await settle(pid, time.monotonic())

            peak = start
            began = time.perf_counter()

            async def one_render(i: int) -> None:
                nonlocal peak
                await render(http, PAGES[i % len(PAGES)])
                peak = max(peak, rss_mb(pid))

            await in_batches(RENDERS, one_render)
            render_seconds = time.perf_counter() - began
            after_renders = await settle(pid, time.monotonic())
            report(
                f'{RENDERS} page renders that never connect (Generate, Gallery, admin dashboard in turn), then prune',
                start_mb=f'{start:.0f}',
                peak_mb=f'{peak:.0f}',
                after_prune_mb=f'{after_renders:.0f}',
                kept_mb=f'{after_renders - start:+.0f}',
                goal='after within 10 MB of start',
                renders_per_s=f'{RENDERS / render_seconds:.1f}',
                allocator=allocator,
            )

            tab_peak = after_renders
            refused = 0
            began = time.perf_counter()

            async def one_tab(i: int) -> None:
                nonlocal tab_peak, refused
                refused += not await tab_visit(app.url, cookies, PAGES[i % len(PAGES)], http)
                tab_peak = max(tab_peak, rss_mb(pid))

            await in_batches(RENDERS, one_tab)
            tab_seconds = time.perf_counter() - began
            after_tabs = await settle(pid, time.monotonic())
            report(
                f'{RENDERS} tabs: load a page (Generate, Gallery, dashboard in turn), connect, open the others, close',
                start_mb=f'{after_renders:.0f}',
                peak_mb=f'{tab_peak:.0f}',
                after_mb=f'{after_tabs:.0f}',
                kept_mb=f'{after_tabs - after_renders:+.0f}',
                goal='after within 10 MB of start',
                tabs_per_s=f'{RENDERS / tab_seconds:.1f}',
                tabs_that_failed=refused,
            )
    finally:
        await asyncio.to_thread(stop_app, app.process)
