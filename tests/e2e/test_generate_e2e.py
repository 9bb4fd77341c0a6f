"""The Generate page in a real headless Chromium against the real app and the bundled simulator."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.conftest import PHONE, RunningApp, screenshot
from vcc_ui.pages import housekeeping

pytestmark = pytest.mark.e2e

GENERATE = '[data-role=generate]'
CARD = '[data-job-id]'


def watch_errors(page) -> list[str]:
    """Collect the page's JavaScript errors."""
    errors: list[str] = []
    page.on('pageerror', lambda error: errors.append(str(error)))
    page.on('console', lambda message: errors.append(message.text) if message.type == 'error' else None)
    return errors


def login(page, app: RunningApp) -> None:
    """Open the app, get sent to the beta login, enter the password and land on Generate."""
    page.goto('/')
    page.wait_for_url('**/beta-login**')
    page.fill('input[type=password]', app.password)
    page.keyboard.press('Enter')
    page.wait_for_selector(GENERATE)
    page.wait_for_function('window.socket && window.socket.connected')


def progress_of(card) -> float:
    """Return the value the card's progress bar shows (aria-valuenow)."""
    bar = card.locator('[role=progressbar]')
    if bar.count() == 0:
        return -1.0
    try:  # the bar leaves the card when the job finishes, possibly between these two calls
        return float(bar.first.get_attribute('aria-valuenow', timeout=2000) or 0)
    except PlaywrightTimeoutError:
        return -1.0


def watch_progress(card, seconds: float = 20) -> list[float]:
    """Sample the progress bar until the result appears; return the distinct values seen."""
    seen: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and card.locator('[data-role=job-thumb]').count() == 0:
        value = progress_of(card)
        if value >= 0 and (not seen or seen[-1] != value):
            seen.append(value)
        time.sleep(0.05)
    return seen


def test_log_in_generate_and_watch_progress_until_the_result(context, app_server: RunningApp) -> None:
    page = context.new_page()
    errors = watch_errors(page)
    login(page, app_server)
    assert page.evaluate('document.documentElement.lang') == 'en'  # the page says which language it is in
    screenshot(page, 'generate_desktop_empty')
    page.click(GENERATE)
    card = page.locator(CARD).first
    card.wait_for()
    card.locator('[role=progressbar]').wait_for()
    seen = watch_progress(card)
    screenshot(page, 'generate_desktop_done')
    moving = [v for v in seen if 0 < v < 1]
    assert len(moving) >= 2, f'the progress bar did not move: {seen}'
    card.locator('[data-role=job-thumb]').first.wait_for()
    assert card.locator('text=Done').count() == 1
    card.locator('[data-role=job-thumb]').first.click()
    page.locator('.q-dialog img').wait_for()
    page.wait_for_timeout(500)  # let the dialog's fade-in finish before the screenshot
    screenshot(page, 'generate_desktop_lightbox')
    page.keyboard.press('Escape')
    phone = context.new_page()
    phone.set_viewport_size(PHONE)
    phone.goto('/')
    phone.locator(f'{CARD} [data-role=job-thumb]').first.wait_for()
    screenshot(phone, 'generate_phone_with_result')
    assert errors == []


def test_drag_a_thumbnail_from_the_strip_into_the_input_slot(context, app_server: RunningApp) -> None:
    page = context.new_page()
    errors = watch_errors(page)
    login(page, app_server)
    page.click(GENERATE)
    page.locator(f'{CARD} [data-role=job-thumb]').first.wait_for()
    page.click('[data-role=tab-img2img]')
    slot = page.locator('[data-role=input-slot]')
    slot.wait_for()
    thumb = page.locator('[data-role=strip-thumb]').first
    thumb.wait_for()
    thumb.drag_to(slot)
    preview = page.locator('[data-role=input-preview]')
    preview.wait_for()
    assert '/outputs/users/' in (preview.get_attribute('src') or '')
    assert '/inputs/' in (preview.get_attribute('src') or '')  # a copy in the inputs library, not the original
    screenshot(page, 'img2img_desktop_after_drop')
    page.click(GENERATE)
    page.locator(CARD).nth(1).wait_for()
    page.wait_for_function("document.querySelectorAll('[data-job-id] [data-role=job-thumb]').length >= 2")
    phone = context.new_page()
    phone.set_viewport_size(PHONE)
    phone.goto('/')
    phone.click('[data-role=tab-img2img]')
    phone.locator('[data-role=strip-thumb]').first.click()  # the touch fallback
    phone.locator('[data-role=input-preview]').wait_for()
    screenshot(phone, 'img2img_phone_after_tap')
    assert errors == []


