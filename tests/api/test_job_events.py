"""The job event streams (Server-Sent Events) over a real uvicorn on loopback, against the simulator."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi.routing
import httpx
import pytest
import pytest_asyncio

from tests.fixtures import make_settings, services, simulator, wait_for
from tests.live_server import served
from vcc_ui.services import Services

pytestmark = pytest.mark.asyncio(loop_scope='module')

STEP = 0.02
LIFE = ['queued', 'dispatched', 'running', 'saving', 'completed']


@pytest_asyncio.fixture(scope='module', loop_scope='module')
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Services, str]]:
    """One simulator (a little slow per step), app and uvicorn for the module; the gate is off."""
    tmp = tmp_path_factory.mktemp('events')
    async with simulator(tmp, step_delay=STEP) as sim, services(make_settings(tmp, sim.url)) as app:
        app.simulator = sim  # type: ignore[attr-defined]
        async with served(app) as url:
            yield app, url


@pytest.fixture
def slow(stack: tuple[Services, str]) -> Iterator[None]:
    """Steps that take long enough for a job to outlive the test's streams (the test cancels it)."""
    faults = stack[0].simulator.faults  # type: ignore[attr-defined]
    faults.step_delay = 0.3
    yield
    faults.step_delay = STEP


@asynccontextmanager
async def user(app: Services, url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A script with a token of its own (a new user)."""
    info, token = await app.tokens.create(app.identity.new_id(), 'events')
    async with httpx.AsyncClient(base_url=url, headers={'Authorization': f'Bearer {token}'}, timeout=30) as client:
        client.user = info.owner  # type: ignore[attr-defined]
        yield client


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, dict | str]]:
    """(event name, data) per event as it arrives; ('comment', text) per comment line."""
    name, data = '', []
    async for line in response.aiter_lines():
        if line.startswith(':'):
            yield 'comment', line[1:].strip()
        elif line.startswith('event:'):
            name = line[6:].strip()
        elif line.startswith('data:'):
            data.append(line[5:].strip())
        elif not line and name:
            yield name, json.loads('\n'.join(data))
            name, data = '', []


async def submit(client: httpx.AsyncClient, steps: int = 6, seed: int = 5) -> str:
    body = {'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'streamed', 'seed': seed, 'steps': steps}}
    answer = await client.post('/api/v1/jobs', json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()['id']


async def test_a_job_stream_tells_status_progress_preview_result_and_ends(stack: tuple[Services, str]) -> None:
    app, url = stack
    async with user(app, url) as bot:
        job_id = await submit(bot, steps=12)
        seen: list[tuple[str, dict]] = []
        async with bot.stream('GET', f'/api/v1/jobs/{job_id}/events') as response:
            assert response.status_code == 200
            assert response.headers['content-type'].startswith('text/event-stream')
            async for name, data in events(response):
                if name != 'comment':
                    assert isinstance(data, dict) and data['job_id'] == job_id
                    seen.append((name, data))
        # the loop ended: the server closed the stream after the job's end
        names = [name for name, _ in seen]
        statuses = [data['status'] for name, data in seen if name == 'status']
        assert statuses == sorted(statuses, key=LIFE.index) and statuses[-1] == 'completed'
        assert 'running' in statuses and names[-2:] == ['result', 'status']
        steps = [data['step'] for name, data in seen if name == 'progress']
        assert steps and steps == sorted(steps) and all(d['steps'] == 12 for n, d in seen if n == 'progress')
        running = next(i for i, (name, data) in enumerate(seen) if name == 'status' and data['status'] == 'running')
        assert names.index('progress') > running  # steps come once the job runs
        previews = [data for name, data in seen if name == 'preview']
        assert previews and previews[-1]['url'] == f'/api/v1/jobs/{job_id}/preview?v={previews[-1]["version"]}'
        images = seen[-2][1]['images']
        assert [image['id'] for image in images] == app.jobs.views[job_id].image_ids
        assert (await bot.get(images[0]['url'])).content.startswith(b'\x89PNG')
        # a stream opened after the end tells the outcome at once and ends
        async with bot.stream('GET', f'/api/v1/jobs/{job_id}/events') as response:
            again = [(name, data) for name, data in [item async for item in events(response)]]
        assert [name for name, _ in again] == ['result', 'status'] and again[1][1]['status'] == 'completed'


async def test_the_all_jobs_stream_sends_the_callers_jobs_only_and_pings(
    stack: tuple[Services, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = stack
    monkeypatch.setattr(fastapi.routing, '_PING_INTERVAL', 0.2)
    async with user(app, url) as alice, user(app, url) as bob:
        async with alice.stream('GET', '/api/v1/jobs/events') as response:
            stream = events(response)
            assert await anext(stream) == ('comment', 'ping')  # nothing happened yet: a heartbeat
            theirs = await submit(bob)
            mine = await submit(alice)
            seen: list[tuple[str, dict | str]] = []
            async for name, data in stream:
                seen.append((name, data))
                if name == 'status' and isinstance(data, dict) and data['status'] == 'completed':
                    break
            await wait_for(lambda: app.jobs.views[theirs].finished)
        told = {data['job_id'] for name, data in seen if isinstance(data, dict)}
        assert told == {mine} and theirs not in str(seen)
        assert [name for name, _ in seen if name != 'comment'][-2:] == ['result', 'status']


@pytest.mark.usefixtures('slow')
async def test_cancel_ends_the_stream(stack: tuple[Services, str]) -> None:
    app, url = stack
    async with user(app, url) as bot:
        job_id = await submit(bot, steps=150)
        statuses = []
        async with bot.stream('GET', f'/api/v1/jobs/{job_id}/events') as response:
            async for name, data in events(response):
                if name == 'progress':
                    assert (await bot.post(f'/api/v1/jobs/{job_id}/cancel')).status_code == 200
                elif name == 'status' and isinstance(data, dict):
                    statuses.append(data['status'])
        assert statuses[-1] == 'cancelled' and app.jobs.views[job_id].status == 'cancelled'


@pytest.mark.usefixtures('slow')
async def test_a_closed_stream_ends_its_subscription(stack: tuple[Services, str]) -> None:
    app, url = stack
    async with user(app, url) as bot:
        job_id = await submit(bot, steps=150)
        before = len(app.jobs.changed.callbacks)
        for path in ('/api/v1/jobs/events', f'/api/v1/jobs/{job_id}/events'):
            async with bot.stream('GET', path) as response:
                assert response.status_code == 200
                await wait_for(lambda: len(app.jobs.changed.callbacks) == before + 1)
            # the client went away: the server notices and unsubscribes (the job runs on)
            await wait_for(lambda: len(app.jobs.changed.callbacks) == before)
            assert not app.jobs.views[job_id].finished
        await bot.post(f'/api/v1/jobs/{job_id}/cancel')
        await wait_for(lambda: app.jobs.views[job_id].finished)


async def test_no_stream_of_another_users_job(stack: tuple[Services, str]) -> None:
    app, url = stack
    async with user(app, url) as alice, user(app, url) as bob:
        job_id = await submit(alice, steps=2)
        for path in (f'/api/v1/jobs/{job_id}/events', '/api/v1/jobs/nope/events'):
            answer = await bob.get(path)
            assert answer.status_code == 404 and answer.json()['detail']['code'] == 'not_found'
        await wait_for(lambda: app.jobs.views[job_id].finished)
        await asyncio.sleep(0)


async def test_the_docs_example_submits_follows_and_saves(
    stack: tuple[Services, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, url = stack
    text = (Path(__file__).parents[2] / 'docs' / 'API.md').read_text(encoding='utf-8')
    example = re.search(r'```python\n(.*?)```', text, re.S)
    assert example is not None
    _, token = await app.tokens.create(app.identity.new_id(), 'docs example')
    monkeypatch.setenv('VCC_URL', url)
    monkeypatch.setenv('VCC_TOKEN', token)
    monkeypatch.chdir(tmp_path)
    await asyncio.to_thread(exec, compile(example[1], 'docs/API.md', 'exec'), {'__name__': 'example'})
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[0].startswith('status: ') and 'step 20 of 20' in lines and lines[-1].strip() == 'status: completed'
    name = lines[-2].removeprefix('saved ')
    assert (await asyncio.to_thread((tmp_path / name).read_bytes)).startswith(b'\x89PNG')


async def test_a_waiting_job_is_told_its_new_queue_position(stack: tuple[Services, str]) -> None:
    app, url = stack
    async with user(app, url) as bot:
        async with bot.stream('GET', '/api/v1/jobs/events') as response:
            stream = events(response)
            # one runs at a time: the others wait; distinct seeds, or the server answers the same graph from its cache
            # at once and positions (recomputed at most every 0.1 s) skip the one a job held for a moment
            jobs = [await submit(bot, steps=8, seed=seed) for seed in range(3)]
            waiting: list[int] = []
            async for name, data in stream:
                if name != 'status' or not isinstance(data, dict) or data['job_id'] != jobs[2]:
                    continue
                if data['status'] == 'queued':
                    waiting.append(data['position'])
                elif data['status'] == 'completed':
                    break
    assert len(waiting) >= 2 and waiting == sorted(waiting, reverse=True) and waiting[-1] == 1, waiting
