"""A fake Civitai on loopback answering with the shapes of ../shared/civitai/samples/, run in its own thread."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

SAMPLES = Path('/work/shared/civitai/samples')
if not SAMPLES.exists():
    SAMPLES = Path(__file__).resolve().parents[3] / 'shared' / 'civitai' / 'samples'


def sample(name: str) -> object:
    """Return one stored Civitai answer."""
    return json.loads((SAMPLES / name).read_text(encoding='utf-8'))


@dataclass
class FakeCivitai:
    """Known files by SHA256, queued faults, and a count of requests per path."""

    base_url: str = ''
    versions: dict[str, dict] = field(default_factory=dict)
    models: dict[int, dict] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    authorizations: list[str | None] = field(default_factory=list)

    def add(self, sha256: str, *, model_id: int = 117371, version_id: int = 128713, name: str = 'v1.0') -> dict:
        """Make a file known to Civitai: the sample version, re-keyed to this hash and ids."""
        version = copy.deepcopy(sample('by-hash_found.json'))
        version.update(id=version_id, modelId=model_id, name=name)
        version['files'][0]['hashes']['SHA256'] = sha256.upper()
        self.versions[sha256.upper()] = version
        model = copy.deepcopy(sample('model.json'))
        model['id'] = model_id
        self.models.setdefault(model_id, model)
        return version

    async def by_hash(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        self.authorizations.append(request.headers.get('Authorization'))
        if fault := self._fault():
            return fault
        version = self.versions.get(request.match_info['hash'].upper())
        if version is None:
            return web.json_response(sample('by-hash_not_found.json'), status=404)
        return web.json_response(version)

    async def model(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        if fault := self._fault():
            return fault
        model = self.models.get(int(request.match_info['model_id']))
        if model is None:
            return web.json_response({'error': 'Model not found'}, status=404)
        return web.json_response(model)

    def _fault(self) -> web.Response | None:
        if not self.faults:
            return None
        kind = self.faults.pop(0)
        if kind == '429':
            return web.json_response({'error': 'Too many requests'}, status=429, headers={'Retry-After': '0'})
        if kind == 'html':
            html = (SAMPLES / 'edge_challenge.html').read_text(encoding='utf-8')
            return web.Response(text=html, status=503, content_type='text/html')
        return web.json_response({'error': 'Internal error'}, status=500)


@contextmanager
def fake_civitai() -> Iterator[FakeCivitai]:
    """Run a FakeCivitai on 127.0.0.1 in a background thread (the node's urllib client is blocking)."""
    fake = FakeCivitai()
    app = web.Application()
    app.router.add_get('/api/v1/model-versions/by-hash/{hash}', fake.by_hash)
    app.router.add_get('/api/v1/models/{model_id}', fake.model)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, '127.0.0.1', 0)
    loop.run_until_complete(site.start())
    fake.base_url = f'http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}'  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
