"""The studio service: import, expose, check per server, diff, save with history, test run on one server."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures import USER_A, make_settings, services, simulator, wait_for
from tests.samples import FIXTURES
from vcc_ui.models import JobStatus
from vcc_ui.services import Services
from vcc_ui.services.studio import (
    HISTORY,
    InputType,
    StudioError,
    dump,
    expose,
    exposure,
    keep_output,
    output_nodes,
    unexpose,
)
from vcc_ui.services.workflows import load_workflow

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(path.stem for path in (ROOT / 'workflows').glob('*.json'))


@dataclass
class Studio:
    services: Services
    folder: Path
    server: str  # the simulators' names
    other: str


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Studio]:
    """Services on two simulators, reading a copy of the shipped workflows."""
    folder = tmp_path / 'workflows'
    shutil.copytree(ROOT / 'workflows', folder, ignore=shutil.ignore_patterns('README.md'))
    async with (
        simulator(tmp_path, 'one') as one,
        simulator(tmp_path, 'two') as two,
        services(make_settings(tmp_path, one.url, two.url, workflows_dir=folder)) as built,
    ):
        await wait_for(lambda: len(built.studio.catalogues()) == 2)
        first, second = built.studio.catalogues()
        yield Studio(services=built, folder=folder, server=first, other=second)


def meaning(path: Path) -> dict:
    """What a workflow file does, without where it lives or its hash."""
    workflow = load_workflow(path)
    return {k: v for k, v in vars(workflow).items() if k not in ('source', 'version')}


async def test_every_shipped_workflow_opens_and_saves_back_with_the_same_meaning(app: Studio) -> None:
    studio = app.services.studio
    for workflow_id in SHIPPED:
        path = app.folder / f'{workflow_id}.json'
        before, old_bytes = meaning(path), path.read_bytes()
        draft = studio.open(workflow_id)
        assert studio.check(draft).error is None
        assert await studio.save(draft) == path
        assert meaning(path) == before
        kept = list((app.folder / HISTORY).glob(f'{workflow_id}.*.json'))
        assert [p.read_bytes() for p in kept] == [old_bytes]
    assert sorted(w.id for w in app.services.registry.all()) == SHIPPED  # .history is not loaded


async def test_a_save_format_file_with_app_mode_becomes_a_checked_draft(app: Studio) -> None:
    studio = app.services.studio
    text = (FIXTURES / 'workflows_ui' / 'sd15_txt2img.app.json').read_text(encoding='utf-8')
    with pytest.raises(StudioError) as refused:
        studio.import_text(text, 'nowhere')
    assert refused.value.code == 'no_server'
    imported = studio.import_text(text, app.server)
    draft = imported.draft
    assert imported.source == 'save' and imported.notes == []
    assert {k: [(t['node'], t['input']) for t in v] for k, v in draft['bindings'].items()} == {
        'prompt': [('6', 'text')],
        'negative_prompt': [('7', 'text')],
        'seed': [('3', 'seed')],
        'steps': [('3', 'steps')],
        'width': [('5', 'width')],
        'height': [('5', 'height')],
        'batch_size': [('5', 'batch_size')],
    }
    assert draft['aspect_ratios'] == {'1:1': [512, 512]}
    draft['id'] = 'my_sd'
    assert studio.check(draft).error is None
    assert studio.check(draft).servers == {app.server: [], app.other: []}
    draft['graph']['4']['inputs']['ckpt_name'] = 'missing.safetensors'
    missing = ["no checkpoint 'missing.safetensors'"]
    assert studio.check(draft).servers == {app.server: missing, app.other: missing}


async def test_import_tells_what_it_cannot_read(app: Studio) -> None:
    studio = app.services.studio
    for text, code in [
        ('{"nodes": [', 'bad_json'),
        ('[1, 2]', 'not_a_workflow'),
        ('{"a": {"x": 1}}', 'not_a_workflow'),
    ]:
        with pytest.raises(StudioError) as refused:
            studio.import_text(text, app.server)
        assert refused.value.code == code
    broken = json.loads((FIXTURES / 'workflows_ui' / 'test_pattern.json').read_text(encoding='utf-8'))
    broken['nodes'][0]['type'] = 'NoSuchNode'
    with pytest.raises(StudioError) as refused:
        studio.import_text(json.dumps(broken), app.server)
    assert refused.value.code == 'convert' and 'NoSuchNode' in refused.value.reason
    api = studio.import_text(json.dumps({'prompt': studio.open('test_pattern')['graph']}))
    assert api.source == 'api' and set(api.draft['graph']) == {'1', '2', '3'}


def test_expose_writes_bindings_and_declared_parameters_in_the_file_format() -> None:
    draft = {'graph': json.loads((ROOT / 'workflows' / 'sd15_txt2img.json').read_text(encoding='utf-8'))['graph']}
    expose(draft, '3', 'cfg', 'cfg', label={'en': 'CFG scale', 'ko': 'CFG 스케일'}, min=1.0, max=20.0, advanced=True)
    expose(draft, '3', 'seed', 'seed')
    expose(draft, '3', 'denoise', 'strength')
    assert draft['params'] == {
        'cfg': {
            'targets': {'node': '3', 'input': 'cfg'},
            'label': {'en': 'CFG scale', 'ko': 'CFG 스케일'},
            'min': 1.0,
            'max': 20.0,
            'advanced': True,
        },
        'strength': {'targets': {'node': '3', 'input': 'denoise'}, 'label': {'en': 'Strength', 'ko': 'strength'}},
    }
    assert draft['bindings'] == {'seed': [{'node': '3', 'input': 'seed'}]}
    assert exposure(draft, '3', 'cfg').name == 'cfg' and exposure(draft, '3', 'steps') is None
    expose(draft, '3', 'cfg', 'seed')  # re-exposing moves it
    assert 'cfg' not in draft['params'] and draft['bindings']['seed'][-1] == {'node': '3', 'input': 'cfg'}
    unexpose(draft, '3', 'denoise')
    assert 'params' not in draft
    for node, name, as_name in [('3', 'model', 'x'), ('3', 'nope', 'x'), ('3', 'cfg', 'Bad Name')]:
        with pytest.raises(StudioError):
            expose(draft, node, name, as_name)


def test_picking_the_output_node_drops_the_others_and_what_only_they_needed() -> None:
    graph = json.loads((ROOT / 'workflows' / 'test_pattern.json').read_text(encoding='utf-8'))['graph']
    graph['4'] = {'class_type': 'ImageBlur', 'inputs': {'image': ['1', 0], 'blur_radius': 1, 'sigma': 1.0}}
    graph['5'] = {'class_type': 'PreviewImage', 'inputs': {'images': ['4', 0]}}
    draft = {'graph': graph, 'bindings': {'width': [{'node': '1', 'input': 'width'}]}}
    expose(draft, '4', 'sigma', 'sigma')
    assert output_nodes(draft) == ['3', '5']
    assert keep_output(draft, '3') == ['4', '5']
    assert set(draft['graph']) == {'1', '2', '3'} and 'params' not in draft and draft['bindings']


async def test_save_refuses_a_draft_that_does_not_load_and_shows_a_diff_first(app: Studio) -> None:
    studio = app.services.studio
    draft = studio.open('test_pattern')
    draft['max_batch'] = 99
    assert 'max_batch' in (studio.check(draft).error or '')
    with pytest.raises(StudioError) as refused:
        await studio.save(draft)
    assert refused.value.code == 'invalid'
    draft['max_batch'] = 2
    diff = studio.diff(draft)
    assert '-  "max_batch": 4,' in diff and '+  "max_batch": 2,' in diff
    for bad in ('', '../evil', 'studio-test-x'):
        with pytest.raises(StudioError):
            await studio.save({**draft, 'id': bad})
    new = {**draft, 'id': 'pattern_two'}
    assert studio.diff(new).startswith('--- /dev/null')
    await studio.save(new)
    assert app.services.registry.get('pattern_two') is not None  # reloaded at once, no watcher needed
    assert (
        not (app.folder / HISTORY / 'pattern_two').exists()
        and dump(new) == (app.folder / 'pattern_two.json').read_text()
    )


async def test_a_test_run_goes_through_the_job_engine_on_the_chosen_server_and_gets_no_card(app: Studio) -> None:
    studio = app.services.studio
    draft = studio.import_text(json.dumps(studio.open('test_pattern')['graph'])).draft
    expose(draft, '1', 'width', 'width')
    expose(draft, '1', 'height', 'height')
    draft['aspect_ratios'] = {'wide': [96, 64]}
    with pytest.raises(StudioError) as refused:
        await studio.test_run(draft, 'elsewhere', USER_A)
    assert refused.value.code == 'no_server'
    entry = next(e for e in app.services.pool.entries.values() if e.health.name == app.server)
    entry.health.enabled = False
    with pytest.raises(StudioError) as refused:
        await studio.test_run(draft, app.server, USER_A)
    assert refused.value.code == 'no_server'
    job = await studio.test_run(draft, app.other, USER_A)
    assert job.owner == USER_A and job.workflow_id.startswith('studio-test-')
    assert job.workflow_id not in [w.id for w in app.services.registry.all()]
    await wait_for(lambda: job.finished, timeout=60)
    assert job.status == JobStatus.COMPLETED and job.server == app.other and len(job.image_ids) == 1
    assert app.services.registry.get(job.workflow_id) is None  # dropped once the job ended
    img2img = studio.open('sd15_img2img')
    with pytest.raises(StudioError) as refused:
        await studio.test_run(img2img, app.other, USER_A)
    assert refused.value.code == 'needs_image'


async def test_a_broken_file_in_the_folder_is_listed_and_opening_it_says_why(app: Studio) -> None:
    studio = app.services.studio
    (app.folder / 'broken.json').write_text('{"id": "broken", "graph": ', encoding='utf-8')
    assert 'broken' in studio.files() and 'broken' not in [w.id for w in app.services.registry.all()]
    with pytest.raises(StudioError) as refused:
        studio.open('broken')
    assert refused.value.code == 'bad_json'
    for name in ('nothing_here', '../workflows/test_pattern'):
        with pytest.raises(StudioError) as refused:
            studio.open(name)
        assert refused.value.code == 'not_a_workflow'


async def test_input_types_come_from_the_servers_else_from_the_graph_value(app: Studio) -> None:
    draft = app.services.studio.open('sd15_txt2img')
    studio = app.services.studio
    assert studio.input_type(draft, '3', 'cfg') == InputType(kind='FLOAT')
    assert studio.input_type(draft, '3', 'steps') == InputType(kind='INT')
    sampler = studio.input_type(draft, '3', 'sampler_name')
    assert sampler.kind == 'COMBO' and {'euler', 'heun', 'dpmpp_2m'} <= set(sampler.options)
    draft['graph']['99'] = {'class_type': 'NoServerHasThis', 'inputs': {'flag': True, 'count': 3, 'name': 'x'}}
    assert [studio.input_type(draft, '99', name).kind for name in ('flag', 'count', 'name')] == [
        'BOOLEAN',
        'INT',
        'STRING',
    ]
