"""Several instances: who dispatches (a PostgreSQL advisory lock) and the job state they send each other."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from vcc_ui.services.jobs.types import JobView

log = logging.getLogger('vcc_ui.jobs')

LEADER_LOCK = 0x76636330  # 'vcc0': the session advisory lock the dispatching instance holds
POLL_INTERVAL = 1.0  # how often a waiting instance tries the lock and the leader checks its connection
CHECK_TIMEOUT = 2.0  # a lock connection that does not answer a check within this is taken as lost
# PostgreSQL probes an idle lock connection so a leader whose machine vanished (no FIN) loses the lock in ~6 s
KEEPALIVES = {'tcp_keepalives_idle': 3, 'tcp_keepalives_interval': 1, 'tcp_keepalives_count': 3}
JOBS = 'jobs'  # bus topic: job views, progress, preview frames, from the dispatcher to every other instance
CONTROL = 'jobs.control'  # bus topic: new job, cancel, move to front, hello; from any instance to the dispatcher
DATES = ('queued_at', 'started_at', 'finished_at')
FIELDS = tuple(f.name for f in dataclasses.fields(JobView))


def scaled(database_url: str, shared_bus: bool) -> bool:
    """Whether several instances may run: PostgreSQL DATABASE_URL and a bus other instances hear (REDIS_URL)."""
    return shared_bus and database_url.startswith('postgresql')


def view_state(view: JobView, preview: tuple[str, bytes] | None = None) -> dict[str, Any]:
    """The JSON-able state of a job view, with the newest preview frame (base64) when given."""
    state = {name: getattr(view, name) for name in FIELDS}
    for name in DATES:
        state[name] = state[name].isoformat() if state[name] else None
    state['image_ids'] = list(view.image_ids)
    if preview is not None:
        state['preview'] = {'type': preview[0], 'data': base64.b64encode(preview[1]).decode()}
    return state


def apply_state(view: JobView | None, state: dict[str, Any]) -> JobView:
    """Update a view in place from a state (bindings see only changed fields), or build one."""
    values = {name: state[name] for name in FIELDS if name in state}
    for name in DATES:
        if name in values:
            values[name] = datetime.fromisoformat(values[name]) if values[name] else None
    if view is None:
        return JobView(**values)
    for name, value in values.items():
        if getattr(view, name) != value:
            setattr(view, name, value)
    return view


def preview_of(state: dict[str, Any]) -> tuple[str, bytes] | None:
    """The preview frame a state carries, if any."""
    preview = state.get('preview')
    if not isinstance(preview, dict):
        return None
    return str(preview.get('type') or 'image/jpeg'), base64.b64decode(preview.get('data') or '')


class Leadership:
    """Elects the one dispatching instance: whoever holds LEADER_LOCK on its own PostgreSQL connection.

    The others try the lock every POLL_INTERVAL. A leader checks its connection as often; when the connection fails it
    stops dispatching at once (`on_loss`), since the lock may already be someone else's. A killed leader's
    connection closes with its process, so PostgreSQL frees the lock at once.
    """

    def __init__(
        self,
        database_url: str,
        on_gain: Callable[[], Awaitable[None]],
        on_loss: Callable[[str], Awaitable[None]],
        *,
        interval: float = POLL_INTERVAL,
    ) -> None:
        self.dsn = make_url(database_url).set(drivername='postgresql').render_as_string(hide_password=False)
        self.on_gain, self.on_loss, self.interval = on_gain, on_loss, interval
        self.leading = False
        self.backend_pid: int | None = None  # of the lock connection, while leading
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start trying for the lock."""
        self._task = asyncio.create_task(self._run(), name='job-leadership')

    async def stop(self) -> None:
        """Stop; closing the connection frees the lock for another instance."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await self._hold(conn)
            except Exception as error:  # a lost connection, or taking over failed: either way not leading now
                if self.leading:
                    self.leading, self.backend_pid = False, None
                    reason = str(error) or type(error).__name__
                    log.error('job dispatcher: lost the leader lock (%s); stopped dispatching', reason)
                    await self.on_loss(reason)
                else:
                    log.warning('job dispatcher: cannot reach PostgreSQL for the leader lock (%s)', error)
            await asyncio.sleep(self.interval)

    async def _hold(self, conn: psycopg.AsyncConnection) -> None:
        """Try the lock until it is ours, then check the connection until it fails (which raises)."""
        for name, value in KEEPALIVES.items():
            await conn.execute(f'SET {name} = {value}')
        while not self.leading:
            cursor = await conn.execute('SELECT pg_try_advisory_lock(%s), pg_backend_pid()', (LEADER_LOCK,))
            row = await cursor.fetchone()
            if row is not None and row[0]:
                self.leading, self.backend_pid = True, row[1]
                log.info('job dispatcher: this instance leads (PostgreSQL backend %s)', row[1])
                await self.on_gain()
                break
            await asyncio.sleep(self.interval)
        while True:
            await asyncio.sleep(self.interval)
            async with asyncio.timeout(CHECK_TIMEOUT):
                await conn.execute('SELECT 1')
