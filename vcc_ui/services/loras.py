"""LoRA sync per server: list, check the hash node, hash, fetch Civitai metadata; live status, resumable."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from nicegui import Event, binding
from sqlmodel import Session, col, delete, select

from comfy_node.contract import PING_PATH, CivitaiModelInfo, CivitaiVersionInfo, HashAnswer, PingAnswer, hash_path
from vcc_ui.models import CivitaiVersion, LoraFile, LoraSyncState, utcnow
from vcc_ui.services.bus import Bus
from vcc_ui.services.civitai import CivitaiClient, CivitaiError, CivitaiUnavailable
from vcc_ui.services.comfy.client import ComfyError
from vcc_ui.services.comfy.protocol import EXPERIMENT_LORAS_PATH, LORA_LOADER, lora_names, unified
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.lora_meta import apply_model, apply_version, save_preview
from vcc_ui.services.servers import ServerEntry, ServerPool
from vcc_ui.settings import Settings

log = logging.getLogger(__name__)

STAGES = ('listing', 'checking_node', 'hashing', 'fetching_metadata')
RUNNING = frozenset(STAGES)
LORAS_TOPIC = 'loras'  # the bus topic of sync progress: each stage's status, for the tabs on other instances
HASH_CONCURRENCY = 4
FLUSH_EVERY = 200
MTIME_TOLERANCE = 1e-5
RETRY_FIRST = 600.0  # seconds until pending Civitai metadata is asked for again; doubles while Civitai stays away
RETRY_MAX = 6 * 3600.0
NODE_INSTALL_HINT = (
    'Copy the comfy_node folder of VCC UI into ComfyUI/custom_nodes/ (for example as '
    f'custom_nodes/vcc_lora_hash) and restart ComfyUI; check with GET {PING_PATH}.'
)


@binding.bindable_dataclass
class LoraSyncStatus:
    """What pages show about one server's LoRA sync; `stage` is idle, a STAGES entry, done or error.

    The counts are of files: listed, hashed, and of the hashed ones on Civitai, not on Civitai, or pending (Civitai
    not asked yet); `metadata_note` says why metadata is pending (unreachable, refused) after the last sync;
    `unverified` counts the hashes kept from earlier syncs that the hash node did not vouch for in the last one.
    """

    server_id: int
    stage: str = 'idle'
    done: int = 0
    total: int = 0
    error: str = ''
    node_installed: bool | None = None
    node_version: str = ''
    lora_count: int = 0
    hashed: int = 0
    matched: int = 0
    not_found: int = 0
    pending: int = 0
    unverified: int = 0
    metadata_note: str = ''
    metadata_error: str = ''
    last_sync: float = 0.0

    @property
    def running(self) -> bool:
        """Whether a sync is under way."""
        return self.stage in RUNNING


@dataclass(frozen=True, slots=True)
class LoraView:
    """One LoRA on one server with its Civitai record (None until looked up); an unverified hash is from before."""

    server_id: int
    name: str
    sha256: str | None
    size: int
    civitai: CivitaiVersion | None
    hash_verified: bool = True


@dataclass(frozen=True, slots=True)
class LoraCounts:
    """How many files of one server are listed, hashed, on / not on / not yet asked of Civitai, and unverified."""

    listed: int
    hashed: int
    matched: int
    not_found: int
    pending: int
    unverified: int


class LoraSync:
    """One sync at a time per server; the state is persisted so an interrupted sync resumes.

    Civitai metadata that could not be fetched (Civitai unreachable) is asked for again by itself, after
    `retry_first` seconds, doubling up to `retry_max` while Civitai stays away, without hashing again.
    """

    def __init__(
        self,
        settings: Settings,
        writer: DbWriter,
        pool: ServerPool,
        civitai: CivitaiClient | None = None,
        *,
        bus: Bus | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus or Bus()
        self.bus.subscribe(LORAS_TOPIC, self._on_remote)
        self.writer = writer
        self.pool = pool
        self.civitai = civitai or CivitaiClient(settings.civitai_base_url, settings.civitai_api_key)
        self.preview_dir = Path(settings.output_dir) / 'civitai' / 'previews'
        self.status: dict[int, LoraSyncStatus] = {}
        self.changed: Event[LoraSyncStatus] = Event()
        self._tasks: dict[int, asyncio.Task] = {}
        self.retry_first = RETRY_FIRST
        self.retry_max = RETRY_MAX
        self._retries: dict[int, asyncio.Task] = {}
        self._retry_failures: dict[int, int] = {}

    async def start(self) -> None:
        """Load the saved state of every server and resume syncs that were interrupted."""
        rows = {r.server_id: r for r in await self.writer.read(lambda db: db.exec(select(LoraSyncState)).all())}
        for server_id in self.pool.entries:
            status = self.status_of(server_id)
            row = rows.get(server_id)
            if row is not None:
                status.stage, status.done, status.total = row.stage, row.done, row.total
                status.error, status.node_installed = row.error or '', row.node_installed
                status.node_version = row.node_version or ''
                status.metadata_note, status.metadata_error = row.metadata_note or '', row.metadata_error or ''
                self._apply_counts(status, await self._counts(server_id))
                status.last_sync = row.finished_at.timestamp() if row.finished_at else 0.0
                if row.stage in RUNNING:
                    log.info('resuming the LoRA sync of server %d (stopped at %s)', server_id, row.stage)
                    self.sync(server_id)
                elif status.metadata_note:
                    self._schedule_retry(server_id)

    async def stop(self) -> None:
        """Cancel running syncs (their saved state lets them resume) and retries, and close the Civitai client."""
        tasks = [*self._tasks.values(), *self._retries.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.civitai.close()

    def status_of(self, server_id: int) -> LoraSyncStatus:
        """Return the live status of one server."""
        if server_id not in self.status:
            self.status[server_id] = LoraSyncStatus(server_id=server_id)
        return self.status[server_id]

    def sync(self, server_id: int, *, refresh: bool = False, metadata_only: bool = False) -> asyncio.Task:
        """Start a sync of one server (metadata_only: just its pending Civitai metadata), or return the running one."""
        task = self._tasks.get(server_id)
        if task is None or task.done():
            retry = self._retries.pop(server_id, None)
            if retry is not None and retry is not asyncio.current_task():
                retry.cancel()  # this sync asks for the pending metadata anyway
            task = asyncio.create_task(self._sync(server_id, refresh, metadata_only), name=f'lora-sync-{server_id}')
            self._tasks[server_id] = task
        return task

    async def loras(self, server_id: int) -> list[LoraView]:
        """Return the LoRAs of one server with their Civitai records, sorted by name."""

        def read(db: Session) -> list[LoraView]:
            files = db.exec(select(LoraFile).where(LoraFile.server_id == server_id)).all()
            shas = {f.sha256 for f in files if f.sha256}
            versions = {v.sha256: v for v in _chunked_in(db, shas)}
            return sorted(
                (
                    LoraView(server_id, f.name, f.sha256, f.size, versions.get(f.sha256 or ''), f.hash_verified)
                    for f in files
                ),
                key=lambda v: v.name,
            )

        return await self.writer.read(read)

    async def presence(self) -> dict[str, set[int]]:
        """Return {unified name: server ids that have it} for the diff view."""
        rows = await self.writer.read(lambda db: db.exec(select(LoraFile.name, LoraFile.server_id)).all())
        out: dict[str, set[int]] = {}
        for name, server_id in rows:
            out.setdefault(unified(name), set()).add(server_id)
        return out

    # the sync ----------------------------------------------------------------------------------------------

    async def _sync(self, server_id: int, refresh: bool, metadata_only: bool) -> None:
        entry = self.pool.get(server_id)
        status = self.status_of(server_id)
        if entry is None:
            raise KeyError(f'no server {server_id}')
        status.error = ''
        try:
            if not metadata_only:
                names, stats = await self._list(entry, status)
                installed = await self._check_node(entry, status)
                files = await self._save_listing(server_id, names, stats, installed)
                if installed:
                    await self._hash(entry, status, files, stats)
            await self._fetch_metadata(status, refresh)
            self._apply_counts(status, await self._counts(server_id))
            await self._stage(status, 'done', status.lora_count, status.lora_count)
        except asyncio.CancelledError:
            raise
        except (ComfyError, OSError) as error:
            log.warning('LoRA sync of server %d failed at %s: %s', server_id, status.stage, error)
            status.error = f'{status.stage}: {error}'
            self._apply_counts(status, await self._counts(server_id))
            await self._stage(status, 'error', status.done, status.total)
        if status.metadata_note:
            self._schedule_retry(server_id)
        else:
            self._retry_failures.pop(server_id, None)

    def _schedule_retry(self, server_id: int) -> None:
        """Ask Civitai again for this server's pending metadata later, waiting longer each time it stays away."""
        failures = self._retry_failures.get(server_id, 0)
        self._retry_failures[server_id] = failures + 1
        delay = min(self.retry_max, self.retry_first * 2**failures)
        log.info('pending Civitai metadata of server %d asked for again in %.0f s', server_id, delay)
        old = self._retries.get(server_id)
        if old is not None and old is not asyncio.current_task():
            old.cancel()
        self._retries[server_id] = asyncio.create_task(
            self._retry_later(server_id, delay), name=f'lora-metadata-retry-{server_id}'
        )

    async def _retry_later(self, server_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        self.sync(server_id, metadata_only=True)

    async def _list(self, entry: ServerEntry, status: LoraSyncStatus) -> tuple[list[str], dict[str, tuple] | None]:
        await self._stage(status, 'listing', 0, 1)
        names = lora_names(await entry.client.object_info(LORA_LOADER))
        code, body = await entry.client.get_json(EXPERIMENT_LORAS_PATH)
        stats = None
        if code == 200 and isinstance(body, list):
            stats = {
                unified(str(item.get('name'))): (int(item.get('size') or 0), float(item.get('modified') or 0))
                for item in body
                if isinstance(item, dict)
            }
        status.done = 1
        return names, stats

    async def _check_node(self, entry: ServerEntry, status: LoraSyncStatus) -> bool:
        await self._stage(status, 'checking_node', 0, 1)
        code, body = await entry.client.get_json(PING_PATH)
        ping = PingAnswer.from_json(body) if code == 200 else None
        installed = ping is not None
        status.node_installed = installed
        status.node_version = ping.version if ping is not None else ''
        if not installed:
            log.warning(
                'server %s has no VCC LoRA hash node (%s answered %s): %s',
                entry.health.name,
                PING_PATH,
                code,
                NODE_INSTALL_HINT,
            )
        status.done = 1
        return installed

    async def _save_listing(
        self, server_id: int, names: list[str], stats: dict[str, tuple] | None, installed: bool
    ) -> dict[str, LoraFile]:
        """Store the listed names (new rows without hash), drop vanished ones; return the rows by name.

        A kept hash counts as verified only when the node is there and the listing shows the file unchanged;
        the others are verified again when the node answers, or stay unverified (no node: kept from before).
        """

        def write(db: Session) -> dict[str, LoraFile]:
            rows = {r.name: r for r in db.exec(select(LoraFile).where(LoraFile.server_id == server_id)).all()}
            listed = set(names)
            gone = [r.id for name, r in rows.items() if name not in listed]
            for start in range(0, len(gone), 500):
                db.exec(delete(LoraFile).where(col(LoraFile.id).in_(gone[start : start + 500])))
            rows = {name: r for name, r in rows.items() if name in listed}
            for row in rows.values():
                verified = installed and _unchanged(row, stats)
                if row.hash_verified != verified:
                    row.hash_verified = verified
                    db.add(row)
            for name in names:
                if name not in rows:
                    size, mtime = (stats or {}).get(unified(name), (0, 0.0))
                    rows[name] = LoraFile(server_id=server_id, name=name, size=size, mtime=mtime)
                    db.add(rows[name])
            return rows

        return await self.writer.write(write)

    async def _hash(
        self, entry: ServerEntry, status: LoraSyncStatus, files: dict[str, LoraFile], stats: dict[str, tuple] | None
    ) -> None:
        """Ask the node for the hash of every file not known unchanged, a few at a time, saving as we go."""
        todo = [f for f in files.values() if not _unchanged(f, stats)]
        await self._stage(status, 'hashing', 0, len(todo))
        queue: asyncio.Queue[LoraFile] = asyncio.Queue()
        for row in todo:
            queue.put_nowait(row)
        results: list[tuple[str, HashAnswer | None]] = []

        async def worker() -> None:
            while not queue.empty():
                row = queue.get_nowait()
                code, body = await entry.client.get_json(hash_path(row.name))
                answer = HashAnswer.from_json(body) if code == 200 else None
                if answer is not None:
                    results.append((row.name, answer))
                elif code == 404:
                    results.append((row.name, None))
                else:
                    log.warning('LoRA hash of %s on %s failed: %s %s', row.name, entry.health.name, code, body)
                status.done += 1
                if len(results) >= FLUSH_EVERY:
                    batch, results[:] = list(results), []
                    await self._save_hashes(entry.id, batch)

        workers = [asyncio.create_task(worker()) for _ in range(HASH_CONCURRENCY)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            if results:
                await asyncio.shield(self._save_hashes(entry.id, list(results)))

    async def _save_hashes(self, server_id: int, results: list[tuple[str, HashAnswer | None]]) -> None:
        def write(db: Session) -> None:
            names = [name for name, _ in results]
            rows = {
                r.name: r
                for r in db.exec(
                    select(LoraFile).where(LoraFile.server_id == server_id, col(LoraFile.name).in_(names))
                ).all()
            }
            for name, answer in results:
                row = rows.get(name)
                if row is None:
                    continue
                if answer is None:
                    db.delete(row)
                    continue
                row.sha256, row.size, row.mtime, row.hashed_at = answer.sha256, answer.size, answer.mtime, utcnow()
                row.hash_verified = True
                db.add(row)

        await self.writer.write(write)

    async def _fetch_metadata(self, status: LoraSyncStatus, refresh: bool) -> None:
        """Look up hashes Civitai never answered for (all with refresh), then models and previews.

        When Civitai cannot be reached or refuses, what is saved stays and the rest is left pending, with the reason
        in the status; the hashes Civitai was not asked about get no record, so they do not read "not on Civitai".
        """
        status.metadata_note = status.metadata_error = ''
        try:
            await self._ask_civitai(status, refresh)
        except CivitaiError as error:
            status.metadata_note = 'unreachable' if isinstance(error, CivitaiUnavailable) else 'refused'
            status.metadata_error = str(error)
            log.warning('Civitai metadata of server %d left pending: %s', status.server_id, error)

    async def _ask_civitai(self, status: LoraSyncStatus, refresh: bool) -> None:
        server_id = status.server_id

        def read(db: Session) -> tuple[list[str], dict[str, CivitaiVersion]]:
            shas = sorted(
                {
                    s
                    for s in db.exec(
                        select(LoraFile.sha256).where(
                            LoraFile.server_id == server_id, col(LoraFile.sha256).is_not(None)
                        )
                    ).all()
                    if s
                }
            )
            return shas, {v.sha256: v for v in _chunked_in(db, set(shas))}

        shas, known = await self.writer.read(read)
        new = shas if refresh else [s for s in shas if s not in known]
        await self._stage(status, 'fetching_metadata', 0, len(new))
        for start in range(0, len(new), 100):
            batch = new[start : start + 100]
            found = await self.civitai.by_hashes(batch)
            await self.writer.write(partial(_store_versions, batch=batch, found=found))
            status.done += len(batch)
        await self._fetch_models(set(shas), refresh)
        await self._fetch_previews(set(shas))

    async def _fetch_models(self, shas: set[str], refresh: bool) -> None:
        """Fetch each model of these versions once: description, tags and creator go to every version of it."""

        def missing(db: Session) -> list[int]:
            wanted = {v.model_id for v in _chunked_in(db, shas) if v.model_id is not None}
            if refresh:
                return sorted(wanted)
            fetched = set(
                db.exec(
                    select(CivitaiVersion.model_id).where(
                        col(CivitaiVersion.model_id).in_(wanted), col(CivitaiVersion.model_fetched_at).is_not(None)
                    )
                ).all()
            )
            return sorted(wanted - fetched)

        for model_id in await self.writer.read(missing):
            model = await self.civitai.model(model_id)
            await self.writer.write(partial(_store_model, model_id=model_id, model=model))

    async def _fetch_previews(self, shas: set[str]) -> None:
        """Download and thumbnail the first preview of each matched version once."""

        def pending(db: Session) -> list[CivitaiVersion]:
            return [v for v in _chunked_in(db, shas) if v.found and v.preview_path is None and v.image_urls]

        for version in await self.writer.read(pending):
            try:
                data = await self.civitai.image(version.image_urls[0])
                rel = await asyncio.to_thread(save_preview, self.preview_dir, version.version_id or 0, data)
            except CivitaiUnavailable:
                raise  # not tried: asked again with the rest of the pending metadata
            except (CivitaiError, OSError, ValueError) as error:
                log.info('no preview for %s: %s', version.sha256, error)
                rel = ''  # tried; a forced refresh tries again
            await self.writer.write(partial(_set_preview, sha=version.sha256, path=rel))

    async def _counts(self, server_id: int) -> LoraCounts:
        def read(db: Session) -> LoraCounts:
            rows = db.exec(select(LoraFile.sha256, LoraFile.hash_verified).where(LoraFile.server_id == server_id)).all()
            hashed = [sha for sha, _ in rows if sha]
            found = {v.sha256: v.found for v in _chunked_in(db, set(hashed))}
            matched = sum(1 for s in hashed if found.get(s))
            pending = sum(1 for s in hashed if s not in found)
            unverified = sum(1 for sha, verified in rows if sha and not verified)
            return LoraCounts(len(rows), len(hashed), matched, len(hashed) - matched - pending, pending, unverified)

        return await self.writer.read(read)

    @staticmethod
    def _apply_counts(status: LoraSyncStatus, counts: LoraCounts) -> None:
        status.lora_count, status.hashed, status.not_found = counts.listed, counts.hashed, counts.not_found
        status.pending, status.matched, status.unverified = counts.pending, counts.matched, counts.unverified

    async def _stage(self, status: LoraSyncStatus, stage: str, done: int, total: int) -> None:
        status.stage, status.done, status.total = stage, done, total
        finished = stage in ('done', 'error')
        if finished:
            status.last_sync = time.time()

        def write(db: Session) -> None:
            row = db.get(LoraSyncState, status.server_id) or LoraSyncState(server_id=status.server_id)
            row.stage, row.done, row.total, row.error = stage, done, total, status.error or None
            row.node_installed, row.node_version = status.node_installed, status.node_version or None
            row.lora_count, row.matched = status.lora_count, status.matched
            row.metadata_note, row.metadata_error = status.metadata_note or None, status.metadata_error or None
            if stage == 'listing':
                row.started_at = utcnow()
            if finished:
                row.finished_at = utcnow()
            db.add(row)

        await self.writer.write(write)
        self.changed.emit(status)
        self.bus.publish(LORAS_TOPIC, {'status': dataclasses.asdict(status)})

    def _on_remote(self, payload: dict[str, Any]) -> None:
        """Show a sync that runs on another instance: its stage and counts, as that instance stored them."""
        shown = payload.get('status')
        if not isinstance(shown, dict) or not isinstance(server_id := shown.get('server_id'), int):
            return
        if server_id in self._tasks and not self._tasks[server_id].done():
            return  # this instance runs that server's sync itself
        status = self.status_of(server_id)
        for item in dataclasses.fields(LoraSyncStatus):
            if item.name in shown and getattr(status, item.name) != shown[item.name]:
                setattr(status, item.name, shown[item.name])
        self.changed.emit(status)


def _unchanged(row: LoraFile, stats: dict[str, tuple] | None) -> bool:
    """Whether a stored hash is still good: the server's listing shows the same size and mtime."""
    if not row.sha256 or stats is None:
        return False
    size, mtime = stats.get(unified(row.name), (None, None))
    return size == row.size and mtime is not None and abs(mtime - row.mtime) < MTIME_TOLERANCE


def _chunked_in(db: Session, shas: Iterable[str]) -> list[CivitaiVersion]:
    items = sorted(shas)
    out: list[CivitaiVersion] = []
    for start in range(0, len(items), 500):
        out.extend(db.exec(select(CivitaiVersion).where(col(CivitaiVersion.sha256).in_(items[start : start + 500]))))
    return out


def _store_versions(db: Session, batch: list[str], found: dict[str, CivitaiVersionInfo]) -> None:
    for sha in batch:
        row = db.get(CivitaiVersion, sha) or CivitaiVersion(sha256=sha)
        apply_version(row, found.get(sha))
        db.add(row)


def _store_model(db: Session, model_id: int, model: CivitaiModelInfo | None) -> None:
    for row in db.exec(select(CivitaiVersion).where(CivitaiVersion.model_id == model_id)).all():
        apply_model(row, model)
        db.add(row)


def _set_preview(db: Session, sha: str, path: str) -> None:
    row = db.get(CivitaiVersion, sha)
    if row is not None:
        row.preview_path = path
        db.add(row)
