"""The admin dashboard in a real headless Chromium (async Playwright) while jobs of two users move through it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ARTIFACTS, CHROMIUM_ARGS, DESKTOP, PASSWORD, PHONE, RunningApp, start_app, stop_app

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = 'e2e-admin-password'
ROW = '[data-job-id]'
JOB = {'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'a tram in the rain at night', 'steps': 40}}


@pytest.fixture
async def dashboard_app(tmp_path: Path) -> AsyncIterator[RunningApp]:
    """The real app with an admin password and a slow simulator, so jobs are seen running."""
    running = await asyncio.to_thread(
        start_app, tmp_path / 'app', ADMIN_PASSWORD=ADMIN_PASSWORD, SIMULATOR_STEP_DELAY='0.12'
    )
    yield running
    await asyncio.to_thread(stop_app, running.process)


async def submit_jobs(url: str, count: int) -> list[str]:
    """Log a new script user in through the beta gate and queue `count` jobs; return their ids."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await client.post('/beta-login', data={'password': PASSWORD})
        ids = []
        for _ in range(count):
            answer = await client.post('/api/v1/jobs', json=JOB)
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()['id'])
        return ids


async def test_dashboard_shows_jobs_moving_with_progress_and_preview(
    dashboard_app: RunningApp, chromium_path: str
) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport=DESKTOP, base_url=dashboard_app.url, locale='en-US')
        context.set_default_timeout(60_000)
        page = await context.new_page()
        errors: list[str] = []
        page.on('pageerror', lambda error: errors.append(str(error)))
        await page.goto('/beta-login')
        await page.fill('input[type=password]', PASSWORD)
        await page.keyboard.press('Enter')
        await page.wait_for_url(f'{dashboard_app.url}/')
        await page.goto('/admin/login?next=/admin')
        await page.get_by_label('User').fill('admin')
        await page.get_by_label('Password').fill(ADMIN_PASSWORD)
        await page.keyboard.press('Enter')
        await page.wait_for_selector('[data-health=ok]')
        await page.get_by_text('No jobs right now').wait_for()

        alice = await submit_jobs(dashboard_app.url, 2)
        bob = await submit_jobs(dashboard_app.url, 2)
        for job_id in alice + bob:  # rows arrive live, no reload
            await page.wait_for_selector(f'[data-job-id="{job_id}"]')
        running = page.locator(f'[data-job-id="{alice[0]}"]')
        await running.locator('img[src*="/api/v1/admin/jobs/"]').wait_for()
        await page.wait_for_function(
            f'document.querySelector(\'[data-job-id="{alice[0]}"] img\')?.naturalWidth > 0'
        )  # the preview loads
        assert await page.locator(f'[data-job-id="{bob[0]}"]').get_by_text('#1').count() == 1
        await page.screenshot(path=str(ARTIFACTS / 'admin_dashboard_desktop_running.png'), full_page=True)

        await page.locator(f'[data-job-id="{bob[1]}"] button').first.click()  # move to front
        await page.get_by_text('Moved to the front').wait_for()
        await page.locator(f'[data-job-id="{bob[1]}"]').get_by_text('#1').wait_for()
        await running.locator('button').last.click()  # cancel the running job: asked first
        await page.get_by_text('Cancel this job?').wait_for()
        await page.screenshot(path=str(ARTIFACTS / 'admin_dashboard_desktop_cancel_confirm.png'))
        await page.get_by_role('button', name='Cancel the job').click()
        await running.get_by_text('Cancelled').wait_for()
        await page.locator(f'[data-job-id="{bob[1]}"]').get_by_text('Running').wait_for()

        phone = await browser.new_context(
            viewport=PHONE, base_url=dashboard_app.url, locale='en-US', storage_state=await context.storage_state()
        )
        small = await phone.new_page()
        await small.goto('/admin')
        await small.wait_for_selector(f'[data-job-id="{bob[1]}"]')
        await small.wait_for_timeout(500)  # let the charts draw
        await small.screenshot(path=str(ARTIFACTS / 'admin_dashboard_phone.png'), full_page=True)
        await page.get_by_text('By server').click()
        await page.wait_for_selector(ROW)
        await page.screenshot(path=str(ARTIFACTS / 'admin_dashboard_desktop_by_server.png'), full_page=True)
        await browser.close()
    assert not errors, errors
