"""A fake OpenAI-compatible chat server on loopback (same event loop) with fault knobs, for the prompt helper's tests.

The shapes follow OpenAI's documented chat completions API, which Ollama, llama.cpp's server and vLLM copy:

- `GET /v1/models` answers `{"object": "list", "data": [{"id": ..., "object": "model", "created": ...,
  "owned_by": ...}]}`.
- `POST /v1/chat/completions` with `"stream": false` answers one `chat.completion` object:
  `{"id", "object": "chat.completion", "created", "model", "choices": [{"index": 0, "message": {"role": "assistant",
  "content": ...}, "logprobs": null, "finish_reason": "stop"}], "usage": {...}}`.
- With `"stream": true` it answers `text/event-stream`: data-only server-sent events, one `data: {json}` line and a
  blank line per `chat.completion.chunk` object (`{"id", "object": "chat.completion.chunk", "created", "model",
  "choices": [{"index": 0, "delta": {...}, "logprobs": null, "finish_reason": null}]}`). The first delta carries
  `{"role": "assistant", "content": ""}`, the next ones `{"content": "<text>"}`, the last chunk an empty delta and
  `"finish_reason": "stop"`; the stream ends with the line `data: [DONE]`.
- Errors answer `{"error": {"message", "type", "param", "code"}}` with the HTTP status (401 for a wrong key, 429 with
  a Retry-After header, 500).

Faults (`FakeLLM.faults`, consumed one per request): 'slow' (the first byte waits `slow_seconds`), 'cut' (the stream
stops after `cut_after` chunks without a finish_reason or [DONE] and the connection is dropped), 'hold' (after
`hold_after` chunks the server waits for the client to go away and records it), '429', '500', 'html-200',
'html-502', 'bad-json' (a data line that is not JSON), 'no-stream' (one chat.completion although `stream` is true, as
some servers do).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CREATED = 1_700_000_000
HTML = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>'


@dataclass
class FakeLLM:
    """Served models, the reply it streams, queued faults and what it received."""

    base_url: str = ''
    models: list[str] = field(default_factory=lambda: ['test-model'])
    reply: str = 'a cat sitting on a red mat, soft morning light'
    api_key: str = ''  # when set, requests without `Authorization: Bearer <api_key>` get 401
    faults: list[str] = field(default_factory=list)
    slow_seconds: float = 30.0
    cut_after: int = 2
    hold_after: int = 2
    retry_after: str = '7'
    requests: list[dict[str, Any]] = field(default_factory=list)  # the chat request bodies
    model_listings: int = 0
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)

    def deltas(self) -> list[str]:
        """Split the reply into word-sized deltas that join back to it."""
        words = self.reply.split(' ')
        return [word if i == 0 else ' ' + word for i, word in enumerate(words)]

    def _chunk(self, model: str, delta: dict[str, str], finish: str | None = None) -> bytes:
        chunk = {
            'id': 'chatcmpl-fake',
            'object': 'chat.completion.chunk',
            'created': CREATED,
            'model': model,
            'system_fingerprint': 'fp_fake',
            'choices': [{'index': 0, 'delta': delta, 'logprobs': None, 'finish_reason': finish}],
        }
        return f'data: {json.dumps(chunk)}\n\n'.encode()

    def _refusal(self, request: web.Request) -> web.Response | None:
        if self.api_key and request.headers.get('Authorization') != f'Bearer {self.api_key}':
            return _error(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key')
        return None

    def _fault(self) -> str:
        return self.faults.pop(0) if self.faults else ''

    async def list_models(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/models."""
        self.model_listings += 1
        if refusal := self._refusal(request):
            return refusal
        if answer := await self._plain_fault(self._fault(), request):
            return answer
        data = [{'id': m, 'object': 'model', 'created': CREATED, 'owned_by': 'fake'} for m in self.models]
        return web.json_response({'object': 'list', 'data': data})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/chat/completions, streamed or not."""
        body = await request.json()
        self.requests.append(body)
        if refusal := self._refusal(request):
            return refusal
        fault = self._fault()
        if answer := await self._plain_fault(fault, request):
            return answer
        model = body.get('model') or self.models[0]
        if not body.get('stream') or fault == 'no-stream':
            return web.json_response(
                {
                    'id': 'chatcmpl-fake',
                    'object': 'chat.completion',
                    'created': CREATED,
                    'model': model,
                    'choices': [
                        {
                            'index': 0,
                            'message': {'role': 'assistant', 'content': self.reply},
                            'logprobs': None,
                            'finish_reason': 'stop',
                        }
                    ],
                    'usage': {'prompt_tokens': 20, 'completion_tokens': 10, 'total_tokens': 30},
                }
            )
        response = web.StreamResponse(headers={'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache'})
        await response.prepare(request)
        await response.write(self._chunk(model, {'role': 'assistant', 'content': ''}))
        for sent, delta in enumerate(self.deltas()):
            if fault == 'cut' and sent == self.cut_after:
                assert request.transport is not None
                request.transport.close()
                return response
            if fault == 'hold' and sent == self.hold_after:
                await self._wait_for_disconnect(request, 30)
                return response
            if fault == 'bad-json' and sent == 1:
                await response.write(b'data: {"id": "chatcmpl-fake", "choices": [{"delta": \n\n')
            await response.write(self._chunk(model, {'content': delta}))
        await response.write(self._chunk(model, {}, 'stop'))
        await response.write(b'data: [DONE]\n\n')
        await response.write_eof()
        return response

    async def _plain_fault(self, fault: str, request: web.Request) -> web.Response | None:
        """Answer a fault that replaces the whole response, or wait for 'slow'; None to answer normally."""
        if fault == 'slow':
            await self._wait_for_disconnect(request, self.slow_seconds)
            if self.disconnected.is_set():
                return web.Response(status=499, text='client closed the request')
        elif fault == '429':
            error = _error(429, 'Rate limit reached for requests', 'requests', 'rate_limit_exceeded')
            error.headers['Retry-After'] = self.retry_after
            return error
        elif fault == '500':
            return _error(500, 'The server had an error while processing your request.', 'server_error', None)
        elif fault in {'html-200', 'html-502'}:
            return web.Response(text=HTML, status=200 if fault == 'html-200' else 502, content_type='text/html')
        return None

    async def _wait_for_disconnect(self, request: web.Request, seconds: float) -> None:
        """Wait until the client closes the connection (recorded in `disconnected`) or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if request.transport is None or request.transport.is_closing():
                self.disconnected.set()
                return
            await asyncio.sleep(0.01)


def _error(status: int, message: str, kind: str, code: str | None) -> web.Response:
    return web.json_response({'error': {'message': message, 'type': kind, 'param': None, 'code': code}}, status=status)


@asynccontextmanager
async def fake_llm() -> AsyncIterator[FakeLLM]:
    """Run a FakeLLM on 127.0.0.1 on the running loop."""
    fake = FakeLLM()
    app = web.Application()
    app.router.add_get('/v1/models', fake.list_models)
    app.router.add_post('/v1/chat/completions', fake.chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, '127.0.0.1', 0)
    await site.start()
    fake.base_url = f'http://127.0.0.1:{runner.addresses[0][1]}'
    try:
        yield fake
    finally:
        await runner.cleanup()
