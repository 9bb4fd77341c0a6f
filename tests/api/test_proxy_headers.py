"""Forwarded headers count only from the proxies named in TRUSTED_PROXIES: a real uvicorn on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.fixtures import make_settings
from vcc_ui.services.auth import client_ip
from vcc_ui.settings import Settings


async def echo_ip(request: Request) -> PlainTextResponse:
    return PlainTextResponse(client_ip(request))


@asynccontextmanager
async def server(settings: Settings) -> AsyncIterator[str]:
    """Serve an app answering client_ip() with uvicorn configured as main.py configures it."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        Starlette(routes=[Route('/', echo_ip)]),
        host='127.0.0.1',
        port=port,
        log_level='warning',
        **settings.uvicorn_proxy_options,
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    while not running.started:
        await asyncio.sleep(0.01)
    try:
        yield f'http://127.0.0.1:{port}/'
    finally:
        running.should_exit = True
        await task


async def test_forwarded_for_from_loopback_is_ignored_by_default(tmp_path) -> None:
    async with server(make_settings(tmp_path)) as url, httpx.AsyncClient() as http:
        answer = await http.get(url, headers={'X-Forwarded-For': '198.51.100.9'})
        assert answer.text == '127.0.0.1'


async def test_forwarded_for_counts_from_a_trusted_proxy(tmp_path) -> None:
    async with server(make_settings(tmp_path, trusted_proxies='127.0.0.1')) as url, httpx.AsyncClient() as http:
        answer = await http.get(url, headers={'X-Forwarded-For': '198.51.100.9'})
        assert answer.text == '198.51.100.9'
