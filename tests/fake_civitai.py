"""A fake Civitai on loopback (same event loop) answering with ../shared/civitai/samples shapes, with fault knobs."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.comfy_node.fake_civitai import SAMPLES, sample
from tests.images import jpeg_bytes

BY_HASH = '/api/v1/model-versions/by-hash'


@dataclass
class FakeCivitai:
    """Known versions by SHA256 (upper case), models by id, queued faults and request counters by kind."""

    base_url: str = ''
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
        model_id: int = 117371,
        version_id: int = 128713,
        name: str = 'v1.0',
        trained_words: list[str] | None = None,
        base_model: str = 'SDXL 1.0',
    ) -> dict:
        """Make a file known: the sample version re-keyed to this hash and ids, its images served here."""
        version = copy.deepcopy(sample('by-hash_found.json'))
        version.update(id=version_id, modelId=model_id, name=name, baseModel=base_model)
        if trained_words is not None:
            version['trainedWords'] = trained_words
        version['files'][0]['hashes']['SHA256'] = sha256.upper()
        for i, image in enumerate(version['images']):
            image['url'] = f'{self.base_url}/images/{version_id}/{i}.jpeg'
        self.versions[sha256.upper()] = version
        model = copy.deepcopy(sample('model.json'))
        model.update(id=model_id, name=f'Model {model_id}')
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
            html = (SAMPLES / 'edge_challenge.html').read_text(encoding='utf-8')
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


@asynccontextmanager
async def fake_civitai() -> AsyncIterator[FakeCivitai]:
    """Run a FakeCivitai on 127.0.0.1 on the running loop."""
    fake = FakeCivitai()
    app = web.Application()
    app.router.add_get(BY_HASH + '/{hash}', fake.by_hash)
    app.router.add_post(BY_HASH, fake.by_hash_batch)
    app.router.add_get('/api/v1/models/{model_id}', fake.model)
    app.router.add_get('/images/{version_id}/{index}', fake.image)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, '127.0.0.1', 0)
    await site.start()
    fake.base_url = f'http://127.0.0.1:{runner.addresses[0][1]}'
    try:
        yield fake
    finally:
        await runner.cleanup()
