"""The node's HTTP routes on a real aiohttp server on loopback: hashes of listed LoRAs only."""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from comfy_node import hash_cache
from comfy_node.contract import HASH_PATH, PING_PATH, VERSION, hash_path
from comfy_node.hash_cache import HashCache
from comfy_node.routes import LoraHashRoutes, check_name
from tests.fixtures import wait_for


@dataclass
class Node:
    """A mounted node: its client, its LoRA folder, and which names it resolved and which files it hashed."""

    client: httpx.AsyncClient
    root: Path
    cache: HashCache
    names: list[str]
    resolved: list[str] = field(default_factory=list)
    hashed: list[str] = field(default_factory=list)


@pytest.fixture
async def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Node]:
    root = tmp_path / 'models' / 'loras'
    (root / 'sub').mkdir(parents=True)
    (root / 'Zeta_Detail.safetensors').write_bytes(b'zeta' * 1000)
    (root / 'sub' / 'char_b.safetensors').write_bytes(b'char b weights')
    (tmp_path / 'models' / 'checkpoints').mkdir()
    (tmp_path / 'models' / 'checkpoints' / 'model.safetensors').write_bytes(b'checkpoint')
    (tmp_path / 'secret.safetensors').write_bytes(b'secret')
    cache = HashCache(tmp_path / 'cache' / 'hashes.json', save_delay=0)
    state = Node(
        client=None,
        root=root,
        cache=cache,  # type: ignore[arg-type]
        names=['Zeta_Detail.safetensors', 'sub/char_b.safetensors'],
    )

    def resolve(name: str) -> str | None:
        state.resolved.append(name)
        path = os.path.join(root, name)  # like folder_paths: a plain join, so the routes must refuse traversal
        return path if os.path.isfile(path) else None

    real = hash_cache.sha256_file

    def spy(path: str, chunk_size: int = hash_cache.CHUNK_SIZE) -> str:
        state.hashed.append(path)
        return real(path, chunk_size)

    monkeypatch.setattr(hash_cache, 'sha256_file', spy)
    app = web.Application()
    app.add_routes(LoraHashRoutes(lambda: list(state.names), resolve, cache).route_defs())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, '127.0.0.1', 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with httpx.AsyncClient(base_url=f'http://127.0.0.1:{port}') as client:
        state.client = client
        yield state
    await runner.cleanup()


async def test_ping(node: Node) -> None:
    response = await node.client.get(PING_PATH)
    assert response.json() == {'ok': True, 'version': VERSION, 'cache_entries': 0, 'hashing': 0}


async def test_hash_of_listed_file_then_cached(node: Node) -> None:
    response = await node.client.get(hash_path('Zeta_Detail.safetensors'))
    body = response.json()
    path = node.root / 'Zeta_Detail.safetensors'
    assert response.status_code == 200
    assert body == {
        'filename': 'Zeta_Detail.safetensors',
        'sha256': hashlib.sha256(b'zeta' * 1000).hexdigest(),
        'size': 4000,
        'mtime': path.stat().st_mtime_ns / 1e9,
        'mtime_ns': path.stat().st_mtime_ns,
        'cached': False,
    }
    again = (await node.client.get(hash_path('Zeta_Detail.safetensors'))).json()
    assert again['cached'] is True
    assert again['sha256'] == body['sha256']
    assert len(node.hashed) == 1
    assert (await node.client.get(PING_PATH)).json()['cache_entries'] == 1


@pytest.mark.parametrize('spelling', ['sub/char_b.safetensors', 'sub%2Fchar_b.safetensors', 'sub%5Cchar_b.safetensors'])
async def test_subfolder_names_with_either_separator(node: Node, spelling: str) -> None:
    response = await node.client.get(HASH_PATH.format(filename=spelling))
    assert response.status_code == 200
    assert response.json()['filename'] == 'sub/char_b.safetensors'
    assert response.json()['sha256'] == hashlib.sha256(b'char b weights').hexdigest()


