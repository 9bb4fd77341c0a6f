"""The gallery in a real headless Chromium on S3-backed storage: thumbnails streamed by the app, or presigned."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, CHROMIUM_ARGS, DESKTOP, PASSWORD, start_app, stop_app
from tests.s3 import S3Server

pytestmark = pytest.mark.e2e

JOB = {'workflow_id': 'test_pattern', 'params': {'prompt': 'a red fox'}}
LOADED = (
    "[...document.images].filter(i => i.src.includes('/outputs/')).length >= 2 &&"
    " [...document.images].filter(i => i.src.includes('/outputs/')).every(i => i.complete && i.naturalWidth > 0)"
)


@pytest.mark.parametrize('presign', ['0', '60'])
async def test_gallery_thumbnails_load_from_s3(
    tmp_path: Path, s3_server: S3Server, chromium_path: str, presign: str
) -> None:
    from playwright.async_api import async_playwright

    env = {name.upper(): str(value) for name, value in s3_server.settings(s3_server.new_bucket()).items()}
    app = await asyncio.to_thread(start_app, tmp_path / 'app', S3_PRESIGN_SECONDS=presign, **env)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
            context = await browser.new_context(viewport=DESKTOP, base_url=app.url, locale='en-US')
            context.set_default_timeout(60_000)
            page = await context.new_page()
            await page.goto('/beta-login')
            await page.fill('input[type=password]', PASSWORD)
            await page.keyboard.press('Enter')
            await page.wait_for_url(f'{app.url}/')
            for _ in range(2):
                answer = await page.request.post('/api/v1/jobs', data=JOB)
                assert answer.status == 201, await answer.text()
            for _ in range(240):
                if len((await (await page.request.get('/api/v1/images')).json())['items']) == 2:
                    break
                await asyncio.sleep(0.25)
            # The gallery opens in a tab of its own: navigating the Generate tab away would abort the loads of
            # its own job cards' thumbnails, which are not the gallery's.
            gallery = await context.new_page()
            blocked: list[str] = []
            gallery.on('requestfailed', lambda request: blocked.append(f'{request.url} {request.failure}'))
            await gallery.goto('/gallery')
            await gallery.wait_for_function(LOADED)
            assert blocked == []
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await gallery.screenshot(path=str(ARTIFACTS / f'gallery_s3_presign_{presign}.png'))
            await browser.close()
    finally:
        await asyncio.to_thread(stop_app, app.process)
