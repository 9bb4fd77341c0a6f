"""Declared workflow parameters and free modes: loading, per-server checks, values, controls and the upscale mode."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import USER_A, make_settings, services, simulator, wait_for
from tests.images import png_bytes
from tests.samples import load_sample
from vcc_ui.models import Image
from vcc_ui.services.jobs import SubmitError
from vcc_ui.services.workflows import GenerateParams, ParamError, WorkflowRegistry, load_workflow

SHIPPED = Path(__file__).resolve().parents[2] / 'workflows'
PROMPT = {'prompt': 'a fox'}


@pytest.fixture(scope='module')
def captured() -> dict[str, Any]:
    """The real ComfyUI 0.3.64 catalogue, with the simulator's checkpoint."""
    info = copy.deepcopy(load_sample('GET_object_info_FULL'))
    info['CheckpointLoaderSimple']['input']['required']['ckpt_name'][0] = ['sim_sd15.safetensors']
    return info


@pytest.fixture
def few_samplers(captured: dict[str, Any]) -> dict[str, Any]:
    """A second server: fewer samplers, and a CFG that stops at 10."""
    info = copy.deepcopy(captured)
    spec = info['KSampler']['input']['required']
    spec['sampler_name'][0] = ['euler', 'heun']
    spec['cfg'][1]['max'] = 10.0
    return info


@pytest.fixture
def registry() -> WorkflowRegistry:
    loaded = WorkflowRegistry(SHIPPED)
    loaded.load()
    return loaded


def edited(tmp_path: Path, workflow_id: str, change) -> Path:
    """Write a copy of a shipped workflow with `change(data)` applied; return its path."""
    data = json.loads((SHIPPED / f'{workflow_id}.json').read_text(encoding='utf-8'))
    change(data)
    path = tmp_path / f'{workflow_id}.json'
    path.write_text(json.dumps(data), encoding='utf-8')
    return path


def test_shipped_sd_workflows_declare_denoise_cfg_sampler_and_scheduler(registry: WorkflowRegistry) -> None:
    assert not registry.problems
    edit, make = registry.get('sd15_img2img'), registry.get('sd15_txt2img')
    assert edit is not None and make is not None
    assert list(edit.params) == ['denoise', 'cfg', 'sampler', 'scheduler']
    assert list(make.params) == ['cfg', 'sampler', 'scheduler']
    assert edit.params['denoise'].default == 0.6 and not edit.params['denoise'].advanced
    assert make.params['cfg'].advanced and make.params['sampler'].default == 'euler'


def test_free_modes_link_one_tab_each(registry: WorkflowRegistry) -> None:
    assert [w.id for w in registry.parents()].count('upscale') == 0  # a linked mode gets no card of its own
    tabs = registry.modes_of('test_pattern')
    assert list(tabs) == ['txt2img', 'upscale'] and tabs['upscale'].id == 'upscale'
    pattern = registry.get('test_pattern')
    assert pattern is not None and registry.for_mode(pattern, 'upscale').id == 'upscale'
    assert registry.for_mode(pattern, 'img2img') is pattern
    assert (parent := registry.parent_of('upscale')) and parent.id == 'test_pattern'
    upscale = registry.get('upscale')
    assert upscale is not None and upscale.mode_label_for('ko') == '업스케일' and upscale.needs_input_image
    assert not upscale.accepts('prompt') and upscale.accepts('factor')


def test_the_upscale_graph_uses_only_nodes_of_the_captured_catalogue(
    registry: WorkflowRegistry, captured: dict[str, Any]
) -> None:
    upscale = registry.get('upscale')
    assert upscale is not None
    assert upscale.required_node_classes() == {'LoadImage', 'ImageScaleBy', 'SaveImage'}
    assert upscale.required_node_classes() <= captured.keys()
    assert upscale.problems_on(captured) == []


