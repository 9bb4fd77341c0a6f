"""Save format -> API format: the shipped workflows written in the frontend's save format convert back to them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.samples import FIXTURES, load_sample
from vcc_ui.services.workflow_convert import AppInput, ConvertError, convert, is_save_format

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(path.stem for path in (ROOT / 'workflows').glob('*.json'))
UI = FIXTURES / 'workflows_ui'


@pytest.fixture(scope='module')
def object_info() -> dict[str, Any]:
    """The real ComfyUI catalogue the fixtures were laid out with."""
    return load_sample('GET_object_info_FULL')


def ui_file(name: str) -> dict[str, Any]:
    return json.loads((UI / name).read_text(encoding='utf-8'))


def api_graph(workflow_id: str) -> dict[str, Any]:
    """The shipped graph without `_meta` (titles are not part of what runs)."""
    graph = json.loads((ROOT / 'workflows' / f'{workflow_id}.json').read_text(encoding='utf-8'))['graph']
    return {node_id: {'class_type': n['class_type'], 'inputs': n['inputs']} for node_id, n in graph.items()}


def runnable(graph: dict[str, Any]) -> dict[str, Any]:
    return {node_id: {'class_type': n['class_type'], 'inputs': n['inputs']} for node_id, n in graph.items()}


def test_every_shipped_workflow_has_its_save_format_fixtures() -> None:
    assert SHIPPED == ['sd15_img2img', 'sd15_lora_txt2img', 'sd15_txt2img', 'test_pattern', 'upscale']
    for workflow_id in SHIPPED:
        assert is_save_format(ui_file(f'{workflow_id}.json')) and is_save_format(ui_file(f'{workflow_id}.app.json'))
    assert not is_save_format({'3': {'class_type': 'KSampler', 'inputs': {}}})


@pytest.mark.parametrize('workflow_id', SHIPPED)
def test_a_shipped_workflow_in_save_format_converts_back_to_its_api_graph(
    workflow_id: str, object_info: dict[str, Any]
) -> None:
    result = convert(ui_file(f'{workflow_id}.json'), object_info)
    assert runnable(result.graph) == api_graph(workflow_id)
    assert result.app_inputs == [] and result.app_outputs == [] and result.notes == []


@pytest.mark.parametrize('workflow_id', SHIPPED)
def test_app_mode_inputs_and_outputs_come_from_extra_linear_data(workflow_id: str, object_info: dict[str, Any]) -> None:
    shipped = json.loads((ROOT / 'workflows' / f'{workflow_id}.json').read_text(encoding='utf-8'))
    result = convert(ui_file(f'{workflow_id}.app.json'), object_info)
    assert runnable(result.graph) == api_graph(workflow_id)
    bound = [
        AppInput(node=t['node'], input=t['input'])
        for targets in shipped['bindings'].values()
        for t in (targets if isinstance(targets, list) else [targets])
    ]
    assert result.app_inputs == bound  # both id spellings: node ids and graphId:nodeId:name widget ids
    assert result.app_outputs == [k for k, n in shipped['graph'].items() if n['class_type'] == 'SaveImage']
    assert result.notes == []


def test_notes_reroutes_primitives_bypass_and_mute(object_info: dict[str, Any]) -> None:
    result = convert(ui_file('special_nodes.json'), object_info)
    expected = api_graph('test_pattern')
    expected['24'] = {'class_type': 'PreviewImage', 'inputs': {}}  # fed by the muted blur: the link is gone
    assert runnable(result.graph) == expected  # the primitive's 512 beats EmptyImage's own 640
    assert result.graph['1']['_meta'] == {'title': 'Solid color'}
    assert result.notes == [
        "node '22' (ImageScaleBy) is bypassed: its inputs pass through",
        "node '23' (ImageBlur) is muted and was left out",
        "node '24' (PreviewImage) loses its input 'images': node '23' (ImageBlur) is muted",
    ]


def test_a_bypassed_node_passes_on_the_input_of_the_matching_type(object_info: dict[str, Any]) -> None:
    data = ui_file('sd15_lora_txt2img.json')
    lora = next(n for n in data['nodes'] if n['type'] == 'LoraLoader')
    lora['mode'] = 4
    graph = convert(data, object_info).graph
    assert '10' not in graph
    assert graph['3']['inputs']['model'] == ['4', 0]  # LoraLoader's MODEL output -> its model input
    assert graph['6']['inputs']['clip'] == ['4', 1] and graph['7']['inputs']['clip'] == ['4', 1]


def test_widget_values_missing_at_the_end_take_the_server_default(object_info: dict[str, Any]) -> None:
    data = ui_file('sd15_txt2img.json')
    save = next(n for n in data['nodes'] if n['type'] == 'SaveImage')
    del save['widgets_values']  # the frontend's own default graph saves SaveImage so
    ksampler = next(n for n in data['nodes'] if n['type'] == 'KSampler')
    ksampler['widgets_values'][1] = True  # old files keep a boolean where "fixed"/"randomize" is now
    graph = convert(data, object_info).graph
    assert graph['9']['inputs']['filename_prefix'] == 'ComfyUI'
    assert graph['3']['inputs']['steps'] == 20 and graph['3']['inputs']['cfg'] == 7.0


def test_a_widget_input_linked_to_a_muted_node_keeps_its_own_value(object_info: dict[str, Any]) -> None:
    data = ui_file('special_nodes.json')
    next(n for n in data['nodes'] if n['id'] == 20)['type'] = 'PrimitiveInt'  # a real node now, then muted
    next(n for n in data['nodes'] if n['id'] == 20)['mode'] = 2
    result = convert(data, object_info)
    assert result.graph['1']['inputs']['width'] == 640
    assert (
        "node '1' (EmptyImage, 'Solid color') keeps its own 'width' value: node '20' (PrimitiveInt, 'Width')"
        in (result.notes[1])
    )


@pytest.mark.parametrize(
    ('change', 'reason'),
    [
        (lambda d: d.update(definitions={'subgraphs': [{'id': 'x'}]}), 'subgraphs'),
        (lambda d: d['extra'].update(groupNodes={'g': {}}), 'group nodes'),
        (lambda d: d['nodes'][0].update(type='NoSuchNode'), 'the server does not have this node'),
        (lambda d: d.update(links=['broken']), 'a link is neither'),
        (lambda d: [n.update(mode=2) for n in d['nodes']], 'nothing is left to run'),
    ],
)
def test_what_cannot_be_converted_says_why(change: Any, reason: str, object_info: dict[str, Any]) -> None:
    data = copy.deepcopy(ui_file('test_pattern.json'))
    change(data)
    with pytest.raises(ConvertError, match=reason):
        convert(data, object_info)


def test_app_mode_entries_that_name_nothing_are_reported(object_info: dict[str, Any]) -> None:
    data = ui_file('test_pattern.app.json')
    data['extra']['linearData'] = {
        'inputs': [['99', 'width'], ['1', 'nope'], [True, 'x'], ['1', 'height']],
        'outputs': [7],
    }
    result = convert(data, object_info)
    assert result.app_inputs == [AppInput(node='1', input='height')]
    assert result.app_outputs == []
    assert len(result.notes) == 4


def test_an_app_mode_input_on_a_primitive_node_exposes_what_the_primitive_sets(object_info: dict[str, Any]) -> None:
    data = ui_file('special_nodes.json')
    data['extra']['linearData'] = {'inputs': [[20, 'value'], [1, 'height']], 'outputs': [3]}
    result = convert(data, object_info)
    assert result.app_inputs == [AppInput(node='1', input='width'), AppInput(node='1', input='height')]
    assert result.app_outputs == ['3']
