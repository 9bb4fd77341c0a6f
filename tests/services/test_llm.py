"""The prompt helper against a fake OpenAI-compatible server: streaming, cleaning, faults, cancel, limits, health."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fake_llm import FakeLLM, fake_llm
from tests.fixtures import USER_A, USER_B, make_settings, services, simulator, wait_for
from tests.postgres import free_port
from vcc_ui.services.llm import (
    IMPROVE_NEGATIVE_PROMPT,
    IMPROVE_PROMPT,
    MAX_OUTPUT_CHARS,
    MAX_PROMPT_CHARS,
    TRANSLATE_NEGATIVE_PROMPT,
    TRANSLATE_PROMPT,
    HelperError,
    PromptHelper,
    Suggestion,
    clean,
)
from vcc_ui.settings import Settings, load_settings

KOREAN = '빨간 매트 위에 앉아 있는 고양이, 부드러운 아침 햇살'


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    """A running fake endpoint."""
    async with fake_llm() as server:
        yield server


@pytest.fixture
async def helper(fake: FakeLLM) -> AsyncIterator[PromptHelper]:
    """A helper pointed at the fake endpoint, with a model name set."""
    built = PromptHelper(settings_for(fake.base_url, llm_model='test-model'))
    yield built
    await built.stop()


def settings_for(base_url: str, **overrides: object) -> Settings:
    """Settings without a .env, the helper at base_url."""
    return Settings(_env_file=None, llm_base_url=base_url, **overrides)  # type: ignore[arg-type]


async def collect(helper: PromptHelper, action: str = 'translate', prompt: str = KOREAN, **kwargs: object) -> str:
    """Join every streamed delta."""
    return ''.join([delta async for delta in helper.suggest(USER_A, action, prompt, **kwargs)])  # type: ignore[arg-type]


async def ask_like_the_ui(helper: PromptHelper, box: dict[str, str]) -> HelperError | None:
    """Stream into box['suggestion'] and accept it into box['prompt']; return the error, if any, instead."""
    try:
        suggestion = await helper.suggestion(
            USER_A, 'translate', box['prompt'], on_text=lambda text: box.__setitem__('suggestion', text)
        )
    except HelperError as error:
        return error
    box['prompt'] = suggestion.text
    return None


def totals(helper: PromptHelper) -> tuple[int, int]:
    """Uses and failures over the last 24 hours."""
    hours = helper.per_hour()
    return sum(h.uses for h in hours), sum(h.failures for h in hours)


def test_settings_default_off_and_add_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings(_env_file=None)
    assert (s.llm_base_url, s.llm_model, s.llm_api_key, s.llm_api_url) == ('', '', '', '')
    assert (s.llm_timeout_seconds, s.llm_max_per_user_per_minute) == (30, 10)
    assert not PromptHelper(s).enabled
    assert settings_for('http://127.0.0.1:11434/').llm_api_url == 'http://127.0.0.1:11434/v1'
    assert settings_for('https://api.example.com/v1/').llm_api_url == 'https://api.example.com/v1'
    monkeypatch.setenv('LLM_BASE_URL', '127.0.0.1:11434')
    with pytest.raises(SystemExit) as stopped:
        load_settings(_env_file=None)
    assert str(stopped.value.code).startswith('Invalid setting LLM_BASE_URL:')


def test_env_example_names_every_llm_setting() -> None:
    example = (Path(__file__).resolve().parents[2] / '.env.example').read_text(encoding='utf-8')
    names = [name.upper() for name in Settings.model_fields if name.startswith('llm_')]
    assert len(names) == 5
    assert all(f'\n{name}=' in example for name in names)


async def test_streams_deltas_with_the_documented_request(helper: PromptHelper, fake: FakeLLM) -> None:
    deltas = [delta async for delta in helper.suggest(USER_A, 'translate', f'  {KOREAN}  ')]
    assert len(deltas) > 1 and ''.join(deltas) == fake.reply
    body = fake.requests[-1]
    assert body['model'] == 'test-model' and body['stream'] is True and body['max_tokens'] > 0
    assert body['messages'] == [
        {'role': 'system', 'content': TRANSLATE_PROMPT},
        {'role': 'user', 'content': KOREAN},
    ]


async def test_suggestion_streams_cleaned_text_and_keeps_the_original(helper: PromptHelper, fake: FakeLLM) -> None:
    fake.reply = 'Here is the translated prompt: "a cat on a red mat"'
    seen: list[str] = []
    suggestion = await helper.suggestion(USER_A, 'translate', KOREAN, on_text=seen.append)
    assert suggestion == Suggestion(action='translate', original=KOREAN, text='a cat on a red mat')
    assert len(seen) > 1 and seen[-1] == 'a cat on a red mat'


async def test_actions_pick_their_system_prompt_and_workflow_style(helper: PromptHelper, fake: FakeLLM) -> None:
    await collect(helper, 'improve', 'a cat', workflow_instruction='Anime style, booru tags.')
    await collect(helper, 'improve', 'blurry', negative=True)
    await collect(helper, 'translate', '흐릿함', negative=True, workflow_instruction='Anime style, booru tags.')
    systems = [body['messages'][0]['content'] for body in fake.requests]
    assert systems[0].startswith(IMPROVE_PROMPT) and systems[0].endswith('Anime style, booru tags.')
    assert systems[1:] == [IMPROVE_NEGATIVE_PROMPT, TRANSLATE_NEGATIVE_PROMPT]
    assert fake.requests[0]['temperature'] > fake.requests[2]['temperature']


async def test_model_defaults_to_the_first_listed(fake: FakeLLM) -> None:
    fake.models = ['llama3.2:3b', 'qwen2.5:7b']
    helper = PromptHelper(settings_for(fake.base_url))
    try:
        await collect(helper)
        await collect(helper)
    finally:
        await helper.stop()
    assert [body['model'] for body in fake.requests] == ['llama3.2:3b', 'llama3.2:3b']
    assert fake.model_listings == 1


async def test_an_answer_that_is_not_streamed_is_accepted(helper: PromptHelper, fake: FakeLLM) -> None:
    fake.faults = ['no-stream']
    assert await collect(helper) == fake.reply


async def test_the_api_key_is_sent(fake: FakeLLM) -> None:
    fake.api_key = 'sk-right'
    helper = PromptHelper(settings_for(fake.base_url, llm_model='test-model', llm_api_key='sk-right'))
    try:
        assert await collect(helper) == fake.reply
    finally:
        await helper.stop()


@pytest.mark.parametrize(
    ('raw', 'cleaned'),
    [
        ('a cat on a mat', 'a cat on a mat'),
        ('  "a cat on a mat"  ', 'a cat on a mat'),
        ('\u201ca cat on a mat\u201d', 'a cat on a mat'),
        ("'a cat on a mat'", 'a cat on a mat'),
        ('Here is the translated prompt: a cat on a mat', 'a cat on a mat'),
        ('Here is the translated prompt:\n\n"a cat on a mat"', 'a cat on a mat'),
        ("Sure! Here's an improved version:\n```\na cat on a mat, golden hour\n```", 'a cat on a mat, golden hour'),
        ('Sure! a cat on a mat', 'a cat on a mat'),
        ('Certainly, here is the prompt: a cat', 'a cat'),
        ('```text\na cat on a mat\n```', 'a cat on a mat'),
        ('Prompt: a cat on a mat', 'a cat on a mat'),
        ('**Improved prompt:** a cat on a mat', 'a cat on a mat'),
        ('Translated prompt: "a cat"', 'a cat'),
        ('Negative prompt: blurry, low quality', 'blurry, low quality'),
        ('Here is a more detailed version of your prompt.\n\na cat on a mat', 'a cat on a mat'),
        ('다음은 번역된 프롬프트입니다:\na cat on a mat', 'a cat on a mat'),
        ('```\na cat on a m', 'a cat on a m'),  # partial text while streaming
        ('Here is the', 'Here is the'),
        ('a "red" car and a "blue" car', 'a "red" car and a "blue" car'),
        ('(masterpiece:1.2), a cat, <lora:cats:0.8>', '(masterpiece:1.2), a cat, <lora:cats:0.8>'),
        ('sure-footed goat on a cliff', 'sure-footed goat on a cliff'),
        ('here is a cat', 'here is a cat'),
        ('english countryside: a cat', 'english countryside: a cat'),
        ('a cat\nwith a hat', 'a cat\nwith a hat'),
    ],
)
def test_clean(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


@pytest.mark.parametrize(
    ('fault', 'code'),
    [
        ('429', 'rate_limited'),
        ('500', 'server_error'),
        ('html-200', 'bad_stream'),
        ('html-502', 'server_error'),
        ('bad-json', 'bad_stream'),
        ('cut', 'bad_stream'),
        ('slow', 'timeout'),
    ],
)
async def test_each_fault_gives_its_code_and_leaves_the_prompt(fake: FakeLLM, fault: str, code: str) -> None:
    helper = PromptHelper(settings_for(fake.base_url, llm_model='test-model', llm_timeout_seconds=1))
    fake.faults = [fault]
    box = {'prompt': KOREAN}
    try:
        error = await ask_like_the_ui(helper, box)
    finally:
        await helper.stop()
    assert error is not None and error.code == code, error
    assert box['prompt'] == KOREAN
    assert totals(helper) == (1, 1)
    if fault == '429':
        assert error.retry_after == 7
    if fault == 'slow':
        await asyncio.wait_for(fake.disconnected.wait(), 10)


async def test_a_wrong_key_is_unauthorized(fake: FakeLLM) -> None:
    fake.api_key = 'sk-right'
    helper = PromptHelper(settings_for(fake.base_url, llm_model='test-model', llm_api_key='sk-wrong'))
    box = {'prompt': KOREAN}
    try:
        error = await ask_like_the_ui(helper, box)
    finally:
        await helper.stop()
    assert error is not None and error.code == 'unauthorized' and box == {'prompt': KOREAN}


async def test_an_endpoint_that_is_down_is_unreachable() -> None:
    helper = PromptHelper(settings_for(f'http://127.0.0.1:{free_port()}', llm_model='test-model'))
    box = {'prompt': KOREAN}
    try:
        error = await ask_like_the_ui(helper, box)
    finally:
        await helper.stop()
    assert error is not None and error.code == 'unreachable' and box == {'prompt': KOREAN}


async def test_closing_the_iterator_closes_the_upstream_stream(helper: PromptHelper, fake: FakeLLM) -> None:
    fake.faults = ['hold']
    stream = helper.suggest(USER_A, 'translate', KOREAN)
    assert await anext(stream)
    await stream.aclose()
    await asyncio.wait_for(fake.disconnected.wait(), 10)
    assert totals(helper) == (1, 0)


async def test_cancelling_the_task_closes_the_upstream_stream(helper: PromptHelper, fake: FakeLLM) -> None:
    fake.faults = ['hold']
    received: list[str] = []

    async def consume() -> None:
        async for delta in helper.suggest(USER_A, 'improve', 'a cat'):
            received.append(delta)

    task = asyncio.create_task(consume())
    await wait_for(lambda: bool(received))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(fake.disconnected.wait(), 10)
    assert totals(helper) == (1, 0)


async def test_the_answer_is_cut_at_the_output_bound(helper: PromptHelper, fake: FakeLLM) -> None:
    fake.reply = ' '.join(['word'] * (MAX_OUTPUT_CHARS // 2))
    text = await collect(helper)
    assert len(text) == MAX_OUTPUT_CHARS and fake.reply.startswith(text)


async def test_prompts_are_bounded_and_not_empty(helper: PromptHelper, fake: FakeLLM) -> None:
    for prompt, code in [('x' * (MAX_PROMPT_CHARS + 1), 'too_long'), ('   ', 'empty')]:
        with pytest.raises(HelperError) as refused:
            await collect(helper, prompt=prompt)
        assert refused.value.code == code
    with pytest.raises(HelperError) as refused:
        await collect(helper, 'improve', 'a cat', workflow_instruction='x' * (MAX_PROMPT_CHARS + 1))
    assert refused.value.code == 'too_long'
    assert fake.requests == [] and totals(helper) == (0, 0)


async def test_an_unset_helper_refuses_with_off() -> None:
    helper = PromptHelper(Settings(_env_file=None))
    with pytest.raises(HelperError) as refused:
        await collect(helper)
    assert refused.value.code == 'off'


async def test_per_user_rate_limit_slides(fake: FakeLLM) -> None:
    now = [1000.0]
    helper = PromptHelper(
        settings_for(fake.base_url, llm_model='test-model', llm_max_per_user_per_minute=2), clock=lambda: now[0]
    )
    try:
        await collect(helper)
        now[0] += 30
        await collect(helper)
        with pytest.raises(HelperError) as refused:
            await collect(helper)
        assert refused.value.code == 'rate_limited' and refused.value.retry_after == pytest.approx(30)
        assert ''.join([d async for d in helper.suggest(USER_B, 'translate', KOREAN)]) == fake.reply
        now[0] += 30.5  # the first request left the window
        await collect(helper)
    finally:
        await helper.stop()
    assert len(fake.requests) == 4 and totals(helper) == (4, 0)


async def test_zero_means_no_rate_limit(fake: FakeLLM) -> None:
    helper = PromptHelper(settings_for(fake.base_url, llm_model='test-model', llm_max_per_user_per_minute=0))
    try:
        for _ in range(12):
            await collect(helper)
    finally:
        await helper.stop()
    assert totals(helper) == (12, 0)


async def test_counters_per_hour_fire_changed(helper: PromptHelper, fake: FakeLLM) -> None:
    fired: list[bool] = []
    helper.changed.subscribe(lambda: fired.append(True))
    await collect(helper)
    fake.faults = ['500']
    with pytest.raises(HelperError):
        await collect(helper)
    hours = helper.per_hour()
    assert len(hours) == 24 and hours[0].start < hours[-1].start
    assert totals(helper) == (2, 1) and (hours[-1].uses, hours[-1].failures) == (2, 1)
    assert len(fired) == 3
    hours[-1].uses = 99  # a copy: the service keeps its own counts
    assert totals(helper) == (2, 1)


async def test_check_ok_off_and_failing(helper: PromptHelper, fake: FakeLLM) -> None:
    ok = await helper.check()
    assert (ok['ok'], ok['state'], ok['model'], ok['listed']) == (True, 'ok', 'test-model', True)
    assert isinstance(ok['latency_ms'], float)
    assert await PromptHelper(Settings(_env_file=None)).check() == {'ok': True, 'state': 'off'}
    fake.faults = ['500']
    failing = await helper.check()
    assert (failing['ok'], failing['state'], failing['code']) == (False, 'failing', 'server_error')
    fake.faults = ['slow']
    slow = await helper.check(limit=0.5)
    assert (slow['ok'], slow['code']) == (False, 'timeout')
    down = PromptHelper(settings_for(f'http://127.0.0.1:{free_port()}'))
    try:
        assert (await down.check())['code'] == 'unreachable'
    finally:
        await down.stop()


async def test_healthz_llm_check_off_ok_and_failing(tmp_path: Path, fake: FakeLLM) -> None:
    async with simulator(tmp_path) as sim:
        async with services(make_settings(tmp_path / 'off', sim.url)) as off:
            ok, checks = await off.health.run()
        assert ok and checks['llm'] == {'ok': True, 'state': 'off'}
        async with services(make_settings(tmp_path / 'on', sim.url, llm_base_url=fake.base_url)) as on:
            ok, checks = await on.health.run()
            assert ok and checks['llm']['state'] == 'ok' and checks['llm']['model'] == 'test-model'
            fake.faults = ['html-502']
            ok, checks = await on.health.run()
    assert not ok and checks['llm']['state'] == 'failing'
    assert checks['comfyui']['ok'] and checks['db']['ok'] and checks['disk']['ok']
