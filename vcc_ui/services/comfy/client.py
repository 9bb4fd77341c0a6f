"""Client for one ComfyUI server: HTTP calls and a reconnecting WebSocket reader (docs/COMFYUI_PROTOCOL.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import aiohttp
import httpx
from nicegui import binding
from websockets.asyncio.client import ClientConnection, connect

from .messages import (
    Executing,
    ExecutionStart,
    ImageRef,
    Message,
    MessageError,
    PreviewImage,
    PreviewImageWithMetadata,
    PromptLost,
    Status,
    image_refs,
    parse_binary,
    parse_text,
)
from .protocol import (
    INTERRUPT_PATH,
    PROMPT_PATH,
    QUEUE_PATH,
    SUPPORTS_PREVIEW_METADATA,
    SYSTEM_STATS_PATH,
    UPLOAD_IMAGE_PATH,
    VIEW_PATH,
    MessageType,
    history_path,
    object_info_path,
    ws_path,
)

logger = logging.getLogger(__name__)

FEATURE_FLAGS = {'type': MessageType.FEATURE_FLAGS, 'data': {SUPPORTS_PREVIEW_METADATA: True}}
LOST_REASON = 'ComfyUI no longer knows this prompt (server restarted?)'
BACKOFF_START = 0.5
BACKOFF_MAX = 10.0
IDLE_SLACK = 1.25  # a silent socket ends after its idle timeout to this many times it (see ComfyClient._read)
READ_RETRIES = (0.2, 0.5, 1.0)  # waits before retrying an idempotent read that failed or answered 5xx
SILENCE_POLL = 3.0  # ask /history and /queue about prompts in flight when the socket was silent this long
CANONICAL_UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')


class ComfyError(Exception):
    """Base of every error the client raises."""


class ComfyUnavailable(ComfyError):
    """The server cannot be reached or answered like a dead gateway."""


class ComfyUnreachable(ComfyUnavailable):
    """No connection could be made: nothing was sent, so the server is down (or not listening)."""


class ComfyBadResponse(ComfyError):
    """The server answered with an unexpected status or shape."""


class ComfyNotFound(ComfyBadResponse):
    """The server answered 404 for a file (e.g. an output removed from its output folder)."""


class PromptUncertain(ComfyUnavailable):
    """A POST /prompt failed mid-request and /queue and /history could not be reached to tell whether it was queued.

    The prompt stays in flight: the next reconcile settles it (done, still queued or lost), never a second POST.
    """


class PromptRejected(ComfyError):
    """ComfyUI refused a prompt (400 from /prompt)."""

    def __init__(self, error: dict[str, Any], node_errors: dict[str, Any]) -> None:
        self.error = error
        self.node_errors = node_errors
        first = next(iter(node_errors.items()), None)
        self.node_id: str | None = first[0] if first else None
        self.node_type: str | None = first[1].get('class_type') if first and isinstance(first[1], dict) else None
        super().__init__(_rejection_message(error, node_errors))


def _rejection_message(error: dict[str, Any], node_errors: dict[str, Any]) -> str:
    parts = []
    for node_id, raw in node_errors.items():
        entry = raw if isinstance(raw, dict) else {}
        for err in entry.get('errors') or []:
            if isinstance(err, dict):
                text = ': '.join(str(x) for x in (err.get('message'), err.get('details')) if x)
                parts.append(f'node {node_id} ({entry.get("class_type", "?")}): {text}')
    if not parts:
        details = f'({error["details"]})' if error.get('details') else ''
        parts = [' '.join(str(x) for x in (error.get('message'), details) if x) or str(error.get('type', 'unknown'))]
    return 'ComfyUI rejected the prompt: ' + '; '.join(parts)


@dataclass(kw_only=True, slots=True)
class PromptAccepted:
    """A queued prompt; `node_errors` lists outputs that were dropped."""

    prompt_id: str
    number: float
    node_errors: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Answer:
    """One HTTP answer of ComfyUI, read whole: the request it answers, its status, headers and body."""

    method: str
    path: str
    status_code: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        """The body parsed as JSON; ValueError when it is not JSON."""
        return json.loads(self.content)

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode('utf-8', errors='replace')


@dataclass(kw_only=True, slots=True)
class UploadedImage:
    """Where the server stored an upload (the name may differ from the one sent)."""

    name: str
    subfolder: str = ''
    type: str = 'input'

    @property
    def load_image_value(self) -> str:
        """Return the value for LoadImage's `image` input."""
        return f'{self.subfolder}/{self.name}' if self.subfolder else self.name


