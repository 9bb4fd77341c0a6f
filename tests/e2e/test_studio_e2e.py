"""The workflow studio in Chromium: import the test-pattern graph as a new mode, expose its size, save, generate."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORD, PHONE, RunningApp, screenshot, start_app, stop_app
from tests.samples import FIXTURES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = 'e2e-admin-password'


@pytest.fixture(scope='module')
def studio_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The real app with an admin and its own copy of the workflow folder."""
    data = tmp_path_factory.mktemp('e2e-studio')
    shutil.copytree(ROOT / 'workflows', data / 'workflows')
    running = start_app(data, ADMIN_PASSWORD=ADMIN_PASSWORD, WORKFLOWS_DIR=str(data / 'workflows'))
    yield running
    stop_app(running.process)


def log_in_as_admin(page, app: RunningApp, *, lang: str = 'en') -> None:
    """Pass the beta gate, then the admin login, landing on the studio."""
    page.goto(f'/beta-login?lang={lang}')
    page.fill('input[type=password]', PASSWORD)
    page.keyboard.press('Enter')
    page.wait_for_url(f'{app.url}/')
    page.goto('/admin/login?next=/admin/studio')
    page.locator('input[name=user]').fill('admin')
    page.locator('input[name=password]').fill(ADMIN_PASSWORD)
    page.keyboard.press('Enter')
    page.wait_for_selector('[data-role=studio-paste]')
    page.wait_for_function('window.socket && window.socket.connected')


def test_import_the_test_pattern_as_a_new_mode_expose_its_size_save_and_generate(
    browser, studio_app: RunningApp
) -> None:
    context = browser.new_context(viewport={'width': 1280, 'height': 900}, base_url=studio_app.url, locale='en-US')
    context.set_default_timeout(60_000)
    page = context.new_page()
    errors: list[str] = []
    page.on('pageerror', lambda error: errors.append(str(error)))
    log_in_as_admin(page, studio_app)
    page.locator('[data-role=studio-paste]').fill(
        (FIXTURES / 'workflows_ui' / 'test_pattern.json').read_text(encoding='utf-8')
    )
    page.click('[data-role=studio-import]')
    page.wait_for_selector('[data-role=studio-input-1-width]')
    page.click('[data-role=studio-input-1-width]')
    page.click('[data-role=studio-input-1-height]')
    page.get_by_label('File id').fill('pattern_wide')
    page.get_by_label('Title (English)').first.fill('Wide pattern')
    page.get_by_label('Title (Korean)').first.fill('넓은 패턴')
    page.get_by_label('Aspect ratios').fill('2:1=128x64')
    page.get_by_label('Prompt', exact=True).first.fill('a wide test pattern')  # a default the Generate form starts with
    page.get_by_text('runs here').wait_for()
    screenshot(page, 'studio_desktop_en')
    page.click('[data-role=studio-save]')
    page.get_by_text('"id": "pattern_wide"').wait_for()
    screenshot(page, 'studio_desktop_diff')
    page.click('[data-role=studio-save-confirm]')
    page.get_by_text('Saved pattern_wide.json').wait_for()
    assert (studio_app.data / 'workflows' / 'pattern_wide.json').is_file()

    page.goto('/')
    page.get_by_text('Wide pattern').click()
    page.click('[data-role=generate]')
    card = page.locator('[data-job-id]').first
    card.locator('[data-role=job-thumb]').first.wait_for()
    card.locator('[data-role=job-thumb]').first.click()
    image = page.locator('.q-dialog img').first
    image.wait_for()
    page.wait_for_function("document.querySelector('.q-dialog img')?.naturalWidth > 0")
    assert image.evaluate('i => [i.naturalWidth, i.naturalHeight]') == [128, 64]  # the exposed size reached it
    assert errors == []
    context.close()


def test_the_studio_in_korean_on_a_phone(browser, studio_app: RunningApp) -> None:
    context = browser.new_context(viewport=PHONE, base_url=studio_app.url, locale='ko-KR')
    context.set_default_timeout(60_000)
    page = context.new_page()
    log_in_as_admin(page, studio_app, lang='ko')
    page.get_by_label('저장된 워크플로우').click()
    page.get_by_role('option', name='sd15_txt2img').click()
    page.get_by_role('button', name='열기').click()
    page.get_by_text('실행 가능').wait_for()
    screenshot(page, 'studio_phone_ko')
    context.close()