@pytest.mark.parametrize(
    ('change', 'reason'),
    [
        (lambda d: d['params']['cfg']['targets'].update(node='99'), "param 'cfg' points at node '99'"),
        (lambda d: d['params']['cfg']['targets'].update(input='model'), "input 'model' of node '3', which is a link"),
        (lambda d: d['params']['cfg']['targets'].update(input='nope'), "input 'nope' which node '3' (KSampler)"),
        (lambda d: d['params'].update(seed=d['params'].pop('cfg')), 'built-in parameter'),
        (lambda d: d['params'].update(Bad=d['params'].pop('cfg')), 'an id is a-z'),
        (lambda d: d['params']['cfg'].update(min=30), 'min 30 is above max 20'),
        (lambda d: d['params']['cfg'].update(default=25.0), 'default must be at most 20'),
        (lambda d: d['params']['cfg'].update(control='toggle'), "control 'toggle' does not fit"),
        (lambda d: d['params']['sampler'].update(min=1), 'min, max and step fit a number'),
        (lambda d: d['params']['sampler'].update(choices=['heun']), "default 'euler' is not offered"),
        (lambda d: d['params']['cfg']['label'].pop('ko'), 'both "en" and "ko"'),
        (lambda d: d.update(mode='Up Scale'), 'mode'),
    ],
)
def test_a_declaration_that_does_not_fit_the_graph_is_refused_at_load(tmp_path: Path, change, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        load_workflow(edited(tmp_path, 'sd15_img2img', change))
    assert reason in str(caught.value)


def test_existing_files_without_params_load_unchanged(tmp_path: Path) -> None:
    def strip(data: dict[str, Any]) -> None:
        del data['params']

    workflow = load_workflow(edited(tmp_path, 'sd15_txt2img', strip))
    assert workflow.params == {} and workflow.related == {'img2img': 'sd15_img2img'}
    assert workflow.related_img2img == 'sd15_img2img'


def test_each_server_is_checked_for_inputs_bounds_and_defaults(
    registry: WorkflowRegistry, captured: dict[str, Any], few_samplers: dict[str, Any]
) -> None:
    make = registry.get('sd15_txt2img')
    assert make is not None
    assert make.problems_on(captured) == []
    assert make.problems_on(few_samplers) == ["param 'cfg': max 20 is above the server's maximum 10"]
    no_scheduler = copy.deepcopy(captured)
    del no_scheduler['KSampler']['input']['required']['scheduler']
    assert "param 'scheduler': KSampler has no input 'scheduler' on the server" in make.problems_on(no_scheduler)
    no_euler = copy.deepcopy(captured)
    no_euler['KSampler']['input']['required']['sampler_name'][0] = ['heun']
    reasons = make.problems_on(no_euler)
    assert len(reasons) == 1 and reasons[0].startswith("param 'sampler': default 'euler': 'euler' is not offered")


def test_values_are_checked_against_the_declaration_and_a_server(
    registry: WorkflowRegistry, captured: dict[str, Any], few_samplers: dict[str, Any]
) -> None:
    edit = registry.get('sd15_img2img')
    assert edit is not None
    image = {'input_image': '0' * 32}
    checked = edit.check(GenerateParams(**PROMPT, **image, cfg=8, sampler='dpmpp_2m'), [captured])
    assert checked.model_extra == {'denoise': 0.6, 'cfg': 8.0, 'sampler': 'dpmpp_2m', 'scheduler': 'normal'}
    assert isinstance(checked.model_extra['cfg'], float)
    cases = [
        ({'cfg': 25}, 'param_max', 'CFG scale must be at most 20'),
        ({'denoise': 0.01}, 'param_min', 'Denoise strength must be at least 0.05'),
        ({'cfg': 'high'}, 'param_number', 'CFG scale must be a number'),
        ({'cfg': True}, 'param_number', 'CFG scale must be a number'),
        ({'sampler': 7}, 'param_choice', 'Sampler 7 is not offered'),
        ({'sampler': 'warp'}, 'param_choice', "Sampler 'warp' is not offered; choose one of: euler, euler_cfg_pp"),
        ({'steps_extra': 1}, 'param_unknown', "this workflow has no parameter 'steps_extra'"),
    ]
    for given, reason, message in cases:
        with pytest.raises(ParamError) as caught:
            edit.check(GenerateParams(**PROMPT, **image, **given), [captured])
        assert caught.value.reason == reason and message in caught.value.message, caught.value.message
        assert caught.value.field == next(iter(given))
    with pytest.raises(ParamError) as caught:  # the one server that can run it lacks the sampler: its choices
        edit.check(GenerateParams(**PROMPT, **image, sampler='dpmpp_2m'), [few_samplers])
    assert caught.value.message == "Sampler 'dpmpp_2m' is not offered; choose one of: euler, heun"
    assert caught.value.values['label'] == {'en': 'Sampler', 'ko': '샘플러'}
    both = edit.check(GenerateParams(**PROMPT, **image, sampler='dpmpp_2m', cfg=15), [few_samplers, captured])
    assert both.model_extra == {'denoise': 0.6, 'cfg': 15.0, 'sampler': 'dpmpp_2m', 'scheduler': 'normal'}


def test_build_puts_declared_values_in_every_target(registry: WorkflowRegistry, captured: dict[str, Any]) -> None:
    edit = registry.get('sd15_img2img')
    assert edit is not None
    params = GenerateParams(**PROMPT, input_image='0' * 32, denoise=0.35, sampler='heun')
    graph = edit.build(params, images={'input_image': 'in.png'}, object_info=captured)
    sampler = graph['3']['inputs']
    assert (sampler['denoise'], sampler['sampler_name'], sampler['cfg'], sampler['scheduler']) == (
        0.35,
        'heun',
        7.0,
        'normal',
    )
    assert edit.graph['3']['inputs']['denoise'] == 0.6  # the stored graph is untouched


def test_controls_follow_the_servers_catalogue(
    registry: WorkflowRegistry, captured: dict[str, Any], few_samplers: dict[str, Any]
) -> None:
    edit = registry.get('sd15_img2img')
    assert edit is not None
    controls = {c.id: c for c in edit.controls(captured)}
    denoise, cfg, sampler = controls['denoise'], controls['cfg'], controls['sampler']
    assert (denoise.control, denoise.minimum, denoise.maximum, denoise.step) == ('slider', 0.05, 1.0, 0.05)
    assert (cfg.control, cfg.advanced, cfg.maximum) == ('slider', True, 20.0)
    assert sampler.control == 'select' and len(sampler.options) > 30 and 'dpmpp_2m' in sampler.options
    assert {c.id: c for c in edit.controls(few_samplers)}['sampler'].options == ['euler', 'heun']
    assert {c.id: c for c in edit.controls(None)}['sampler'].control == 'text'  # no server known: the default's type


def test_toggle_text_multiline_and_number_controls_come_from_the_input_types(tmp_path: Path) -> None:
    info = {
        'Knobs': {
            'input': {
                'required': {
                    'flag': ['BOOLEAN', {'default': False}],
                    'note': ['STRING', {'multiline': True}],
                    'name': ['STRING', {}],
                    'count': ['INT', {'min': 1, 'max': 8}],
                }
            },
            'output': [],
        },
        'SaveImage': {'input': {'required': {}}, 'output': []},
    }
    data = {
        'id': 'knobs',
        'title': {'en': 'Knobs'},
        'mode': 'knobs',
        'bindings': {},
        'params': {
            name: {'targets': {'node': '1', 'input': name}, 'label': {'en': name, 'ko': name}}
            for name in ('flag', 'note', 'name', 'count')
        },
        'graph': {
            '1': {'class_type': 'Knobs', 'inputs': {'flag': True, 'note': 'a', 'name': 'b', 'count': 2}},
            '2': {'class_type': 'SaveImage', 'inputs': {}},
        },
    }
    path = tmp_path / 'knobs.json'
    path.write_text(json.dumps(data), encoding='utf-8')
    workflow = load_workflow(path)
    controls = {c.id: (c.control, c.integer, c.minimum, c.maximum) for c in workflow.controls(info)}
    assert controls == {
        'flag': ('toggle', False, None, None),
        'note': ('multiline', False, None, None),
        'name': ('text', False, None, None),
        'count': ('number', True, 1, 8),
    }
    with pytest.raises(ParamError, match='must be true or false'):
        workflow.check(GenerateParams(flag='yes'), [info])
    with pytest.raises(ParamError, match='must be a whole number'):
        workflow.check(GenerateParams(count=2.5), [info])
    assert workflow.check(GenerateParams(count=3.0), [info]).model_extra == {
        'flag': True,
        'note': 'a',
        'name': 'b',
        'count': 3,
    }


def test_a_related_mode_must_name_a_workflow_of_that_mode(tmp_path: Path) -> None:
    folder = tmp_path / 'workflows'
    shutil.copytree(SHIPPED, folder, ignore=shutil.ignore_patterns('*.md'))
    data = json.loads((folder / 'test_pattern.json').read_text(encoding='utf-8'))
    data['ui']['related']['upscale'] = 'sd15_img2img'
    (folder / 'test_pattern.json').write_text(json.dumps(data), encoding='utf-8')
    registry = WorkflowRegistry(folder)
    registry.load()
    reasons = {p.file: p.reason for p in registry.problems}
    assert reasons == {
        'test_pattern.json': "ui.related.upscale names 'sd15_img2img', which is not a loaded upscale workflow"
    }


async def test_upscale_runs_on_the_simulator_and_records_its_params(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim:
        async with services(make_settings(tmp_path, sim.url, comfy_input_dir=sim.root / 'input')) as app:
            stored = app.storage.save(owner=USER_A, kind='input', data=png_bytes(96, 64), meta={})
            row = Image(
                id=stored.id,
                owner=USER_A,
                kind='input',
                rel_path=stored.rel_path,
                mime=stored.mime,
                bytes=stored.bytes,
                width=96,
                height=64,
                sha256=stored.sha256,
            )
            await app.writer.write(lambda db: db.add(row))
            with pytest.raises(SubmitError) as refused:
                await app.jobs.submit(USER_A, 'upscale', {'input_image': stored.id, 'factor': 6})
            assert refused.value.code == 'invalid_params' and refused.value.reason == 'param_max'
            view = await app.jobs.submit(USER_A, 'upscale', {'input_image': stored.id, 'factor': 2.5})
            await wait_for(lambda: view.finished)
            assert view.status == 'completed', view.error
            assert view.mode == 'upscale'
            image = await app.images.get(USER_A, view.image_ids[0])
            assert image is not None and (image.width, image.height) == (240, 160)
            assert image.params is not None
            assert image.params['factor'] == 2.5 and image.params['upscale_method'] == 'bicubic'
            assert image.params['mode'] == 'upscale'
