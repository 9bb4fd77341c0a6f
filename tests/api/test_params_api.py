"""POST /api/v1/jobs with declared parameters: accepted, refused with a clear 4xx (KO/EN), nothing queued."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.api.test_api import client_for
from tests.fixtures import make_settings, services, simulator, wait_for
from vcc_ui.services import Services

BASE = {'workflow_id': 'sd15_txt2img'}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Services]:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        yield app


async def test_declared_params_reach_the_graph_and_the_image(stack: Services) -> None:
    app = stack
    async with client_for(app) as http:
        answer = await http.post(
            '/api/v1/jobs', json={**BASE, 'params': {'prompt': 'x', 'steps': 2, 'cfg': 12.5, 'sampler': 'heun'}}
        )
        assert answer.status_code == 201, answer.text
        job = answer.json()
        assert {k: job['params'][k] for k in ('cfg', 'sampler', 'scheduler')} == {
            'cfg': 12.5,
            'sampler': 'heun',
            'scheduler': 'normal',
        }
        await wait_for(lambda: app.jobs.views[job['id']].finished)
        image_id = app.jobs.views[job['id']].image_ids[0]
        again = await http.post('/api/v1/jobs', json={'remix': image_id, 'params': {'cfg': 3}})
        assert again.status_code == 201, again.text
        assert again.json()['params']['sampler'] == 'heun' and again.json()['params']['cfg'] == 3.0
        elsewhere = await http.post(
            '/api/v1/jobs', json={'remix': image_id, 'workflow_id': 'test_pattern', 'params': {'steps': None}}
        )
        assert elsewhere.status_code == 201, elsewhere.text  # sd15's recorded cfg and sampler are not test_pattern's
        assert not {'cfg', 'sampler', 'scheduler'} & elsewhere.json()['params'].keys()
        wrong = await http.post(
            '/api/v1/jobs', json={'remix': image_id, 'workflow_id': 'test_pattern', 'params': {'cfg': 2}}
        )
        assert wrong.status_code == 422 and wrong.json()['detail']['field'] == 'cfg'


@pytest.mark.parametrize(
    ('params', 'field', 'english', 'korean'),
    [
        ({'cfg': 21}, 'cfg', 'CFG scale must be at most 20.', 'CFG 스케일 값은 20 이하여야 합니다.'),
        ({'cfg': 'loud'}, 'cfg', 'CFG scale must be a number.', 'CFG 스케일 값은 숫자여야 합니다.'),
        (
            {'sampler': 'warp_drive'},
            'sampler',
            "Sampler: 'warp_drive' is not offered; choose one of: euler, euler_cfg_pp,",
            "샘플러: 'warp_drive'은(는) 선택할 수 없습니다. 다음 중에서 고르세요: euler, euler_cfg_pp,",
        ),
        (
            {'flux': 1},
            'flux',
            "This workflow has no parameter 'flux'.",
            "이 워크플로우에는 'flux' 매개변수가 없습니다.",
        ),
    ],
)
async def test_a_bad_declared_param_is_a_clear_422_and_queues_nothing(
    stack: Services, params: dict, field: str, english: str, korean: str
) -> None:
    async with client_for(stack) as http:
        body = {**BASE, 'params': {'prompt': 'x', **params}}
        refused = await http.post('/api/v1/jobs', json=body)
        assert refused.status_code == 422, refused.text
        detail = refused.json()['detail']
        assert detail['code'] == 'invalid_params' and detail['field'] == field
        assert detail['message'].startswith(english)
        in_korean = await http.post('/api/v1/jobs', json=body, headers={'Accept-Language': 'ko-KR,ko;q=0.9'})
        assert in_korean.status_code == 422 and in_korean.json()['detail']['message'].startswith(korean)
        assert (await http.get('/api/v1/jobs')).json()['items'] == []
    assert stack.jobs.views == {}


async def test_a_combo_value_only_one_server_offers_runs_there(tmp_path: Path) -> None:
    async with simulator(tmp_path, 'few') as few, simulator(tmp_path, 'all') as every:
        few.catalogue.restrict('KSampler', 'sampler_name', ['euler', 'heun'])
        async with services(make_settings(tmp_path, few.url, every.url)) as app:
            await wait_for(lambda: sum(bool(e.object_info) for e in app.pool.entries.values()) == 2)
            names = {e.health.url: e.health.name for e in app.pool.entries.values()}
            async with client_for(app) as http:
                jobs = []
                for _ in range(2):
                    answer = await http.post(
                        '/api/v1/jobs', json={**BASE, 'params': {'prompt': 'x', 'steps': 2, 'sampler': 'dpmpp_2m'}}
                    )
                    assert answer.status_code == 201, answer.text
                    jobs.append(answer.json()['id'])
                await wait_for(lambda: all(app.jobs.views[j].finished for j in jobs))
                assert {app.jobs.views[j].server for j in jobs} == {names[every.url]}
                few.catalogue.restrict('KSampler', 'sampler_name', ['euler'])
                every.catalogue.restrict('KSampler', 'sampler_name', ['euler'])
                for entry in app.pool.entries.values():
                    entry.object_info = {}
                await app.pool.check_all()
                refused = await http.post('/api/v1/jobs', json={**BASE, 'params': {'prompt': 'x', 'sampler': 'heun'}})
                assert refused.status_code == 422
                assert refused.json()['detail']['message'] == "Sampler: 'heun' is not offered; choose one of: euler"
