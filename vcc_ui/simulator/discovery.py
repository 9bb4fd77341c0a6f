"""Read-only discovery routes of the ComfyUI simulator (object_info, models, system_stats...)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from vcc_ui.services.comfy import protocol

from .catalogue import Catalogue

MAX_UPLOAD_SIZE = 100 * 1024 * 1024
MODEL_FOLDERS = [
    'checkpoints',
    'configs',
    'loras',
    'vae',
    'text_encoders',
    'diffusion_models',
    'clip_vision',
    'style_models',
    'embeddings',
    'diffusers',
    'vae_approx',
    'controlnet',
    'gligen',
    'upscale_models',
    'custom_nodes',
    'hypernetworks',
    'photomaker',
    'classifiers',
    'model_patches',
    'audio_encoders',
]


def feature_flags() -> dict[str, Any]:
    """Return the server feature flags (also the negotiation reply)."""
    return {protocol.SUPPORTS_PREVIEW_METADATA: True, 'max_upload_size': MAX_UPLOAD_SIZE}


class Discovery:
    """Handlers of the discovery routes."""

    def __init__(self, *, root: Path, catalogue: Catalogue, argv: Callable[[], list[str]]) -> None:
        self.root = root
        self.catalogue = catalogue
        self.argv = argv

    def routes(self) -> list[tuple[str, str, Callable[[web.Request], Any]]]:
        """Return (method, path, handler) for the routes that get an /api alias."""
        return [
            ('GET', protocol.OBJECT_INFO_PATH, self._object_info),
            ('GET', protocol.OBJECT_INFO_NODE_PATH, self._object_info_one),
            ('GET', protocol.SYSTEM_STATS_PATH, self._system_stats),
            ('GET', protocol.FEATURES_PATH, self._features),
            ('GET', protocol.MODELS_PATH, self._models),
            ('GET', protocol.MODELS_FOLDER_PATH, self._models_folder),
            ('GET', protocol.EMBEDDINGS_PATH, self._empty_list),
            ('GET', protocol.EXTENSIONS_PATH, self._empty_list),
        ]

    async def folder_paths(self, _: web.Request) -> web.Response:
        models, output = self.root / 'models', self.root / 'output'
        extra = {
            'checkpoints': [output / 'checkpoints'],
            'loras': [output / 'loras'],
            'vae': [output / 'vae'],
            'text_encoders': [models / 'clip', output / 'clip'],
            'controlnet': [models / 't2i_adapter'],
            'diffusion_models': [models / 'unet', output / 'diffusion_models'],
        }
        paths = {name: [str(models / name), *map(str, extra.get(name, []))] for name in MODEL_FOLDERS}
        paths['custom_nodes'] = [str(self.root / 'custom_nodes')]
        return web.json_response(paths)

    async def _object_info(self, _: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(self.catalogue.all_info))

    async def _object_info_one(self, request: web.Request) -> web.Response:
        name = request.match_info['node_class']
        info = await asyncio.to_thread(self.catalogue.info, name)
        return web.json_response({name: info} if info is not None else {})

    async def _features(self, _: web.Request) -> web.Response:
        return web.json_response(feature_flags())

    async def _system_stats(self, _: web.Request) -> web.Response:
        try:
            page = os.sysconf('SC_PAGE_SIZE')
            total, free = page * os.sysconf('SC_PHYS_PAGES'), page * os.sysconf('SC_AVPHYS_PAGES')
        except (ValueError, OSError, AttributeError):
            total, free = 16 * 1024**3, 12 * 1024**3
        system = {
            'os': os.name,
            'ram_total': total,
            'ram_free': free,
            'comfyui_version': '0.3.64',
            'required_frontend_version': '1.27.10',
            'installed_templates_version': '0.1.95',
            'required_templates_version': '0.1.95',
            'python_version': sys.version,
            'pytorch_version': '2.13.0+cpu',
            'embedded_python': False,
            'argv': self.argv(),
        }
        device = {
            'name': 'cpu',
            'type': 'cpu',
            'index': None,
            'vram_total': total,
            'vram_free': free,
            'torch_vram_total': total,
            'torch_vram_free': free,
        }
        return web.json_response({'system': system, 'devices': [device]})

    async def _models(self, _: web.Request) -> web.Response:
        return web.json_response(MODEL_FOLDERS)

    async def _models_folder(self, request: web.Request) -> web.Response:
        folder = request.match_info['folder']
        if folder not in MODEL_FOLDERS:
            return web.Response(status=404)
        lists = {'loras': sorted(self.catalogue.loras), 'checkpoints': sorted(self.catalogue.checkpoints)}
        return web.json_response(lists.get(folder, []))

    async def _empty_list(self, _: web.Request) -> web.Response:
        return web.json_response([])
