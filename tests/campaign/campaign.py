"""The fault campaign: users submit over REST while simulators fail, drop sockets, answer slowly and die."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.campaign.audit import Audit, audit
from tests.campaign.procs import AppProcess, SimProcess
from tests.postgres import free_port
from vcc_ui.services.auth import ANON_COOKIE

log = logging.getLogger('campaign')

ACTIVE = ('dispatched', 'running', 'saving')
FINAL = ('completed', 'failed', 'cancelled', 'timed_out')


@dataclass(kw_only=True)
class Size:
    """How big and how hostile one campaign is."""

    users: int
    jobs_per_user: int
    error_rate: float = 0.1
    ws_drop_every: int = 9
    slow_ms: int = 40
    step_delay: float = 0.03
    steps: int = 3
    max_per_user_queue: int = 2
    max_per_user_concurrent: int = 1
    server_max_inflight: int = 2
    job_timeout_seconds: int = 60
    app_kill_at: float = 0.3  # share of the jobs final when the app is SIGKILLed
    sim_kill_at: float = 0.6  # share of the jobs final when simulator "b" is SIGKILLed
    sim_down_seconds: float = 2.0
    deadline_seconds: float = 240


@dataclass
class Ledger:
    """What the users saw: accepted job ids per user and every refusal."""

    accepted: dict[str, str] = field(default_factory=dict)  # job id -> owner
    cookies: dict[str, str] = field(default_factory=dict)  # owner -> its anonymous cookie
    refused: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0
    server_errors: list[str] = field(default_factory=list)
    attempts: int = 0


@dataclass
class Limits:
    """The highest counts sampled during the run, and every sample over a limit."""

    max_user_active: int = 0
    max_server_active: int = 0
    max_sim_queue: int = 0
    samples: int = 0
    violations: list[str] = field(default_factory=list)


@dataclass
class Chaos:
    """When the faults happened."""

    app_killed_at_final: int | None = None
    sim_killed_at_final: int | None = None
    events: list[str] = field(default_factory=list)


async def run_campaign(tmp: Path, size: Size) -> Audit:
    """Run one campaign in tmp and return its audited counts."""
    sims = [
        SimProcess(
            name=name,
            port=free_port(),
            root=tmp / f'sim-{name}',
            step_delay=size.step_delay,
            error_rate=size.error_rate,
            ws_drop_every=size.ws_drop_every,
            slow_ms=size.slow_ms,
            seed=seed,
        )
        for name, seed in (('a', 100), ('b', 200))
    ]
    app = AppProcess(
        port=free_port(),
        data=tmp / 'app',
        env={
            'COMFYUI_SERVERS': ','.join(sim.url for sim in sims),
            'MAX_PER_USER_QUEUE': str(size.max_per_user_queue),
            'MAX_PER_USER_CONCURRENT': str(size.max_per_user_concurrent),
            'SERVER_MAX_INFLIGHT': str(size.server_max_inflight),
            'JOB_TIMEOUT_SECONDS': str(size.job_timeout_seconds),
            # every campaign user comes from 127.0.0.1: the per-address caps would stop users 31 to 100
            'MAX_NEW_IDS_PER_SOURCE': '0',
            'MAX_QUEUED_PER_SOURCE': '0',
        },
    )
    ledger, limits, chaos = Ledger(), Limits(), Chaos()
    started = time.monotonic()
    try:
        for sim in sims:
            await sim.start()
        await app.start()
        app_up = asyncio.Event()
        app_up.set()
        total = size.users * size.jobs_per_user
        seeds = itertools.count(1)
        users = [
            asyncio.create_task(_user(app, index, size=size, ledger=ledger, up=app_up, seeds=seeds))
            for index in range(size.users)
        ]
        monitor = asyncio.create_task(_monitor(app, sims, size, limits))
        try:
            await _chaos(app, sims, size=size, total=total, chaos=chaos, up=app_up)
            await asyncio.wait_for(asyncio.gather(*users), timeout=size.deadline_seconds)
            await _wait_final(app, ledger, size.deadline_seconds)
        finally:
            monitor.cancel()
            for task in users:
                task.cancel()
            await asyncio.gather(monitor, *users, return_exceptions=True)
        listed = await _listed_by_owners(app, ledger)
    finally:
        app.stop()
        for sim in sims:
            sim.stop()
    return audit(
        app=app,
        sims=sims,
        accepted=ledger.accepted,
        listed=listed,
        size=size,
        extra={
            'seconds': round(time.monotonic() - started, 1),
            'attempts': ledger.attempts,
            'refused': dict(ledger.refused),
            'unanswered': ledger.unanswered,
            'server_errors': ledger.server_errors,
            'limits': limits,
            'chaos': chaos,
        },
    )


async def _user(
    app: AppProcess, index: int, *, size: Size, ledger: Ledger, up: asyncio.Event, seeds: Iterator[int]
) -> None:
    """Submit this user's jobs one by one, retrying refusals and transport errors until each is accepted."""
    rng = random.Random(index)
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:
        for job in range(size.jobs_per_user):
            key = {'Idempotency-Key': f'campaign-{index}-{job}'}  # a retry after a lost answer gets the same job
            while True:
                await up.wait()
                ledger.attempts += 1
                body = {
                    'workflow_id': 'sd15_txt2img',
                    'params': {'prompt': f'user {index} job {job}', 'seed': next(seeds), 'steps': size.steps},
                }
                try:
                    answer = await http.post('/api/v1/jobs', json=body, headers=key)
                except httpx.TransportError as error:
                    ledger.unanswered += 1
                    log.info('user %s: no answer (%s)', index, type(error).__name__)
                    await asyncio.sleep(0.5)
                    continue
                if answer.status_code in (200, 201):
                    made = answer.json()
                    ledger.accepted[made['id']] = made['owner']
                    ledger.cookies[made['owner']] = http.cookies.get(ANON_COOKIE) or ''
                    break
                if answer.status_code in (429, 503):
                    ledger.refused[f'{answer.status_code} {answer.json().get("detail", {}).get("code", "?")}'] += 1
                else:
                    ledger.server_errors.append(f'{answer.status_code} {answer.text[:200]}')
                await asyncio.sleep(0.3 + rng.random())


