"""The REST API over ASGI, backed by real services, a simulator on loopback and a SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures import make_settings, services, simulator, wait_for
from vcc_ui.services import Services
from vcc_ui.web.app import install


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[Services, object]]:
    async with simulator(tmp_path, step_delay=0.02) as sim, services(make_settings(tmp_path, sim.url)) as app:
        yield app, sim


def client_for(app: Services) -> httpx.AsyncClient:
    web = FastAPI()
    install(web, app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url='http://test')


async def test_submit_poll_and_fetch_the_image(stack) -> None:
    app, _ = stack
    async with client_for(app) as http:
        answer = await http.post(
            '/api/v1/jobs',
            json={'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'a red fox', 'seed': 7, 'steps': 3}},
        )
        assert answer.status_code == 201, answer.text
        job = answer.json()
        assert job['status'] in {'queued', 'dispatched'} and len(job['id']) == 32
        await wait_for(lambda: app.jobs.views[job['id']].finished)
        done = (await http.get(f'/api/v1/jobs/{job["id"]}')).json()
        assert done['status'] == 'completed' and len(done['image_ids']) == 1
        listed = (await http.get('/api/v1/jobs')).json()['items']
        assert [j['id'] for j in listed] == [job['id']]
        images = (await http.get('/api/v1/images', params={'page': 1, 'size': 10})).json()
        assert images['total'] == 1 and images['items'][0]['id'] == done['image_ids'][0]
        item = images['items'][0]
        png = await http.get(item['url'])
        assert png.status_code == 200 and png.content.startswith(b'\x89PNG')
        assert (await http.get(item['thumb_url'])).status_code == 200


async def test_other_users_see_nothing(stack) -> None:
    app, _ = stack
    async with client_for(app) as alice, client_for(app) as bob:
        job = (
            await alice.post('/api/v1/jobs', json={'workflow_id': 'test_pattern', 'params': {'prompt': 'x', 'seed': 1}})
        ).json()
        await wait_for(lambda: app.jobs.views[job['id']].finished)
        image = (await alice.get('/api/v1/images')).json()['items'][0]
        assert (await bob.get(f'/api/v1/jobs/{job["id"]}')).status_code == 404
        assert (await bob.post(f'/api/v1/jobs/{job["id"]}/cancel')).status_code == 404
        assert (await bob.get(image['url'])).status_code == 404
        assert (await bob.get('/api/v1/images')).json()['items'] == []
        assert (await bob.get('/api/v1/jobs')).json()['items'] == []


async def test_live_preview_is_the_owners_and_cacheable_by_version(stack) -> None:
    app, _ = stack
    async with client_for(app) as alice, client_for(app) as bob:
        job = (
            await alice.post(
                '/api/v1/jobs', json={'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'x', 'steps': 60}}
            )
        ).json()
        await wait_for(lambda: app.jobs.views[job['id']].preview_seq > 0)
        url = app.jobs.views[job['id']].to_dict()['preview_url']
        preview = await alice.get(url)
        assert preview.status_code == 200 and preview.content[:2] == b'\xff\xd8'
        assert preview.headers['cache-control'] == 'private, max-age=300'  # the URL names the preview version
        assert (await bob.get(url)).status_code == 404
        await alice.post(f'/api/v1/jobs/{job["id"]}/cancel')
        await wait_for(lambda: app.jobs.views[job['id']].finished)
        ended = (await alice.get(f'/api/v1/jobs/{job["id"]}')).json()
        assert ended['preview_url'] is None  # an ended job names no preview that would answer 404
        assert (await alice.get(url)).status_code == 404


async def test_forged_identity_cookie_is_replaced(stack) -> None:
    app, _ = stack
    async with client_for(app) as http:
        http.cookies.set('vcc_anon', 'anon-' + 'a' * 32)
        answer = await http.get('/api/v1/jobs')
        assert answer.status_code == 200
        assert app.identity.read(answer.cookies['vcc_anon']) not in {None, 'anon-' + 'a' * 32}


@pytest.mark.parametrize(
    ('body', 'status'),
    [
        ({'workflow_id': 'nope', 'params': {'prompt': 'x'}}, 404),
        ({'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'x', 'seed': 'abc'}}, 422),
        ({'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'x' * 5000}}, 422),
        ({'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'x', 'unknown': 1}}, 422),
        ({'workflow_id': 'sd15_img2img', 'params': {'prompt': 'x', 'input_image': 'f' * 32}}, 422),
        ({'workflow_id': 'sd15_img2img', 'params': {'prompt': 'x', 'input_image': '../../etc/passwd'}}, 422),
        ({'workflow_id': 'sd15_txt2img'}, 422),
        ({'params': {'prompt': 'x'}}, 422),
        ([1, 2], 422),
    ],
)
async def test_bad_input_gets_a_clear_4xx(stack, body: object, status: int) -> None:
    app, _ = stack
    async with client_for(app) as http:
        answer = await http.post('/api/v1/jobs', json=body)
        assert answer.status_code == status, answer.text
        assert 'detail' in answer.json()
        assert (
            await http.post('/api/v1/jobs', content=b'{not json', headers={'content-type': 'application/json'})
        ).status_code == 422
        assert (await http.get('/api/v1/jobs')).json()['items'] == []


async def test_limit_answers_429(stack) -> None:
    app, _ = stack
    app.settings.max_per_user_queue = 0
    async with client_for(app) as http:
        body = {'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'x', 'steps': 100}}
        assert (await http.post('/api/v1/jobs', json=body)).status_code == 201
        refused = await http.post('/api/v1/jobs', json=body)
        assert refused.status_code == 429 and 'running' in refused.json()['detail']['message']


async def test_cancel_through_the_api(stack) -> None:
    app, _ = stack
    async with client_for(app) as http:
        job = (
            await http.post(
                '/api/v1/jobs', json={'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'x', 'steps': 150}}
            )
        ).json()
        await wait_for(lambda: app.jobs.views[job['id']].step >= 1)
        assert (await http.post(f'/api/v1/jobs/{job["id"]}/cancel')).status_code == 200
        await wait_for(lambda: app.jobs.views[job['id']].finished)
        assert (await http.get(f'/api/v1/jobs/{job["id"]}')).json()['status'] == 'cancelled'
        assert (await http.post(f'/api/v1/jobs/{job["id"]}/cancel')).status_code == 409


async def test_comfyui_down_refuses_with_503_and_queues_nothing(stack) -> None:
    app, sim = stack
    await sim.go_down()
    await app.pool.check_all()
    async with client_for(app) as http:
        answer = await http.post('/api/v1/jobs', json={'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'x'}})
        assert answer.status_code == 503 and 'not available' in answer.json()['detail']['message']
        assert (await http.get('/api/v1/jobs')).json()['items'] == []
        health = await http.get('/healthz')
        assert health.status_code == 503
        assert health.json() == {'ok': False, 'status': 'failing', 'checks': {}}  # details for admins only
    await sim.come_back()
    await app.pool.check_all()
    async with client_for(app) as http:
        health = await http.get('/healthz')
        assert health.status_code == 200, health.text
        assert health.json()['status'] == 'ok'


async def test_workflows_listed_with_availability(stack) -> None:
    app, _ = stack
    async with client_for(app) as http:
        listed = (await http.get('/api/v1/workflows')).json()
    ids = {w['id']: w for w in listed['items']}
    assert {'sd15_txt2img', 'sd15_img2img', 'test_pattern'} <= set(ids)
    assert ids['sd15_txt2img']['related_img2img'] == 'sd15_img2img'
    assert ids['test_pattern']['related'] == {'upscale': 'upscale'} and ids['upscale']['mode'] == 'upscale'
    cfg = ids['sd15_txt2img']['params'][0]
    assert (cfg['id'], cfg['min'], cfg['max'], cfg['advanced'], cfg['label']['ko']) == (
        'cfg',
        1,
        20,
        True,
        'CFG 스케일',
    )
    assert all(a['ok'] for a in ids['sd15_txt2img']['availability'].values())
    assert listed['problems'] == []


@pytest.mark.parametrize(
    'path',
    [
        '/outputs/../db/app.db',
        '/outputs/users/%2e%2e/%2e%2e/etc/passwd',
        '/outputs/users/anon-x/../../secret.key',
        '/outputs/%00',
    ],
)
async def test_output_paths_never_escape(stack, path: str) -> None:
    app, _ = stack
    async with client_for(app) as http:
        assert (await http.get(path)).status_code in {404, 400}


async def test_not_json_from_comfyui_fails_the_job_clearly(stack) -> None:
    app, sim = stack
    sim.faults.http_errors = {'/prompt': 4}  # the first POST and its three retries: 500 with a plain-text body
    async with client_for(app) as http:
        job = (
            await http.post('/api/v1/jobs', json={'workflow_id': 'test_pattern', 'params': {'prompt': 'x', 'seed': 3}})
        ).json()
        await wait_for(lambda: app.jobs.views[job['id']].finished)
        done = (await http.get(f'/api/v1/jobs/{job["id"]}')).json()
    assert done['status'] == 'failed' and 'not JSON' in done['error']


async def test_remix_repeats_every_param_of_an_image_with_overrides(stack) -> None:
    app, _ = stack
    asked = {
        'prompt': 'a fox',
        'seed': 9,
        'steps': 33,
        'aspect_ratio': '16:9',
        'lora': 'style_a.safetensors',
        'sampler': 'heun',
    }
    async with client_for(app) as alice, client_for(app) as bob:
        first = (
            await alice.post(
                '/api/v1/jobs', json={'workflow_id': 'sd15_lora_txt2img', 'params': {**asked, 'lora_strength': 0.7}}
            )
        ).json()
        await wait_for(lambda: app.jobs.views[first['id']].finished)
        image_id = app.jobs.views[first['id']].image_ids[0]
        again = await alice.post('/api/v1/jobs', json={'remix': image_id, 'params': {'seed': 10}})
        assert again.status_code == 201, again.text
        job = again.json()
        assert job['workflow_id'] == 'sd15_lora_txt2img'
        assert job['params'] == {
            **asked,
            'seed': 10,
            'lora_strength': 0.7,
            'negative_prompt': '',
            'batch_size': 1,
            'cfg': 7.0,
            'scheduler': 'normal',
        }
        missing = await bob.post('/api/v1/jobs', json={'remix': image_id})  # another user's image
        assert missing.status_code == 404 and 'image' in missing.json()['detail']['message'].lower()
        neither = await alice.post('/api/v1/jobs', json={'params': {'prompt': 'x'}})
        assert neither.status_code == 422


async def test_a_missing_checkpoint_answers_503_naming_it(stack) -> None:
    app, sim = stack
    sim.catalogue.checkpoints.remove('sim_sd15.safetensors')
    for entry in app.pool.entries.values():
        entry.object_info = {}
    await app.pool.check_all()
    async with client_for(app) as http:
        answer = await http.post('/api/v1/jobs', json={'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'x'}})
        message = answer.json()['detail']['message']
        assert answer.status_code == 503 and not message.startswith('ComfyUI is not available')
        assert message == ("This workflow cannot run on any ComfyUI server now: no checkpoint 'sim_sd15.safetensors'")
