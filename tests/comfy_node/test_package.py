"""The package as ComfyUI loads it (from custom_nodes, with `server` and `folder_paths`) and outside ComfyUI."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import httpx
import pytest
from aiohttp import web

import comfy_node

PACKAGE = Path(comfy_node.__file__).resolve().parent


def test_import_outside_comfyui_registers_nothing() -> None:
    code = (
        'import sys, comfy_node; assert comfy_node.install() is False; '
        'assert "server" not in sys.modules and "folder_paths" not in sys.modules; '
        'print(sorted(comfy_node.NODE_CLASS_MAPPINGS))'
    )
    out = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent, timeout=60
    )
    assert out.stdout.strip() == "['LoRAHashCacheDiagnostics', 'LoRAInfoExtractor']"


def test_node_classes_follow_comfyui_conventions() -> None:
    for name, cls in comfy_node.NODE_CLASS_MAPPINGS.items():
        assert name in comfy_node.NODE_DISPLAY_NAME_MAPPINGS
        assert isinstance(cls.INPUT_TYPES(), dict)
        assert len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES)
        assert callable(getattr(cls, cls.FUNCTION))
        assert cls.CATEGORY


def test_pyproject_declares_the_comfy_registry_table_and_version() -> None:
    data = tomllib.loads((PACKAGE / 'pyproject.toml').read_text(encoding='utf-8'))
    assert data['project']['version'] == comfy_node.VERSION
    assert {'PublisherId', 'DisplayName', 'Icon'} <= set(data['tool']['comfy'])


def test_no_vcc_ui_imports() -> None:
    for source in PACKAGE.glob('*.py'):
        assert 'vcc_ui' not in source.read_text(encoding='utf-8'), source


@pytest.fixture
def comfyui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """Fake ComfyUI modules: `server.PromptServer.instance.routes` and `folder_paths` over tmp_path/loras."""
    root = tmp_path / 'loras'
    (root / 'sub').mkdir(parents=True)
    (root / 'sub' / 'char_b.safetensors').write_bytes(b'char b')
    prompt_server = types.SimpleNamespace(instance=types.SimpleNamespace(routes=web.RouteTableDef()))
    server = types.ModuleType('server')
    server.PromptServer = prompt_server  # type: ignore[attr-defined]
    folder_paths = types.ModuleType('folder_paths')
    folder_paths.get_filename_list = lambda folder: ['sub/char_b.safetensors'] if folder == 'loras' else []  # type: ignore[attr-defined]

    def get_full_path(folder: str, name: str) -> str | None:
        path = os.path.join(root, name)
        return path if folder == 'loras' and os.path.isfile(path) else None

    folder_paths.get_full_path = get_full_path  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, 'server', server)
    monkeypatch.setitem(sys.modules, 'folder_paths', folder_paths)
    monkeypatch.setenv('VCC_LORA_HASH_CACHE', str(tmp_path / 'cache' / 'hashes.json'))
    return types.SimpleNamespace(routes=prompt_server.instance.routes, root=root)


def load_as_custom_node(name: str) -> types.ModuleType:
    """Import the folder the way ComfyUI imports a custom_nodes package."""
    spec = importlib.util.spec_from_file_location(
        name, PACKAGE / '__init__.py', submodule_search_locations=[str(PACKAGE)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def test_inside_comfyui_both_routes_are_registered_and_answer(comfyui: types.SimpleNamespace) -> None:
    try:
        module = load_as_custom_node('vcc_lora_hash_under_test')
        paths = {route.path for route in comfyui.routes}  # type: ignore[attr-defined]
        assert paths == {module.PING_PATH, '/api/vcc/lora-hash/{filename:.+}'}
        assert set(module.NODE_CLASS_MAPPINGS) == {'LoRAInfoExtractor', 'LoRAHashCacheDiagnostics'}

        app = web.Application()
        app.add_routes(comfyui.routes)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, '127.0.0.1', 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with httpx.AsyncClient(base_url=f'http://127.0.0.1:{port}') as client:
                assert (await client.get(module.PING_PATH)).json()['ok'] is True
                body = (await client.get('/api/vcc/lora-hash/sub/char_b.safetensors')).json()
                assert body['sha256'] == hashlib.sha256(b'char b').hexdigest()
                assert (await client.get('/api/vcc/lora-hash/x.ckpt')).status_code == 404
        finally:
            await runner.cleanup()
    finally:
        for name in [name for name in sys.modules if name.startswith('vcc_lora_hash_under_test')]:
            del sys.modules[name]
