"""The captured real ComfyUI and Civitai answers in tests/fixtures/ and a loopback ComfyUI that replays them."""

from __future__ import annotations

import asyncio
import io
import json
import struct
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from PIL import Image

FIXTURES = Path(__file__).resolve().parent / 'fixtures'
COMFYUI_SAMPLES = FIXTURES / 'comfyui'
CIVITAI_SAMPLES = FIXTURES / 'civitai'

_FORMATS = {1: 'JPEG', 2: 'PNG'}
_MIME_FORMATS = {'image/jpeg': 'JPEG', 'image/png': 'PNG'}


def load_sample(name: str) -> dict[str, Any]:
    """Return one sample file as a dict (`name` with or without `.json`)."""
    return json.loads(_read(name if name.endswith('.json') else f'{name}.json'))


def fixture_text(folder: Path, file_name: str) -> str:
    """Return the text of one captured fixture file; a missing file fails the test with what is missing."""
    path = folder / file_name
    if not path.is_file():
        raise FileNotFoundError(f'captured fixture {path.relative_to(FIXTURES.parents[1])} is missing')
    return path.read_text(encoding='utf-8')


@cache
def _read(file_name: str) -> str:
    return fixture_text(COMFYUI_SAMPLES, file_name)


def ws_sample_names() -> list[str]:
    """Return the names of every captured WebSocket sample (none found fails the collection, never skips)."""
    names = sorted(path.stem for path in COMFYUI_SAMPLES.glob('WS_*.json'))
    if not names:
        raise FileNotFoundError(f'no captured WebSocket samples (WS_*.json) in {COMFYUI_SAMPLES}')
    return names


def image_bytes(pil_format: str, size: tuple[int, int], length: int | None = None) -> bytes:
    """Return a real image of `size`, padded with zeros to `length` bytes when it is shorter."""
    buffer = io.BytesIO()
    Image.new('RGB', size, (200, 40, 40)).save(buffer, format=pil_format)
    data = buffer.getvalue()
    if length is not None and len(data) < length:
        data += b'\0' * (length - len(data))
    return data


def binary_frame(msg: dict[str, Any]) -> bytes:
    """Rebuild a captured binary frame from its decoded fields and the documented header layout."""
    event_type = msg['event_type']
    size = tuple(msg.get('image_decoded', {}).get('size') or (8, 8))
    if event_type == 1:
        image = image_bytes(_FORMATS[msg['image_format']], size, msg['image_len'])
        return struct.pack('>II', 1, msg['image_format']) + image
    if event_type == 3:
        node_id = msg['node_id'].encode()
        return struct.pack('>II', 3, len(node_id)) + node_id + msg['text'].encode()
    if event_type == 4:
        metadata = json.dumps(msg['metadata']).encode()
        image = image_bytes(_MIME_FORMATS[msg['metadata']['image_type']], size, msg['image_len'])
        return struct.pack('>II', 4, len(metadata)) + metadata + image
    raise ValueError(f'no rebuild rule for binary event type {event_type}')


def ws_frames(sample: dict[str, Any]) -> list[str | bytes]:
    """Return a WS sample's frames as sent on the wire: JSON text, or rebuilt binary."""
    return [
        binary_frame(entry['msg']) if entry['msg'].get('binary') else json.dumps(entry['msg'])
        for entry in sample.get('messages', [])
    ]


Script = Callable[[web.WebSocketResponse, 'FakeComfy'], Awaitable[None]]


def replay(name: str) -> web.Response:
    """Answer exactly as the captured sample did: status, content-type and body."""
    sample = load_sample(name)
    headers = {'Content-Type': sample['headers']['content-type']} if 'content-type' in sample['headers'] else {}
    if 'body' in sample:
        body = json.dumps(sample['body']).encode()
    elif 'body_len' in sample:
        head = bytes.fromhex(sample['body_head_hex'])
        body = head + b'\0' * (sample['body_len'] - len(head))
    else:
        body = sample['body_text'].encode()
    return web.Response(status=sample['status'], body=body, headers=headers)


async def send_sample(
    ws: web.WebSocketResponse, fake: FakeComfy, name: str, start: int = 0, stop: int | None = None
) -> None:
    """Send a captured WS sequence (text as JSON, binary rebuilt)."""
    for frame in ws_frames(load_sample(name))[start:stop]:
        if isinstance(frame, str):
            await ws.send_str(frame)
            fake.events.append(f'ws sent {json.loads(frame)["type"]}:{json.loads(frame)["data"].get("node", "")}')
        else:
            await ws.send_bytes(frame)


async def hello(ws: web.WebSocketResponse, fake: FakeComfy) -> None:
    """Send the first status message only, like an idle server."""
    await send_sample(ws, fake, 'WS_connect_after_prompt_finished_no_replay')


class FakeComfy:
    """A loopback ComfyUI that replays samples; records requests, WS connections and received frames."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], str | list[str] | Callable[[], web.Response]] = {}
        self.scripts: list[Script] = [hello]
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.events: list[str] = []
        self.received: list[list[str]] = []
        self.open_now = self.max_open = 0
        self.prompt_posted = asyncio.Event()
        self.port = 0
        app = web.Application()
        app.router.add_get('/ws', self._ws)
        app.router.add_route('*', '/{tail:.*}', self._http)
        self.runner = web.AppRunner(app)

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f'http://127.0.0.1:{self.port}'

    def bodies(self, method: str, path: str) -> list[Any]:
        """Return the JSON bodies received for one route."""
        return [json.loads(body) if body else None for m, p, _, body in self.requests if (m, p) == (method, path)]

    def request_to(self, method: str, path: str) -> tuple[str, str, dict[str, str], bytes]:
        """Return the last request received for one route."""
        return next(r for r in reversed(self.requests) if r[0] == method and r[1].split('?')[0] == path)

    async def _http(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.method, request.path_qs, dict(request.headers), body))
        self.events.append(f'{request.method} {request.path}')
        if request.path == '/prompt':
            self.prompt_posted.set()
        answer = self.routes.get((request.method, request.path))
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if answer is None:
            return web.Response(status=404)
        return answer() if callable(answer) else replay(answer)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        index = len(self.received)
        self.requests.append(('WS', request.path_qs, dict(request.headers), b''))
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        self.events.append(f'ws open {index}')
        received: list[str] = []
        self.received.append(received)
        ws = web.WebSocketResponse()
        await ws.prepare(request)

        async def read() -> None:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    received.append(msg.data)

        reader = asyncio.create_task(read())
        try:
            await self.scripts[min(index, len(self.scripts) - 1)](ws, self)
            await reader
        finally:
            reader.cancel()
            self.open_now -= 1
            self.events.append(f'ws closed {index}')
        return ws
