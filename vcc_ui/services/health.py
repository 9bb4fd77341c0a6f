"""The /healthz checks: ComfyUI per server, a database write, free disk space, the prompt helper's endpoint."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from vcc_ui.services.llm import PromptHelper
from vcc_ui.services.servers import ServerPool
from vcc_ui.services.storage import Storage
from vcc_ui.settings import Settings

CHECK_TIMEOUT = 1.5


class HealthChecks:
    """Runs every check and reports each with its value; `recent` shares one run among callers close in time."""

    def __init__(
        self, settings: Settings, engine: Engine, pool: ServerPool, storage: Storage, llm: PromptHelper
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.pool = pool
        self.storage = storage
        self.llm = llm
        self._running: asyncio.Future[tuple[bool, dict]] | None = None
        self._last: tuple[float, datetime, tuple[bool, dict]] | None = None  # when (monotonic, wall), what

    async def recent(self, max_age: float) -> tuple[bool, dict, datetime]:
        """The checks of a run at most `max_age` seconds old, else of the run under way or a new one, and their time.

        An admin dashboard runs them as it opens: each one opened ran its own (a storage probe with an fsync, a
        database write, a request to every server), into the next page's build."""
        if self._last is None or time.monotonic() - self._last[0] > max_age:
            await (asyncio.shield(self._running) if self._running is not None else self.run())
        assert self._last is not None  # a run just ended
        _, checked, (ok, checks) = self._last
        return ok, checks, checked

    async def run(self) -> tuple[bool, dict]:
        """Return (all ok, the checks with their values) of a run now; the prompt helper fails only when configured."""
        running = self._running = asyncio.ensure_future(self._run())
        running.add_done_callback(self._ran)
        return await asyncio.shield(running)  # a caller that goes leaves it to those who joined it

    def _ran(self, running: asyncio.Future[tuple[bool, dict]]) -> None:
        if self._running is running:
            self._running = None

    async def _run(self) -> tuple[bool, dict]:
        _, llm = await asyncio.gather(self._check_servers(), self.llm.check())
        servers = {
            e.health.name: {
                'ok': e.health.reachable,
                'url': e.health.url,
                'enabled': e.health.enabled,
                'simulated': e.health.simulated,
                'websocket': e.health.connected,
                'inflight': e.health.inflight,
                'queue_remaining': e.health.queue_remaining,
                'vram_total': e.health.vram_total,
                'vram_free': e.health.vram_free,
                'last_error': e.health.last_error or None,
            }
            for e in self.pool.entries.values()
            if e.health.enabled
        }
        comfy_ok = self.pool.any_reachable()
        db = await asyncio.to_thread(self._db_write)
        free_mb = await asyncio.to_thread(self.storage.disk_free_mb)
        writable = await asyncio.to_thread(self.storage.writable)
        disk: dict[str, Any] = {'ok': writable, 'writable': writable, 'backend': self.storage.kind}
        if free_mb is not None:  # only a local folder has free space to check
            disk['ok'] = writable and free_mb >= self.settings.healthz_disk_min_free_mb
            disk |= {'free_mb': round(free_mb), 'min_free_mb': self.settings.healthz_disk_min_free_mb}
        simulator = self.pool.simulator.url if self.pool.simulator else None
        checks = {
            'comfyui': {
                'ok': comfy_ok,
                'servers': servers,
                'simulator': simulator,
                'note': 'bundled simulator in use' if simulator else None,
            },
            'db': db,
            'disk': disk,
            'llm': llm,
        }
        result = bool(comfy_ok and db['ok'] and disk['ok'] and llm['ok']), checks
        self._last = (time.monotonic(), datetime.now(UTC), result)
        return result

    async def _check_servers(self) -> None:
        try:
            await asyncio.wait_for(self.pool.check_all(), timeout=CHECK_TIMEOUT + 0.5)
        except TimeoutError:
            pass

    def _db_write(self) -> dict:
        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                transaction = conn.begin()
                conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('healthz')"))
                transaction.rollback()
        except Exception as error:
            return {'ok': False, 'error': f'{type(error).__name__}: {error}'.splitlines()[0]}
        return {'ok': True, 'ms': round((time.perf_counter() - started) * 1000, 1)}