@dataclass(kw_only=True, slots=True)
class QueueItem:
    """One entry of /queue."""

    number: float
    prompt_id: str
    extra_data: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class QueueSnapshot:
    """Running and pending prompts, pending in execution order."""

    running: list[QueueItem] = field(default_factory=list)
    pending: list[QueueItem] = field(default_factory=list)

    @property
    def prompt_ids(self) -> set[str]:
        """Return the ids of every running or pending prompt."""
        return {item.prompt_id for item in self.running + self.pending}


@binding.bindable_dataclass
class ConnectionState:
    """Live WebSocket state, bindable from the admin page."""

    connected: bool = False
    last_error: str = ''
    reconnects: int = 0
    last_message_at: float = 0.0
    queue_remaining: int = 0


def normalize_base_url(base_url: str) -> str:
    """Return `http://host:port` for a URL or a bare `host:port`; ValueError unless it is a usable http(s) address."""
    url = base_url.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError(f'not a ComfyUI address (spaces or control characters): {base_url!r}')
    if '://' not in url:
        url = f'http://{url}'
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as error:
        raise ValueError(f'not a ComfyUI address ({error}): {base_url!r}') from error
    if parts.scheme not in ('http', 'https') or not parts.hostname or parts.netloc.endswith(':'):
        raise ValueError(f'not a ComfyUI address (http or https and a host): {base_url!r}')
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f'not a ComfyUI address (no query, fragment or credentials): {base_url!r}')
    return f'{parts.scheme}://{parts.netloc}{parts.path.rstrip("/")}'


