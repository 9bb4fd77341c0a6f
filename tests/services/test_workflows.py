"""Workflow files: loading, validation, building graphs, server checks and live reload."""

import asyncio
import copy
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.samples import load_sample
from vcc_ui.services.workflows import SEED_MAX, GenerateParams, ParamError, WorkflowRegistry

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / 'workflows'
SIM_CHECKPOINTS = ['sim_sd15.safetensors', 'sim_sdxl.safetensors']
IMAGE_ID = '0123456789abcdef0123456789abcdef'


@pytest.fixture(scope='module')
def full_object_info() -> dict[str, Any]:
    """Return the real ComfyUI 0.3.64 /object_info catalogue (no checkpoints installed)."""
    return load_sample('GET_object_info_FULL')


@pytest.fixture
def object_info(full_object_info: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of the catalogue offering the simulator's checkpoints."""
    info = copy.deepcopy(full_object_info)
    info['CheckpointLoaderSimple']['input']['required']['ckpt_name'][0] = list(SIM_CHECKPOINTS)
    return info


@pytest.fixture
def registry() -> WorkflowRegistry:
    """Return a registry over the shipped workflows."""
    registry = WorkflowRegistry(SHIPPED)
    registry.load()
    return registry


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Return a writable copy of the shipped workflows folder."""
    shutil.copytree(SHIPPED, tmp_path / 'workflows', ignore=shutil.ignore_patterns('*.md'))
    return tmp_path / 'workflows'


def read(folder: Path, workflow_id: str) -> dict[str, Any]:
    return json.loads((folder / f'{workflow_id}.json').read_text(encoding='utf-8'))


def write(folder: Path, name: str, data: dict[str, Any]) -> None:
    temp = folder / f'{name}.tmp'
    temp.write_text(json.dumps(data), encoding='utf-8')
    temp.replace(folder / name)


def test_shipped_folder_loads_without_problems(registry: WorkflowRegistry) -> None:
    assert registry.problems == []
    ids = [w.id for w in registry.all()]
    assert ids[:2] == ['sd15_txt2img', 'sd15_img2img'] and 'test_pattern' in ids
    txt2img = registry.get('sd15_txt2img')
    assert txt2img is not None
    assert txt2img.title_for('ko') == 'SD 1.5 텍스트→이미지'
    assert txt2img.title_for('fr') == txt2img.title['en']
    assert len(txt2img.templates) >= 3
    assert all({'en', 'ko'} <= t.title.keys() for t in txt2img.templates)
    assert txt2img.defaults.aspect_ratio == '1:1'
    assert all(w % 8 == 0 and h % 8 == 0 for w, h in txt2img.aspect_ratios.values())


def test_parents_are_the_cards_and_link_their_edit_workflow(registry: WorkflowRegistry) -> None:
    parents = [w.id for w in registry.parents()]
    assert parents[0] == 'sd15_txt2img' and 'test_pattern' in parents and 'sd15_img2img' not in parents
    edit = registry.img2img_for('sd15_txt2img')
    assert edit is not None and edit.id == 'sd15_img2img' and edit.needs_input_image
    assert edit.aspect_ratios == {}
    assert registry.img2img_for('test_pattern') is None


def test_shipped_workflows_fit_a_real_comfyui_catalogue(
    registry: WorkflowRegistry, object_info: dict[str, Any]
) -> None:
    registry.validate_against('gpu-1', object_info)
    for workflow in registry.all():
        assert registry.availability(workflow.id) == {'gpu-1': None}
        assert registry.is_available(workflow.id, 'gpu-1')


def test_a_server_without_the_checkpoints_is_reported_as_such(
    registry: WorkflowRegistry, full_object_info: dict[str, Any]
) -> None:
    registry.validate_against('bare', full_object_info)
    for workflow_id in ('sd15_txt2img', 'sd15_img2img'):
        reason = registry.availability(workflow_id)['bare']
        assert reason == "no checkpoint 'sim_sd15.safetensors'"  # what is missing, in words a user knows
        assert not registry.is_available(workflow_id, 'bare')
    assert registry.is_available('test_pattern', 'bare')


def test_a_server_not_validated_yet_is_not_available(registry: WorkflowRegistry) -> None:
    assert registry.availability('test_pattern') == {}
    assert not registry.is_available('test_pattern', 'nowhere')


@pytest.mark.parametrize('spelling', ['v1', 'v3'])
def test_combo_values_are_checked_in_both_spellings(
    registry: WorkflowRegistry, object_info: dict[str, Any], spelling: str
) -> None:
    required = object_info['CheckpointLoaderSimple']['input']['required']
    offered = ['other.safetensors']
    required['ckpt_name'] = [offered, {}] if spelling == 'v1' else ['COMBO', {'options': offered}]
    registry.validate_against('s', object_info)
    assert registry.availability('sd15_txt2img')['s'] == "no checkpoint 'sim_sd15.safetensors'"
    offered.append('sim_sd15.safetensors')
    registry.validate_against('s', object_info)
    assert registry.is_available('sd15_txt2img', 's')


def test_bound_image_combos_are_not_checked(registry: WorkflowRegistry, object_info: dict[str, Any]) -> None:
    assert object_info['LoadImage']['input']['required']['image'][0] == ['example.png']
    registry.validate_against('s', object_info)
    assert registry.is_available('sd15_img2img', 's')


def test_missing_class_missing_input_range_and_link_type_are_reported(
    registry: WorkflowRegistry, object_info: dict[str, Any]
) -> None:
    del object_info['ImageInvert']
    object_info['EmptyLatentImage']['input']['required']['width'][1]['max'] = 768
    object_info['KSampler']['input']['required']['eta'] = ['FLOAT', {}]
    object_info['VAEDecode']['input']['required']['samples'] = ['IMAGE', {}]
    registry.validate_against('s', object_info)
    assert registry.availability('test_pattern')['s'] == "node '2' uses ImageInvert, which the server does not have"
    reasons = (registry.availability('sd15_txt2img')['s'] or '').split('; ')
    assert "node '3' (KSampler) is missing required input 'eta'" in reasons
    assert "node '5' (EmptyLatentImage) input 'width': 912 is above the maximum 768" in reasons
    assert "node '8' (VAEDecode) input 'samples' expects IMAGE but node '3' output 0 is LATENT" in reasons


def test_build_applies_params_and_keeps_the_stored_graph(registry: WorkflowRegistry) -> None:
    workflow = registry.get('sd15_txt2img')
    assert workflow is not None
    stored = copy.deepcopy(workflow.graph)
    params = GenerateParams(
        prompt='  a red fox  ', negative_prompt='blurry', seed=42, aspect_ratio='16:9', batch_size=3, steps=30
    )
    graph = workflow.build(params)
    assert graph['6']['inputs']['text'] == 'a red fox'
    assert graph['7']['inputs']['text'] == 'blurry'
    sampler = graph['3']['inputs']
    assert (sampler['seed'], sampler['steps'], sampler['denoise'], sampler['model']) == (42, 30, 1.0, ['4', 0])
    assert graph['5']['inputs'] == {'width': 912, 'height': 512, 'batch_size': 3}
    assert graph['9']['inputs']['filename_prefix'] == 'vcc'
    graph['3']['inputs']['model'][0] = 'changed'
    assert workflow.graph == stored


def test_build_fills_defaults(registry: WorkflowRegistry) -> None:
    workflow = registry.get('sd15_txt2img')
    assert workflow is not None
    checked = workflow.check(GenerateParams(prompt='x'))
    assert (checked.aspect_ratio, checked.steps) == ('1:1', 20)
    graph = workflow.build(checked)
    assert graph['5']['inputs'] == {'width': 512, 'height': 512, 'batch_size': 1}
    assert graph['3']['inputs']['seed'] == checked.seed


def test_seed_none_becomes_a_random_seed_in_range(registry: WorkflowRegistry) -> None:
    workflow = registry.get('sd15_txt2img')
    assert workflow is not None
    seeds = {workflow.build(GenerateParams(prompt='x'))['3']['inputs']['seed'] for _ in range(5)}
    assert len(seeds) > 1
    assert all(0 <= seed <= SEED_MAX for seed in seeds)


def test_build_puts_uploaded_image_names_in_place(registry: WorkflowRegistry) -> None:
    workflow = registry.get('sd15_img2img')
    assert workflow is not None
    params = GenerateParams(prompt='winter', input_image=IMAGE_ID, seed=1)
    graph = workflow.build(params, images={'input_image': 'vcc_abc.png'})
    assert graph['10']['inputs']['image'] == 'vcc_abc.png'
    assert graph['3']['inputs']['denoise'] == 0.6
    with pytest.raises(ParamError) as error:
        workflow.build(params)
    assert error.value.field == 'input_image'


def test_test_pattern_maps_the_seed_onto_a_color(registry: WorkflowRegistry) -> None:
    workflow = registry.get('test_pattern')
    assert workflow is not None
    graph = workflow.build(GenerateParams(prompt='anything', seed=16777216 + 5, batch_size=4, aspect_ratio='2:3'))
    assert graph['1']['inputs'] == {'width': 512, 'height': 768, 'batch_size': 4, 'color': 5}
    assert 'anything' not in json.dumps(graph)


def test_one_param_can_feed_several_inputs(folder: Path) -> None:
    data = read(folder, 'sd15_txt2img')
    data['graph']['12'] = copy.deepcopy(data['graph']['3'])
    data['graph']['13'] = {'class_type': 'PreviewImage', 'inputs': {'images': ['8', 0]}}
    data['bindings']['seed'] = [{'node': '3', 'input': 'seed'}, {'node': '12', 'input': 'seed'}]
    write(folder, 'sd15_txt2img.json', data)
    registry = WorkflowRegistry(folder)
    registry.load()
    workflow = registry.get('sd15_txt2img')
    assert workflow is not None
    graph = workflow.build(GenerateParams(prompt='x', seed=7))
    assert graph['3']['inputs']['seed'] == graph['12']['inputs']['seed'] == 7


@pytest.mark.parametrize(
    ('workflow_id', 'params', 'field', 'message'),
    [
        ('sd15_txt2img', {'aspect_ratio': '4:3'}, 'aspect_ratio', "unknown aspect ratio '4:3'"),
        ('sd15_txt2img', {'batch_size': 5}, 'batch_size', 'at most 4 image(s)'),
        ('sd15_txt2img', {'input_image': IMAGE_ID}, 'input_image', 'takes no input image'),
        ('sd15_txt2img', {'control_image': IMAGE_ID}, 'control_image', 'takes no control image'),
        ('sd15_img2img', {}, 'input_image', 'needs an input image'),
        ('sd15_img2img', {'input_image': IMAGE_ID, 'aspect_ratio': '1:1'}, 'aspect_ratio', 'takes no aspect ratio'),
        ('sd15_img2img', {'input_image': IMAGE_ID, 'batch_size': 2}, 'batch_size', 'at most 1 image(s)'),
        ('test_pattern', {'steps': 10}, 'steps', 'fixed number of steps'),
    ],
)
def test_check_rejects_params_the_workflow_cannot_take(
    registry: WorkflowRegistry, workflow_id: str, params: dict[str, Any], field: str, message: str
) -> None:
    workflow = registry.get(workflow_id)
    assert workflow is not None
    with pytest.raises(ParamError) as error:
        workflow.check(GenerateParams(prompt='x', **params))
    assert error.value.field == field
    assert message in error.value.message


@pytest.mark.parametrize(
    'params',
    [
        {'prompt': 'x' * 4001},
        {'prompt': 'x', 'negative_prompt': 'x' * 4001},
        {'prompt': 'x', 'batch_size': 'many'},
        {'prompt': 'x', 'batch_size': 17},
        {'prompt': 'x', 'seed': -1},
        {'prompt': 'x', 'seed': 2**53},
        {'prompt': 'x', 'steps': 151},
        {'prompt': ['x']},
        {'prompt': 'x', 'input_image': '../etc/passwd'},
        {'prompt': 'x', 'prompt_original': 'y'},
        {'prompt': 'x', 'llm_action': 'translate'},
        {'prompt': 'x', 'prompt_original': '  ', 'llm_action': 'translate'},
        {'prompt': 'x', 'prompt_original': 'y', 'llm_action': 'summarize'},
        {'prompt': 'x', 'prompt_original': 'y', 'llm_action': 'translate;drop table'},
        {'prompt': 'x', 'prompt_original': 'y', 'llm_action': ','.join(['improve'] * 11)},
        {'prompt': 'x', 'prompt_original': 'y' * 4001, 'llm_action': 'translate'},
    ],
)
def test_generate_params_reject_bad_values(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        GenerateParams.model_validate(params)


def _dangling_binding(data: dict[str, Any]) -> None:
    data['bindings']['seed'] = {'node': '99', 'input': 'seed'}


def _missing_input(data: dict[str, Any]) -> None:
    data['bindings']['steps'] = {'node': '3', 'input': 'stepz'}


def _dangling_link(data: dict[str, Any]) -> None:
    data['graph']['8']['inputs']['samples'] = ['42', 0]


def _no_output(data: dict[str, Any]) -> None:
    del data['graph']['9']


def _unknown_related(data: dict[str, Any]) -> None:
    data['ui']['related']['img2img'] = 'nope'


def _txt2img_without_sizes(data: dict[str, Any]) -> None:
    del data['aspect_ratios']


def _typo_key(data: dict[str, Any]) -> None:
    data['max_bach'] = 2


@pytest.mark.parametrize(
    ('change', 'reason'),
    [
        (_dangling_binding, "binding 'seed' points at node '99' which is not in the graph"),
        (_missing_input, "binding 'steps' points at input 'stepz' which node '3' (KSampler) does not have"),
        (_dangling_link, "node '8' input 'samples' links to node '42', which is not in the graph"),
        (_no_output, 'the graph has no output node (PreviewImage or SaveImage)'),
        (_unknown_related, "ui.related.img2img names 'nope', which is not a loaded img2img workflow"),
        (_txt2img_without_sizes, 'a txt2img workflow needs aspect_ratios (and width/height bindings)'),
        (_typo_key, 'max_bach: Extra inputs are not permitted'),
    ],
)
def test_an_invalid_file_is_reported_and_skipped(
    folder: Path, change: Any, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = read(folder, 'sd15_txt2img')
    change(data)
    write(folder, 'sd15_txt2img.json', data)
    registry = WorkflowRegistry(folder)
    with caplog.at_level(logging.WARNING):
        registry.load()
    assert [(p.file, p.reason) for p in registry.problems] == [('sd15_txt2img.json', reason)]
    assert registry.get('sd15_txt2img') is None
    assert {'sd15_img2img', 'test_pattern'} <= {w.id for w in registry.all()}
    assert reason in caplog.text


def test_bad_json_and_wrong_ids_are_reported(folder: Path) -> None:
    (folder / 'broken.json').write_text('{"id": "broken",', encoding='utf-8')
    write(folder, 'renamed.json', read(folder, 'test_pattern'))
    write(folder, 'Bad Name.json', {**read(folder, 'test_pattern'), 'id': 'Bad Name'})
    registry = WorkflowRegistry(folder)
    registry.load()
    problems = {p.file: p.reason for p in registry.problems}
    assert problems['broken.json'].startswith('not valid JSON: ')
    assert problems['renamed.json'] == "id 'test_pattern' does not match the file name 'renamed.json'"
    assert problems['Bad Name.json'].startswith('id: String should match pattern')
    assert len(registry.all()) == len(list(SHIPPED.glob('*.json')))


def test_img2img_without_an_input_image_binding_takes_its_parent_along(folder: Path) -> None:
    data = read(folder, 'sd15_img2img')
    del data['bindings']['input_image']
    write(folder, 'sd15_img2img.json', data)
    registry = WorkflowRegistry(folder)
    registry.load()
    assert {p.file: p.reason for p in registry.problems} == {
        'sd15_img2img.json': 'an img2img workflow needs an input_image binding',
        'sd15_txt2img.json': "ui.related.img2img names 'sd15_img2img', which is not a loaded img2img workflow",
    }
    assert 'sd15_txt2img' not in {w.id for w in registry.parents()}


def test_a_missing_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    registry = WorkflowRegistry(tmp_path / 'absent')
    registry.load()
    assert registry.all() == []
    assert registry.problems[0].reason == 'the folder does not exist'


def test_changed_is_emitted_only_when_a_reload_changes_something(folder: Path) -> None:
    registry = WorkflowRegistry(folder)
    calls: list[None] = []
    registry.changed.subscribe(lambda: calls.append(None))
    registry.load()
    write(folder, 'test_pattern.json', read(folder, 'test_pattern'))
    registry.load()
    assert len(calls) == 1
    (folder / 'test_pattern.json').unlink()
    registry.load()
    assert len(calls) == 2


async def test_watch_picks_up_added_edited_and_deleted_files(folder: Path) -> None:
    registry = WorkflowRegistry(folder)
    registry.load()
    watcher = asyncio.create_task(registry.watch(interval=0.02))
    try:
        data = read(folder, 'test_pattern')
        write(folder, 'test_pattern_2.json', {**data, 'id': 'test_pattern_2'})
        await registry.changed.emitted(timeout=5)
        assert registry.get('test_pattern_2') is not None

        write(folder, 'test_pattern_2.json', {**data, 'id': 'test_pattern_2', 'title': {'en': 'Edited'}})
        await registry.changed.emitted(timeout=5)
        workflow = registry.get('test_pattern_2')
        assert workflow is not None and workflow.title_for('en') == 'Edited'

        (folder / 'test_pattern_2.json').unlink()
        await registry.changed.emitted(timeout=5)
        assert registry.get('test_pattern_2') is None
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watcher


async def test_reload_keeps_server_checks_current(folder: Path, object_info: dict[str, Any]) -> None:
    registry = WorkflowRegistry(folder)
    registry.load()
    registry.validate_against('s', object_info)
    data = read(folder, 'test_pattern')
    data['graph']['3']['inputs']['filename_prefix'] = 5
    write(folder, 'test_pattern.json', data)
    await registry.reload()
    reason = "node '3' (SaveImage) input 'filename_prefix': 5 is not a string"
    assert registry.availability('test_pattern')['s'] == reason


def test_lora_workflow_applies_the_chosen_lora_or_bypasses_the_loader() -> None:
    registry = WorkflowRegistry(SHIPPED)
    registry.load()
    workflow = registry.get('sd15_lora_txt2img')
    assert workflow is not None and workflow.accepts('lora')
    with_lora = workflow.build(GenerateParams(prompt='x', lora='sub\\char_b.safetensors', lora_strength=0.5))
    assert with_lora['10']['inputs'] == {
        'lora_name': 'sub\\char_b.safetensors',
        'strength_model': 0.5,
        'strength_clip': 0.5,
        'model': ['4', 0],
        'clip': ['4', 1],
    }
    without = workflow.build(GenerateParams(prompt='x'))
    assert '10' not in without
    assert without['3']['inputs']['model'] == ['4', 0] and without['6']['inputs']['clip'] == ['4', 1]
    with pytest.raises(ParamError):
        registry.get('sd15_txt2img').check(GenerateParams(prompt='x', lora='style_a.safetensors'))


def test_a_workflow_that_does_not_use_the_prompt_runs_without_one(registry: WorkflowRegistry) -> None:
    pattern = registry.get('test_pattern')
    txt2img = registry.get('sd15_txt2img')
    assert pattern is not None and txt2img is not None
    checked = pattern.check(GenerateParams.model_validate({'seed': 3}))
    assert checked.prompt == pattern.defaults.prompt
    assert pattern.build(GenerateParams.model_validate({}))['1']['inputs']['batch_size'] == 1
    for params in ({}, {'prompt': '   '}):
        with pytest.raises(ParamError) as error:
            txt2img.check(GenerateParams.model_validate(params))
        assert error.value.field == 'prompt' and 'needs a prompt' in error.value.message


def test_accepted_suggestions_are_valid_params_and_stay_out_of_the_graph(registry: WorkflowRegistry) -> None:
    workflow = registry.get('sd15_txt2img')
    assert workflow is not None
    params = GenerateParams(
        prompt='a cabin',
        prompt_original='오두막',
        negative_prompt_original='흐림',
        llm_action='translate,negative:improve',
    )
    graph = workflow.build(params)
    assert '오두막' not in json.dumps(graph, ensure_ascii=False) and 'a cabin' in json.dumps(graph)


def test_a_workflow_may_give_the_prompt_helper_its_instruction(registry: WorkflowRegistry, folder: Path) -> None:
    shipped = registry.get('sd15_txt2img')
    assert shipped is not None and shipped.llm_instruction and 'Stable Diffusion 1.5' in shipped.llm_instruction
    plain = registry.get('test_pattern')
    assert plain is not None and plain.llm_instruction is None
    path = folder / 'test_pattern.json'
    data = json.loads(path.read_text(encoding='utf-8'))
    data['ui']['llm_instruction'] = 'x' * 2001
    path.write_text(json.dumps(data), encoding='utf-8')
    too_long = WorkflowRegistry(folder)
    too_long.load()
    assert too_long.get('test_pattern') is None
    assert any('llm_instruction' in p.reason for p in too_long.problems)
