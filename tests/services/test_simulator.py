"""The ComfyUI simulator answers like the captured real ComfyUI 0.3.64 (real loopback HTTP + WS)."""

from __future__ import annotations

import asyncio
import io
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from PIL import Image

from tests.samples import load_sample
from vcc_ui.simulator import Simulator
from vcc_ui.simulator.images import caption

CLIENT = 'probe-43f0b69f'  # the client id the samples were captured with


def sample(name: str) -> dict[str, Any]:
    """Load one captured sample."""
    return load_sample(name)


def assert_same_shape(real: Any, ours: Any, path: str = '$') -> None:
    """Assert same keys recursively; values (ids, numbers, timestamps, names) may differ."""
    if isinstance(real, dict):
        assert isinstance(ours, dict), f'{path}: expected object, got {ours!r}'
        assert set(real) == set(ours), f'{path}: keys {sorted(real)} != {sorted(ours)}'
        for key in real:
            assert_same_shape(real[key], ours[key], f'{path}.{key}')
    elif isinstance(real, list):
        assert isinstance(ours, list), f'{path}: expected list, got {ours!r}'
        for i, (a, b) in enumerate(zip(real, ours, strict=False)):
            assert_same_shape(a, b, f'{path}[{i}]')
    else:
        assert not isinstance(ours, (dict, list)), f'{path}: expected scalar, got {ours!r}'
        assert (real is None) == (ours is None), f'{path}: {real!r} vs {ours!r}'


def sample_types(name: str) -> list[str]:
    """Return a WS sample's message kinds ('status', 'bin1', ...)."""
    messages = [m['msg'] for m in sample(name)['messages']]
    return [m['type'] if 'type' in m else f'bin{m["event_type"]}' for m in messages]


def without_graphs(queue: dict[str, Any]) -> dict[str, Any]:
    """Blank the graphs of /queue items (the samples ran other graphs)."""
    return {key: [[*item[:2], {}, *item[3:]] for item in items] for key, items in queue.items()}


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (16, 16)) -> bytes:
    """Return a small PNG."""
    buffer = io.BytesIO()
    Image.new('RGB', size, color).save(buffer, format='PNG')
    return buffer.getvalue()