async def test_windows_listing_accepts_forward_slashes(node: Node) -> None:
    node.names[1] = 'sub\\char_b.safetensors'
    node.root.joinpath('sub\\char_b.safetensors').write_bytes(b'as windows would resolve it')
    response = await node.client.get(hash_path('sub/char_b.safetensors'))
    assert response.json()['filename'] == 'sub\\char_b.safetensors'
    assert node.resolved == ['sub\\char_b.safetensors']


async def test_unknown_name_is_404_json(node: Node) -> None:
    response = await node.client.get(hash_path('missing.safetensors'))
    assert response.status_code == 404
    assert response.json()['error'] == 'not a listed LoRA'
    assert node.resolved == []


async def test_listed_but_deleted_file_is_404(node: Node) -> None:
    await node.client.get(hash_path('Zeta_Detail.safetensors'))
    (node.root / 'Zeta_Detail.safetensors').unlink()
    response = await node.client.get(hash_path('Zeta_Detail.safetensors'))
    assert response.status_code == 404
    assert len(node.cache) == 0


async def test_new_file_is_found_without_waiting_for_the_list_to_expire(node: Node) -> None:
    assert (await node.client.get(hash_path('Zeta_Detail.safetensors'))).status_code == 200
    (node.root / 'new.safetensors').write_bytes(b'new')
    node.names.append('new.safetensors')
    assert (await node.client.get(hash_path('new.safetensors'))).status_code == 200


@pytest.mark.parametrize(
    'spelling',
    [
        '%2E%2E/secret.safetensors',
        '..%2Fsecret.safetensors',
        '..%5Csecret.safetensors',
        'sub/%2E%2E/%2E%2E/secret.safetensors',
        '%2E%2E/checkpoints/model.safetensors',
        'SECRET',
        '%2Fetc%2Fpasswd',
        'C:%5CWindows%5Cwin.ini',
        '%2E%2E',
        'sub//char_b.safetensors',
        'a%00b',
    ],
)
async def test_traversal_and_absolute_names_are_refused_unread(
    node: Node, spelling: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real_open = builtins.open

    def spy_open(file: object, *args: object, **kwargs: object) -> object:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, 'open', spy_open)
    response = await node.client.get(
        HASH_PATH.format(
            filename=spelling.replace('SECRET', str(node.root.parent.parent / 'secret.safetensors').replace('/', '%2F'))
        )
    )
    assert response.status_code == 400
    assert 'error' in response.json()
    assert node.resolved == []
    assert node.hashed == []
    assert not [path for path in opened if 'secret' in path or 'checkpoints' in path or 'passwd' in path]


async def test_other_model_folders_are_not_listed_loras(node: Node) -> None:
    node.names.append('../checkpoints/model.safetensors')  # even if a listing were wrong, traversal is refused
    for name in ('checkpoints/model.safetensors', '../checkpoints/model.safetensors'):
        response = await node.client.get(hash_path(name))
        assert response.status_code in {400, 404}
    assert node.hashed == []


def test_check_name() -> None:
    assert check_name('sub/char_b.safetensors') is None
    assert check_name('sub\\char_b.safetensors') is None
    for bad in ('', '../x', 'a/../../x', '/abs', '\\\\server\\share', 'C:x', 'a/./b', 'a\x00b', 'x' * 2000):
        assert check_name(bad) is not None, bad


async def test_concurrent_requests_hash_once(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    real = hash_cache.sha256_file  # the fixture's spy, which records the call

    def gated(path: str, chunk_size: int = hash_cache.CHUNK_SIZE) -> str:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(10)
        return real(path, chunk_size)

    monkeypatch.setattr(hash_cache, 'sha256_file', gated)
    requests = [asyncio.create_task(node.client.get(hash_path('sub/char_b.safetensors'))) for _ in range(8)]
    await wait_for(lambda: node.cache.stats['joined'] == 7)
    release.set()
    responses = await asyncio.gather(*requests)
    assert {response.json()['sha256'] for response in responses} == {hashlib.sha256(b'char b weights').hexdigest()}
    assert len(node.hashed) == 1
