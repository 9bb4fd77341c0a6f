"""The job feed in Chromium: the owner's tab shows every step up to the newest and then the result; another
user's tab gets no message of the job; the owner's tab that moved to the gallery gets none either."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import DESKTOP, RunningApp, screenshot
from tests.e2e.test_generate_e2e import GENERATE, login, watch_errors

pytestmark = pytest.mark.e2e

STEPS = 30
RECORDER = """() => {
  window.__feed = [];
  window.__shown = [];
  window.socket.on('vcc_job', (state) => window.__feed.push(state));
  new MutationObserver(() => {
    const label = document.querySelector('[data-role=job-step]');
    const text = label ? label.textContent.trim() : '';
    if (text && window.__shown[window.__shown.length - 1] !== text) window.__shown.push(text);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def test_the_owner_sees_every_step_and_the_result_and_no_one_else_gets_the_job(browser, app_server: RunningApp) -> None:
    owner = browser.new_context(viewport=DESKTOP, base_url=app_server.url, locale='en-US')
    stranger = browser.new_context(viewport=DESKTOP, base_url=app_server.url, locale='en-US')
    try:
        page, gone, other = owner.new_page(), owner.new_page(), stranger.new_page()
        errors = watch_errors(page)
        login(page, app_server)
        gone.goto('/')
        gone.wait_for_selector(GENERATE)
        login(other, app_server)
        for tab in (page, gone, other):
            tab.wait_for_function('window.socket && window.socket.connected')
            tab.evaluate(RECORDER)
        gone.click('a.header-link[href="/gallery"]')  # this tab leaves Generate (a sub page change) before the job
        gone.wait_for_selector(GENERATE, state='detached')
        answer = owner.request.post(
            '/api/v1/jobs', data={'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'mine only', 'steps': STEPS}}
        )
        assert answer.ok, answer.text()
        job_id = answer.json()['id']
        card = page.locator(f'[data-job-id="{job_id}"]')
        card.locator('[data-role=job-step]').wait_for()
        screenshot(page, 'job_feed_running')
        card.locator('[data-role=job-thumb]').first.wait_for(timeout=120_000)
        feed = page.evaluate('window.__feed')
        shown = page.evaluate('window.__shown')
        mine = [state for state in feed if state['id'] == job_id]
        assert mine and (mine[-1]['step'], mine[-1]['steps']) == (STEPS, STEPS)  # the newest step arrives
        assert f'{STEPS} / {STEPS}' in shown  # ... and is shown
        numbers = [int(text.split(' / ')[0]) for text in shown if ' / ' in text]
        assert numbers == sorted(numbers)  # never back to an older step
        assert other.evaluate('window.__feed') == []  # another user's tab is sent nothing of the job
        assert other.locator(f'[data-job-id="{job_id}"]').count() == 0
        assert [s for s in gone.evaluate('window.__feed') if s['id'] == job_id] == []  # a page that left
        assert errors == []
    finally:
        owner.close()
        stranger.close()
