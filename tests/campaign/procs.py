"""The campaign's real processes: simulators (`python -m vcc_ui.simulator`) and the app (`python main.py`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _env(**values: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST', 'NICEGUI'))}  # else: test mode
    return {**inherited, 'PYTHONUNBUFFERED': '1', **values}


def _kill(process: subprocess.Popen | None, sig: signal.Signals) -> None:
    if process is not None and process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclass(kw_only=True)
class SimProcess:
    """One simulator process on a fixed port and folder; a restart keeps both and loses its queue and history."""

    name: str
    port: int
    root: Path
    step_delay: float
    error_rate: float
    ws_drop_every: int
    slow_ms: int
    seed: int
    process: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        """The base URL."""
        return f'http://127.0.0.1:{self.port}'

    @property
    def prompt_log(self) -> Path:
        """The prompts it received, over all its lives."""
        return self.root / 'prompts.jsonl'

    async def start(self) -> None:
        """Start it and wait until it answers."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        args = [
            *('--port', str(self.port), '--root', str(self.root), '--step-delay', str(self.step_delay)),
            *('--error-rate', str(self.error_rate), '--ws-drop-every', str(self.ws_drop_every)),
            *(
                '--slow-ms',
                str(self.slow_ms),
                '--seed',
                str(self.seed + self.starts),
                '--prompt-log',
                str(self.prompt_log),
            ),
        ]
        with (self.root.parent / f'{self.name}-{self.starts}.log').open('wb') as log:
            self.process = await asyncio.to_thread(
                partial(
                    subprocess.Popen,
                    [sys.executable, '-m', 'vcc_ui.simulator', *args],
                    cwd=ROOT,
                    env=_env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(300):
                if self.process.poll() is not None:
                    raise RuntimeError(f'simulator {self.name} exited with {self.process.returncode}')
                try:
                    await http.get(f'{self.url}/sim/faults')
                    return
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        raise RuntimeError(f'simulator {self.name} did not come up')

    def kill(self) -> None:
        """SIGKILL it (like a crashed ComfyUI)."""
        _kill(self.process, signal.SIGKILL)

    def stop(self) -> None:
        """Stop it politely."""
        _kill(self.process, signal.SIGTERM)


@dataclass(kw_only=True)
class AppProcess:
    """The app (`python main.py`) on a fixed port and data folder; each start logs JSON lines to its own file."""

    port: int
    data: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The base URL."""
        return f'http://127.0.0.1:{self.port}'

    @property
    def db_path(self) -> Path:
        """The SQLite file."""
        return self.data / 'db' / 'app.db'

    @property
    def output_dir(self) -> Path:
        """OUTPUT_DIR."""
        return self.data / 'outputs'

    async def start(self, timeout: float = 90) -> None:
        """Start main.py and wait until its services are ready."""
        self.data.mkdir(parents=True, exist_ok=True)
        path = self.data / f'app-{len(self.logs) + 1}.log'
        self.logs.append(path)
        defaults = {
            'PORT': str(self.port),
            'HOST': '127.0.0.1',
            'BETA_PASSWORD': '',
            'ADMIN_PASSWORD': '',
            'JOB_DB_PATH': str(self.db_path),
            'OUTPUT_DIR': str(self.output_dir),
            'DATABASE_URL': '',
            'COMFYUI_SERVER': '',
            'LOG_TO_FILE': 'false',
            'LOG_FORMAT': 'json',
            'SECRET_KEY': 'campaign-secret',
            'HEALTHZ_DISK_MIN_FREE_MB': '0',
        }
        values = _env(**{**defaults, **self.env})  # self.env wins
        with path.open('wb') as log:
            self.process = await asyncio.to_thread(
                partial(
                    subprocess.Popen,
                    [sys.executable, 'main.py'],
                    cwd=ROOT,
                    env=values,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=3) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f'the app exited with {self.process.returncode}: {path.read_text()[-2000:]}')
                try:
                    answer = await http.get(f'{self.url}/healthz')
                    if 'startup' not in answer.json().get('checks', {}):
                        return
                except (httpx.HTTPError, ValueError):
                    pass
                await asyncio.sleep(0.2)
        self.stop()
        raise RuntimeError(f'the app did not come up: {path.read_text()[-2000:]}')

    def kill(self) -> None:
        """SIGKILL the app mid-run."""
        _kill(self.process, signal.SIGKILL)

    def stop(self) -> None:
        """Stop the app politely."""
        _kill(self.process, signal.SIGTERM)
