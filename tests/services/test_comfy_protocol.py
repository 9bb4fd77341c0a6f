"""The ComfyUI wire contract: both combo spellings of /object_info, and the frames the simulator sends."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import USER_A, make_settings, services, simulator, wait_for
from vcc_ui.services.comfy.messages import PreviewImage, PreviewImageWithMetadata, parse_binary
from vcc_ui.services.comfy.protocol import (
    combo_options,
    combo_values,
    history_path,
    input_spec,
    lora_names,
    object_info_path,
    preview_frame,
    preview_frame_with_metadata,
    set_combo_options,
    ws_path,
)

LORA_WORKFLOW = 'sd15_lora_txt2img'
OLD = {
    'LoraLoader': {
        'input': {
            'required': {'model': ['MODEL'], 'lora_name': [['a.safetensors', 'sub\\b.safetensors'], {'tooltip': 'x'}]},
            'optional': {'mode': [['fast', 'slow']]},
        }
    }
}
NEW = {
    'LoraLoader': {
        'input': {
            'required': {
                'model': ['MODEL'],
                'lora_name': ['COMBO', {'options': ['a.safetensors', 'sub\\b.safetensors'], 'tooltip': 'x'}],
            },
            'optional': {'mode': ['COMBO', {'options': ['fast', 'slow']}]},
        }
    }
}


def as_combo(object_info: dict[str, Any]) -> dict[str, Any]:
    """Return object_info with LoraLoader's list spelled like newer ComfyUI: ["COMBO", {"options": [...]}]."""
    info = copy.deepcopy(object_info)
    spec = info['LoraLoader']['input']['required']['lora_name']
    info['LoraLoader']['input']['required']['lora_name'] = ['COMBO', {**spec[1], 'options': spec[0]}]
    return info


@pytest.mark.parametrize('object_info', [OLD, NEW], ids=['list', 'COMBO'])
def test_both_combo_spellings_read_the_same(object_info: dict[str, Any]) -> None:
    assert lora_names(object_info) == ['a.safetensors', 'sub\\b.safetensors']
    assert combo_values(object_info, 'LoraLoader', 'mode') == ['fast', 'slow']
    assert combo_values(object_info, 'LoraLoader', 'model') is None
    assert combo_values(object_info, 'CheckpointLoaderSimple', 'ckpt_name') is None
    assert input_spec(object_info, 'LoraLoader', 'model') == ['MODEL']
    assert input_spec(object_info, 'LoraLoader', 'strength') is None


def test_no_lora_loader_lists_no_loras() -> None:
    assert lora_names({}) == []
    assert lora_names({'LoraLoader': {'input': {'required': {'lora_name': ['COMBO', {}]}}}}) == []
    assert combo_options(['COMBO']) is None and combo_options(['INT', {'min': 0}]) is None


def test_setting_combo_options_keeps_the_spelling() -> None:
    old, new = ['x'.split(), {'tooltip': 't'}], ['COMBO', {'options': ['x'], 'tooltip': 't'}]
    set_combo_options(old, ['y', 'z'])
    set_combo_options(new, ['y', 'z'])
    assert old == [['y', 'z'], {'tooltip': 't'}]
    assert new == ['COMBO', {'options': ['y', 'z'], 'tooltip': 't'}]


def test_paths_quote_their_parameters() -> None:
    assert ws_path('vcc a/b') == '/ws?clientId=vcc%20a%2Fb'
    assert history_path('1f/2') == '/history/1f%2F2'
    assert object_info_path() == '/object_info'
    assert object_info_path('Lora Loader') == '/object_info/Lora%20Loader'


def test_preview_frames_parse_back() -> None:
    legacy = parse_binary(preview_frame(b'jpeg bytes'))
    assert isinstance(legacy, PreviewImage) and (legacy.image_type, legacy.data) == ('image/jpeg', b'jpeg bytes')
    meta = {'image_type': 'image/png', 'prompt_id': 'p1', 'node_id': '9'}
    framed = parse_binary(preview_frame_with_metadata(b'png bytes', meta))
    assert isinstance(framed, PreviewImageWithMetadata)
    assert (framed.prompt_id, framed.node_id, framed.image_type, framed.data) == ('p1', '9', 'image/png', b'png bytes')


async def test_a_combo_spelled_lora_loader_offers_the_same_loras_to_the_picker_and_to_submit(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        entry = next(iter(app.pool.entries.values()))
        await wait_for(lambda: bool(entry.object_info))
        listed = lora_names(entry.object_info)
        entry.object_info = as_combo(entry.object_info)  # what a newer ComfyUI answers
        assert entry.object_info['LoraLoader']['input']['required']['lora_name'][0] == 'COMBO'

        offered = app.pool.loras_for(LORA_WORKFLOW)  # what the Generate page's LoRA picker lists
        assert offered == listed == sorted(sim.loras)
        views = [
            await app.jobs.submit(USER_A, LORA_WORKFLOW, {'prompt': 'a fox', 'lora': name, 'steps': 1})
            for name in offered
        ]
        await wait_for(lambda: all(view.finished for view in views))
        assert [view.status for view in views] == ['completed'] * len(offered), [view.error for view in views]
        assert [view.params['lora'] for view in views] == offered
