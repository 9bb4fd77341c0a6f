"""A fake Civitai on loopback answering from tests/fixtures/civitai, with fault knobs.

`fake_civitai()` serves on the test's own event loop (the app's async client); `fake_civitai_in_thread()` serves
the same app from an event loop in a thread (the comfy_node's blocking urllib client).
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.images import jpeg_bytes
from tests.samples import CIVITAI_SAMPLES, fixture_text

BY_HASH = '/api/v1/model-versions/by-hash'
SAMPLE_MODEL_ID = 117371  # the model of the captured answers (model.json, by-hash_found.json)


def sample(name: str) -> Any:
    """Return one captured Civitai answer (JSON) from tests/fixtures/civitai."""
    return json.loads(fixture_text(CIVITAI_SAMPLES, name))


@dataclass
class FakeCivitai:
    """Known versions by SHA256 (upper case), models by id, queued faults and request counters by kind."""

    base_url: str = ''
    keep_image_urls: bool = False  # True: image URLs stay the captured image.civitai.com ones, not served here
    versions: dict[str, dict] = field(default_factory=dict)
    models: dict[int, dict] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)  # consumed one per request: '429', '429-wait', '500', 'html'
    delay: float = 0.0  # seconds every answer waits (slow Civitai)
    requests: Counter[str] = field(default_factory=Counter)  # by_hash, by_hash_batch, model, image
    authorizations: list[str | None] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Return how many requests were answered, of every kind."""
        return sum(self.requests.values())

    def add(
        self,
        sha256: str,
        *,
        model_id: int = SAMPLE_MODEL_ID,
        version_id: int = 128713,
        name: str = 'v1.0',
        trained_words: list[str] | None = None,
        base_model: str = 'SDXL 1.0',
    ) -> dict:
        """Make a file known: the captured version re-keyed to this hash and ids (another model id, another name)."""
        version = copy.deepcopy(sample('by-hash_found.json'))
        version.update(id=version_id, modelId=model_id, name=name, baseModel=base_model)
        if trained_words is not None:
            version['trainedWords'] = trained_words
        version['files'][0]['hashes']['SHA256'] = sha256.upper()
        if not self.keep_image_urls:
            for i, image in enumerate(version['images']):
                image['url'] = f'{self.base_url}/images/{version_id}/{i}.jpeg'
        self.versions[sha256.upper()] = version
        model = copy.deepcopy(sample('model.json'))
        model['id'] = model_id
        if model_id != SAMPLE_MODEL_ID:
            model['name'] = f'Model {model_id}'
        self.models.setdefault(model_id, model)
        return version

    async def _answer(self, kind: str, request: web.Request) -> web.Response | None:
        self.requests[kind] += 1
        self.authorizations.append(request.headers.get('Authorization'))
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.faults:
            return None
        fault = self.faults.pop(0)
        if fault == '429':
            return web.json_response({'error': 'Too many requests'}, status=429)
        if fault == '429-wait':
            return web.json_response({'error': 'Too many requests'}, status=429, headers={'Retry-After': '0'})
        if fault == 'html':
            html = fixture_text(CIVITAI_SAMPLES, 'edge_challenge.html')
            return web.Response(text=html, status=503, content_type='text/html')
        return web.json_response({'error': 'Internal error'}, status=500)

    async def by_hash(self, request: web.Request) -> web.Response:
        if fault := await self._answer('by_hash', request):
            return fault
        version = self.versions.get(request.match_info['hash'].upper())
        if version is None:
            return web.json_response(sample('by-hash_not_found.json'), status=404)
        return web.json_response(version)

    async def by_hash_batch(self, request: web.Request) -> web.Response:
        if fault := await self._answer('by_hash_batch', request):
            return fault
        body = await request.json()
        if not isinstance(body, list) or len(body) > 100 or not all(isinstance(h, str) and len(h) == 64 for h in body):
            return web.json_response({'error': 'Invalid hashes'}, status=400)
        self.batch_sizes.append(len(body))
        return web.json_response([self.versions[h.upper()] for h in body if h.upper() in self.versions])

    async def model(self, request: web.Request) -> web.Response:
        if fault := await self._answer('model', request):
            return fault
        model = self.models.get(int(request.match_info['model_id']))
        if model is None:
            return web.json_response({'error': 'Model not found'}, status=404)
        return web.json_response(model)

    async def image(self, request: web.Request) -> web.Response:
        self.requests['image'] += 1
        shade = int(request.match_info['version_id']) % 200
        return web.Response(body=jpeg_bytes(64, 96, (shade, 80, 120)), content_type='image/jpeg')


async def _serve(fake: FakeCivitai) -> web.AppRunner:
    """Start the fake's routes on a free 127.0.0.1 port of the running loop and set its base_url."""
    app = web.Application()
    app.router.add_get(BY_HASH + '/{hash}', fake.by_hash)
    app.router.add_post(BY_HASH, fake.by_hash_batch)
    app.router.add_get('/api/v1/models/{model_id}', fake.model)
    app.router.add_get('/images/{version_id}/{index}', fake.image)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, '127.0.0.1', 0).start()
    fake.base_url = f'http://127.0.0.1:{runner.addresses[0][1]}'
    return runner


@asynccontextmanager
async def fake_civitai(*, keep_image_urls: bool = False) -> AsyncIterator[FakeCivitai]:
    """Run a FakeCivitai on 127.0.0.1 on the running loop."""
    fake = FakeCivitai(keep_image_urls=keep_image_urls)
    runner = await _serve(fake)
    try:
        yield fake
    finally:
        await runner.cleanup()


@contextmanager
def fake_civitai_in_thread(*, keep_image_urls: bool = False) -> Iterator[FakeCivitai]:
    """Run a FakeCivitai on 127.0.0.1 with its own event loop in a background thread (for blocking clients)."""
    fake = FakeCivitai(keep_image_urls=keep_image_urls)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name='fake-civitai', daemon=True)
    thread.start()
    try:
        runner = asyncio.run_coroutine_threadsafe(_serve(fake), loop).result(timeout=10)
        try:
            yield fake
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
