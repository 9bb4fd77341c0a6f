"""The web layer on a real uvicorn on loopback: for streams, disconnects and access log lines, which ASGI calls lack."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from vcc_ui.services import Services
from vcc_ui.web.app import install


@asynccontextmanager
async def served(services: Services) -> AsyncIterator[str]:
    """Serve the app's routes and middleware for `services`; yield the base URL. Access lines go to the root logger."""
    web = FastAPI()
    install(web, services)
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(web, host='127.0.0.1', port=port, log_config=None, log_level='info', access_log=True)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f'http://127.0.0.1:{port}'
    finally:
        server.should_exit = True
        await task
