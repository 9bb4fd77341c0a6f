"""class Services: builds, starts and stops every service of one app process."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from vcc_ui.db import make_engine, migrate
from vcc_ui.services.admin import AdminAuth
from vcc_ui.services.admin_data import AdminData
from vcc_ui.services.auth import BetaGate, Identity, SessionStore, load_secret
from vcc_ui.services.bus import make_bus
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.health import HealthChecks
from vcc_ui.services.images import ImageIndex
from vcc_ui.services.jobs import JobManager
from vcc_ui.services.llm import PromptHelper
from vcc_ui.services.logtail import LogTail
from vcc_ui.services.loras import LoraSync
from vcc_ui.services.presence import Presence
from vcc_ui.services.servers import ServerPool, StartBundled
from vcc_ui.services.shares import Shares
from vcc_ui.services.stats import Stats
from vcc_ui.services.storage import open_storage
from vcc_ui.services.studio import Studio
from vcc_ui.services.tokens import ApiTokens
from vcc_ui.services.users import UserDirectory
from vcc_ui.services.workflows import WorkflowRegistry
from vcc_ui.settings import Settings

log = logging.getLogger(__name__)

WORKFLOWS_DIR = Path(__file__).resolve().parents[2] / 'workflows'


class Services:
    """The composition of all services; the database schema is ready when this returns."""

    def __init__(
        self, settings: Settings, *, workflows_dir: Path = WORKFLOWS_DIR, start_simulator: StartBundled | None = None
    ) -> None:
        self.settings = settings
        self.engine = make_engine(settings.db_url)
        self.bus = make_bus(settings.redis_url, settings.instance_id or None)
        migrate(self.engine)
        self.secret = load_secret(settings.secret_key, Path(settings.job_db_path).parent)
        self.identity = Identity(self.secret)
        self.writer = DbWriter(self.engine)
        self.sessions = SessionStore(self.writer, bus=self.bus)
        self.gate = BetaGate(settings.beta_password, self.secret, sessions=self.sessions, redis_url=settings.redis_url)
        self.admin = AdminAuth(
            settings.admin_user,
            settings.admin_password,
            self.secret,
            sessions=self.sessions,
            redis_url=settings.redis_url,
        )
        self.tokens = ApiTokens(self.writer)
        self.storage = open_storage(settings)
        self.registry = WorkflowRegistry(settings.workflows_dir or workflows_dir)
        self.registry.load()
        self.users = UserDirectory(self.writer, settings=settings)
        self.pool = ServerPool(settings, self.writer, self.registry, start_simulator=start_simulator, bus=self.bus)
        self.images = ImageIndex(self.writer, self.storage, settings, block_check=self.users.refusal)
        self.jobs = JobManager(
            settings,
            self.writer,
            self.pool,
            self.registry,
            self.storage,
            admission_check=self.users.admission,
            bus=self.bus,
        )
        self.studio = Studio(self.registry, self.pool, self.jobs)
        self.shares = Shares(self.writer, self.secret, self.images)
        self.admin_data = AdminData(self.writer, self.images, settings, self.users)
        self.llm = PromptHelper(settings)
        self.health = HealthChecks(settings, self.engine, self.pool, self.storage, self.llm)
        self.loras = LoraSync(settings, self.writer, self.pool, bus=self.bus)
        self.stats = Stats(self.writer, self.jobs, bus=self.bus)
        self.presence = Presence(self.bus)
        self.logs = LogTail(Path(settings.log_file_path), backups=settings.log_backup_count)
        self.ready = asyncio.Event()
        self._watch: asyncio.Task | None = None
        self._purge: asyncio.Task | None = None
        self._started = False
        self._start_done = asyncio.Event()  # start() ran to its end (or failed): stop() may undo it

    async def start(self) -> None:
        """Clear stale temp files, start the writer, servers, job manager and workflow watcher (once; then a no-op)."""
        # NOTE: NiceGUI's create_user test fixture runs the app's startup handlers a second time
        if self._started:
            return
        self._started = True
        try:
            await self.storage.start()  # before any write of this process, so every temp file found is stale
            self.writer.start()
            await self.bus.start()
            await self.users.load()
            await self.pool.start()
            await self.jobs.start()
            await self.loras.start()
            await self.stats.start()
            await self.presence.start()
            self._watch = asyncio.create_task(self.registry.watch(), name='workflow-watch')
            self._purge = asyncio.create_task(self.images.purge_loop(), name='trash-purge')
        finally:
            self._start_done.set()
        self.ready.set()
        log.info('services started: %d server(s), %d workflow(s)', len(self.pool.entries), len(self.registry.all()))

    async def stop(self) -> None:
        """Stop everything in reverse order; a start still under way is let finish first.

        NiceGUI runs startup handlers as tasks: an app shut down at once (a short page test) called stop() while
        start() still ran, and start then went on to open the ComfyUI clients, which nothing stopped.
        """
        if self._started:
            await self._start_done.wait()
        for task in (self._watch, self._purge):
            if task:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.llm.stop()
        await self.presence.stop()
        await self.stats.stop()
        await self.loras.stop()
        await self.jobs.stop()
        await self.pool.stop()
        await self.bus.stop()
        await self.gate.limiter.close()
        await self.admin.limiter.close()
        await self.writer.stop()
        await self.storage.stop()
        self.engine.dispose()
