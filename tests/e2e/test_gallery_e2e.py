"""The gallery in a real headless Chromium: infinite scroll, the lightbox, delete and restore from the trash."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, CHROMIUM_ARGS, DESKTOP, PHONE, RunningApp, start_app, stop_app
from tests.images import png_bytes

pytestmark = pytest.mark.e2e

JOBS, BATCH = 13, 4  # 52 images: one page of 48 and a second page that must load on scrolling
TILE = '[data-image-id]'
DIALOG = '.q-dialog'


@pytest.fixture(scope='module')
def gallery_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The real app with a fast simulator and room in the queue for every seeding job."""
    running = start_app(
        tmp_path_factory.mktemp('e2e-gallery'),
        SIMULATOR_STEP_DELAY='0.005',
        MAX_PER_USER_QUEUE='50',
        MAX_PER_USER_CONCURRENT='4',
    )
    yield running
    stop_app(running.process)


async def shot(page, name: str) -> Path:
    """Save a screenshot of the viewport under tests/artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f'{name}.png'
    await page.screenshot(path=str(path))
    return path


async def thumbnails_loaded(page, count: int = 6) -> None:
    """Wait until the first thumbnails have been fetched and decoded (they load lazily)."""
    await page.wait_for_function(f"""[...document.querySelectorAll('{TILE} img')].slice(0, {count})
        .every((img) => img.complete && img.naturalWidth > 0)""")


async def login(page, app: RunningApp) -> None:
    """Pass the beta gate as a person would."""
    await page.goto('/')
    await page.wait_for_url('**/beta-login**')
    await page.fill('input[type=password]', app.password)
    await page.keyboard.press('Enter')
    await page.wait_for_selector('[data-role=generate]')


async def seed(context) -> None:
    """Queue the jobs through the REST API with this browser's cookies and wait until all are done."""
    for i in range(JOBS):
        params = {'prompt': f'pattern {i}', 'batch_size': BATCH, 'seed': i * 1_299_709}  # seeds far apart: colours
        response = await context.request.post('/api/v1/jobs', data={'workflow_id': 'test_pattern', 'params': params})
        assert response.status == 201, await response.text()
    for _ in range(600):
        items = (await (await context.request.get('/api/v1/jobs')).json())['items']
        if len(items) == JOBS and all(item['status'] == 'completed' for item in items):
            return
        assert not [item for item in items if item['status'] in ('failed', 'cancelled', 'timed_out')]
        await asyncio.sleep(0.1)
    raise AssertionError(f'the seeding jobs did not finish: {[item["status"] for item in items]}')


