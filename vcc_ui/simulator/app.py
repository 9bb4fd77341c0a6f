"""A ComfyUI 0.3.64 look-alike: real aiohttp HTTP + WebSocket server on loopback, no GPU and no models."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import logging
import mimetypes
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from aiohttp import WSMsgType, web

from vcc_ui.services.comfy import protocol
from vcc_ui.services.comfy.protocol import MessageType
from vcc_ui.settings import Settings

from . import files, images
from .catalogue import Catalogue
from .discovery import MAX_UPLOAD_SIZE, Discovery, feature_flags
from .executor import Executor
from .faults import Faults
from .hub import Hub
from .loras import LoraFolder, seed_demo_loras
from .promptlog import PromptLog

log = logging.getLogger(__name__)

DEFAULT_CHECKPOINTS = ['sim_sd15.safetensors', 'sim_sdxl.safetensors']
DEFAULT_LORAS = ['style_a.safetensors', 'sub/char_b.safetensors', 'Zeta_Detail.safetensors']
FOLDER_TYPES = files.FOLDER_TYPES
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_loopback(host: str) -> bool:
    name = host.rsplit(':', 1)[0].strip('[]') if host.count(':') <= 1 or host.startswith('[') else host
    if name.lower() == 'localhost':
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Simulator:
    """Serve ComfyUI's HTTP + WS protocol from memory, with deterministic Pillow images as results."""

    def __init__(
        self,
        *,
        root: Path,
        host: str = '127.0.0.1',
        port: int = 0,
        preview_size: int = 512,
        preview_method: str = 'auto',
        loras: list[str] | None = None,
        checkpoints: list[str] | None = None,
        lora_folder: bool = False,
        demo_loras: bool = False,
        node_installed: bool = True,
        prompt_log: Path | None = None,
        seed: int | None = None,
    ) -> None:
        self.root = Path(root)
        self.node_installed = node_installed
        self.lora_files: LoraFolder | None = None
        if lora_folder:  # list real files of root/models/loras (hashable by the node) instead of the names given
            folder = self.root / 'models' / 'loras'
            if demo_loras:
                seed_demo_loras(folder)
            folder.mkdir(parents=True, exist_ok=True)
            self.lora_files = LoraFolder(folder, self.root / 'lora_hash_cache.json')
        self.host = host
        self.port = port
        self.faults = Faults()
        self.prompts_received = 0
        self.prompt_log = PromptLog(prompt_log) if prompt_log is not None else None
        self.hub = Hub()
        self.catalogue = Catalogue(
            root=self.root,
            checkpoints=list(checkpoints or DEFAULT_CHECKPOINTS),
            loras=list(loras if loras is not None else DEFAULT_LORAS),
            list_loras=self.lora_files.names if self.lora_files else None,
        )
        self.executor = Executor(
            root=self.root,
            catalogue=self.catalogue,
            hub=self.hub,
            faults=self.faults,
            preview_size=preview_size,
            preview_method=preview_method,
            prompt_log=self.prompt_log,
            seed=seed,
        )
        self.discovery = Discovery(
            root=self.root,
            catalogue=self.catalogue,
            argv=lambda: ['main.py', '--cpu', '--listen', self.host, '--port', str(self.port)],
        )
        self._runner: web.AppRunner | None = None
        for kind in FOLDER_TYPES:
            (self.root / kind).mkdir(parents=True, exist_ok=True)

    # public ------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Return the base URL (valid after start)."""
        return f'http://{self.host}:{self.port}'

    @property
    def loras(self) -> list[str]:
        """Return the LoRA names offered (re-read on each request; mutable unless listing a folder)."""
        return self.catalogue.loras

    @property
    def checkpoints(self) -> list[str]:
        """Return the checkpoint names offered (mutable)."""
        return self.catalogue.checkpoints

    @property
    def history_ids(self) -> list[str]:
        """Return the prompt ids in history, oldest first."""
        return list(self.executor.state.history)

    @property
    def running_prompt_id(self) -> str | None:
        """Return the id of the prompt that is running."""
        running = self.executor.state.running
        return running[1] if running else None

    @property
    def client_ids(self) -> list[str]:
        """Return the client ids in the socket table."""
        return list(self.hub.sockets)

    @property
    def is_up(self) -> bool:
        """Tell whether the server is listening."""
        return self._runner is not None

    async def start(self) -> None:
        """Clear temp/ and start listening."""
        for path in (self.root / 'temp').glob('*'):
            if path.is_file():
                path.unlink()
        await self._listen()
        log.info('ComfyUI simulator listening on %s', self.url)

    async def stop(self) -> None:
        """Stop listening, close all sockets and the worker; save the node's hash cache."""
        await self._shutdown()
        if self.lora_files:
            await asyncio.to_thread(self.lora_files.cache.close)

    async def go_down(self, *, keep_state: bool = False) -> None:
        """Stop listening and drop all sockets; forget queue and history unless keep_state."""
        await self._shutdown()
        if not keep_state:
            self.executor.reset()
        log.info('ComfyUI simulator went down (keep_state=%s)', keep_state)

    async def come_back(self) -> None:
        """Listen again on the same port."""
        await self._listen()
        log.info('ComfyUI simulator is back on %s', self.url)

    async def drop_websockets(self) -> None:
        """Abort every WebSocket connection (server side)."""
        await self.hub.drop_all()

    # lifecycle ---------------------------------------------------------------------------------------------

    async def _listen(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self._build_app(), shutdown_timeout=0.2, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        self.executor.start()

    async def _shutdown(self) -> None:
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await self.hub.drop_all()
        await self.executor.stop()
        await runner.cleanup()

    def _build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._not_found_middleware, self._origin_middleware], client_max_size=MAX_UPLOAD_SIZE
        )
        routes: list[tuple[str, str, Handler]] = [
            ('GET', protocol.WS_PATH, self._ws),
            ('POST', protocol.PROMPT_PATH, self._post_prompt),
            ('GET', protocol.PROMPT_PATH, self._get_prompt),
            ('GET', protocol.QUEUE_PATH, self._get_queue),
            ('POST', protocol.QUEUE_PATH, self._post_queue),
            ('POST', protocol.INTERRUPT_PATH, self._post_interrupt),
            ('GET', protocol.HISTORY_PATH, self._get_history),
            ('GET', protocol.HISTORY_ITEM_PATH, self._get_history_id),
            ('POST', protocol.HISTORY_PATH, self._post_history),
            ('GET', protocol.VIEW_PATH, self._view),
            ('POST', protocol.UPLOAD_IMAGE_PATH, self._upload_image),
            ('POST', protocol.FREE_PATH, self._empty_ok),
            *self.discovery.routes(),
        ]
        if self.lora_files:
            routes.append(('GET', protocol.EXPERIMENT_LORAS_PATH, self.lora_files.experiment))
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
            app.router.add_route(method, protocol.API_PREFIX + path, handler)
        if self.lora_files and self.node_installed:
            self.lora_files.add_to(app)
        app.router.add_get(protocol.INTERNAL_FOLDER_PATHS_PATH, self.discovery.folder_paths)
        app.router.add_get(protocol.INTERNAL_FILES_PATH, self._internal_files)
        app.router.add_get('/sim/faults', self._get_faults)
        app.router.add_post('/sim/faults', self._post_faults)
        app.router.add_get('/sim/prompts', self._get_prompts)
        return app

    # middlewares -------------------------------------------------------------------------------------------

    @web.middleware
    async def _not_found_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return web.Response(status=404, body=b'', content_type='application/octet-stream')

    @web.middleware
    async def _origin_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.faults.refuse and not request.path.startswith('/sim/'):
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable
        if self.faults.slow_ms > 0 and not request.path.startswith('/sim/') and not request.path.endswith('/ws'):
            await asyncio.sleep(self.faults.slow_ms / 1000)
        path = request.path.removeprefix(protocol.API_PREFIX)
        if self.faults.http_errors.get(path, 0) > 0:
            self.faults.http_errors[path] -= 1
            log.info('answering 500 to %s %s (fault injection)', request.method, request.path)
            return web.Response(status=500, text='Simulated server error (fault injection)')
        host, origin = request.headers.get('Host'), request.headers.get('Origin')
        if host and origin and _is_loopback(host):
            origin_host = urlparse(origin).netloc.lower()
            if origin_host != host.lower():
                log.warning('rejecting request with Origin %s for Host %s', origin, host)
                return web.Response(status=403)
        return await handler(request)

    # websocket ---------------------------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_UPLOAD_SIZE)
        await ws.prepare(request)
        sid = request.query.get('clientId', '')
        if sid:
            self.hub.sockets.pop(sid, None)
        else:
            sid = uuid.uuid4().hex
        self.hub.sockets[sid] = ws
        self.hub.metadata[sid] = {'feature_flags': {}}
        self.hub.open[ws] = request
        try:
            await self.hub.send_json(MessageType.STATUS, {**self.executor.status_data(), 'sid': sid}, sid)
            if self.executor.client_id == sid and self.executor.last_node_id is not None:
                await self.hub.send_json(MessageType.EXECUTING, {'node': self.executor.last_node_id}, sid)
            first = True
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    log.warning('ws connection closed with exception %s', ws.exception())
                elif msg.type == WSMsgType.TEXT:
                    try:
                        data = json.loads(msg.data)
                    except json.JSONDecodeError:
                        log.warning('Invalid JSON received from client %s: %s', sid, msg.data)
                        continue
                    if first and isinstance(data, dict) and data.get('type') == MessageType.FEATURE_FLAGS:
                        if sid in self.hub.metadata:
                            self.hub.metadata[sid]['feature_flags'] = data.get('data', {})
                        await self.hub.send_json(MessageType.FEATURE_FLAGS, feature_flags(), sid)
                    first = False
        finally:
            self.hub.sockets.pop(sid, None)
            self.hub.metadata.pop(sid, None)
            self.hub.open.pop(ws, None)
        return ws

    # prompts, queue, history -------------------------------------------------------------------------------

    async def _post_prompt(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.prompts_received += 1
        state = self.executor.state
        if 'number' in body:
            number: float = float(body['number'])
        else:
            number = -state.number if body.get('front') else state.number
        state.number += 1
        if 'prompt' not in body:
            error = {
                'type': 'no_prompt',
                'message': 'No prompt provided',
                'details': 'No prompt provided',
                'extra_info': {},
            }
            return web.json_response({'error': error, 'node_errors': {}}, status=400)
        prompt = body['prompt']
        result = await asyncio.to_thread(self.catalogue.validate, prompt, body.get('partial_execution_targets'))
        extra_data = dict(body.get('extra_data') or {})
        if 'client_id' in body:
            extra_data['client_id'] = body['client_id']
        prompt_id = str(body.get('prompt_id') or uuid.uuid4())
        if self.prompt_log is not None:
            self.prompt_log.received(prompt_id, body.get('client_id'), accepted=result.ok)
        if not result.ok:
            log.info('invalid prompt: %s', result.error)
            return web.json_response({'error': result.error, 'node_errors': result.node_errors}, status=400)
        await self.executor.put([number, prompt_id, prompt, extra_data, result.outputs])
        if self.faults.accept_then_fail:
            how = self.faults.accept_then_fail.pop(0)
            log.info('prompt %s queued, then %s (fault injection)', prompt_id, how)
            if how == 'drop' and request.transport is not None:
                request.transport.abort()
            return web.Response(status=500, text='Simulated failure after queueing the prompt (fault injection)')
        return web.json_response({'prompt_id': prompt_id, 'number': number, 'node_errors': result.node_errors})

    async def _get_prompt(self, _: web.Request) -> web.Response:
        return web.json_response(self.executor.status_data()['status'])

    async def _get_queue(self, _: web.Request) -> web.Response:
        running = self.executor.state.running
        return web.json_response(
            {'queue_running': [running] if running else [], 'queue_pending': self.executor.pending_items()}
        )

    async def _post_queue(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get('clear'):
            await self.executor.clear()
        if 'delete' in body:
            await self.executor.delete([str(i) for i in body['delete']])
        return web.Response(status=200)

    async def _post_interrupt(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = {}
        prompt_id = body.get('prompt_id') if isinstance(body, dict) else None
        self.executor.interrupt(prompt_id or None)
        return web.Response(status=200)

    async def _get_history(self, request: web.Request) -> web.Response:
        history = self.executor.state.history
        max_items = int(request.query['max_items']) if 'max_items' in request.query else None
        offset = int(request.query.get('offset', -1))
        if offset < 0 and max_items is not None:
            offset = len(history) - max_items
        out: dict[str, Any] = {}
        for i, key in enumerate(history):
            if i >= offset:
                out[key] = history[key]
                if max_items is not None and len(out) >= max_items:
                    break
        return web.json_response(out)

    async def _get_history_id(self, request: web.Request) -> web.Response:
        prompt_id = request.match_info['prompt_id']
        entry = self.executor.state.history.get(prompt_id)
        return web.json_response({prompt_id: entry} if entry is not None else {})

    async def _post_history(self, request: web.Request) -> web.Response:
        body = await request.json()
        history = self.executor.state.history
        if body.get('clear'):
            history.clear()
        for prompt_id in body.get('delete', []):
            history.pop(str(prompt_id), None)
        return web.Response(status=200)

    async def _empty_ok(self, _: web.Request) -> web.Response:
        return web.Response(status=200)

    # files -------------------------------------------------------------------------------------------------

    async def _view(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        resolved = await asyncio.to_thread(files.resolve_view, self.root, query)
        if isinstance(resolved, int):
            return web.Response(status=resolved)
        headers = {'Content-Disposition': f'filename="{resolved.name}"'}
        preview, channel = query.get('preview'), query.get('channel')
        if preview is not None or channel in ('rgb', 'a'):
            variant = await asyncio.to_thread(images.view_variant, resolved, preview, channel)
            if variant is not None:
                return web.Response(body=variant[0], content_type=variant[1], headers=headers)
        content_type = mimetypes.guess_type(resolved.name)[0] or 'application/octet-stream'
        return web.FileResponse(resolved, headers={**headers, 'Content-Type': content_type})

    async def _upload_image(self, request: web.Request) -> web.Response:
        post = await request.post()
        image = post.get('image')
        kind = post.get('type') or 'input'
        kind = kind if kind in FOLDER_TYPES else 'input'
        if not isinstance(image, web.FileField) or not image.filename:
            return web.Response(status=400)
        subfolder = str(post.get('subfolder', ''))
        overwrite = str(post.get('overwrite', '')) in ('true', '1')
        data = await asyncio.to_thread(image.file.read)
        name = await asyncio.to_thread(
            lambda: files.store_upload(
                self.root, str(kind), subfolder=subfolder, filename=image.filename, data=data, overwrite=overwrite
            )
        )
        if name is None:
            return web.Response(status=400)
        return web.json_response({'name': name, 'subfolder': subfolder, 'type': kind})

    async def _internal_files(self, request: web.Request) -> web.Response:
        kind = request.match_info['directory_type']
        if kind not in FOLDER_TYPES:
            return web.Response(status=400, text='Invalid directory type')
        return web.json_response(await asyncio.to_thread(files.list_files, self.root / kind))

    # control -----------------------------------------------------------------------------------------------

    async def _get_faults(self, _: web.Request) -> web.Response:
        return web.json_response(dataclasses.asdict(self.faults))

    async def _get_prompts(self, _: web.Request) -> web.Response:
        if self.prompt_log is None:
            return web.json_response({'error': 'the prompt log is off (start with --prompt-log FILE)'}, status=404)
        return web.json_response({'entries': self.prompt_log.entries})

    async def _post_faults(self, request: web.Request) -> web.Response:
        body = await request.json()
        names = {f.name for f in dataclasses.fields(Faults)}
        unknown = sorted(set(body) - names)
        if unknown:
            return web.json_response({'error': f'unknown fault fields: {unknown}'}, status=400)
        was_refusing = self.faults.refuse
        for name, value in body.items():
            setattr(self.faults, name, value)
        if self.faults.refuse and not was_refusing:
            await self.hub.drop_all()
            await self.executor.stop()
            self.executor.reset()
            self.executor.start()
        log.info('faults set to %s', self.faults)
        return web.json_response(dataclasses.asdict(self.faults))


async def start_bundled(settings: Settings) -> Simulator:
    """Start the simulator the app runs when no ComfyUI server is configured (data beside the database)."""
    simulator = Simulator(
        root=Path(settings.job_db_path).parent / 'simulator',
        port=settings.simulator_port,
        lora_folder=True,
        demo_loras=True,
    )
    simulator.faults.step_delay = settings.simulator_step_delay
    await simulator.start()
    return simulator