def sampler_graph(*, steps: int = 3, width: int = 64, height: int = 48, seed: int = 1, prefix: str = 'sim') -> dict:
    """Return a txt2img graph with KSampler."""
    return {
        '1': {'class_type': 'CheckpointLoaderSimple', 'inputs': {'ckpt_name': 'sim_sd15.safetensors'}},
        '2': {'class_type': 'CLIPTextEncode', 'inputs': {'clip': ['1', 1], 'text': 'a red fox'}},
        '3': {'class_type': 'EmptyLatentImage', 'inputs': {'width': width, 'height': height, 'batch_size': 1}},
        '4': {
            'class_type': 'KSampler',
            'inputs': {
                'model': ['1', 0],
                'positive': ['2', 0],
                'negative': ['2', 0],
                'latent_image': ['3', 0],
                'seed': seed,
                'steps': steps,
                'cfg': 7.0,
                'sampler_name': 'euler',
                'scheduler': 'normal',
                'denoise': 1.0,
            },
        },
        '5': {'class_type': 'VAEDecode', 'inputs': {'samples': ['4', 0], 'vae': ['1', 2]}},
        '6': {'class_type': 'SaveImage', 'inputs': {'images': ['5', 0], 'filename_prefix': prefix}},
    }


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """A started simulator with fast steps."""
    simulator = Simulator(root=tmp_path / 'comfy')
    simulator.faults.step_delay = 0.005
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the simulator."""
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as client:
        yield client


def ws_url(sim: Simulator, client_id: str | None = CLIENT, prefix: str = '') -> str:
    """Return the WS URL for a client id."""
    query = f'?clientId={client_id}' if client_id else ''
    return sim.url.replace('http://', 'ws://') + f'{prefix}/ws{query}'


async def recv(ws: websockets.ClientConnection) -> tuple[str, Any]:
    """Receive one frame as (kind, data)."""
    frame = await asyncio.wait_for(ws.recv(), timeout=10)
    if isinstance(frame, bytes):
        return f'bin{struct.unpack(">I", frame[:4])[0]}', frame
    message = json.loads(frame)
    return message['type'], message['data']


async def until_done(ws: websockets.ClientConnection, prompt_id: str) -> list[tuple[str, Any]]:
    """Collect frames until `executing` null for prompt_id."""
    frames = []
    while True:
        kind, data = await recv(ws)
        frames.append((kind, data))
        if kind == 'executing' and data.get('node') is None and data.get('prompt_id') == prompt_id:
            return frames


async def wait_history(http: httpx.AsyncClient, prompt_id: str) -> dict[str, Any]:
    """Poll /history/{id} until the prompt finished."""
    for _ in range(500):
        body = (await http.get(f'/history/{prompt_id}')).json()
        if body:
            return body[prompt_id]
        await asyncio.sleep(0.01)
    raise AssertionError(f'{prompt_id} never finished')


async def submit(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """POST /prompt and return the prompt id."""
    response = await http.post('/prompt', json=body)
    assert response.status_code == 200, response.text
    return response.json()['prompt_id']


async def send_like(http: httpx.AsyncClient, request: dict[str, Any]) -> httpx.Response:
    """Send the request a sample recorded."""
    body = request.get('body')
    if isinstance(body, str):
        return await http.request(request['method'], request['url'], content=body.encode())
    if body is None:
        return await http.request(request['method'], request['url'])
    return await http.request(request['method'], request['url'], json=body)


def assert_like_sample(name: str, response: httpx.Response) -> None:
    """Compare status, content type and body shape with a sample."""
    expected = sample(name)
    assert response.status_code == expected['status'], response.text
    content_type = expected['headers'].get('content-type')
    if content_type is not None:
        assert response.headers.get('content-type') == content_type
    if 'body' in expected:
        assert_same_shape(expected['body'], response.json())
    elif 'body_text' in expected:
        assert response.text == expected['body_text']
    elif 'body_len' in expected and expected['body_len'] == 0:
        assert response.content == b''


async def prepare_inputs(sim: Simulator) -> None:
    """Create the input files some samples refer to."""
    (sim.root / 'input' / 'broken.png').write_bytes(b'this is not a png')
    (sim.root / 'input' / 'clients' / 'abc').mkdir(parents=True)
    (sim.root / 'input' / 'clients' / 'abc' / 'sub_up.png').write_bytes(png_bytes((1, 2, 3)))


PROMPT_SAMPLES = [
    'POST_prompt_invalid_link_to_missing_node',
    'POST_prompt_invalid_loadimage_missing_file',
    'POST_prompt_invalid_lora_name_not_in_list_and_bad_ckpt',
    'POST_prompt_invalid_missing_class_type',
    'POST_prompt_invalid_no_output_nodes',
    'POST_prompt_invalid_no_prompt_key',
    'POST_prompt_invalid_not_json',
    'POST_prompt_invalid_required_input_missing',
    'POST_prompt_invalid_return_type_mismatch',
    'POST_prompt_invalid_unknown_class_type',
    'POST_prompt_invalid_value_below_min',
    'POST_prompt_invalid_value_not_int',
    'POST_prompt_ok_save',
    'POST_prompt_ok_preview',
    'POST_prompt_with_caller_prompt_id',
    'POST_prompt_partially_valid_accepted_with_node_errors',
    'POST_prompt_partial_execution_targets',
    'POST_prompt_runtime_error_accepted',
    'POST_prompt_loadimage_subfolder_and_save_subfolder',
]


@pytest.mark.parametrize('name', PROMPT_SAMPLES)
async def test_post_prompt_like_sample(name: str, sim: Simulator, http: httpx.AsyncClient) -> None:
    await prepare_inputs(sim)
    response = await send_like(http, sample(name)['request'])
    assert_like_sample(name, response)
    if name == 'POST_prompt_with_caller_prompt_id':
        assert response.json()['prompt_id'] == 'my-own-id-881c5a'


async def test_rejected_prompts_count_and_error_details(http: httpx.AsyncClient) -> None:
    bad = sample('POST_prompt_invalid_lora_name_not_in_list_and_bad_ckpt')['request']['body']
    first = await http.post('/prompt', json=bad)
    errors = first.json()['node_errors']
    assert set(errors) == {'1', '2'}
    assert errors['2']['errors'][0]['details'] == (
        "lora_name: 'nope.safetensors' not in ['Zeta_Detail.safetensors', 'style_a.safetensors', "
        "'sub/char_b.safetensors']"
    )
    assert errors['2']['dependent_outputs'] == ['7']
    bad['prompt']['1']['inputs']['ckpt_name'] = 'sim_sd15.safetensors'
    bad['prompt']['2']['inputs']['lora_name'] = 'style_a.safetensors'
    bad['prompt']['5']['inputs']['sampler_name'] = 'nope'
    bad['prompt']['5']['inputs']['cfg'] = 1000
    long_list = (await http.post('/prompt', json=bad)).json()['node_errors']['5']['errors']
    assert [e['type'] for e in long_list] == ['value_bigger_than_max', 'value_not_in_list']
    assert long_list[1]['extra_info']['input_config'] is None
    assert long_list[1]['details'].startswith("sampler_name: 'nope' not in (list of length ")
    ok = await http.post('/prompt', json=sample('POST_prompt_ok_save')['request']['body'])
    assert ok.json()['number'] == 2


GET_SAMPLES = [
    'GET_queue_idle',
    'GET_object_info_unknown_node',
    'GET_history_empty_unknown_id',
    'GET_prompt_queue_info',
    'GET_features',
    'GET_embeddings',
    'GET_models',
    'GET_models_loras',
    'GET_models_unknown_folder',
    'GET_system_stats',
    'GET_api_prefix_system_stats',
    'GET_object_info_LoraLoader',
    'GET_api_prefix_object_info_LoraLoader',
    'GET_object_info_LoraLoaderModelOnly',
    'GET_internal_folder_paths',
    'GET_api_internal_folder_paths_404',
    'GET_view_bad_type_400',
    'GET_view_dotdot_400',
    'GET_view_missing_404',
    'POST_free',
    'POST_interrupt_global',
    'POST_interrupt_wrong_prompt_id_ignored',
    'POST_queue_clear',
    'POST_queue_delete',
    'POST_history_delete',
    'GET_history_after_delete',
]


@pytest.mark.parametrize('name', GET_SAMPLES)
async def test_simple_route_like_sample(name: str, http: httpx.AsyncClient) -> None:
    response = await send_like(http, sample(name)['request'])
    assert_like_sample(name, response)
    if name in ('GET_object_info_LoraLoader', 'GET_models_loras', 'GET_features'):
        assert response.json() == sample(name)['body']


async def test_object_info_lists_follow_files_and_settings(sim: Simulator, http: httpx.AsyncClient) -> None:
    (sim.root / 'input' / 'b.png').write_bytes(png_bytes((0, 0, 0)))
    (sim.root / 'input' / 'a.png').write_bytes(png_bytes((0, 0, 0)))
    (sim.root / 'input' / 'sub').mkdir()
    info = (await http.get('/object_info/LoadImage')).json()
    assert_same_shape(sample('GET_object_info_LoadImage_after_uploads')['body'], info)
    assert info['LoadImage']['input']['required']['image'][0] == ['a.png', 'b.png']
    sim.loras.append('new_c.safetensors')
    assert 'new_c.safetensors' in (await http.get('/models/loras')).json()
    everything = (await http.get('/api/object_info')).json()
    assert {'KSampler', 'SaveImage', 'EmptyImage', 'LoadImage'} <= set(everything)
    assert everything['CheckpointLoaderSimple']['input']['required']['ckpt_name'][0] == sim.checkpoints


async def test_history_shapes_and_view_like_samples(sim: Simulator, http: httpx.AsyncClient) -> None:
    async with websockets.connect(ws_url(sim)) as ws:
        await recv(ws)
        saved = await submit(http, sample('POST_prompt_ok_save')['request']['body'])
        await until_done(ws, saved)
        preview = await submit(http, sample('POST_prompt_ok_preview')['request']['body'])
        await until_done(ws, preview)
    saved_entry = (await http.get(f'/history/{saved}')).json()
    assert_same_shape(next(iter(sample('GET_history_by_id_save')['body'].values())), saved_entry[saved])
    assert saved_entry[saved]['outputs']['3']['images'][0]['filename'] == 'probe_save_00001_.png'
    preview_entry = await wait_history(http, preview)
    assert_same_shape(next(iter(sample('GET_history_by_id_preview')['body'].values())), preview_entry)
    for name in (
        'GET_view_output_png',
        'GET_view_annotated_filename',
        'GET_view_output_channel_rgb',
        'GET_view_output_preview_webp',
    ):
        response = await send_like(http, sample(name)['request'])
        assert_like_sample(name, response)
        assert response.headers['content-disposition'] == 'filename="probe_save_00001_.png"'
    temp_name = preview_entry['outputs']['2']['images'][0]['filename']
    temp = await http.get('/view', params={'filename': temp_name, 'subfolder': '', 'type': 'temp'})
    assert temp.status_code == 200 and temp.headers['content-type'] == 'image/png'
    jpeg = await http.get('/view', params={'filename': 'probe_save_00001_.png', 'preview': 'jpeg;80'})
    assert jpeg.headers['content-type'] == 'image/jpeg'
    escape = await http.get('/view', params={'filename': 'x.png', 'subfolder': '../../etc'})
    assert escape.status_code == 403 and escape.content == b''
    assert (await http.get('/view', params={'filename': '/etc/passwd'})).status_code == 400
    last_two = (await http.get('/history', params={'max_items': 2})).json()
    assert list(last_two) == [saved, preview]
    assert list((await http.get('/history', params={'max_items': 1})).json()) == [preview]
    real_last_two = sample('GET_history_max_items_2')['body']
    keys = ('outputs', 'status', 'meta')
    assert_same_shape({k: next(iter(real_last_two.values()))[k] for k in keys}, {k: last_two[saved][k] for k in keys})


async def test_upload_image_like_samples(sim: Simulator, http: httpx.AsyncClient) -> None:
    first, other = png_bytes((255, 0, 0)), png_bytes((0, 255, 0))
    steps = [
        ('POST_upload_image_first', {'image': ('probe_upload.png', first)}, {}, 'probe_upload.png'),
        ('POST_upload_image_same_bytes_again', {'image': ('probe_upload.png', first)}, {}, 'probe_upload.png'),
        (
            'POST_upload_image_same_name_different_bytes',
            {'image': ('probe_upload.png', other)},
            {},
            'probe_upload (1).png',
        ),
        (
            'POST_upload_image_overwrite_true',
            {'image': ('probe_upload.png', other)},
            {'overwrite': 'true'},
            'probe_upload.png',
        ),
        (
            'POST_upload_image_subfolder',
            {'image': ('sub_up.png', first)},
            {'subfolder': 'clients/abc', 'type': 'input'},
            'sub_up.png',
        ),
        ('POST_upload_image_type_temp', {'image': ('tmp_up.png', first)}, {'type': 'temp'}, 'tmp_up.png'),
        ('POST_upload_image_broken_png', {'image': ('broken.png', b'garbage')}, {'overwrite': 'true'}, 'broken.png'),
        ('POST_upload_image_no_file_400', None, {'overwrite': 'true'}, None),
        ('POST_upload_image_traversal_400', {'image': ('x.png', first)}, {'subfolder': '../../x'}, None),
    ]
    for name, files, data, expected_name in steps:
        response = (
            await http.post('/upload/image', files=files, data=data)
            if files
            else await http.post('/upload/image', files={'other': ('a.txt', b'x')}, data=data)
        )
        assert_like_sample(name, response)
        if expected_name is not None:
            assert response.json()['name'] == expected_name
    assert (sim.root / 'input' / 'probe_upload.png').read_bytes() == other
    assert (sim.root / 'input' / 'clients' / 'abc' / 'sub_up.png').is_file()
    assert (sim.root / 'temp' / 'tmp_up.png').is_file()
    listing = (await http.get('/object_info/LoadImage')).json()['LoadImage']['input']['required']['image'][0]
    assert listing == ['broken.png', 'probe_upload (1).png', 'probe_upload.png']


async def test_ws_sequence_save_fresh_then_fully_cached(sim: Simulator, http: httpx.AsyncClient) -> None:
    request = sample('POST_prompt_ok_save')['request']['body']
    async with websockets.connect(ws_url(sim)) as ws:
        first = [await recv(ws)]
        prompt_id = await submit(http, request)
        first += await until_done(ws, prompt_id)
        assert [kind for kind, _ in first] == sample_types('WS_sequence_save_fresh')
        again = await submit(http, request)
        cached = await until_done(ws, again)
    assert [kind for kind, _ in cached] == sample_types('WS_sequence_save_fully_cached')
    assert dict(cached)['execution_cached']['nodes'] == ['1', '2', '3']
    assert dict(cached)['executed']['output'] == dict(first)['executed']['output']
    assert sorted(p.name for p in (sim.root / 'output').iterdir()) == ['probe_save_00001_.png']
    history = await wait_history(http, again)
    assert_same_shape(next(iter(sample('GET_history_by_id_fully_cached')['body'].values())), history)


async def test_ws_sequences_preview_and_runtime_error(sim: Simulator, http: httpx.AsyncClient) -> None:
    await prepare_inputs(sim)
    async with websockets.connect(ws_url(sim, prefix='/api')) as ws:
        _, hello = await recv(ws)
        assert_same_shape(sample('WS_api_prefix_alias_first_message')['first_message']['data'], hello)
        preview = await submit(http, sample('POST_prompt_ok_preview')['request']['body'])
        assert [k for k, _ in await until_done(ws, preview)] == sample_types('WS_sequence_preview_image')
        failing = await submit(http, sample('POST_prompt_runtime_error_accepted')['request']['body'])
        frames = await until_done(ws, failing)
    assert [k for k, _ in frames] == sample_types('WS_sequence_runtime_execution_error')[1:]
    real_error = next(
        m['msg']['data']
        for m in sample('WS_sequence_runtime_execution_error')['messages']
        if m['msg'].get('type') == 'execution_error'
    )
    assert_same_shape(real_error, dict(frames)['execution_error'])
    assert dict(frames)['execution_error']['exception_type'] == 'PIL.UnidentifiedImageError'
    history = await wait_history(http, failing)
    assert_same_shape(next(iter(sample('GET_history_by_id_execution_error')['body'].values())), history)


async def test_progress_previews_legacy_and_with_metadata(sim: Simulator, http: httpx.AsyncClient) -> None:
    async with websockets.connect(ws_url(sim, 'legacy')) as legacy, websockets.connect(ws_url(sim, 'meta')) as meta:
        await recv(legacy)
        await recv(meta)
        await meta.send(json.dumps({'type': 'feature_flags', 'data': {'supports_preview_metadata': True}}))
        kind, flags = await recv(meta)
        assert (kind, flags) == ('feature_flags', {'supports_preview_metadata': True, 'max_upload_size': 104857600})
        one = await submit(http, {'prompt': sampler_graph(steps=3, seed=1), 'client_id': 'legacy'})
        legacy_frames = await until_done(legacy, one)
        two = await submit(http, {'prompt': sampler_graph(steps=3, seed=2), 'client_id': 'meta'})
        meta_frames = await until_done(meta, two)
    legacy_kinds = [k for k, _ in legacy_frames]
    start = next(i for i, (k, d) in enumerate(legacy_frames) if k == 'executing' and d['node'] == '4')
    assert legacy_kinds[start : start + 10] == ['executing'] + ['progress_state', 'progress', 'bin1'] * 3
    frame = next(data for kind, data in legacy_frames if kind == 'bin1')
    assert frame[4:8] == b'\x00\x00\x00\x01'
    assert Image.open(io.BytesIO(frame[8:])).size == (512, 384)
    meta_kinds = [k for k, _ in meta_frames]
    assert meta_kinds.count('bin4') == 3 and 'bin1' not in meta_kinds
    i = meta_kinds.index('bin4')
    assert meta_kinds[i - 1 : i + 2] == ['progress_state', 'bin4', 'progress']
    frame = next(data for kind, data in meta_frames if kind == 'bin4')
    size = struct.unpack('>I', frame[4:8])[0]
    metadata = json.loads(frame[8 : 8 + size])
    real_frame = next(
        m['msg']
        for m in sample('WS_feature_flags_client_preview_metadata')['messages']
        if m['msg'].get('event_type') == 4
    )
    assert_same_shape(real_frame['metadata'], metadata)
    assert metadata['prompt_id'] == two and metadata['node_id'] == '4'
    assert frame[8 + size : 10 + size] == b'\xff\xd8'
    progress = [data for kind, data in meta_frames if kind == 'progress']
    assert [(p['value'], p['max'], p['node']) for p in progress] == [(1, 3, '4'), (2, 3, '4'), (3, 3, '4')]


async def test_targeted_interrupt_only_hits_the_running_prompt(sim: Simulator, http: httpx.AsyncClient) -> None:
    sim.faults.step_delay = 0.02
    async with websockets.connect(ws_url(sim)) as ws:
        await recv(ws)
        prompt_id = await submit(http, {'prompt': sampler_graph(steps=400), 'client_id': CLIENT})
        pending = await submit(http, {'prompt': sampler_graph(steps=1, seed=9), 'client_id': CLIENT})
        front = await http.post(
            '/prompt', json={'prompt': sampler_graph(steps=1, seed=8), 'front': True, 'client_id': CLIENT}
        )
        assert front.json()['number'] == -2
        queue = (await http.get('/queue')).json()
        assert_same_shape(without_graphs(sample('GET_queue_running_and_pending')['body']), without_graphs(queue))
        assert sorted(item[0] for item in queue['queue_pending']) == [-2, 1]
        assert (await http.get('/prompt')).json() == {'exec_info': {'queue_remaining': 3}}
        await http.post('/queue', json={'delete': [pending, front.json()['prompt_id']]})
        assert (await http.get('/queue')).json()['queue_pending'] == []
        while (await recv(ws))[0] != 'progress':
            pass
        wrong = await http.post('/interrupt', json={'prompt_id': 'not-the-running-one'})
        assert wrong.status_code == 200 and wrong.content == b''
        for _ in range(3):
            while (await recv(ws))[0] != 'progress':
                pass
        assert sim.running_prompt_id == prompt_id
        await http.post('/interrupt', json={'prompt_id': prompt_id})
        frames = await until_done(ws, prompt_id)
    kinds = [k for k, _ in frames]
    assert kinds[-3:] == ['execution_interrupted', 'status', 'executing']
    assert dict(frames)['execution_interrupted']['node_id'] == '4'
    history = await wait_history(http, prompt_id)
    real = next(iter(sample('GET_history_by_id_interrupted')['body'].values()))
    assert_same_shape(
        {k: real[k] for k in ('outputs', 'status', 'meta')}, {k: history[k] for k in ('outputs', 'status', 'meta')}
    )
    assert history['status']['status_str'] == 'error' and history['status']['completed'] is False


async def test_global_interrupt_and_fail_next_knob(sim: Simulator, http: httpx.AsyncClient) -> None:
    sim.faults.step_delay = 0.02
    async with websockets.connect(ws_url(sim)) as ws:
        await recv(ws)
        prompt_id = await submit(http, {'prompt': sampler_graph(steps=400), 'client_id': CLIENT})
        while (await recv(ws))[0] != 'progress':
            pass
        await http.post('/interrupt')
        assert [k for k, _ in await until_done(ws, prompt_id)][-3:] == ['execution_interrupted', 'status', 'executing']
        sim.faults.fail_next = 1
        failing = await submit(http, {'prompt': sampler_graph(steps=2, seed=5), 'client_id': CLIENT})
        frames = await until_done(ws, failing)
        assert [k for k, _ in frames][-4:] == ['executing', 'execution_error', 'status', 'executing']
        error = dict(frames)['execution_error']
        assert (error['node_id'], error['node_type'], error['exception_message']) == (
            '4',
            'KSampler',
            sim.faults.fail_message,
        )
        assert (await wait_history(http, failing))['status']['status_str'] == 'error'
        assert sim.faults.fail_next == 0
        fine = await submit(http, {'prompt': sampler_graph(steps=2, seed=5), 'client_id': CLIENT})
        assert 'execution_success' in [k for k, _ in await until_done(ws, fine)]


async def test_drop_ws_knob_and_reconnect_mid_run(sim: Simulator, http: httpx.AsyncClient) -> None:
    sim.faults.step_delay = 0.02
    sim.faults.drop_ws_after_steps = 2
    async with websockets.connect(ws_url(sim)) as ws:
        await recv(ws)
        prompt_id = await submit(http, {'prompt': sampler_graph(steps=400), 'client_id': CLIENT})
        seen = []
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                seen.append((await recv(ws))[0])
    assert seen.count('progress') == 2
    assert sim.faults.drop_ws_after_steps is None
    async with websockets.connect(ws_url(sim)) as ws:
        kind, status = await recv(ws)
        assert kind == 'status' and status['sid'] == CLIENT
        assert await recv(ws) == ('executing', {'node': '4'})
        assert (await recv(ws))[0] == 'progress_state'
        await http.post('/interrupt', json={'prompt_id': prompt_id})
        await until_done(ws, prompt_id)


async def test_go_down_and_come_back(sim: Simulator, http: httpx.AsyncClient) -> None:
    port = sim.port
    prompt_id = await submit(http, sample('POST_prompt_ok_save')['request']['body'])
    await wait_history(http, prompt_id)
    async with websockets.connect(ws_url(sim)) as ws:
        await recv(ws)
        await sim.go_down()
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)
    with pytest.raises(httpx.ConnectError):
        await http.get('/queue')
    await sim.come_back()
    assert sim.port == port
    assert (await http.get('/history')).json() == {}
    again = await http.post('/prompt', json=sample('POST_prompt_ok_save')['request']['body'])
    assert again.json()['number'] == 0
    await wait_history(http, again.json()['prompt_id'])
    assert (sim.root / 'output' / 'probe_save_00002_.png').is_file()


async def test_duplicate_client_id_trap(sim: Simulator, http: httpx.AsyncClient) -> None:
    older = await websockets.connect(ws_url(sim, 'dup'))
    async with websockets.connect(ws_url(sim, 'dup')) as newer:
        await recv(older)
        await recv(newer)
        first = await submit(http, {'prompt': sampler_graph(steps=1, seed=11), 'client_id': 'dup'})
        assert [k for k, _ in await until_done(newer, first)][-1] == 'executing'
        await older.close()
        for _ in range(100):
            if 'dup' not in sim.client_ids:
                break
            await asyncio.sleep(0.01)
        assert 'dup' not in sim.client_ids
        second = await submit(http, {'prompt': sampler_graph(steps=1, seed=12), 'client_id': 'dup'})
        await wait_history(http, second)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(newer.recv(), timeout=0.3)


async def test_no_client_id_gets_no_execution_events(sim: Simulator, http: httpx.AsyncClient) -> None:
    async with websockets.connect(ws_url(sim, None)) as observer:
        kind, hello = await recv(observer)
        assert kind == 'status' and len(hello['sid']) == 32
        await observer.send(json.dumps({'type': 'feature_flags', 'data': {'supports_preview_metadata': True}}))
        assert (await recv(observer))[0] == 'feature_flags'
        prompt_id = await submit(http, {'prompt': sampler_graph(steps=2)})
        kinds = []
        while True:
            kind, data = await recv(observer)
            kinds.append(kind)
            if kind == 'status' and data['status']['exec_info']['queue_remaining'] == 0:
                break
    assert set(kinds) == {'status', 'progress_state', 'progress', 'bin1'}
    assert kinds.count('bin1') == 2
    assert (await wait_history(http, prompt_id))['prompt'][3] == {}


async def test_origin_check(sim: Simulator, http: httpx.AsyncClient) -> None:
    body = sample('POST_prompt_ok_save')['request']['body']
    foreign = await http.post('/prompt', json=body, headers={'Origin': 'http://evil.example'})
    assert_like_sample('POST_prompt_foreign_origin_403', foreign)
    localhost = await http.get('/queue', headers={'Origin': f'http://localhost:{sim.port}'})
    assert localhost.status_code == 403
    same = await http.get('/queue', headers={'Origin': sim.url})
    assert same.status_code == 200
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(ws_url(sim), origin='http://evil.example')
    assert info.value.response.status_code == 403
    assert sim.prompts_received == 0


async def test_fault_control_route(sim: Simulator, http: httpx.AsyncClient) -> None:
    response = await http.post('/sim/faults', json={'fail_next': 2, 'step_delay': 0.0})
    assert response.json()['fail_next'] == 2
    assert sim.faults.fail_next == 2 and sim.faults.step_delay == 0.0
    assert (await http.get('/sim/faults')).json()['fail_next'] == 2
    assert (await http.post('/sim/faults', json={'nope': 1})).status_code == 400
    await http.post('/sim/faults', json={'refuse': True})
    with pytest.raises(httpx.TransportError):
        await http.get('/queue')
    await http.post('/sim/faults', json={'refuse': False})
    assert (await http.get('/queue')).status_code == 200


async def test_img2img_and_model_free_graphs_write_real_pngs(sim: Simulator, http: httpx.AsyncClient) -> None:
    (sim.root / 'input' / 'src.png').write_bytes(png_bytes((10, 200, 30), (40, 24)))
    graph = sampler_graph(steps=1, prefix='out/img2img')
    graph['7'] = {'class_type': 'LoadImage', 'inputs': {'image': 'src.png'}}
    graph['8'] = {
        'class_type': 'ImageScale',
        'inputs': {'image': ['7', 0], 'upscale_method': 'bilinear', 'width': 80, 'height': 48, 'crop': 'disabled'},
    }
    graph['9'] = {'class_type': 'VAEEncode', 'inputs': {'pixels': ['8', 0], 'vae': ['1', 2]}}
    graph['4']['inputs'].update(latent_image=['9', 0], denoise=0.5)
    graph['10'] = {'class_type': 'PreviewImage', 'inputs': {'images': ['5', 0]}}
    prompt_id = await submit(http, {'prompt': graph})
    history = await wait_history(http, prompt_id)
    assert history['status']['status_str'] == 'success'
    saved = history['outputs']['6']['images'][0]
    assert saved == {'filename': 'img2img_00001_.png', 'subfolder': 'out', 'type': 'output'}
    with Image.open(sim.root / 'output' / 'out' / 'img2img_00001_.png') as image:
        assert image.size == (80, 48)
        assert json.loads(image.text['prompt'])['6']['class_type'] == 'SaveImage'
    assert history['outputs']['10']['images'][0]['type'] == 'temp'
    again = await submit(http, {'prompt': sampler_graph(steps=1, seed=1, width=64, height=64)})
    first = await wait_history(http, again)
    other = await submit(http, {'prompt': sampler_graph(steps=1, seed=2, width=64, height=64)})
    second = await wait_history(http, other)
    one = (sim.root / 'output' / first['outputs']['6']['images'][0]['filename']).read_bytes()
    two = (sim.root / 'output' / second['outputs']['6']['images'][0]['filename']).read_bytes()
    assert one != two


def test_a_pictures_caption_keeps_only_the_letters_its_font_can_draw() -> None:
    # Pillow's built-in font has no Hangul: a Korean prompt drew a row of empty boxes on the picture
    assert caption('비 오는 밤의 lighthouse', 7, 512) == 'lighthouse #7'
    assert caption('비 오는 밤의 등대', 7, 512) == '#7'
    assert caption('café  au lait', 7, 512) == 'café au lait #7'
    assert caption('비 오는 밤의 등대, lighthouse', 7, 512) == 'lighthouse #7'  # the comma after the Hangul goes too
