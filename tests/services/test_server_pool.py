"""ServerPool: where each server setting comes from, bad stored rows, the bundled simulator, pre-checks (issue 11)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.fixtures import make_settings, services
from vcc_ui.services import servers


@asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A loopback server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f'http://127.0.0.1:{port}'
    finally:
        for writer in held:
            writer.close()
        server.close()


def _checks_pending() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if not t.done() and 'ServerPool._check' in repr(t.get_coro())]


async def test_precheck_leaves_no_check_running_after_its_wait(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(servers, 'PRECHECK_TIMEOUT', 0.2)
    async with silent_server() as url, services(make_settings(tmp_path, url)) as app:
        assert not app.pool.any_reachable()
        reason = await app.pool.precheck('test_pattern')
        assert reason == 'ComfyUI is not reachable'
        assert _checks_pending() == []
