"""ServerPool: the configured ComfyUI servers, one client each, their live health and load."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nicegui import Event, binding
from sqlalchemy import Engine
from sqlmodel import select

from vcc_ui.db import session
from vcc_ui.models import ComfyServer
from vcc_ui.services.comfy.client import ComfyClient, ComfyError
from vcc_ui.services.comfy.messages import Message
from vcc_ui.services.workflows import WorkflowRegistry
from vcc_ui.settings import Settings

if TYPE_CHECKING:
    from vcc_ui.services.comfy.simulator import Simulator

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 5.0
PRECHECK_TIMEOUT = 1.5
OBJECT_INFO_MAX_AGE = 60.0  # models added on a server show up within a minute


@binding.bindable_dataclass
class ServerHealth:
    """What pages show about one server; updated by the health loop and the client."""

    id: int
    name: str
    url: str
    enabled: bool = True
    simulated: bool = False
    reachable: bool = False
    connected: bool = False
    inflight: int = 0
    max_inflight: int = 1
    queue_remaining: int = 0
    vram_total: int = 0
    vram_free: int = 0
    last_error: str = ''
    last_check: float = 0.0


@dataclass(eq=False)
class ServerEntry:
    """One ComfyUI server: its row, its client and its live health."""

    row: ComfyServer
    client: ComfyClient
    health: ServerHealth
    object_info: dict = field(default_factory=dict)
    object_info_at: float = 0.0

    @property
    def id(self) -> int:
        """The row id."""
        assert self.row.id is not None
        return self.row.id

    @property
    def usable(self) -> bool:
        """Whether new prompts may go to this server now."""
        return self.health.enabled and self.health.reachable

    @property
    def free_slots(self) -> int:
        """How many more prompts this server may take now."""
        return max(0, self.health.max_inflight - self.health.inflight) if self.usable else 0


class ServerPool:
    """Owns every ComfyClient and the bundled simulator when no server is configured."""

    def __init__(self, settings: Settings, engine: Engine, registry: WorkflowRegistry) -> None:
        self.settings = settings
        self.engine = engine
        self.registry = registry
        self.entries: dict[int, ServerEntry] = {}
        self.simulator: Simulator | None = None  # the bundled one, when no server is configured
        self.changed: Event[ServerHealth] = Event()
        self._listeners: list[Callable[[ServerEntry, Message], None]] = []
        self._task: asyncio.Task | None = None

    def add_listener(self, callback: Callable[[ServerEntry, Message], None]) -> None:
        """Receive every message of every server, with the server it came from."""
        self._listeners.append(callback)

    async def start(self) -> None:
        """Seed the table, start the simulator if needed, connect to every enabled server."""
        rows = await asyncio.to_thread(self._seed_rows)
        if not self.settings.server_urls and not any(r.enabled and not r.simulated for r in rows):
            rows = await self._start_simulator(rows)
        for row in rows:
            await self._add_entry(row)
        self._task = asyncio.create_task(self._health_loop(), name='server-health')

    async def stop(self) -> None:
        """Close every client and the simulator."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for entry in self.entries.values():
            await entry.client.stop()
        if self.simulator:
            await self.simulator.stop()

    def get(self, server_id: int | None) -> ServerEntry | None:
        """Return the entry with this id."""
        return self.entries.get(server_id) if server_id is not None else None

    def candidates(self, workflow_id: str) -> list[ServerEntry]:
        """Servers with a free slot that can run this workflow, least loaded first."""
        found = [e for e in self.entries.values()
                 if e.free_slots > 0 and self.registry.is_available(workflow_id, e.health.name)]
        return sorted(found, key=lambda e: (e.health.inflight / e.health.max_inflight, e.id))

    def unavailable_reason(self, workflow_id: str) -> str | None:
        """Why no server could ever run this workflow now, or None if one can."""
        usable = [e for e in self.entries.values() if e.usable]
        if not usable:
            return 'ComfyUI is not reachable' if self.entries else 'no ComfyUI server is configured'
        if any(self.registry.is_available(workflow_id, e.health.name) for e in usable):
            return None
        reasons = self.registry.availability(workflow_id)
        return '; '.join(f'{e.health.name}: {reasons.get(e.health.name)}' for e in usable)

    async def precheck(self, workflow_id: str) -> str | None:
        """Check within 1.5 s that some server can take this workflow; the reason if not."""
        usable = [e for e in self.entries.values() if e.health.enabled]
        if usable and not any(e.health.reachable for e in usable):
            await asyncio.wait([asyncio.create_task(self._check(e)) for e in usable], timeout=PRECHECK_TIMEOUT)
        return self.unavailable_reason(workflow_id)

    async def check_all(self) -> None:
        """Run one health check of every enabled server now."""
        await asyncio.gather(*(self._check(e) for e in self.entries.values() if e.health.enabled))

    def _seed_rows(self) -> list[ComfyServer]:
        with session(self.engine) as db:
            rows = list(db.exec(select(ComfyServer)).all())
            known = {r.base_url for r in rows}
            for url in self.settings.server_urls:
                if url not in known:
                    row = ComfyServer(name=_default_name(url), base_url=url, client_id=_client_id(),
                                      max_inflight=self.settings.server_max_inflight)
                    db.add(row)
                    rows.append(row)
            db.commit()
            return rows

    async def _start_simulator(self, rows: list[ComfyServer]) -> list[ComfyServer]:
        from vcc_ui.services.comfy.simulator import Simulator  # only loaded when it is used
        root = Path(self.settings.job_db_path).parent / 'simulator'
        self.simulator = Simulator(root=root, port=self.settings.simulator_port)
        self.simulator.faults.step_delay = self.settings.simulator_step_delay
        await self.simulator.start()
        log.warning('no COMFYUI_SERVERS configured: using the bundled ComfyUI simulator at %s', self.simulator.url)
        url = self.simulator.url

        def upsert() -> list[ComfyServer]:
            with session(self.engine) as db:
                sim = db.exec(select(ComfyServer).where(ComfyServer.simulated)).first()
                if sim is None:
                    sim = ComfyServer(name='simulator', base_url=url, client_id=_client_id(), simulated=True,
                                      max_inflight=self.settings.server_max_inflight)
                sim.base_url, sim.enabled = url, True
                db.add(sim)
                db.commit()
                return list(db.exec(select(ComfyServer)).all())

        return await asyncio.to_thread(upsert)

    async def _add_entry(self, row: ComfyServer) -> ServerEntry:
        s = self.settings
        client = ComfyClient(row.base_url, client_id=row.client_id, connect_timeout=s.comfy_http_connect_timeout,
                             read_timeout=s.comfy_http_read_timeout, ws_connect_timeout=s.comfy_ws_connect_timeout,
                             ws_idle_timeout=s.comfy_ws_idle_timeout)
        assert row.id is not None
        health = ServerHealth(id=row.id, name=row.name, url=row.base_url, enabled=row.enabled,
                              simulated=row.simulated, max_inflight=row.max_inflight)
        entry = ServerEntry(row=row, client=client, health=health)
        client.add_listener(lambda message: self._dispatch(entry, message))
        self.entries[row.id] = entry
        if row.enabled:
            await client.start()
            await self._check(entry)
        return entry

    def _dispatch(self, entry: ServerEntry, message: Message) -> None:
        for listener in self._listeners:
            listener(entry, message)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL)
            try:
                await self.check_all()
            except Exception:
                log.exception('health check round failed')

    async def _check(self, entry: ServerEntry) -> None:
        health, was = entry.health, entry.health.reachable
        try:
            stats = await asyncio.wait_for(entry.client.system_stats(), timeout=PRECHECK_TIMEOUT)
            devices = stats.get('devices') or [{}]
            health.vram_total = int(devices[0].get('vram_total') or 0)
            health.vram_free = int(devices[0].get('vram_free') or 0)
            health.reachable, health.last_error = True, ''
            if not was or not entry.object_info or time.monotonic() - entry.object_info_at > OBJECT_INFO_MAX_AGE:
                entry.object_info = await entry.client.object_info()
                entry.object_info_at = time.monotonic()
                self.registry.validate_against(health.name, entry.object_info)
        except (ComfyError, TimeoutError) as error:
            health.reachable = False
            health.last_error = str(error) or 'ComfyUI did not answer within 1.5 s'
        health.connected = entry.client.state.connected
        health.queue_remaining = entry.client.state.queue_remaining
        health.last_check = time.time()
        if was != health.reachable:
            log.log(logging.INFO if health.reachable else logging.WARNING, 'server %s is %s%s', health.name,
                    'reachable' if health.reachable else 'DOWN', f': {health.last_error}' if health.last_error else '')
        self.changed.emit(health)


def _client_id() -> str:
    return f'vcc-{uuid.uuid4().hex}'


def _default_name(url: str) -> str:
    return url.split('://', 1)[-1]