async def test_scroll_open_browse_delete_and_restore(chromium_path: str, gallery_app: RunningApp) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=DESKTOP, base_url=gallery_app.url, locale='en-US')
            context.set_default_timeout(60_000)
            page = await context.new_page()
            errors: list[str] = []
            page.on('pageerror', lambda error: errors.append(str(error)))
            await login(page, gallery_app)
            await seed(context)

            await page.goto('/gallery')
            tiles = page.locator(TILE)
            await expect(tiles).to_have_count(48)
            await expect(page.get_by_text(f'{JOBS * BATCH} image(s)')).to_be_visible()
            await thumbnails_loaded(page, 18)
            await shot(page, 'gallery_desktop_first_page')
            await page.mouse.wheel(0, 20_000)  # the end of the grid comes into view: the next page loads
            await expect(tiles).to_have_count(JOBS * BATCH)

            await page.evaluate('window.scrollTo(0, 0)')
            await tiles.nth(2).locator('[data-role=image-select]').click()  # the box selects, it opens nothing
            await expect(page.get_by_text('1 selected')).to_be_visible()
            await expect(page.locator(DIALOG)).to_have_count(0)
            await tiles.nth(2).locator('[data-role=image-select]').click()
            await expect(page.get_by_text('1 selected')).to_have_count(0)
            first_id = await tiles.first.get_attribute('data-image-id')
            second_id = await tiles.nth(1).get_attribute('data-image-id')
            await tiles.first.locator('img').click()
            dialog = page.locator(DIALOG)
            await expect(dialog.get_by_text(f'1 / {JOBS * BATCH}')).to_be_visible()
            await expect(dialog.locator(f'img[src*="{first_id}"]')).to_be_visible()
            await page.keyboard.press('ArrowRight')
            await expect(dialog.get_by_text(f'2 / {JOBS * BATCH}')).to_be_visible()
            await expect(dialog.locator(f'img[src*="{second_id}"]')).to_be_visible()
            await shot(page, 'gallery_desktop_lightbox')

            await dialog.get_by_role('button', name='Delete').click()
            await expect(page.get_by_text('1 image(s) moved to the trash.')).to_be_visible()
            await expect(tiles).to_have_count(JOBS * BATCH - 1)
            await expect(page.locator(f'{TILE}[data-image-id="{second_id}"]')).to_have_count(0)
            await page.keyboard.press('Escape')
            await expect(dialog).to_have_count(0)

            await page.get_by_role('button', name='Trash').click()
            await expect(tiles).to_have_count(1)
            await expect(page.get_by_text(re.compile(r'^Deleted \d{4}-'))).to_be_visible()
            await shot(page, 'gallery_desktop_trash')
            await tiles.first.locator('img').focus()
            await page.keyboard.press('Enter')  # the thumbnail opens from the keyboard too
            await page.locator(DIALOG).get_by_role('button', name='Restore').click()
            await expect(page.get_by_text('1 image(s) restored.')).to_be_visible()
            await expect(page.get_by_text('The trash is empty.')).to_be_visible()
            await page.keyboard.press('Escape')
            await page.get_by_role('button', name='Images').click()
            await expect(tiles).to_have_count(48)
            await expect(tiles.nth(1)).to_have_attribute('data-image-id', second_id)  # back in its place
            await expect(tiles.first).to_have_attribute('data-image-id', first_id)

            phone = await browser.new_context(
                viewport=PHONE,
                base_url=gallery_app.url,
                locale='ko-KR',
                storage_state=await context.storage_state(),
                has_touch=True,
            )
            mobile = await phone.new_page()
            await mobile.goto('/gallery')
            await expect(mobile.locator(TILE)).to_have_count(48)
            await thumbnails_loaded(mobile, 12)
            await expect(mobile.locator('input[type=date]').first).to_be_hidden()
            await shot(mobile, 'gallery_phone')
            await mobile.get_by_role('button', name='Filters').click()
            await expect(mobile.locator('input[type=date]').first).to_be_visible()
            await shot(mobile, 'gallery_phone_filters')
            await mobile.get_by_role('button', name='Filters').click()
            await mobile.locator(TILE).first.locator('img').click()
            await expect(mobile.locator(DIALOG).get_by_text(f'1 / {JOBS * BATCH}')).to_be_visible()
            await shot(mobile, 'gallery_phone_lightbox')
            await phone.close()

            await page.goto('/inputs')
            await expect(page.get_by_text('No input images yet.')).to_be_visible()
            uploader = page.locator('.q-uploader input[type=file]')
            await uploader.set_input_files(
                files=[
                    {'name': 'sky.png', 'mimeType': 'image/png', 'buffer': png_bytes(300, 200, color=(40, 120, 220))}
                ]
            )
            await expect(page.locator(TILE)).to_have_count(1)
            await uploader.set_input_files(
                files=[{'name': 'notes.png', 'mimeType': 'image/png', 'buffer': b'not an image at all'}]
            )
            await expect(page.get_by_text('notes.png: not a readable PNG, JPEG or WEBP image.').first).to_be_visible()
            await thumbnails_loaded(page, 1)
            await shot(page, 'inputs_desktop')
            await page.locator(TILE).first.hover()
            await page.locator(TILE).first.locator('button:has-text("delete")').click()  # its icon's ligature
            await expect(page.get_by_text('1 image(s) moved to the trash.')).to_be_visible()
            await expect(page.locator(TILE)).to_have_count(0)
            assert 'Traceback' not in (gallery_app.data / 'app.log').read_text()
            assert errors == []
        finally:
            await browser.close()
