"""VCC LoRA hash node for ComfyUI: per-file SHA256 routes, the LoRAInfoExtractor node and cache diagnostics.

Copy this folder into `ComfyUI/custom_nodes/`. Outside ComfyUI (tests, the VCC simulator) importing it registers
nothing; the handler logic lives in `routes.py` and can be mounted on any aiohttp application.
"""

from __future__ import annotations

import logging

from .contract import HASH_PATH, PING_PATH, VERSION
from .diagnostics import LoRAHashCacheDiagnostics
from .extractor import LoRAInfoExtractor

log = logging.getLogger(__name__)

__all__ = ['HASH_PATH', 'NODE_CLASS_MAPPINGS', 'NODE_DISPLAY_NAME_MAPPINGS', 'PING_PATH', 'VERSION', 'install']

NODE_CLASS_MAPPINGS = {
    'LoRAInfoExtractor': LoRAInfoExtractor,
    'LoRAHashCacheDiagnostics': LoRAHashCacheDiagnostics,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    'LoRAInfoExtractor': 'LoRA Info Extractor (VCC)',
    'LoRAHashCacheDiagnostics': 'LoRA Hash Cache Diagnostics (VCC)',
}


def install() -> bool:
    """Register the routes on ComfyUI's PromptServer when running inside ComfyUI; return whether it did."""
    try:
        from server import PromptServer  # ComfyUI's own module
    except ImportError:
        return False
    instance = getattr(PromptServer, 'instance', None)
    if instance is None or not hasattr(instance, 'routes'):
        return False
    from .hash_cache import get_cache
    from .routes import folder_paths_handlers, register

    try:
        handlers = folder_paths_handlers(get_cache())
    except ImportError:
        log.warning('VCC LoRA hash: ComfyUI folder_paths is missing; routes not registered')
        return False
    register(instance.routes, handlers)
    log.info('VCC LoRA hash %s: %s and %s registered', VERSION, PING_PATH, HASH_PATH)
    return True


install()