def test_reload_mid_job_and_see_it_continue_to_the_result(context, app_server: RunningApp) -> None:
    page = context.new_page()
    errors = watch_errors(page)
    login(page, app_server)
    page.get_by_label('Steps').fill('120')  # slow enough that a reload on a busy machine lands mid-job
    page.click(GENERATE)
    card = page.locator(CARD).first
    card.wait_for()
    job_id = card.get_attribute('data-job-id')
    page.wait_for_function(
        f'Number(document.querySelector(\'[data-job-id="{job_id}"] [role=progressbar]\')'
        "?.getAttribute('aria-valuenow')) > 0.1"
    )
    before = progress_of(card)
    page.reload()
    card = page.locator(f'[data-job-id="{job_id}"]')
    card.locator('[role=progressbar]').first.wait_for()
    after = progress_of(card)
    screenshot(page, 'reload_mid_job')
    assert after >= before, f'progress went back after the reload: {before} -> {after}'
    assert after < 1, 'the job finished before the reload could be checked; make it slower'
    seen = watch_progress(card)
    card.locator('[data-role=job-thumb]').first.wait_for()
    assert any(0 < v < 1 for v in seen), f'no live progress after the reload: {seen}'
    assert errors == []


def test_a_prompt_typed_before_the_socket_connects_is_kept_and_submitted(context, app_server: RunningApp) -> None:
    page = context.new_page()
    login(page, app_server)
    held = []

    def hold(socket) -> None:
        held.append(socket)  # the page's socket waits until the test lets it through

    page.route_web_socket(re.compile(r'.*'), hold)
    page.reload()
    page.wait_for_selector(GENERATE)
    prompt = page.get_by_label('Prompt', exact=True)
    prompt.fill('typed before the socket connected')
    assert held and not page.evaluate('window.socket && window.socket.connected')
    held[0].connect_to_server()
    page.wait_for_function('window.socket && window.socket.connected')
    page.wait_for_timeout(1000)  # what the page queued for its connection has arrived by now
    assert prompt.input_value() == 'typed before the socket connected'
    prompt.press('Control+Enter')
    card = page.locator(CARD).first
    card.wait_for()
    assert 'typed before the socket connected' in card.inner_text()
    page.close()


def test_a_page_dropped_in_a_flood_of_pages_never_connected_reloads_when_its_socket_comes(
    context, app_server: RunningApp
) -> None:
    page = context.new_page()
    login(page, app_server)
    held = []

    def hold(socket) -> None:
        if held:
            socket.connect_to_server()  # the page it reloads to connects at once
        else:
            held.append(socket)  # the page's first socket waits until the test lets it through

    page.route_web_socket(re.compile(r'.*'), hold)
    page.reload()
    page.wait_for_selector(GENERATE)
    cookies = {c['name']: c['value'] for c in context.cookies()}
    with httpx.Client(base_url=app_server.url, cookies=cookies, timeout=30) as http:
        for _ in range(housekeeping.WAITING_KEPT):  # a flood of pages whose browser never connects
            assert http.get('/').status_code == 200
        time.sleep(housekeeping.WAITING_GRACE + 0.5)
        assert http.get('/').status_code == 200  # this build drops what waited too long: the held page first
    page.evaluate('window.vccBeforeReload = true')
    held[0].connect_to_server()
    page.wait_for_function('!window.vccBeforeReload && window.socket && window.socket.connected')
    prompt = page.get_by_label('Prompt', exact=True)
    prompt.fill('typed after the reload')
    prompt.press('Control+Enter')
    card = page.locator(CARD).first
    card.wait_for()
    assert 'typed after the reload' in card.inner_text()
    screenshot(page, 'generate_after_flood_reload')
    page.close()
