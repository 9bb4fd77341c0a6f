"""HTTP handlers of the LoRA hash node, independent of ComfyUI's PromptServer so any aiohttp app can mount them."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Callable

from aiohttp import web

from .contract import HASH_ROUTE, PING_PATH, VERSION, HashAnswer, PingAnswer, error_body
from .hash_cache import HashCache

log = logging.getLogger(__name__)

LIST_TTL = 10.0

_DRIVE = re.compile(r'^[A-Za-z]:')


def check_name(filename: str) -> str | None:
    """Return why a requested name can never be a listed LoRA (traversal, absolute, control chars), else None."""
    if not filename or len(filename) > 1024:
        return 'empty or overlong name'
    if any(ord(char) < 32 for char in filename):
        return 'control characters in name'
    unified = filename.replace('\\', '/')
    if unified.startswith('/') or _DRIVE.match(unified):
        return 'absolute paths are not allowed'
    if any(part in {'', '.', '..'} for part in unified.split('/')):
        return 'path traversal is not allowed'
    return None


def normalize(filename: str) -> str:
    """Return the name with either separator unified to '/'."""
    return filename.replace('\\', '/')


class LoraHashRoutes:
    """Answer ping and per-file hash requests for the LoRAs that list_loras() names; nothing else is ever read."""

    def __init__(
        self,
        list_loras: Callable[[], list[str]],
        resolve: Callable[[str], str | None],
        cache: HashCache,
        *,
        list_ttl: float = LIST_TTL,
    ) -> None:
        self.list_loras = list_loras
        self.resolve = resolve
        self.cache = cache
        self.list_ttl = list_ttl
        self._names: dict[str, str] = {}
        self._paths: dict[str, str] = {}
        self._listed_at = float('-inf')
        self._list_lock = asyncio.Lock()

    def route_defs(self) -> list[web.RouteDef]:
        """Return the route definitions for `app.add_routes(...)` on any aiohttp application."""
        return [web.get(PING_PATH, self.ping), web.get(HASH_ROUTE, self.hash)]

    async def ping(self, request: web.Request) -> web.Response:
        """Say the node is installed, with its version and cache size."""
        answer = PingAnswer(ok=True, version=VERSION, cache_entries=len(self.cache), hashing=self.cache.inflight)
        return web.json_response(answer.to_json())

    async def hash(self, request: web.Request) -> web.Response:
        """Answer sha256, size and mtime of one listed LoRA, hashing it in a thread unless the cache is valid."""
        filename = request.match_info['filename']
        problem = check_name(filename)
        if problem is not None:
            return _error(400, problem, filename)
        listed = await self._listed_name(filename)
        if listed is None:
            return _error(404, 'not a listed LoRA', filename)
        path = await asyncio.to_thread(self.resolve, listed)
        if path is None:
            if (known := self._paths.pop(listed, None)) is not None:
                self.cache.forget(known)
            return _error(404, 'LoRA file not found', filename)
        self._paths[listed] = path
        try:
            result = await self.cache.get_async(path)
        except FileNotFoundError:
            return _error(404, 'LoRA file not found', filename)
        except OSError as error:
            log.warning('LoRA hash: cannot hash %s: %s', path, error)
            return _error(500, f'cannot read LoRA file: {error.strerror or error}', filename)
        answer = HashAnswer(
            filename=listed,
            sha256=result.sha256,
            size=result.size,
            mtime=result.mtime,
            mtime_ns=result.mtime_ns,
            cached=result.cached,
        )
        return web.json_response(answer.to_json())

    async def _listed_name(self, filename: str) -> str | None:
        """Return the name as listed for filename (either separator), re-listing when stale or on a miss."""
        key = normalize(filename)
        started = time.monotonic()
        if started - self._listed_at < self.list_ttl and key in self._names:
            return self._names[key]
        async with self._list_lock:
            if self._listed_at < started:  # nobody re-listed while we waited for the lock
                names = await asyncio.to_thread(self.list_loras)
                self._names = {normalize(name): name for name in names}
                self._listed_at = time.monotonic()
        return self._names.get(key)


def _error(status: int, message: str, filename: str) -> web.Response:
    return web.json_response(error_body(message, filename), status=status)


def register(routes: web.RouteTableDef, handlers: LoraHashRoutes) -> None:
    """Add both routes to a RouteTableDef, such as ComfyUI's `PromptServer.instance.routes`."""
    routes.get(PING_PATH)(handlers.ping)
    routes.get(HASH_ROUTE)(handlers.hash)


def folder_paths_loras() -> tuple[Callable[[], list[str]], Callable[[str], str | None]]:
    """Return how a running ComfyUI lists its LoRA names and resolves one to a file; ImportError outside ComfyUI."""
    import folder_paths  # ComfyUI's own module, present only inside ComfyUI

    def resolve(name: str) -> str | None:
        path = folder_paths.get_full_path('loras', name)
        return path if path and os.path.isfile(path) else None

    return (lambda: list(folder_paths.get_filename_list('loras'))), resolve


def folder_paths_handlers(cache: HashCache) -> LoraHashRoutes:
    """Build the handlers for a running ComfyUI: names and paths from its `folder_paths` module."""
    return LoraHashRoutes(*folder_paths_loras(), cache)
