"""Issue 3 figures: latency from a simulator progress frame to the DOM of 50 open tabs, and server RSS with them.

Clock sources: the simulator runs in this test process and stamps each `progress` frame with time.time() just
before sending it; each tab stamps the moment its step label changes with performance.timeOrigin +
performance.now() from a MutationObserver. Both are the wall clock of this one machine.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from tests.bench.conftest import percentiles, report
from tests.e2e.conftest import CHROMIUM_ARGS, PASSWORD, ensure_chromium, start_app, stop_app
from tests.fixtures import simulator

pytestmark = pytest.mark.bench

TABS = int(os.environ.get('BENCH_TABS', '50'))
STEPS = 60
STEP_DELAY = 0.1
OBSERVER = '''() => {
  window.__steps = {};
  const record = () => {
    const label = document.querySelector('[data-role=job-step]');
    const step = label ? parseInt(label.textContent, 10) : NaN;
    if (Number.isNaN(step) || step in window.__steps) return;
    window.__steps[step] = performance.timeOrigin + performance.now();
  };
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true});
}'''


async def steps_seen(page) -> dict:
    """Return {step: time} the tab's observer recorded; empty when the tab reloaded and lost its observer."""
    from playwright.async_api import Error
    try:
        return await page.evaluate('window.__steps || {}')
    except Error:
        return {}


def rss_mb(pid: int) -> float:
    """Return the resident set size of a process in MiB (from /proc)."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return float('nan')


class SimulatorThread:
    """The simulator on its own event loop in a thread, so the browser driver in the test loop cannot starve it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sent: dict[int, float] = {}
        self.url = ''
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name='simulator', daemon=True)

    def __enter__(self) -> SimulatorThread:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError('the simulator did not start')
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with simulator(self.root, step_delay=STEP_DELAY) as sim:
            original = sim.hub.send_json

            async def stamped(event: str, data: dict, sid: str | None) -> None:
                if event == 'progress':
                    self.sent.setdefault(int(data['value']), time.time())
                await original(event, data, sid)

            sim.hub.send_json = stamped
            self.url = sim.url
            self._ready.set()
            await self._stop.wait()


async def test_progress_to_dom_latency_with_50_tabs(tmp_path: Path) -> None:
    chromium = ensure_chromium()
    if chromium is None:
        pytest.skip('Debian chromium is not available')
    from playwright.async_api import async_playwright
    with SimulatorThread(tmp_path / 'sim') as sim:
        sent = sim.sent
        app = await asyncio.to_thread(start_app, tmp_path / 'app', COMFYUI_SERVERS=sim.url, MAX_PER_USER_QUEUE='5')
        try:
            idle_rss = rss_mb(app.process.pid)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=chromium, headless=True,
                    args=[*CHROMIUM_ARGS, '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
                          '--disable-backgrounding-occluded-windows'])
                context = await browser.new_context(base_url=app.url, viewport={'width': 1280, 'height': 800})
                await context.request.post('/beta-login', form={'password': PASSWORD})
                pages = []
                opened = time.perf_counter()
                for _ in range(TABS):
                    page = await context.new_page()
                    await page.goto('/')
                    await page.wait_for_selector('[data-role=generate]')
                    await page.evaluate(OBSERVER)
                    pages.append(page)
                open_seconds = time.perf_counter() - opened
                rss_tabs = rss_mb(app.process.pid)
                answer = await context.request.post('/api/v1/jobs', data={
                    'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'bench', 'steps': STEPS}})
                assert answer.ok, await answer.text()
                await pages[-1].wait_for_selector('[data-role=job-thumb]', timeout=STEPS * STEP_DELAY * 1000 + 120_000)
                await asyncio.sleep(0.5)
                rss_peak = rss_mb(app.process.pid)
                seen = [await steps_seen(page) for page in pages]
                await browser.close()
        finally:
            await asyncio.to_thread(stop_app, app.process)
    latencies = [(stamp / 1000 - sent[int(step)]) * 1000 for tab in seen for step, stamp in tab.items()
                 if int(step) in sent and 2 <= int(step) < STEPS]
    missing = sum(1 for tab in seen if tab for step in range(2, STEPS) if str(step) not in tab)
    lost = sum(1 for tab in seen if not tab)
    p50, p95 = percentiles(latencies) if latencies else (float('nan'), float('nan'))
    report(f'simulator progress frame -> DOM of {TABS} tabs of one user (one job, {STEPS} steps, '
           f'{STEP_DELAY * 1000:.0f} ms apart)', samples=len(latencies), steps_never_shown=missing,
           tabs_that_reloaded=lost, cpus=os.cpu_count(), p50_ms=f'{p50:.1f}', p95_ms=f'{p95:.1f}',
           max_ms=f'{max(latencies, default=float("nan")):.1f}', goal='p95 <= 100 ms',
           tabs_opened_in_s=f'{open_seconds:.1f}')
    report('app server RSS (VmRSS of the app process; the simulator runs in the test process)',
           idle_mb=f'{idle_rss:.0f}', with_tabs_open_mb=f'{rss_tabs:.0f}', after_the_job_mb=f'{rss_peak:.0f}',
           goal='<= 300 MB with 50 tabs', tabs=TABS)
