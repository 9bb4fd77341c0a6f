"""LoRA files of the simulator: a real folder listed like ComfyUI does, demo files, and the VCC hash node's routes."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from aiohttp import web

from comfy_node.contract import HASH_ROUTE, PING_PATH
from comfy_node.hash_cache import HashCache
from comfy_node.routes import LoraHashRoutes
from vcc_ui.services.comfy.protocol import API_PREFIX

LORA_EXTENSIONS = ('.ckpt', '.pt', '.pt2', '.bin', '.pth', '.safetensors', '.pkl', '.sft')
DEMO_LORAS = {'Zeta_Detail.safetensors': 3000, 'style_a.safetensors': 2000, 'sub/char_b.safetensors': 1000}


def scan(folder: Path) -> list[str]:
    """Return the LoRA files under folder as ComfyUI lists them: relative, OS separator, case-sensitive sort."""
    if not folder.is_dir():
        return []
    names = []
    for dirpath, _dirs, filenames in os.walk(folder, followlinks=True):
        for filename in filenames:
            if filename.lower().endswith(LORA_EXTENSIONS):
                names.append(os.path.relpath(os.path.join(dirpath, filename), folder))
    return sorted(names)


def resolve(folder: Path, name: str) -> str | None:
    """Return the file path of a listed LoRA name (either separator), or None."""
    path = folder.joinpath(*name.replace('\\', '/').split('/'))
    return str(path) if path.is_file() else None


def demo_bytes(name: str, size: int) -> bytes:
    """Return deterministic content for a demo LoRA: a safetensors-like header and repeated name hashes."""
    header = b'{"__metadata__":{"vcc_demo":"' + name.encode() + b'"}}'
    block = hashlib.sha256(name.encode()).digest()
    body = (block * (size // len(block) + 1))[:size]
    return len(header).to_bytes(8, 'little') + header + body


def seed_demo_loras(folder: Path) -> None:
    """Create the small demo LoRA files once (a folder that already exists is left alone)."""
    if folder.exists():
        return
    for name, size in DEMO_LORAS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(demo_bytes(name, size))


def experiment_listing(folder: Path) -> list[dict]:
    """Return `/experiment/models/loras`: name, pathIndex, modified, created and size of every LoRA."""
    out = []
    for name in scan(folder):
        try:
            st = os.stat(folder / name)
        except OSError:
            continue
        out.append(
            {
                'name': name.replace(os.sep, '/'),
                'pathIndex': 0,
                'modified': st.st_mtime,
                'created': st.st_ctime,
                'size': st.st_size,
            }
        )
    return out


class LoraFolder:
    """The folder mode of the simulator: the files, their listing and the node's hash handlers."""

    def __init__(self, folder: Path, cache_path: Path | None) -> None:
        self.folder = folder
        self.hash_delay = 0.0  # seconds each hash answer waits (a slow node)
        self.hash_requests = 0
        self.cache = HashCache(cache_path)
        self.routes = LoraHashRoutes(lambda: scan(self.folder), lambda name: resolve(self.folder, name), self.cache)

    def names(self) -> list[str]:
        """Return the listed names."""
        return scan(self.folder)

    def add_to(self, app: web.Application) -> None:
        """Mount the node's routes like ComfyUI mounts custom routes: as registered and with a second /api."""
        for path, handler in ((PING_PATH, self.routes.ping), (HASH_ROUTE, self._hash)):
            app.router.add_route('GET', path, handler)
            app.router.add_route('GET', API_PREFIX + path, handler)

    async def _hash(self, request: web.Request) -> web.StreamResponse:
        self.hash_requests += 1
        if self.hash_delay:
            await asyncio.sleep(self.hash_delay)
        return await self.routes.hash(request)

    async def experiment(self, _: web.Request) -> web.Response:
        """Serve `/experiment/models/loras`."""
        return web.json_response(await asyncio.to_thread(experiment_listing, self.folder))
