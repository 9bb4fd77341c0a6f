"""ComfyClient against a loopback server replaying captured real ComfyUI answers (docs/COMFYUI_PROTOCOL.md 8)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from tests.samples import FakeComfy, Script, hello, load_sample, send_sample, ws_frames
from vcc_ui.services.comfy.client import (
    FEATURE_FLAGS,
    LOST_REASON,
    ComfyBadResponse,
    ComfyClient,
    ComfyNotFound,
    ComfyUnavailable,
    PromptRejected,
    PromptUncertain,
)
from vcc_ui.services.comfy.messages import (
    Executed,
    Executing,
    ImageRef,
    Message,
    PreviewImageWithMetadata,
    PromptLost,
    Status,
    UnknownMessage,
)

SAVE_ID = '7746fe53-60f4-4183-b9c6-885ed2ac706f'
PROGRESS_ID = 'a3186a09-92e8-46da-af20-115d2d40e614'
RECONNECT_ID = 'd021cc8f-0797-4bc7-8b4e-f6460309a5c5'
RUNNING_ID = 'd7b32035-db62-4165-8fb0-3da0b49984b6'
GRAPH = {'1': {'class_type': 'SaveImage', 'inputs': {}}}


@pytest.fixture
async def fake() -> AsyncIterator[FakeComfy]:
    server = FakeComfy()
    await server.runner.setup()
    site = web.TCPSite(server.runner, '127.0.0.1', 0)
    await site.start()
    server.port = server.runner.addresses[0][1]
    yield server
    await server.runner.cleanup()


@pytest.fixture
async def client(fake: FakeComfy) -> AsyncIterator[ComfyClient]:
    comfy = ComfyClient(fake.url, client_id='probe-43f0b69f', ws_idle_timeout=30)
    yield comfy
    await comfy.stop()


def collect(comfy: ComfyClient) -> list[Message]:
    """Register a listener and return the list it fills."""
    messages: list[Message] = []
    comfy.add_listener(messages.append)
    return messages


async def until(predicate: Callable[[], object], *, seconds: float = 5.0) -> None:
    """Wait until `predicate()` is true; fail after `seconds`."""
    for _ in range(int(seconds * 100)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f'condition not reached within {seconds} s')


def after_prompt(name: str) -> Script:
    """Send the first status, wait for POST /prompt, then send the rest of the sample."""

    async def script(ws: web.WebSocketResponse, fake: FakeComfy) -> None:
        await send_sample(ws, fake, name, stop=1)
        await fake.prompt_posted.wait()
        await send_sample(ws, fake, name, start=1)

    return script


def is_done(prompt_id: str) -> Callable[[Message], bool]:
    """Return a predicate for the done signal of one prompt."""
    return lambda m: isinstance(m, Executing) and m.node is None and m.prompt_id == prompt_id


async def test_history_is_fetched_only_after_the_executing_null_done_signal(
    fake: FakeComfy, client: ComfyClient
) -> None:
    fake.scripts = [after_prompt('WS_sequence_save_fresh')]
    fake.routes = {('POST', '/prompt'): 'POST_prompt_ok_save', ('GET', f'/history/{SAVE_ID}'): 'GET_history_by_id_save'}
    entries: list[dict | None] = []

    def on_message(message: Message) -> None:
        if is_done(SAVE_ID)(message):
            asyncio.get_running_loop().create_task(client.history(SAVE_ID)).add_done_callback(
                lambda task: entries.append(task.result())
            )

    client.add_listener(on_message)
    await client.start()
    accepted = await client.queue_prompt(GRAPH, prompt_id=SAVE_ID)
    assert accepted.prompt_id == SAVE_ID and accepted.number == 0
    await until(lambda: entries)
    assert fake.events.index(f'GET /history/{SAVE_ID}') > fake.events.index('ws sent executing:None')
    assert ComfyClient.output_images(entries[0]) == [ImageRef(filename='probe_save_00001_.png', type='output')]
    assert client.in_flight == []
    body = fake.bodies('POST', '/prompt')[0]
    assert body['client_id'] == 'probe-43f0b69f' and body['prompt_id'] == SAVE_ID


async def test_generated_prompt_id_is_a_canonical_uuid_and_no_origin_header_is_sent(
    fake: FakeComfy, client: ComfyClient
) -> None:
    fake.routes = {('POST', '/prompt'): 'POST_prompt_ok_save'}
    await client.start()
    await until(lambda: client.state.connected)
    await client.queue_prompt(GRAPH)
    sent_id = fake.bodies('POST', '/prompt')[0]['prompt_id']
    assert len(sent_id) == 36 and sent_id == sent_id.lower() and sent_id.count('-') == 4
    assert {kind for kind, *_ in fake.requests} == {'WS', 'POST'}
    assert all('Origin' not in headers for _, _, headers, _ in fake.requests)
    with pytest.raises(ValueError, match='canonical'):
        await client.queue_prompt(GRAPH, prompt_id='my-own-id-881c5a')


async def test_node_errors_on_a_200_are_returned_and_logged(
    fake: FakeComfy, client: ComfyClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.routes = {('POST', '/prompt'): 'POST_prompt_partially_valid_accepted_with_node_errors'}
    await client.start()
    accepted = await client.queue_prompt(GRAPH, prompt_id='25daa9b0-7358-4bfb-b100-c2e9be8070e0')
    assert set(accepted.node_errors) == {'10'}
    assert 'Value 0 smaller than min of 1' in caplog.text


async def test_rejection_message_comes_from_node_errors_when_details_are_empty(
    fake: FakeComfy, client: ComfyClient
) -> None:
    fake.routes = {
        ('POST', '/prompt'): [
            'POST_prompt_invalid_lora_name_not_in_list_and_bad_ckpt',
            'POST_prompt_invalid_unknown_class_type',
        ]
    }
    await client.start()
    with pytest.raises(PromptRejected) as caught:
        await client.queue_prompt(GRAPH)
    assert caught.value.error['details'] == ''
    assert "lora_name: 'nope.safetensors' not in" in str(caught.value)
    assert (caught.value.node_id, caught.value.node_type) == ('1', 'CheckpointLoaderSimple')
    with pytest.raises(PromptRejected, match='NoSuchNodeXYZ does not exist') as caught:
        await client.queue_prompt(GRAPH)
    assert caught.value.node_id is None and caught.value.node_errors == {}
    assert client.in_flight == []


async def test_preview_metadata_is_negotiated_with_the_first_message(fake: FakeComfy, client: ComfyClient) -> None:
    async def script(ws: web.WebSocketResponse, fake: FakeComfy) -> None:
        await until(lambda: fake.received[0])
        await send_sample(ws, fake, 'WS_feature_flags_client_preview_metadata')

    fake.scripts = [script]
    messages = collect(client)
    await client.start()
    await until(lambda: any(is_done('371cc84d-4d38-4ee8-ae12-ac0638f25bbb')(m) for m in messages))
    assert json.loads(fake.received[0][0]) == FEATURE_FLAGS
    previews = [m for m in messages if isinstance(m, PreviewImageWithMetadata)]
    assert {(p.prompt_id, p.node_id, p.image_type) for p in previews} == {
        ('371cc84d-4d38-4ee8-ae12-ac0638f25bbb', '2', 'image/jpeg')
    }


async def test_legacy_previews_are_attributed_to_the_running_prompt(fake: FakeComfy, client: ComfyClient) -> None:
    fake.scripts = [after_prompt('WS_sequence_progress_with_legacy_previews')]
    fake.routes = {('POST', '/prompt'): 'POST_prompt_ok_progress'}
    messages = collect(client)
    await client.start()
    await client.queue_prompt(GRAPH, prompt_id=PROGRESS_ID)
    await until(lambda: any(is_done(PROGRESS_ID)(m) for m in messages))
    previews = [m for m in messages if isinstance(m, PreviewImageWithMetadata)]
    assert len(previews) == 4
    assert all(p.prompt_id == PROGRESS_ID and p.node_id is None and p.data[:2] == b'\xff\xd8' for p in previews)


async def test_legacy_previews_of_other_clients_are_dropped(fake: FakeComfy, client: ComfyClient) -> None:
    async def script(ws: web.WebSocketResponse, fake: FakeComfy) -> None:
        await send_sample(ws, fake, 'WS_observer_other_client')
        await ws.send_str(json.dumps({'type': 'marker', 'data': None}))

    fake.scripts = [script]
    messages = collect(client)
    await client.start()
    await until(lambda: any(isinstance(m, UnknownMessage) for m in messages))
    assert not any(isinstance(m, PreviewImageWithMetadata) for m in messages)
    assert any(isinstance(m, Status) for m in messages)


async def test_reconnect_form_executing_gets_the_prompt_id(fake: FakeComfy, client: ComfyClient) -> None:
    go = asyncio.Event()

    async def script(ws: web.WebSocketResponse, fake: FakeComfy) -> None:
        await go.wait()
        await send_sample(ws, fake, 'WS_reconnect_same_clientId_mid_run')

    fake.scripts = [script]
    messages = collect(client)
    await client.start()
    await until(lambda: client.state.connected)
    client.watch(RECONNECT_ID)
    go.set()
    await until(lambda: any(is_done(RECONNECT_ID)(m) for m in messages))
    executing = [m for m in messages if isinstance(m, Executing)]
    assert executing[0] == Executing(prompt_id=RECONNECT_ID, node='2')
    previews = [m for m in messages if isinstance(m, PreviewImageWithMetadata)]
    assert previews and all(p.prompt_id == RECONNECT_ID for p in previews)


async def drop_mid_run(ws: web.WebSocketResponse, fake: FakeComfy) -> None:
    """Send the save_fresh run up to node 3, then drop the socket (a crash or network cut)."""
    await send_sample(ws, fake, 'WS_sequence_save_fresh', stop=1)
    await fake.prompt_posted.wait()
    frames = ws_frames(load_sample('WS_sequence_save_fresh'))
    stop = next(i for i, f in enumerate(frames) if isinstance(f, str) and '"node": "3"' in f)
    await send_sample(ws, fake, 'WS_sequence_save_fresh', start=1, stop=stop)
    await ws.close()


async def test_reconnect_reconciles_a_finished_prompt_into_one_done_signal(
    fake: FakeComfy, client: ComfyClient
) -> None:
    fake.scripts = [drop_mid_run, hello]
    fake.routes = {('POST', '/prompt'): 'POST_prompt_ok_save', ('GET', f'/history/{SAVE_ID}'): 'GET_history_by_id_save'}
    messages = collect(client)
    await client.start()
    await until(lambda: client.state.connected)
    await client.queue_prompt(GRAPH, prompt_id=SAVE_ID)
    await until(lambda: any(is_done(SAVE_ID)(m) for m in messages))
    assert client.state.reconnects == 1 and client.in_flight == []
    assert not any(isinstance(m, Executed) for m in messages)  # lost with the old socket: no replay
    assert sum(map(is_done(SAVE_ID), messages)) == 1
    assert fake.events.index('ws closed 0') < fake.events.index('ws open 1')


@pytest.mark.parametrize(('queue_sample', 'lost'), [('GET_queue_idle', True), ('GET_queue_running_and_pending', False)])
async def test_reconnect_reports_prompts_the_server_forgot(
    fake: FakeComfy, client: ComfyClient, queue_sample: str, lost: bool
) -> None:
    go = asyncio.Event()

    async def restart(ws: web.WebSocketResponse, fake: FakeComfy) -> None:
        await hello(ws, fake)
        await go.wait()
        await ws.close()

    fake.scripts = [restart, hello]
    fake.routes = {('GET', f'/history/{RUNNING_ID}'): 'GET_history_empty_unknown_id', ('GET', '/queue'): queue_sample}
    messages = collect(client)
    await client.start()
    await until(lambda: client.state.connected)
    client.watch(RUNNING_ID)
    go.set()
    await until(lambda: 'GET /queue' in fake.events)
    await client.reconcile()  # waits for the automatic one, then runs once more
    assert [m for m in messages if isinstance(m, PromptLost)] == (
        [PromptLost(prompt_id=RUNNING_ID, reason=LOST_REASON)] if lost else []
    )
    assert client.in_flight == ([] if lost else [RUNNING_ID])
    assert len(fake.received) == 2


async def test_idle_socket_is_closed_before_the_replacement_opens(
    fake: FakeComfy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    comfy = ComfyClient(fake.url, client_id='dup-734fbd', ws_idle_timeout=0.2)
    await comfy.start()
    try:
        await until(lambda: len(fake.received) >= 3)
    finally:
        await comfy.stop()
    assert comfy.state.reconnects >= 2 and 'silent for 0.2 s' in caplog.text
    assert fake.max_open == 1
    assert fake.events.index('ws closed 0') < fake.events.index('ws open 1') < fake.events.index('ws closed 1')


async def test_a_socket_that_keeps_talking_stays_open_past_its_idle_timeout(fake: FakeComfy) -> None:
    async def chatty(ws: web.WebSocketResponse, fake: FakeComfy) -> None:
        for _ in range(25):  # a status every 0.04 s for a second: five idle timeouts long
            await send_sample(ws, fake, 'WS_connect_after_prompt_finished_no_replay')
            await asyncio.sleep(0.04)

    fake.scripts = [chatty, hello]
    comfy = ComfyClient(fake.url, client_id='chatty-5e1d', ws_idle_timeout=0.2)
    statuses: list[int] = []
    comfy.add_listener(lambda message: statuses.append(comfy.state.reconnects) if isinstance(message, Status) else None)
    await comfy.start()
    try:
        await until(lambda: len(fake.received) >= 2)  # silent after the talk: the idle timeout ends that socket
    finally:
        await comfy.stop()
    assert statuses.count(0) == 25  # the first socket delivered every status: it was not cut while it talked
    assert comfy.state.reconnects >= 1


async def test_cancel_deletes_and_interrupts_only_that_prompt(fake: FakeComfy, client: ComfyClient) -> None:
    fake.routes = {('POST', '/queue'): 'POST_queue_delete', ('POST', '/interrupt'): 'POST_interrupt_targeted'}
    await client.start()
    await client.cancel(RUNNING_ID)
    assert fake.bodies('POST', '/queue') == [{'delete': [RUNNING_ID]}]
    assert fake.bodies('POST', '/interrupt') == [{'prompt_id': RUNNING_ID}]
    with pytest.raises(ValueError, match='interrupt everyone'):
        await client.cancel('')
    assert len(fake.bodies('POST', '/interrupt')) == 1


async def test_queue_pending_is_sorted_by_number_and_six_element_items_work(
    fake: FakeComfy, client: ComfyClient
) -> None:
    body = load_sample('GET_queue_running_and_pending')['body']
    newer = {key: [[*item, {'sensitive': 1}] for item in items] for key, items in body.items()}
    fake.routes = {('GET', '/queue'): ['GET_queue_running_and_pending', lambda: web.json_response(newer)]}
    await client.start()
    snapshot = await client.queue()
    assert [item.number for item in snapshot.pending] == [-13, 10, 11, 12]
    assert snapshot.running[0].prompt_id == RUNNING_ID
    assert snapshot.running[0].extra_data == {'client_id': 'probe-43f0b69f'}
    fake.routes[('GET', '/queue')] = lambda: web.json_response(newer)
    assert await client.queue() == snapshot


async def test_upload_uses_the_name_the_server_returned(fake: FakeComfy, client: ComfyClient) -> None:
    with_asset = {**load_sample('POST_upload_image_subfolder')['body'], 'asset': {'id': 'a1', 'size': 3}}
    fake.routes = {
        ('POST', '/upload/image'): [
            'POST_upload_image_same_name_different_bytes',
            lambda: web.json_response(with_asset),
        ]
    }
    await client.start()
    renamed = await client.upload_image(b'png-bytes', 'probe_upload.png')
    assert (renamed.name, renamed.load_image_value) == ('probe_upload (1).png', 'probe_upload (1).png')
    assert b'filename="probe_upload.png"' in fake.request_to('POST', '/upload/image')[3]
    nested = await client.upload_image(b'png', 'sub_up.png', subfolder='clients/abc')
    assert nested.load_image_value == 'clients/abc/sub_up.png'


async def test_windows_path_separators_pass_through_untouched(fake: FakeComfy, client: ComfyClient) -> None:
    fake.routes = {
        ('POST', '/prompt'): 'POST_prompt_ok_save',
        ('GET', '/view'): 'GET_view_output_png',
        ('POST', '/upload/image'): 'POST_upload_image_first',
    }
    await client.start()
    graph = {'2': {'class_type': 'LoraLoader', 'inputs': {'lora_name': 'sub\\char_b.safetensors'}}}
    await client.queue_prompt(graph)
    assert fake.bodies('POST', '/prompt')[0]['prompt'] == graph
    data = await client.view('probe_save_00001_.png', subfolder='sub\\dir')
    assert len(data) == 432 and data.startswith(b'\x89PNG')
    assert '?filename=probe_save_00001_.png&subfolder=sub%5Cdir&type=output' in fake.request_to('GET', '/view')[1]
    await client.upload_image(b'x', 'a.png', subfolder='clients\\abc')
    assert b'clients\\abc' in fake.request_to('POST', '/upload/image')[3]


async def test_non_json_500_is_a_bad_response(fake: FakeComfy, client: ComfyClient) -> None:
    fake.routes = {
        ('POST', '/prompt'): 'POST_prompt_invalid_not_json',
        ('GET', '/queue'): 'GET_queue_idle',
        ('GET', f'/history/{SAVE_ID}'): 'GET_history_empty_unknown_id',
        ('GET', '/view'): 'GET_view_missing_404',
    }
    await client.start()
    with pytest.raises(ComfyBadResponse, match=r'500 and a body that is not JSON \(text/plain'):
        await client.queue_prompt(GRAPH, prompt_id=SAVE_ID)
    assert client.in_flight == []
    # each 500 was followed by a look at /queue and /history: the prompt was unknown, so it was posted again
    posts = [i for i, e in enumerate(fake.events) if e == 'POST /prompt']
    assert len(posts) == 4
    assert all('GET /queue' in fake.events[a:b] for a, b in itertools.pairwise(posts))
    with pytest.raises(ComfyNotFound, match='404'):
        await client.view('nope.png')


async def test_a_failed_post_the_server_cannot_account_for_stays_in_flight(
    fake: FakeComfy, client: ComfyClient
) -> None:
    fake.routes = {
        ('POST', '/prompt'): 'POST_prompt_invalid_not_json',
        ('GET', '/queue'): lambda: web.Response(status=503),  # a gateway in front of a dead ComfyUI
    }
    await client.start()
    with pytest.raises(PromptUncertain, match='could not say whether it queued'):
        await client.queue_prompt(GRAPH, prompt_id=SAVE_ID)
    assert client.in_flight == [SAVE_ID]
    assert len(fake.bodies('POST', '/prompt')) == 1  # never posted twice without knowing


async def test_a_prompt_the_server_queued_despite_a_500_is_not_posted_again(
    fake: FakeComfy, client: ComfyClient
) -> None:
    fake.routes = {('POST', '/prompt'): 'POST_prompt_invalid_not_json', ('GET', '/queue'): 'GET_queue_while_running'}
    await client.start()
    running = load_sample('GET_queue_while_running')['body']['queue_running'][0]
    accepted = await client.queue_prompt(GRAPH, prompt_id=running[1])
    assert accepted.prompt_id == running[1] and accepted.number == running[0]
    assert len(fake.bodies('POST', '/prompt')) == 1 and client.in_flight == [running[1]]


async def test_refused_connection_is_unavailable_with_a_clear_message() -> None:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    comfy = ComfyClient(f'127.0.0.1:{port}', client_id='x')
    await comfy.start()
    try:
        with pytest.raises(ComfyUnavailable, match=f'cannot connect to ComfyUI at http://127.0.0.1:{port}'):
            await comfy.system_stats()
        await until(lambda: comfy.state.last_error)
        assert not comfy.state.connected and 'cannot connect' in comfy.state.last_error
    finally:
        await comfy.stop()
        await comfy.stop()


async def test_a_failing_listener_and_malformed_frames_do_not_stop_delivery(
    fake: FakeComfy, client: ComfyClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def script(ws: web.WebSocketResponse, fake: FakeComfy) -> None:
        await ws.send_str('not json')
        await ws.send_bytes(b'\x00\x00\x00\x04\x00\x00\x01\x00{')
        await ws.send_str(json.dumps({'type': 'crystools.monitor', 'data': {'cpu': 5}}))
        await send_sample(ws, fake, 'WS_sequence_save_fully_cached')

    def explode(message: Message) -> None:
        raise RuntimeError('listener bug')

    fake.scripts = [script]
    client.add_listener(explode)
    messages = collect(client)
    caplog.set_level(logging.WARNING)
    await client.start()
    await until(lambda: any(is_done('578c42f3-d4d5-4d25-ac75-24ea2798b9ab')(m) for m in messages))
    assert messages[0] == UnknownMessage(type='crystools.monitor', data={'cpu': 5})
    assert len(messages) == 10 and client.state.connected and client.state.reconnects == 0
    assert 'listener bug' in caplog.text and 'malformed frame' in caplog.text


async def test_simple_reads_replay_real_answers(fake: FakeComfy) -> None:
    fake.routes = {
        ('GET', '/object_info/NoSuchNode'): 'GET_object_info_unknown_node',
        ('GET', '/object_info/LoraLoader'): 'GET_object_info_LoraLoader',
        ('GET', '/system_stats'): 'GET_system_stats',
        ('GET', '/history/00000000-0000-0000-0000-000000000000'): 'GET_history_empty_unknown_id',
    }
    comfy = ComfyClient(fake.url.removeprefix('http://') + '/', client_id='x')
    await comfy.start()
    try:
        assert await comfy.object_info('NoSuchNode') == {}
        lora = (await comfy.object_info('LoraLoader'))['LoraLoader']['input']['required']['lora_name'][0]
        assert 'sub/char_b.safetensors' in lora
        assert (await comfy.system_stats())['devices'][0]['type'] == 'cpu'
        assert await comfy.history('00000000-0000-0000-0000-000000000000') is None
    finally:
        await comfy.stop()
    preview = next(iter(load_sample('GET_history_by_id_preview')['body'].values()))
    assert [ref.type for ref in ComfyClient.output_images(preview)] == ['temp', 'temp']
