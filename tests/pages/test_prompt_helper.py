"""The prompt helper on the Generate page against the fake OpenAI-compatible server on loopback (tests/fake_llm.py)."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nicegui.testing import User

from tests.fake_llm import FakeLLM, fake_llm
from tests.fixtures import wait_for
from vcc_ui.models import JobStatus
from vcc_ui.services import Services
from vcc_ui.services.llm import HelperError

KOREAN = '눈 덮인 숲 속의 아늑한 오두막, 해질녘'
ENGLISH = 'a cozy cabin in a snowy forest at dusk'


@pytest.fixture
async def llm(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeLLM]:
    """A fake chat endpoint the app is pointed at (request it before `user`, so the app starts with it)."""
    async with fake_llm() as fake:
        fake.reply = f'Here is the translated prompt: "{ENGLISH}"'
        monkeypatch.setenv('LLM_BASE_URL', fake.base_url)
        monkeypatch.setenv('LLM_MODEL', 'test-model')  # no models listing: each fault meets a chat request
        yield fake


@pytest.fixture
def down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the app at a loopback port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv('LLM_BASE_URL', f'http://127.0.0.1:{port}')


def value_of(user: User, marker: str) -> object:
    """Return the value of the one element with this marker."""
    return user.find(marker=marker).elements.pop().value


def owner_of(user: User) -> str:
    """Return the anonymous id of the simulated browser."""
    return user.client.request.state.user


async def generate_one(user: User, services: Services) -> str:
    """Press Generate, wait for the job to finish; return its first image id."""
    user.find(marker='generate').click()
    await wait_for(lambda: any(v.finished for v in services.jobs.jobs_of(owner_of(user))))
    [view] = services.jobs.jobs_of(owner_of(user))
    assert view.status == JobStatus.COMPLETED
    return view.image_ids[0]


async def test_a_translation_streams_in_accept_fills_the_prompt_and_the_image_keeps_both(
    llm: FakeLLM, user: User, services: Services, tmp_path: Path
) -> None:
    await user.open('/')
    user.find(marker='prompt').elements.pop().set_value(KOREAN)
    await user.should_not_see(marker='llm-box-prompt')
    user.find(marker='llm-translate-prompt').click()
    await user.should_see(marker='llm-box-prompt')
    await wait_for(lambda: value_of(user, 'llm-text-prompt') == ENGLISH)  # cleaned of the preamble and quotes
    assert value_of(user, 'prompt') == KOREAN  # nothing changes before the user accepts
    assert llm.requests[0]['stream'] is True and llm.requests[0]['messages'][1]['content'] == KOREAN
    await user.should_see(marker='llm-accept-prompt')  # shown once the answer is complete
    user.find(marker='llm-accept-prompt').click()
    assert value_of(user, 'prompt') == ENGLISH
    await user.should_not_see(marker='llm-box-prompt')

    image_id = await generate_one(user, services)
    image = await services.images.get(owner_of(user), image_id)
    assert image is not None
    assert (image.prompt, image.prompt_original, image.llm_action) == (ENGLISH, KOREAN, 'translate')
    [sidecar] = (tmp_path / 'outputs').rglob(f'{image_id}.json')
    meta = json.loads(sidecar.read_text(encoding='utf-8'))
    assert (meta['prompt'], meta['prompt_original'], meta['llm_action']) == (ENGLISH, KOREAN, 'translate')

    await user.open('/gallery')
    await user.should_see(marker='image-thumb')  # the grid loads its first page after the page is built
    user.find(marker='image-thumb').click()
    await user.should_see(marker='gallery-lightbox')
    await user.should_see(KOREAN, marker='meta-meta_prompt_original')
    await user.should_see('translated', marker='meta-meta_llm_action')


async def test_improve_uses_the_workflows_instruction_and_the_negative_prompt_can_be_improved(
    llm: FakeLLM, user: User, services: Services
) -> None:
    await user.open('/')
    original = value_of(user, 'prompt')
    llm.reply = 'a cozy wooden cabin, snowy pine forest, dusk, warm window light, highly detailed'
    user.find(marker='llm-improve-prompt').click()
    await wait_for(lambda: value_of(user, 'llm-text-prompt') == llm.reply)
    assert 'comma-separated descriptive phrases' in llm.requests[0]['messages'][0]['content']  # ui.llm_instruction
    await user.should_see(marker='llm-accept-prompt')  # shown once the answer is complete
    user.find(marker='llm-accept-prompt').click()
    user.find(marker='negative').elements.pop().set_value('흐릿함')
    llm.reply = 'blurry, low quality, watermark'
    user.find(marker='llm-improve-negative').click()
    await wait_for(lambda: value_of(user, 'llm-text-negative') == llm.reply)
    user.find(marker='llm-text-negative').elements.pop().set_value('blurry, watermark')  # the user edits it
    await user.should_see(marker='llm-accept-negative')
    user.find(marker='llm-accept-negative').click()
    assert value_of(user, 'negative') == 'blurry, watermark'

    image = await services.images.get(owner_of(user), await generate_one(user, services))
    assert image is not None
    assert (image.prompt_original, image.negative_prompt_original) == (original, '흐릿함')
    assert (image.negative_prompt, image.llm_action) == ('blurry, watermark', 'improve,negative:improve')


async def test_discard_keeps_the_prompt_and_records_nothing(llm: FakeLLM, user: User, services: Services) -> None:
    await user.open('/')
    user.find(marker='prompt').elements.pop().set_value(KOREAN)
    user.find(marker='llm-translate-prompt').click()
    await wait_for(lambda: value_of(user, 'llm-text-prompt') == ENGLISH)
    user.find(marker='llm-discard-prompt').click()
    await user.should_not_see(marker='llm-box-prompt')
    assert value_of(user, 'prompt') == KOREAN
    image = await services.images.get(owner_of(user), await generate_one(user, services))
    assert image is not None and (image.prompt, image.prompt_original, image.llm_action) == (KOREAN, None, None)


async def test_stop_cancels_the_stream_and_leaving_the_page_cancels_it_too(llm: FakeLLM, user: User) -> None:
    llm.reply = 'one two three four five six'
    llm.faults = ['hold']
    await user.open('/')
    user.find(marker='llm-translate-prompt').click()
    await wait_for(lambda: value_of(user, 'llm-text-prompt') == 'one two')
    user.find(marker='llm-stop-prompt').click()
    await wait_for(llm.disconnected.is_set)
    await user.should_see('Stopped. You can still use what was written.')

    llm.disconnected.clear()
    llm.faults = ['hold']
    user.find(marker='llm-improve-prompt').click()
    await wait_for(lambda: value_of(user, 'llm-text-prompt') == 'one two')
    user.find(marker='nav-nav_gallery').click()  # the page's content goes, and the suggestion box with it
    await user.should_see(marker='image-grid')
    await wait_for(llm.disconnected.is_set)


async def test_errors_are_short_in_the_users_language_and_leave_the_prompt_alone(llm: FakeLLM, user: User) -> None:
    user.http_client.headers['Accept-Language'] = 'ko-KR,ko;q=0.9'
    llm.faults = ['429', 'cut']
    await user.open('/')
    user.find(marker='prompt').elements.pop().set_value(KOREAN)
    user.find(marker='llm-translate-prompt').click()
    await user.should_see('요청이 너무 많습니다. 7초 후에 다시 시도하세요.', marker='llm-error-prompt')
    user.find(marker='llm-translate-prompt').click()
    await user.should_see('프롬프트 도우미의 응답을 읽을 수 없습니다. 다시 시도하세요.', marker='llm-error-prompt')
    await user.should_not_see(marker='llm-accept-prompt')
    assert value_of(user, 'prompt') == KOREAN


@pytest.mark.usefixtures('down')
async def test_with_the_endpoint_down_the_page_says_so_and_still_generates(user: User, services: Services) -> None:
    await user.open('/')
    prompt = value_of(user, 'prompt')
    user.find(marker='llm-translate-prompt').click()
    await user.should_see('The prompt helper is not reachable right now. You can still generate.')
    assert value_of(user, 'prompt') == prompt
    image = await services.images.get(owner_of(user), await generate_one(user, services))
    assert image is not None and image.prompt == prompt and image.prompt_original is None
    assert services.llm.per_hour()[-1].failures == 1


async def test_without_llm_base_url_there_is_no_trace_of_the_helper(user: User) -> None:
    await user.open('/')
    await user.should_see(marker='prompt')
    for marker in ('llm-actions-prompt', 'llm-actions-negative', 'llm-box-prompt', 'llm-box-negative'):
        await user.should_not_see(marker=marker)
    await user.should_not_see('Translate to English')


@pytest.mark.app_env(ADMIN_PASSWORD='helper-admin-pw', ADMIN_USER='boss')
async def test_the_admin_sees_the_llm_check_and_helper_uses_and_failures_per_hour_live(
    llm: FakeLLM, user: User, services: Services
) -> None:
    await user.http_client.post('/admin/login', data={'user': 'boss', 'password': 'helper-admin-pw'})
    await user.open('/admin')
    await user.should_see(marker='chart-llm')
    await user.should_see('test-model', marker='check-llm-value')
    chart = user.find(marker='chart-llm').elements.pop()
    assert chart.options['series'][0]['data'][-1] == 0
    await services.llm.suggestion('someone', 'translate', KOREAN)
    llm.faults = ['500']
    with pytest.raises(HelperError):
        await services.llm.suggestion('someone', 'improve', KOREAN)
    await wait_for(lambda: (chart.options['series'][0]['data'][-1], chart.options['series'][1]['data'][-1]) == (2, 1))


@pytest.mark.usefixtures('down')
@pytest.mark.app_env(ADMIN_PASSWORD='helper-admin-pw', ADMIN_USER='boss')
async def test_an_unreachable_helper_turns_the_admin_health_banner_red(user: User) -> None:
    await user.http_client.post('/admin/login', data={'user': 'boss', 'password': 'helper-admin-pw'})
    await user.open('/admin')
    await user.should_see('the prompt helper is not reachable', marker='health-status')