class ComfyClient:
    """One ComfyUI server: HTTP calls, a reconnecting WebSocket reader and in-flight prompt tracking."""

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        ws_connect_timeout: float = 5.0,
        ws_idle_timeout: float = 120.0,
        silence_poll: float = SILENCE_POLL,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.client_id = client_id
        self.ws_url = 'ws' + self.base_url[4:] + ws_path(client_id)
        self.state = ConnectionState()
        self._timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout, sock_read=read_timeout)
        self._ws_connect_timeout = ws_connect_timeout
        self._ws_idle_timeout = ws_idle_timeout
        self._silence_poll = silence_poll
        self._last_heard = time.monotonic()
        self._last_stamped = float('-inf')  # when state.last_message_at was last set (monotonic)
        self._poller: asyncio.Task | None = None
        self._listeners: list[Callable[[Message], None]] = []
        self._unreachable_listeners: list[Callable[[ComfyUnreachable], None]] = []
        self._http: aiohttp.ClientSession | None = None
        self._reader: asyncio.Task | None = None
        self._in_flight: dict[str, None] = {}
        self._finished: deque[str] = deque(maxlen=256)
        self._running: str | None = None
        self._reconcile_lock = asyncio.Lock()

    def add_listener(self, callback: Callable[[Message], None]) -> None:
        """Call `callback` with every message, in registration order."""
        self._listeners.append(callback)

    def add_unreachable_listener(self, callback: Callable[[ComfyUnreachable], None]) -> None:
        """Call `callback` at once whenever a request cannot connect (the server is down before any check says so)."""
        self._unreachable_listeners.append(callback)

    async def start(self, *, websocket: bool = True) -> None:
        """Open the HTTP client and start the WebSocket reader (not for a one-off HTTP check: websocket=False).

        The HTTP client is aiohttp's (one pooled session per server): a request costs about a fifth of httpx's CPU,
        and a job makes two of them (POST /prompt, GET /view).
        """
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=True)
        if self._reader is None and websocket:
            loop = asyncio.get_running_loop()
            self._reader = loop.create_task(self._read_forever(), name=f'comfy-ws {self.base_url}')
            self._poller = loop.create_task(self._poll_when_silent(), name=f'comfy-poll {self.base_url}')

    async def stop(self) -> None:
        """Stop the reader and close the HTTP client; safe to call twice."""
        tasks = [task for task in (self._reader, self._poller) if task is not None]
        self._reader = self._poller = None
        http, self._http = self._http, None
        try:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:  # a stop that is cancelled itself still closes the session (aiohttp reports unclosed ones)
            if http is not None:
                await http.close()
            self.state.connected = False

    @property
    def in_flight(self) -> list[str]:
        """Return the ids of prompts we wait for."""
        return list(self._in_flight)

    def watch(self, prompt_id: str) -> None:
        """Track a prompt submitted earlier as in flight."""
        self._in_flight[prompt_id] = None

    def forget(self, prompt_id: str) -> None:
        """Stop tracking a prompt (e.g. after deleting it from the queue)."""
        self._in_flight.pop(prompt_id, None)
        if self._running == prompt_id:
            self._running = None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        form: aiohttp.FormData | None = None,
    ) -> Answer:
        """Send one request to the server and read its whole answer; ComfyUnreachable when nothing was sent."""
        if self._http is None:
            raise ComfyError(f'ComfyClient for {self.base_url} is not started')
        try:
            async with self._http.request(
                method, self.base_url + path, json=body, params=params, data=form
            ) as response:
                answer = Answer(method, path, response.status, response.headers, await response.read())
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            unreachable = ComfyUnreachable(
                f'cannot connect to ComfyUI at {self.base_url} ({error or type(error).__name__})'
            )
            for callback in list(self._unreachable_listeners):
                try:
                    callback(unreachable)
                except Exception:
                    logger.exception('unreachable listener %r failed for %s', callback, self.base_url)
            raise unreachable from error
        except TimeoutError as error:
            raise ComfyUnavailable(f'ComfyUI at {self.base_url} timed out on {method} {path}') from error
        except aiohttp.ClientError as error:
            raise ComfyUnavailable(f'ComfyUI at {self.base_url} failed on {method} {path}: {error!r}') from error
        if answer.status_code in (502, 503, 504):
            raise ComfyUnavailable(f'ComfyUI at {self.base_url} is unavailable ({answer.status_code} on {path})')
        return answer

    async def _get_idempotent(self, path: str, **kwargs: Any) -> Answer:
        """GET an idempotent path, retrying a failure after connecting or a 5xx answer with bounded backoff."""
        for wait in READ_RETRIES:
            try:
                response = await self._request('GET', path, **kwargs)
            except ComfyUnreachable:
                raise  # nothing listens: down, not a blip
            except ComfyUnavailable as error:
                logger.info('GET %s on %s failed (%s); retrying in %g s', path, self.base_url, error, wait)
            else:
                if response.status_code < 500:
                    return response
                logger.info(
                    'GET %s on %s answered %d; retrying in %g s', path, self.base_url, response.status_code, wait
                )
            await asyncio.sleep(wait)
        return await self._request('GET', path, **kwargs)

    def _json(self, response: Answer, *, ok: tuple[int, ...] = (200,)) -> Any:
        try:
            body = response.json()
        except ValueError as error:
            raise _bad_response(response) from error
        if response.status_code not in ok:
            raise _bad_response(response)
        return body

    async def _get_json(self, path: str, kind: type, **kwargs: Any) -> Any:
        body = self._json(await self._get_idempotent(path, **kwargs))
        if not isinstance(body, kind):
            raise ComfyBadResponse(f'ComfyUI answered GET {path} with a {type(body).__name__}, not a {kind.__name__}')
        return body

    async def _post_action(self, path: str, body: dict[str, Any]) -> None:
        response = await self._request('POST', path, body=body)
        if response.status_code != 200:
            raise ComfyBadResponse(f'ComfyUI answered {response.status_code} to POST {path}{_snippet(response)}')

    async def queue_prompt(
        self, graph: dict, *, prompt_id: str | None = None, front: bool = False, extra_data: dict | None = None
    ) -> PromptAccepted:
        """Queue an API-format graph under our client_id and track it as in flight."""
        if prompt_id is None:
            prompt_id = str(uuid4())
        elif not CANONICAL_UUID.fullmatch(prompt_id):
            raise ValueError(f'prompt_id must be a canonical lowercase UUID, got {prompt_id!r}')
        body: dict[str, Any] = {'prompt': graph, 'client_id': self.client_id, 'prompt_id': prompt_id}
        if front:
            body['front'] = True
        if extra_data:
            body['extra_data'] = extra_data
        self._in_flight[prompt_id] = None  # before the POST: events may arrive before its answer
        self._last_heard = time.monotonic()
        try:
            accepted = await self._post_prompt(body, prompt_id)
        except PromptUncertain:
            raise  # still in flight: reconcile settles it
        except BaseException:
            self.forget(prompt_id)
            raise
        if accepted.prompt_id != prompt_id:
            self.forget(prompt_id)
            self._in_flight[accepted.prompt_id] = None
        if accepted.node_errors:
            logger.warning(
                'prompt %s queued on %s, but outputs were dropped: %s',
                accepted.prompt_id,
                self.base_url,
                _rejection_message({}, accepted.node_errors),
            )
        return accepted

    async def _post_prompt(self, body: dict[str, Any], prompt_id: str) -> PromptAccepted:
        """POST /prompt; after a failure mid-request or a 5xx answer post again only if the server does not know it."""
        for wait in (*READ_RETRIES, None):
            try:
                response = await self._request('POST', PROMPT_PATH, body=body)
            except ComfyUnavailable as error:
                if isinstance(error.__cause__, aiohttp.ClientConnectorError):
                    raise  # nothing was sent
                failure: ComfyError = error
            else:
                if response.status_code < 500:
                    return _accepted(self._json(response, ok=(200, 400)), response.status_code, prompt_id)
                failure = _bad_response(response)
            if wait is None:
                raise failure
            logger.info('POST %s on %s failed (%s); asking whether it was queued', PROMPT_PATH, self.base_url, failure)
            await asyncio.sleep(wait)
            try:
                number = await self._known_number(prompt_id)
            except ComfyBadResponse as error:
                raise failure from error  # it answers, but not sensibly: the job fails rather than waits
            except ComfyUnavailable as error:
                raise PromptUncertain(
                    f'ComfyUI at {self.base_url} failed on POST {PROMPT_PATH} ({failure}) and could not say whether '
                    f'it queued prompt {prompt_id} ({error})'
                ) from error
            if number is not None:
                logger.info('prompt %s was queued on %s despite the failed answer', prompt_id, self.base_url)
                return PromptAccepted(prompt_id=prompt_id, number=number)
        raise AssertionError('unreachable')

    async def _known_number(self, prompt_id: str) -> float | None:
        """The queue number of a prompt the server knows (queued, running or finished: 0), None if it does not."""
        snapshot = await self.queue()
        for item in snapshot.running + snapshot.pending:
            if item.prompt_id == prompt_id:
                return item.number
        return 0.0 if await self.history(prompt_id) is not None else None

    async def history(self, prompt_id: str) -> dict | None:
        """Return the finished history entry, or None while running or unknown."""
        body = await self._get_json(history_path(prompt_id), dict)
        entry = body.get(prompt_id)
        return entry if isinstance(entry, dict) else None

    async def queue(self) -> QueueSnapshot:
        """Return running and pending prompts, pending sorted by number."""
        body = await self._get_json(QUEUE_PATH, dict)
        running = [_queue_item(item) for item in body.get('queue_running') or []]
        pending = [_queue_item(item) for item in body.get('queue_pending') or []]
        return QueueSnapshot(running=running, pending=sorted(pending, key=lambda item: item.number))

    async def cancel(self, prompt_id: str) -> None:
        """Remove a pending prompt and interrupt it if running; never a global interrupt."""
        if not prompt_id:
            raise ValueError('cancel needs a prompt_id (an empty one would interrupt everyone)')
        await self._post_action(QUEUE_PATH, {'delete': [prompt_id]})
        await self._post_action(INTERRUPT_PATH, {'prompt_id': prompt_id})

    async def upload_image(
        self, data: bytes, filename: str, *, subfolder: str = '', overwrite: bool = False
    ) -> UploadedImage:
        """Upload an input image and return where the server stored it."""
        form = aiohttp.FormData()
        content_type = mimetypes.guess_type(filename)[0] or 'application/octet-stream'
        form.add_field('image', data, filename=filename, content_type=content_type)
        for name, value in (('type', 'input'), ('subfolder', subfolder), ('overwrite', str(overwrite).lower())):
            form.add_field(name, value)
        response = await self._request('POST', UPLOAD_IMAGE_PATH, form=form)
        body = self._json(response)
        if not isinstance(body, dict) or not isinstance(body.get('name'), str):
            raise ComfyBadResponse(f'ComfyUI answered POST {UPLOAD_IMAGE_PATH} without a name: {str(body)[:120]}')
        return UploadedImage(
            name=body['name'], subfolder=str(body.get('subfolder') or ''), type=str(body.get('type') or 'input')
        )

    async def view(self, filename: str, subfolder: str = '', type: str = 'output') -> bytes:
        """Return the bytes of an output, input or temp file."""
        params = {'filename': filename, 'subfolder': subfolder, 'type': type}
        response = await self._get_idempotent(VIEW_PATH, params=params)
        if response.status_code != 200:
            kind = ComfyNotFound if response.status_code == 404 else ComfyBadResponse
            raise kind(f'ComfyUI answered {response.status_code} to GET {VIEW_PATH} for {filename!r}')
        return response.content

    async def object_info(self, node_class: str | None = None) -> dict:
        """Return node definitions, all or one class ({} for an unknown class)."""
        return await self._get_json(object_info_path(node_class), dict)

    async def system_stats(self) -> dict:
        """Return /system_stats (a cheap health check)."""
        return await self._get_json(SYSTEM_STATS_PATH, dict)

    async def get_json(self, path: str) -> tuple[int, Any]:
        """GET any path; return the status and the JSON body (None when the body is not JSON)."""
        response = await self._request('GET', path)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    @staticmethod
    def output_images(history_entry: dict) -> list[ImageRef]:
        """Return every output or temp image listed in a history entry."""
        outputs = history_entry.get('outputs') if isinstance(history_entry, dict) else None
        if not isinstance(outputs, dict):
            return []
        return [
            ref
            for node_output in outputs.values()
            if isinstance(node_output, dict)
            for ref in image_refs(node_output.get('images'))
            if ref.type in ('output', 'temp')
        ]

    async def reconcile(self) -> None:
        """Settle in-flight prompts after a gap: finished ones get a done signal, forgotten ones PromptLost."""
        async with self._reconcile_lock:
            snapshot: QueueSnapshot | None = None
            for prompt_id in list(self._in_flight):
                try:
                    if await self.history(prompt_id) is not None:
                        self._done(prompt_id)
                        continue
                    if snapshot is None:
                        snapshot = await self.queue()
                    if prompt_id in snapshot.prompt_ids:
                        continue
                    if await self.history(prompt_id) is not None:  # finished between the two calls
                        self._done(prompt_id)
                    elif prompt_id in self._in_flight:
                        logger.warning('prompt %s is unknown to %s; reporting it lost', prompt_id, self.base_url)
                        self.forget(prompt_id)
                        self._deliver(PromptLost(prompt_id=prompt_id, reason=LOST_REASON))
                except ComfyError as error:
                    logger.warning('reconcile of prompt %s on %s failed: %s', prompt_id, self.base_url, error)

    async def _poll_when_silent(self) -> None:
        """Settle prompts in flight from /history and /queue whenever the socket is silent (another socket may have
        taken over our clientId, or a message was lost)."""
        while True:
            await asyncio.sleep(self._silence_poll / 3)
            if self._in_flight and time.monotonic() - self._last_heard >= self._silence_poll:
                self._last_heard = time.monotonic()
                logger.debug(
                    'no message from %s for %g s; polling its history and queue', self.base_url, self._silence_poll
                )
                await self.reconcile()

    def _done(self, prompt_id: str) -> None:
        if prompt_id in self._in_flight:
            self._route_and_deliver(Executing(prompt_id=prompt_id, node=None, display_node=None))

    async def _read_forever(self) -> None:
        delay = BACKOFF_START
        connected_before = False
        while True:
            got_message = False
            try:
                async with connect(
                    self.ws_url,
                    open_timeout=self._ws_connect_timeout,
                    close_timeout=2.0,
                    max_size=None,
                    compression=None,
                ) as ws:
                    await ws.send(json.dumps(FEATURE_FLAGS))
                    self.state.connected = True
                    self.state.last_error = ''
                    logger.info('connected to %s', self.ws_url)
                    if connected_before or self._in_flight:
                        await self.reconcile()
                    connected_before = True
                    got_message = await self._read(ws)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure of one connection only ends that connection
                prefix = 'cannot connect: ' if isinstance(error, OSError | TimeoutError) else ''
                self.state.last_error = prefix + (str(error) or type(error).__name__)
                logger.warning('WebSocket %s: %s', self.ws_url, self.state.last_error)
            finally:
                self.state.connected = False
            if got_message:
                delay = BACKOFF_START
            await asyncio.sleep(delay)  # NOTE: the old socket is closed here; ComfyUI needs that (duplicate clientId)
            delay = min(delay * 2, BACKOFF_MAX)
            self.state.reconnects += 1

    async def _read(self, ws: ClientConnection) -> bool:
        """Read and deliver messages until the socket closes (raises) or stays silent for the idle timeout (then
        return whether any message came).

        One deadline covers the whole loop: a message moves it only once less than the idle timeout is left, to
        IDLE_SLACK times the timeout ahead. So a silence of idle to IDLE_SLACK x idle seconds ends the connection, and
        a message makes no timer (a timeout per recv made and dropped one for each of a job's ten or so messages).
        """
        got_message = False
        idle = self._ws_idle_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + idle * IDLE_SLACK
        try:
            async with asyncio.timeout_at(deadline) as silence:
                while True:
                    raw = await ws.recv()
                    got_message = True
                    self._last_heard = now = loop.time()  # NOTE: the loop's clock is time.monotonic
                    if deadline - now < idle:
                        deadline = now + idle * IDLE_SLACK
                        silence.reschedule(deadline)
                    if now - self._last_stamped >= 1.0:  # a bindable property: set once a second, not per message
                        self._last_stamped = now
                        self.state.last_message_at = time.time()
                    try:
                        message = parse_text(raw) if isinstance(raw, str) else parse_binary(raw)
                    except MessageError as error:
                        logger.warning('skipping malformed frame from %s: %s', self.ws_url, error)
                        continue
                    self._route_and_deliver(message)
        except TimeoutError:
            self.state.last_error = f'no message for {idle:g} s'
            logger.info('WebSocket %s silent for %g s; reconnecting', self.ws_url, idle)
            return got_message

    def _route_and_deliver(self, message: Message) -> None:
        routed = self._route(message)
        if routed is not None:
            self._deliver(routed)

    def _route(self, message: Message) -> Message | None:
        if isinstance(message, Status):
            self.state.queue_remaining = message.queue_remaining
            if message.queue_remaining == 0:
                self._running = None
        elif isinstance(message, ExecutionStart):
            self._running = message.prompt_id if message.prompt_id in self._in_flight else None
        elif isinstance(message, Executing):
            return self._route_executing(message)
        elif isinstance(message, PreviewImage):
            if self._running is None:
                return None
            return PreviewImageWithMetadata(prompt_id=self._running, image_type=message.image_type, data=message.data)
        elif isinstance(message, PreviewImageWithMetadata) and message.prompt_id is None:
            return None
        return message

    def _route_executing(self, message: Executing) -> Message | None:
        if message.prompt_id is None:
            guess = self._running or (next(iter(self._in_flight)) if len(self._in_flight) == 1 else None)
            if guess is None:
                return None
            message.prompt_id = guess
        prompt_id = message.prompt_id
        if message.node is not None:
            if prompt_id in self._in_flight:
                self._running = prompt_id
            return message
        if prompt_id in self._finished and prompt_id not in self._in_flight:
            return None  # already reported done (e.g. by reconcile)
        self._finished.append(prompt_id)
        self.forget(prompt_id)
        return message

    def _deliver(self, message: Message) -> None:
        for callback in list(self._listeners):
            try:
                callback(message)
            except Exception:
                logger.exception('listener %r failed on %s from %s', callback, type(message).__name__, self.base_url)


