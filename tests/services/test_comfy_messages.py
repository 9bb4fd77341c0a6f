"""Every captured real ComfyUI WebSocket frame parses into the right typed message."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from tests.samples import FIXTURES, binary_frame, image_bytes, load_sample, ws_frames, ws_sample_names
from vcc_ui.services.comfy.messages import (
    Executed,
    Executing,
    ExecutionCached,
    ExecutionError,
    ExecutionInterrupted,
    ExecutionStart,
    ExecutionSuccess,
    FeatureFlags,
    ImageRef,
    Message,
    MessageError,
    PreviewImage,
    PreviewImageWithMetadata,
    Progress,
    ProgressState,
    ProgressText,
    Status,
    UnknownBinary,
    UnknownMessage,
    parse_binary,
    parse_text,
)

TEXT_CLASSES: dict[str, type[Message]] = {
    'status': Status,
    'execution_start': ExecutionStart,
    'execution_cached': ExecutionCached,
    'executing': Executing,
    'progress': Progress,
    'progress_state': ProgressState,
    'executed': Executed,
    'execution_success': ExecutionSuccess,
    'execution_error': ExecutionError,
    'execution_interrupted': ExecutionInterrupted,
    'feature_flags': FeatureFlags,
}
BINARY_CLASSES: dict[int, type[Message]] = {1: PreviewImage, 3: ProgressText, 4: PreviewImageWithMetadata}


def parsed(sample: dict[str, Any]) -> list[Message]:
    """Parse every frame of a sample as the client would receive it."""
    return [parse_text(f) if isinstance(f, str) else parse_binary(f) for f in ws_frames(sample)]


def test_captured_samples_are_found() -> None:
    assert (FIXTURES.parents[1] / 'docs' / 'COMFYUI_PROTOCOL.md').exists()
    assert len(ws_sample_names()) >= 17


@pytest.mark.parametrize('name', ws_sample_names())
def test_every_frame_of_the_sample_parses_to_its_class(name: str) -> None:
    sample = load_sample(name)
    entries = [e['msg'] for e in sample.get('messages', [])]
    if 'first_message' in sample:
        entries.append(sample['first_message'])
    for raw in entries:
        if raw.get('binary'):
            message = parse_binary(binary_frame(raw))
            assert type(message) is BINARY_CLASSES[raw['event_type']]
            _check_binary(raw, message)
        else:
            message = parse_text(json.dumps(raw))
            assert type(message) is TEXT_CLASSES[raw['type']]
            _check_text(raw['data'], message)
    for label in sample.get('client_A_sequence', []) + sample.get('client_B_sequence', []):
        kind = label.split('[')[0]
        assert kind in TEXT_CLASSES or int(kind.removeprefix('binary:')) in BINARY_CLASSES


def _check_text(data: dict[str, Any], message: Message) -> None:
    if isinstance(message, Status):
        assert message.queue_remaining == data['status']['exec_info']['queue_remaining']
        assert message.sid == data.get('sid')
    elif isinstance(message, Executing):
        assert (message.prompt_id, message.node) == (data.get('prompt_id'), data['node'])
    elif isinstance(message, ProgressState):
        assert set(message.nodes) == set(data['nodes'])
        for node_id, node in message.nodes.items():
            expected = data['nodes'][node_id]
            assert (node.value, node.max, node.state) == (expected['value'], expected['max'], expected['state'])
    elif isinstance(message, Progress):
        assert (message.prompt_id, message.node, message.value, message.max) == (
            data['prompt_id'],
            data['node'],
            data['value'],
            data['max'],
        )
    elif isinstance(message, Executed):
        assert [ref.filename for ref in message.images] == [i['filename'] for i in data['output'].get('images', [])]
    elif isinstance(message, ExecutionError):
        assert (message.node_id, message.exception_type) == (data['node_id'], data['exception_type'])
        assert message.traceback == data['traceback']
    elif isinstance(message, FeatureFlags):
        assert message.flags == data
    if hasattr(message, 'prompt_id') and 'prompt_id' in data:
        assert message.prompt_id == data['prompt_id']


def _check_binary(raw: dict[str, Any], message: Message) -> None:
    frame = binary_frame(raw)
    assert len(frame) == raw['total_len']
    if isinstance(message, ProgressText):
        assert frame.hex().startswith(raw['head_hex'])
        assert (message.node_id, message.text) == (raw['node_id'], raw['text'])
    elif isinstance(message, PreviewImageWithMetadata):
        assert frame.hex().startswith(raw['head_hex'])
        assert message.prompt_id == raw['metadata']['prompt_id']
        assert message.node_id == raw['metadata']['node_id']
        assert message.image_type == raw['metadata']['image_type']
        assert len(message.data) == raw['image_len']
    elif isinstance(message, PreviewImage):
        assert frame[:8].hex() == raw['head_hex'][:16]
        assert message.image_type == {1: 'image/jpeg', 2: 'image/png'}[raw['image_format']]
        assert len(message.data) == raw['image_len']


def test_save_fresh_sequence_ends_with_the_done_signal_after_success() -> None:
    sample = load_sample('WS_sequence_save_fresh')
    messages = [m for m in parsed(sample) if not isinstance(m, Status)]
    assert isinstance(messages[0], ExecutionStart)
    assert messages[-1] == Executing(prompt_id=sample['prompt_id'], node=None, display_node=None)
    assert isinstance(messages[-2], ExecutionSuccess)
    executed = [m for m in messages if isinstance(m, Executed)]
    assert executed[0].images == [ImageRef(filename='probe_save_00001_.png', subfolder='', type='output')]
    assert [m.node for m in messages if isinstance(m, Executing)] == ['1', '2', '3', None]


def test_fully_cached_run_has_no_executing_for_cached_nodes_but_resends_executed() -> None:
    sample = load_sample('WS_sequence_save_fully_cached')
    messages = parsed(sample)
    cached = next(m for m in messages if isinstance(m, ExecutionCached))
    assert len(cached.nodes) >= 3
    assert [m.node for m in messages if isinstance(m, Executing)] == [None]
    assert any(isinstance(m, Executed) for m in messages)


@pytest.mark.parametrize(
    ('name', 'terminal'),
    [
        ('WS_sequence_runtime_execution_error', ExecutionError),
        ('WS_sequence_interrupted_global', ExecutionInterrupted),
    ],
)
def test_failed_runs_end_with_their_event_and_a_trailing_done(name: str, terminal: type[Message]) -> None:
    sample = load_sample(name)
    messages = parsed(sample)
    assert not any(isinstance(m, ExecutionSuccess) for m in messages)
    index = next(i for i, m in enumerate(messages) if isinstance(m, terminal))
    assert messages[-1] == Executing(prompt_id=sample['prompt_id'], node=None)
    assert index < len(messages) - 1


def test_reconnect_mid_run_starts_with_status_then_executing_without_prompt_id() -> None:
    messages = parsed(load_sample('WS_reconnect_same_clientId_mid_run'))
    assert isinstance(messages[0], Status)
    assert messages[1] == Executing(prompt_id=None, node='2', display_node=None)
    assert not any(isinstance(m, ExecutionStart) for m in messages)


def test_legacy_previews_follow_progress_and_metadata_previews_name_their_prompt() -> None:
    legacy = parsed(load_sample('WS_sequence_progress_with_legacy_previews'))
    for i, message in enumerate(legacy):
        if isinstance(message, PreviewImage):
            assert isinstance(legacy[i - 1], Progress)
    negotiated = parsed(load_sample('WS_feature_flags_client_preview_metadata'))
    assert isinstance(negotiated[1], FeatureFlags) and negotiated[1].flags['supports_preview_metadata'] is True
    previews = [m for m in negotiated if isinstance(m, PreviewImageWithMetadata)]
    assert previews and all(p.prompt_id and p.node_id == '2' for p in previews)


def test_extra_fields_are_ignored_and_unknown_types_kept() -> None:
    message = parse_text(
        json.dumps({'type': 'executing', 'data': {'node': '3', 'prompt_id': 'p', 'workflow_id': 'w'}, 'extra': 1})
    )
    assert message == Executing(prompt_id='p', node='3')
    assert parse_text('{"type": "crystools.monitor", "data": {"cpu": 3}}') == UnknownMessage(
        type='crystools.monitor', data={'cpu': 3}
    )
    assert parse_binary(struct.pack('>I', 9) + b'xyz') == UnknownBinary(event_type=9, data=b'xyz')


def test_png_preview_and_empty_progress_text_parse() -> None:
    png = image_bytes('PNG', (4, 4))
    assert parse_binary(struct.pack('>II', 1, 2) + png) == PreviewImage(image_type='image/png', data=png)
    assert parse_binary(struct.pack('>II', 3, 1) + b'7') == ProgressText(node_id='7', text='')


@pytest.mark.parametrize(
    'raw',
    [
        'not json',
        '',
        '[1, 2]',
        '{"data": {}}',
        '{"type": "status"}',
        '{"type": "status", "data": {"status": {}}}',
        '{"type": "executing", "data": {"prompt_id": "p"}}',
        '{"type": "progress", "data": {"value": "a", "max": 2}}',
        '{"type": "status", "data": {"status": {"exec_info": {"queue_remaining": true}}}}',
        '{"type": "progress_state", "data": {"prompt_id": "p", "nodes": {"1": 5}}}',
        '{"type": "executed", "data": {"prompt_id": "p", "output": {}}}',
    ],
)
def test_malformed_text_raises_message_error(raw: str) -> None:
    with pytest.raises(MessageError):
        parse_text(raw)


@pytest.mark.parametrize(
    'raw',
    [
        b'',
        b'\x00\x00',
        b'\x00\x00\x00\x01',
        struct.pack('>II', 1, 7) + b'img',
        struct.pack('>II', 3, 10) + b'ab',
        struct.pack('>II', 3, 1) + b'\xff\xfe',
        struct.pack('>II', 4, 50) + b'{}',
        struct.pack('>II', 4, 3) + b'abc',
        struct.pack('>II', 4, 2) + b'[]',
        struct.pack('>II', 4, 2) + b'{}img',
        struct.pack('>II', 4, 25) + b'{"image_type": "image/gif"}',
    ],
)
def test_malformed_binary_raises_message_error(raw: bytes) -> None:
    with pytest.raises(MessageError):
        parse_binary(raw)
