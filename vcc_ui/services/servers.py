"""ServerPool: the configured ComfyUI servers, one client each, their live health and load."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from nicegui import Event, binding
from sqlmodel import Session, select

from vcc_ui.i18n import DEFAULT_LANGUAGE, translate
from vcc_ui.models import ComfyServer
from vcc_ui.services.bus import Bus
from vcc_ui.services.comfy.client import ComfyClient, ComfyError, ComfyUnreachable, normalize_base_url
from vcc_ui.services.comfy.messages import Message
from vcc_ui.services.comfy.protocol import lora_names, unified
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.workflows import WorkflowRegistry
from vcc_ui.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar('T')
HEALTH_INTERVAL = 5.0
HEALTH_TOPIC = 'health'  # the bus topic of reachability flips: the other instances check that server at once
PRECHECK_TIMEOUT = 1.5
TEST_TIMEOUT = 3.0  # an admin's connection test
OBJECT_INFO_MAX_AGE = 60.0  # models added on a server show up within a minute


class BundledServer(Protocol):
    """A ComfyUI server the app runs itself when none is configured (the simulator)."""

    @property
    def url(self) -> str:
        """Return its base URL."""
        ...

    async def stop(self) -> None:
        """Stop serving."""
        ...


StartBundled = Callable[[Settings], Awaitable[BundledServer]]


class ServerProblem(Exception):
    """A server change the app refuses: `code` maps to an HTTP status, `key` and `values` name the i18n text."""

    def __init__(self, code: str, key: str, *, field: str | None = None, **values: object) -> None:
        self.message = translate(key, DEFAULT_LANGUAGE, **values)  # the API's text; pages show t(key, **values)
        super().__init__(self.message)
        self.code, self.key, self.values, self.field = code, key, values, field


@binding.bindable_dataclass
class ServerHealth:
    """What pages show about one server; updated by the health loop and the client."""

    id: int
    name: str
    url: str
    enabled: bool = True
    simulated: bool = False
    from_env: bool = False  # address and slots come from .env (COMFYUI_SERVERS / COMFYUI_SERVER, SERVER_MAX_INFLIGHT)
    reachable: bool = False
    connected: bool = False
    inflight: int = 0
    max_inflight: int = 1
    queue_remaining: int = 0
    vram_total: int = 0
    vram_free: int = 0
    last_error: str = ''
    last_check: float = 0.0

    @property
    def status(self) -> str:
        """Return ok, down, disabled, or draining (disabled while jobs still run on it)."""
        if not self.enabled:
            return 'draining' if self.inflight else 'disabled'
        return 'ok' if self.reachable else 'down'


@dataclass(eq=False)
class ServerEntry:
    """One ComfyUI server: its row, its client and its live health."""

    row: ComfyServer
    client: ComfyClient
    health: ServerHealth
    object_info: dict = field(default_factory=dict)
    object_info_at: float = 0.0
    jobs: set[str] = field(default_factory=set)  # the jobs holding a slot; ServerPool.acquire / release
    check_task: asyncio.Task | None = None  # a health check started because a request could not connect

    @property
    def id(self) -> int:
        """The row id."""
        assert self.row.id is not None
        return self.row.id

    def offers_lora(self, lora: str) -> bool:
        """Whether this server's LoraLoader lists the LoRA (names compared with either separator)."""
        return unified(lora) in {unified(name) for name in lora_names(self.object_info)}

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

    def __init__(
        self,
        settings: Settings,
        writer: DbWriter,
        registry: WorkflowRegistry,
        *,
        start_simulator: StartBundled | None = None,
        bus: Bus | None = None,
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.registry = registry
        self.bus = bus or Bus()
        self.bus.subscribe(HEALTH_TOPIC, self._on_remote_health)
        self.entries: dict[int, ServerEntry] = {}
        self.skipped: dict[int, ComfyServer] = {}  # stored rows with an unusable address, shown to the admin
        self.simulator: BundledServer | None = None  # the bundled one, when no server is configured
        self._start_bundled = start_simulator
        self.changed: Event[ServerHealth] = Event()
        # what users' pages show of a server changed (its name, enabled, reachable, error or catalogue): every tab
        # follows this one, while a health round that only refreshed VRAM, queue and check time emits `changed` alone
        self.shown_changed: Event[ServerHealth] = Event()
        self._shown: dict[int, tuple] = {}  # server id -> what shown_changed last announced of it
        self._shared: dict[Hashable, Any] | None = None  # what the handlers of one shown_changed emission share
        self._listeners: list[Callable[[ServerEntry, Message], None]] = []
        self._task: asyncio.Task | None = None

    def add_listener(self, callback: Callable[[ServerEntry, Message], None]) -> None:
        """Receive every message of every server, with the server it came from."""
        self._listeners.append(callback)

    async def start(self) -> None:
        """Apply .env to the table, start the simulator when no other server is enabled, connect to enabled ones."""
        rows = await self.writer.write(self._seed_rows)
        if not self.settings.server_urls and not any(r.enabled and not r.simulated for r in rows):
            rows = await self._start_simulator(rows)
        elif any(r.simulated and r.enabled for r in rows):
            rows = await self.writer.write(_disable_simulated)
            log.info('a ComfyUI server is configured: the bundled simulator is not started and its row is disabled')
        for row in rows:
            try:
                await self._add_entry(row)
            except ValueError as error:
                assert row.id is not None
                self.skipped[row.id] = row
                log.error('server %s skipped: its stored address is unusable (%s)', row.name, error)
        self._task = asyncio.create_task(self._health_loop(), name='server-health')

    async def stop(self) -> None:
        """Close every client and the simulator."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        checks = [e.check_task for e in self.entries.values() if e.check_task is not None]
        for task in checks:
            task.cancel()
        await asyncio.gather(*checks, return_exceptions=True)
        for entry in self.entries.values():
            await entry.client.stop()
        if self.simulator:
            await self.simulator.stop()

    def get(self, server_id: int | None) -> ServerEntry | None:
        """Return the entry with this id."""
        return self.entries.get(server_id) if server_id is not None else None

    def candidates(self, workflow_id: str, *, lora: str | None = None) -> list[ServerEntry]:
        """Reachable servers with a free slot that can run this workflow (with this LoRA), least loaded first.

        A server is unreachable from the first request that could not connect to it until a health check answers.
        """
        found = [
            e
            for e in self.entries.values()
            if e.free_slots > 0
            and self.registry.is_available(workflow_id, e.health.name)
            and (lora is None or e.offers_lora(lora))
        ]
        return sorted(found, key=lambda e: (e.health.inflight / e.health.max_inflight, e.id))

    def lora_servers(self, workflow_id: str) -> list[ServerEntry]:
        """The enabled servers whose LoRAs a workflow offers: those that can run it, else every enabled one."""
        enabled = [e for e in self.entries.values() if e.health.enabled]
        able = [e for e in enabled if self.registry.is_available(workflow_id, e.health.name)]
        return able or enabled

    def loras_for(self, workflow_id: str) -> list[str]:
        """The LoRA names a workflow offers, as its servers list them (one spelling per name)."""
        names: dict[str, str] = {}
        for entry in self.lora_servers(workflow_id):
            for name in lora_names(entry.object_info):
                names.setdefault(unified(name), name)
        return list(names.values())

    def lora_offered(self, workflow_id: str, lora: str) -> bool:
        """Whether the workflow offers this LoRA (either path separator)."""
        return unified(lora) in {unified(name) for name in self.loras_for(workflow_id)}

    def has_free_slot(self) -> bool:
        """Whether any server may take one more prompt now (else `pick` finds none, whatever the workflow)."""
        return any(e.free_slots > 0 for e in self.entries.values())

    def pick(
        self, workflow_id: str, *, lora: str | None = None, accepts: Callable[[ServerEntry], bool] | None = None
    ) -> ServerEntry | None:
        """The least loaded server that can take this workflow (with this LoRA, and that `accepts`) now, or None."""
        found = [e for e in self.candidates(workflow_id, lora=lora) if accepts is None or accepts(e)]
        return found[0] if found else None

    def catalogues(self, workflow_id: str) -> list[dict]:
        """The /object_info of every usable server that can run this workflow, in the order of their ids."""
        able = [e for e in self.entries.values() if e.usable and self.registry.is_available(workflow_id, e.health.name)]
        return [e.object_info for e in sorted(able, key=lambda e: e.id)]

    def acquire(self, entry: ServerEntry, job_id: str) -> None:
        """Let a job hold one of the server's slots (a job recovered after a restart may go beyond max_inflight)."""
        entry.jobs.add(job_id)
        entry.health.inflight = len(entry.jobs)

    def release(self, entry: ServerEntry, job_id: str) -> None:
        """Give back the job's slot, if it holds one."""
        entry.jobs.discard(job_id)
        entry.health.inflight = len(entry.jobs)

    def any_reachable(self) -> bool:
        """Whether some enabled server answers (ComfyUI counts as up)."""
        return any(e.health.enabled and e.health.reachable for e in self.entries.values())

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
            checks = [asyncio.create_task(self._check(e)) for e in usable]
            _, pending = await asyncio.wait(checks, timeout=PRECHECK_TIMEOUT)
            for task in pending:
                task.cancel()
            await asyncio.gather(*checks, return_exceptions=True)
        return self.unavailable_reason(workflow_id)

    async def check_all(self) -> None:
        """Run one health check of every enabled or draining server now; stop the clients of drained ones."""
        await asyncio.gather(*(self._check(e) for e in self.entries.values() if e.health.enabled or e.health.inflight))
        for entry in list(self.entries.values()):
            if not entry.health.enabled and not entry.health.inflight:
                await entry.client.stop()

    # ---- runtime changes (admin) -------------------------------------------------------------------------------

    async def add_server(self, *, name: str, url: str, max_inflight: int = 1, enabled: bool = True) -> ServerEntry:
        """Store a new server and connect to it; raise ServerProblem for a bad or duplicate name or URL."""
        name, url = self._checked(name, url)
        row = ComfyServer(name=name, base_url=url, client_id=_client_id(), max_inflight=max_inflight, enabled=enabled)
        await self._save(row)
        entry = await self._add_entry(row)
        log.info('server %s (%s) added', name, url)
        self._announce(entry.health)
        return entry

    async def update_server(
        self, server_id: int, *, name: str | None = None, url: str | None = None, max_inflight: int | None = None
    ) -> ServerEntry:
        """Rename, move or resize a server; moving one that still runs jobs is refused."""
        entry = self._entry(server_id)
        name, url = self._checked(name or entry.row.name, url or entry.row.base_url, skip=entry)
        moved = url != entry.row.base_url
        if entry.row.from_env and (moved or (max_inflight is not None and max_inflight != entry.row.max_inflight)):
            raise ServerProblem('invalid', 'srv_err_env_field', field='url' if moved else 'max_inflight')
        if moved and entry.row.simulated:
            raise ServerProblem('invalid', 'srv_err_sim_url', field='url')
        if moved and entry.health.inflight:
            raise ServerProblem('busy', 'srv_err_busy_move', name=entry.row.name, n=entry.health.inflight)
        old_name = entry.row.name
        entry.row.name, entry.row.base_url = name, url
        if max_inflight is not None:
            entry.row.max_inflight = max_inflight
        await self._save(entry.row)
        health = entry.health
        health.name, health.url, health.max_inflight = name, url, entry.row.max_inflight
        if old_name != name:
            self.registry.forget_server(old_name)
            if entry.object_info:
                self.registry.validate_against(name, entry.object_info)
        if moved:
            await entry.client.stop()
            entry.client = self._client(entry.row)
            self._listen(entry)
            entry.object_info, health.reachable, health.last_error = {}, False, ''
            self.registry.forget_server(name)
            if health.enabled:
                await entry.client.start()
                await self._check(entry)
        log.info('server %s updated (%s, max in flight %d)', name, url, entry.row.max_inflight)
        self._announce(health)
        return entry

    async def set_enabled(self, server_id: int, enabled: bool) -> ServerEntry:
        """Enable a server, or disable it: nothing new is sent, running jobs finish (the client stays until then)."""
        entry = self._entry(server_id)
        if enabled and entry.row.simulated and self.simulator is None:
            raise ServerProblem('invalid', 'srv_err_sim_off')
        entry.row.enabled = enabled
        await self._save(entry.row)
        entry.health.enabled = enabled
        if enabled:
            await entry.client.start()
            await self._check(entry)
        elif not entry.health.inflight:
            await entry.client.stop()
        log.info(
            'server %s %s',
            entry.row.name,
            'enabled'
            if enabled
            else f'disabled (draining {entry.health.inflight} running job(s))'
            if entry.health.inflight
            else 'disabled',
        )
        self._announce(entry.health)
        return entry

    async def remove_server(self, server_id: int) -> None:
        """Forget a server; refused while it still runs jobs (disable it first and let it drain)."""
        entry = self._entry(server_id)
        if entry.health.inflight:
            raise ServerProblem('busy', 'srv_err_busy_remove', name=entry.row.name, n=entry.health.inflight)
        await entry.client.stop()
        await self.writer.write(lambda db: _delete(db, server_id))
        del self.entries[server_id]
        self.registry.forget_server(entry.row.name)
        entry.health.enabled = False
        log.info('server %s (%s) removed', entry.row.name, entry.row.base_url)
        self._announce(entry.health)

    async def remove_skipped(self, server_id: int) -> None:
        """Delete a stored row that was skipped at start for its unusable address."""
        row = self.skipped.pop(server_id, None)
        if row is None:
            raise ServerProblem('not_found', 'srv_err_not_found')
        await self.writer.write(lambda db: _delete(db, server_id))
        log.info('skipped server %s (%r) removed', row.name, row.base_url)

    async def test_connection(self, url: str) -> dict:
        """Ask a server (not necessarily stored) for /system_stats: reachable, version, devices or the error."""
        try:
            client = ComfyClient(url, client_id=_client_id(), connect_timeout=TEST_TIMEOUT, read_timeout=TEST_TIMEOUT)
        except ValueError as error:
            return {'reachable': False, 'url': url, 'version': None, 'devices': [], 'error': str(error)}
        await client.start(websocket=False)
        try:
            stats = await asyncio.wait_for(client.system_stats(), timeout=TEST_TIMEOUT + 0.5)
        except (ComfyError, TimeoutError) as error:
            return {
                'reachable': False,
                'url': client.base_url,
                'version': None,
                'devices': [],
                'error': str(error) or f'no answer within {TEST_TIMEOUT:g} s',
            }
        finally:
            await client.stop()
        system = stats.get('system')
        if not isinstance(system, dict):
            system = {}
        devices = [
            {
                'name': d.get('name'),
                'type': d.get('type'),
                'vram_total': d.get('vram_total'),
                'vram_free': d.get('vram_free'),
            }
            for d in stats.get('devices') or []
            if isinstance(d, dict)
        ]
        return {
            'reachable': True,
            'url': client.base_url,
            'version': system.get('comfyui_version'),
            'devices': devices,
            'error': None,
        }

    def _entry(self, server_id: int) -> ServerEntry:
        entry = self.entries.get(server_id)
        if entry is None:
            raise ServerProblem('not_found', 'srv_err_not_found')
        return entry

    def _checked(self, name: str, url: str, *, skip: ServerEntry | None = None) -> tuple[str, str]:
        name = name.strip()
        if not name or len(name) > 100:
            raise ServerProblem('invalid', 'srv_err_name', field='name')
        try:
            url = normalize_base_url(url)
        except ValueError as error:
            raise ServerProblem('invalid', 'srv_err_url', field='url', url=repr(url)) from error
        for other in self.entries.values():
            if other is skip:
                continue
            if other.row.name == name:
                raise ServerProblem('conflict', 'srv_err_dup_name', field='name', name=name)
            if other.row.base_url == url:
                raise ServerProblem('conflict', 'srv_err_dup_url', field='url', url=url, name=other.row.name)
        return name, url

    async def _save(self, row: ComfyServer) -> None:
        """Insert or update a server row; a new row gets its id."""

        def write(db: Session) -> None:
            merged = db.merge(row)
            db.flush()
            row.id = merged.id

        await self.writer.write(write)

    def _client(self, row: ComfyServer) -> ComfyClient:
        s = self.settings
        return ComfyClient(
            row.base_url,
            client_id=_client_id(),  # fresh per process: a socket that reuses an old id cannot take our messages
            connect_timeout=s.comfy_http_connect_timeout,
            read_timeout=s.comfy_http_read_timeout,
            ws_connect_timeout=s.comfy_ws_connect_timeout,
            ws_idle_timeout=s.comfy_ws_idle_timeout,
        )

    def _seed_rows(self, db: Session) -> list[ComfyServer]:
        """Apply .env: its servers get its address and slots, servers it no longer lists are disabled; all rows."""
        rows = list(db.exec(select(ComfyServer)).all())
        configured = self.settings.server_urls
        for row in rows:
            if row.base_url in configured:
                row.from_env, row.max_inflight = True, self.settings.server_max_inflight
            elif row.from_env:
                row.from_env, row.enabled = False, False
                log.warning(
                    'server %s (%s) is no longer in .env: disabled (remove it on the admin page)',
                    row.name,
                    row.base_url,
                )
            db.add(row)
        known = {r.base_url for r in rows}
        for url in configured:
            if url not in known:
                row = ComfyServer(
                    name=_default_name(url),
                    base_url=url,
                    client_id=_client_id(),
                    max_inflight=self.settings.server_max_inflight,
                    from_env=True,
                )
                db.add(row)
                rows.append(row)
        db.flush()
        return rows

    async def _start_simulator(self, rows: list[ComfyServer]) -> list[ComfyServer]:
        """Start the bundled simulator and point the simulated row at it; return every row."""
        if self._start_bundled is None:
            log.warning('no COMFYUI_SERVERS configured and no bundled simulator to start')
            return rows
        self.simulator = await self._start_bundled(self.settings)
        log.warning('no COMFYUI_SERVERS configured: using the bundled ComfyUI simulator at %s', self.simulator.url)
        url = self.simulator.url

        def upsert(db: Session) -> list[ComfyServer]:
            sim = db.exec(select(ComfyServer).where(ComfyServer.simulated)).first()
            if sim is None:
                sim = ComfyServer(
                    name='simulator',
                    base_url=url,
                    client_id=_client_id(),
                    simulated=True,
                    max_inflight=self.settings.server_max_inflight,
                )
            sim.base_url, sim.enabled = url, True
            db.add(sim)
            db.flush()
            return list(db.exec(select(ComfyServer)).all())

        return await self.writer.write(upsert)

    async def _add_entry(self, row: ComfyServer) -> ServerEntry:
        client = self._client(row)
        assert row.id is not None
        health = ServerHealth(
            id=row.id,
            name=row.name,
            url=row.base_url,
            enabled=row.enabled,
            simulated=row.simulated,
            from_env=row.from_env,
            max_inflight=row.max_inflight,
        )
        entry = ServerEntry(row=row, client=client, health=health)
        self._listen(entry)
        self.entries[row.id] = entry
        if row.enabled:
            await client.start()
            await self._check(entry)
        return entry

    def _listen(self, entry: ServerEntry) -> None:
        """Receive the entry's client's messages and its failed connects."""
        entry.client.add_listener(lambda message: self._dispatch(entry, message))
        entry.client.add_unreachable_listener(lambda error: self._unreachable(entry, error))

    def _unreachable(self, entry: ServerEntry, error: ComfyUnreachable) -> None:
        """A request could not connect: no new prompt goes there, and a health check runs now to confirm."""
        if not entry.health.reachable:
            return  # known down already; the health loop notices when it is back
        self._mark_down(entry, str(error))
        if entry.check_task is None and entry.health.enabled:
            entry.check_task = asyncio.create_task(self._recheck(entry), name=f'server-check {entry.health.name}')

    async def _recheck(self, entry: ServerEntry) -> None:
        try:
            await self._check(entry)
        except Exception:
            log.exception('health check of %s failed', entry.health.name)
        finally:
            entry.check_task = None

    def _announce(self, health: ServerHealth) -> None:
        """Emit `changed`, and `shown_changed` when what users' pages show of the server changed."""
        self.changed.emit(health)
        entry = self.entries.get(health.id)
        if entry is None:
            self._shown.pop(health.id, None)
            self._emit_shown(health)
            return
        shown = (health.name, health.enabled, health.reachable, health.last_error, entry.object_info)
        if self._shown.get(health.id) != shown:  # a catalogue is compared by identity first, by content if refetched
            self._shown[health.id] = shown
            self._emit_shown(health)

    def shared(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Compute once what every tab's shown_changed handler computes alike (outside an emission: every time)."""
        if self._shared is None:
            return compute()
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    def _emit_shown(self, health: ServerHealth) -> None:
        """Emit shown_changed; its handlers (one per open tab, called in turn) share what `shared` computes."""
        self._shared = {}
        try:
            self.shown_changed.emit(health)
        finally:
            self._shared = None

    def _mark_down(self, entry: ServerEntry, error: str) -> None:
        """Mark a server unreachable with the error; log and announce it when it was reachable."""
        health = entry.health
        health.last_error = error
        if not health.reachable:
            return
        health.reachable = False
        log.warning('server %s is DOWN: %s', health.name, error)
        self._announce(health)
        self.bus.publish(HEALTH_TOPIC, {'server': health.id, 'reachable': False})

    def _on_remote_health(self, payload: dict[str, Any]) -> None:
        """Another instance saw a server go down or come back: check it now rather than at the next round."""
        server = payload.get('server')
        entry = self.entries.get(server) if isinstance(server, int) else None
        if entry is None or not entry.health.enabled or entry.health.reachable == bool(payload.get('reachable')):
            return
        if entry.check_task is None:
            entry.check_task = asyncio.create_task(self._recheck(entry), name=f'server-check {entry.health.name}')

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
                fresh = await entry.client.object_info()
                if fresh != entry.object_info:  # an unchanged catalogue keeps its dict, parsed before (not among pages)
                    entry.object_info = fresh
                entry.object_info_at = time.monotonic()
                self.registry.validate_against(health.name, entry.object_info)
            if not was:
                log.info('server %s is reachable', health.name)
                self.bus.publish(HEALTH_TOPIC, {'server': health.id, 'reachable': True})
        except (ComfyError, TimeoutError) as error:
            self._mark_down(entry, str(error) or 'ComfyUI did not answer within 1.5 s')
        health.connected = entry.client.state.connected
        health.queue_remaining = entry.client.state.queue_remaining
        health.last_check = time.time()
        self._announce(health)


def _disable_simulated(db: Session) -> list[ComfyServer]:
    """Disable the bundled simulator's row (it is not started this run); return every row."""
    rows = list(db.exec(select(ComfyServer)).all())
    for row in rows:
        if row.simulated and row.enabled:
            row.enabled = False
            db.add(row)
    db.flush()
    return rows


def _delete(db: Session, server_id: int) -> None:
    row = db.get(ComfyServer, server_id)
    if row is not None:
        db.delete(row)


def _client_id() -> str:
    return f'vcc-{uuid.uuid4().hex}'


def _default_name(url: str) -> str:
    return url.split('://', 1)[-1]