def _db_rows(app: AppProcess, sql: str) -> list[tuple]:
    if not app.db_path.exists():
        return []
    try:
        with sqlite3.connect(f'file:{app.db_path}?mode=ro', uri=True, timeout=5) as db:
            return db.execute(sql).fetchall()
    except sqlite3.Error as error:
        log.info('db sample failed: %s', error)
        return []


def _count_final(app: AppProcess) -> int:
    rows = _db_rows(app, f'SELECT count(*) FROM job WHERE status IN {FINAL}')
    return rows[0][0] if rows else 0


async def _monitor(app: AppProcess, sims: list[SimProcess], size: Size, limits: Limits) -> None:
    """Sample active jobs per user and per server in the DB, and each simulator's queue, until cancelled."""
    per_user = f'SELECT owner, count(*) FROM job WHERE status IN {ACTIVE} GROUP BY owner'
    per_server = f'SELECT server_id, count(*) FROM job WHERE status IN {ACTIVE} GROUP BY server_id'
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            users = await asyncio.to_thread(_db_rows, app, per_user)
            servers = await asyncio.to_thread(_db_rows, app, per_server)
            limits.samples += 1
            for owner, count in users:
                limits.max_user_active = max(limits.max_user_active, count)
                if count > size.max_per_user_concurrent:
                    limits.violations.append(f'user {owner}: {count} active jobs in the DB')
            for server, count in servers:
                limits.max_server_active = max(limits.max_server_active, count)
                if count > size.server_max_inflight:
                    limits.violations.append(f'server {server}: {count} active jobs in the DB')
            for sim in sims:
                try:
                    queue = (await http.get(f'{sim.url}/queue')).json()
                except (httpx.HTTPError, ValueError):
                    continue
                depth = len(queue['queue_running']) + len(queue['queue_pending'])
                limits.max_sim_queue = max(limits.max_sim_queue, depth)
                if depth > size.server_max_inflight:
                    limits.violations.append(f'simulator {sim.name}: {depth} prompts queued or running')
            await asyncio.sleep(0.5)


async def _chaos(
    app: AppProcess, sims: list[SimProcess], *, size: Size, total: int, chaos: Chaos, up: asyncio.Event
) -> None:
    """SIGKILL the app and restart it on the same data, then SIGKILL simulator b and restart it."""
    deadline = time.monotonic() + size.deadline_seconds
    while chaos.sim_killed_at_final is None and time.monotonic() < deadline:
        final = await asyncio.to_thread(_count_final, app)
        if chaos.app_killed_at_final is None and final >= size.app_kill_at * total:
            up.clear()
            app.kill()
            chaos.app_killed_at_final = final
            chaos.events.append(f'app SIGKILL at {final}/{total} final')
            await asyncio.sleep(0.5)
            await app.start()
            up.set()
        elif chaos.app_killed_at_final is not None and final >= size.sim_kill_at * total:
            sims[1].kill()
            chaos.sim_killed_at_final = final
            chaos.events.append(f'simulator b SIGKILL at {final}/{total} final')
            await asyncio.sleep(size.sim_down_seconds)
            await sims[1].start()
        await asyncio.sleep(0.2)


async def _wait_final(app: AppProcess, ledger: Ledger, timeout: float) -> None:
    """Wait (bounded) until every accepted job's row is final."""
    deadline = time.monotonic() + timeout
    ids = ','.join(f"'{job_id}'" for job_id in ledger.accepted)
    while time.monotonic() < deadline:
        rows = await asyncio.to_thread(
            _db_rows, app, f'SELECT count(*) FROM job WHERE id IN ({ids}) AND status IN {FINAL}'
        )
        if rows and rows[0][0] >= len(ledger.accepted):
            return
        await asyncio.sleep(0.5)


async def _listed_by_owners(app: AppProcess, ledger: Ledger) -> dict[str, str]:
    """Ask the API, as each owner, for its jobs: job id -> status for every job its owner can see."""
    listed: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:
        for cookie in ledger.cookies.values():
            http.cookies.set(ANON_COOKIE, cookie)
            answer = await http.get('/api/v1/jobs', params={'limit': 200})
            if answer.status_code == 200:
                listed.update({item['id']: item['status'] for item in answer.json()['items']})
            http.cookies.clear()
    return listed
