"""Building blocks for service tests: a running simulator and a started Services on a SQLite file."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.postgres import free_port
from vcc_ui.services import Services
from vcc_ui.settings import Settings
from vcc_ui.simulator import Simulator

USER_A, USER_B, USER_C = 'anon-' + 'a' * 32, 'anon-' + 'b' * 32, 'anon-' + 'c' * 32


def make_settings(tmp: Path, *servers: str, **overrides: object) -> Settings:
    """Settings for a test: files under tmp, no .env, no log file."""
    values: dict = {
        'comfyui_servers': ','.join(servers),
        'output_dir': tmp / 'outputs',
        'job_db_path': tmp / 'db' / 'app.db',
        'log_to_file': False,
        'secret_key': 'test-secret',
        'max_per_user_queue': 10,
        'simulator_step_delay': 0.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def simulator(tmp: Path, name: str = 'sim', *, step_delay: float = 0.0) -> AsyncIterator[Simulator]:
    """Run a simulator on a free loopback port."""
    sim = Simulator(root=tmp / name)
    sim.faults.step_delay = step_delay
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[Services]:
    """Build and start Services; stop them afterwards."""
    built = Services(settings)
    await built.start()
    try:
        yield built
    finally:
        await built.stop()


async def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until predicate() is true, failing the test after timeout seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@asynccontextmanager
async def simulator_process(tmp: Path, name: str = 'sim', *, step_delay: float = 0.0) -> AsyncIterator[str]:
    """Run a simulator as its own process (like a real ComfyUI) and yield its base URL."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        '-m',
        'vcc_ui.simulator',
        '--port',
        str(port),
        '--root',
        str(tmp / name),
        '--step-delay',
        str(step_delay),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f'http://127.0.0.1:{port}'
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    await http.get(f'{url}/system_stats')
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        yield url
    finally:
        process.terminate()
        await process.wait()