def _bad_response(response: Answer) -> ComfyBadResponse:
    """The error for an answer with an unexpected status or a body that is not JSON."""
    where = f'{response.method} {response.path.partition("?")[0]}'
    try:
        response.json()
    except ValueError:
        content_type = response.headers.get('content-type', 'no content-type')
        return ComfyBadResponse(
            f'ComfyUI answered {where} with {response.status_code} and a body that is not JSON '
            f'({content_type}){_snippet(response)}'
        )
    return ComfyBadResponse(f'ComfyUI answered {response.status_code} to {where}{_snippet(response)}')


def _accepted(answer: object, status: int, prompt_id: str) -> PromptAccepted:
    if not isinstance(answer, dict):
        raise ComfyBadResponse(f'ComfyUI answered POST {PROMPT_PATH} with a {type(answer).__name__}')
    if status == 400:
        raise PromptRejected(answer.get('error') or {}, answer.get('node_errors') or {})
    return PromptAccepted(
        prompt_id=str(answer.get('prompt_id') or prompt_id),
        number=float(answer.get('number', 0)),
        node_errors=answer.get('node_errors') or {},
    )


def _queue_item(item: object) -> QueueItem:
    if not isinstance(item, list) or len(item) < 2:
        raise ComfyBadResponse(f'ComfyUI sent a queue item of unexpected shape: {str(item)[:120]}')
    extra = item[3] if len(item) > 3 and isinstance(item[3], dict) else {}
    return QueueItem(number=float(item[0]), prompt_id=str(item[1]), extra_data=extra)


def _snippet(response: Answer) -> str:
    text = response.text.strip().replace('\n', ' ')
    return f': {text[:80]!r}' if text else ''
