"""Open tabs without a renderer: each loads the page over HTTP like a browser and keeps NiceGUI's socket.

A SocketTab makes the server do everything it does for a Chromium tab (build the page, keep a client with its
elements, bindings and outbox, push every update over its own socket.io connection) but costs this machine no
rendering. The tabs run in a child process so their message parsing shares no interpreter with the simulator.
"""

from __future__ import annotations

import ast
import asyncio
import json
import multiprocessing
import re
import time
import uuid
from typing import Any

import httpx
import socketio

QUERY = re.compile(r'query: (\{.*?\}),\n')  # a Python dict literal in the page's script
NAVIGATE = re.compile(r'"listener_id":"([^"]+)","type":"sub_pages_navigate"')  # the layout's link-click listener


class SocketTab:
    """One tab: the page's client_id from its HTML, then a socket that stamps when each job step arrives."""

    def __init__(self, url: str, cookies: dict[str, str], path: str = '/') -> None:
        self.url = url
        self.path = path
        self.cookie_header = '; '.join(f'{k}={v}' for k, v in cookies.items())  # each tab its own browser's, as sent
        self.arrived: dict[int, float] = {}
        self.by_job: dict[str, dict[int, float]] = {}  # job id -> {step: arrival} from the job feed
        self.finished: float | None = None  # when the job's result (its first thumbnail) arrived
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on('update', self._on_update)
        self.sio.on('vcc_job', self._on_job)
        self.sio.on('disconnect', self._on_disconnect)
        self.sio.on('run_javascript', self._on_javascript)
        self.dropped: tuple[float, str] | None = None
        self.client_id = ''
        self.navigate_listener = ''
        self._navigated: asyncio.Event | None = None

    async def open(self, http: httpx.AsyncClient) -> None:
        """Load the page, then connect its socket the way nicegui.js does (implicit handshake)."""
        page = await http.get(self.url + self.path, headers={'Cookie': self.cookie_header})
        page.raise_for_status()
        match = QUERY.search(page.text)
        if match is None:
            raise RuntimeError('the page carries no socket query')
        navigate = NAVIGATE.search(page.text)
        if navigate is None:
            raise RuntimeError('the page carries no sub page navigation')
        self.navigate_listener = navigate.group(1)
        query = {**ast.literal_eval(match.group(1)), 'document_id': str(uuid.uuid4()), 'tab_id': str(uuid.uuid4())}
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in query.items()}
        self.client_id = query['client_id']
        await self.sio.connect(
            f'{self.url}?{httpx.QueryParams(query)}',
            socketio_path='/_nicegui_ws/socket.io',
            transports=['websocket'],
            headers={'Cookie': self.cookie_header},
        )

    async def navigate(self, path: str, timeout: float = 60) -> None:
        """Follow an app link to another sub page the way nicegui.js does; return once the server built it.

        The server answers a navigation, after building the new sub page, with the script that pushes the address.
        """
        self._navigated = asyncio.Event()
        await self.sio.emit(
            'event',
            {'id': 0, 'client_id': self.client_id, 'listener_id': self.navigate_listener, 'args': [json.dumps(path)]},
        )
        await asyncio.wait_for(self._navigated.wait(), timeout)

    def _on_javascript(self, message: dict[str, Any]) -> None:
        if self._navigated is not None and 'history.pushState' in message.get('code', ''):
            self._navigated.set()

    def _on_update(self, message: dict[str, Any]) -> None:
        now = time.time()
        for element in message.values():
            if not isinstance(element, dict):
                continue
            role = element.get('props', {}).get('data-role')
            if role == 'job-step':  # a step label NiceGUI diffs per tab (the app before the job feed)
                step = (element.get('text') or '').split(' ', 1)[0]
                if step.isdigit():
                    self.arrived.setdefault(int(step), now)
            elif role == 'job-thumb' and self.finished is None:
                self.finished = now

    def _on_disconnect(self, reason: object = '') -> None:
        self.dropped = (time.time(), str(reason))

    def _on_job(self, state: dict[str, Any]) -> None:
        """A job feed message: the job's newest state, one message for every tab that shows the job."""
        if state.get('steps'):
            now = time.time()
            self.arrived.setdefault(int(state['step']), now)
            self.by_job.setdefault(state['id'], {}).setdefault(int(state['step']), now)


async def _run(url: str, cookies: list[dict[str, str]], count: int, signals: tuple[Any, Any, Any]) -> None:
    ready, stop, results = signals
    tabs = [SocketTab(url, cookies[i % len(cookies)]) for i in range(count)]
    async with httpx.AsyncClient(timeout=60) as http:
        for tab in tabs:
            try:
                await tab.open(http)
            except (socketio.exceptions.ConnectionError, httpx.HTTPError) as error:  # a busy server refused it
                tab.dropped = (time.time(), f'could not connect: {error}')
    ready.set()
    while not stop.is_set():
        await asyncio.sleep(0.1)
    results.put(
        [
            {
                'connected': tab.sio.connected,
                'arrived': tab.arrived,
                'by_job': tab.by_job,
                'finished': tab.finished,
                'dropped': tab.dropped,
            }
            for tab in tabs
        ]
    )
    for tab in tabs:
        if tab.sio.connected:
            await tab.sio.disconnect()


def _child(url: str, cookies: list[dict[str, str]], count: int, signals: tuple[Any, Any, Any]) -> None:
    asyncio.run(_run(url, cookies, count, signals))


class SocketTabs:
    """`count` socket tabs in a child process: open() waits until all are connected, close() returns their stamps.

    `cookies` is one browser's, or a list of browsers' (users') that the tabs take in turn.
    """

    def __init__(self, url: str, cookies: dict[str, str] | list[dict[str, str]], count: int) -> None:
        context = multiprocessing.get_context('spawn')
        self.ready, self.stop, self.results = context.Event(), context.Event(), context.Queue()
        self.process = context.Process(
            target=_child,
            args=(
                url,
                cookies if isinstance(cookies, list) else [cookies],
                count,
                (self.ready, self.stop, self.results),
            ),
            name='socket-tabs',
            daemon=True,
        )

    def open(self, timeout: float = 120) -> None:
        """Start the child and wait until every tab has its socket."""
        self.process.start()
        if not self.ready.wait(timeout):
            self.process.kill()
            raise RuntimeError('the socket tabs did not connect')

    def close(self) -> list[dict]:
        """Stop the tabs; return, per tab, whether it stayed connected and {step: arrival time}."""
        self.stop.set()
        tabs = self.results.get(timeout=60)
        self.process.join(30)
        return tabs
