"""End-to-end set-up: Debian chromium, the real app as a subprocess with the simulator, and Playwright."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.machine import ensure_packages

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / 'tests' / 'artifacts'
CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-dev-shm-usage',
]
PASSWORD = 'e2e-beta-password'
DESKTOP = {'width': 1280, 'height': 800}
PHONE = {'width': 390, 'height': 844}


@dataclass(kw_only=True)
class RunningApp:
    """The app subprocess: its base URL, process and data folder."""

    url: str
    process: subprocess.Popen
    data: Path
    password: str = PASSWORD


def free_port() -> int:
    """Return a free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def has_korean_font() -> bool:
    """Whether fontconfig knows a font with Korean glyphs (else Chromium draws Korean as empty boxes)."""
    if not shutil.which('fc-list'):
        return False
    found = subprocess.run(['fc-list', ':lang=ko'], capture_output=True, text=True, timeout=60, check=False)
    return bool(found.stdout.strip())


def ensure_chromium() -> str | None:
    """Return the chromium path, installing chromium and a Korean font first when missing; None with a reason."""
    problem = ensure_packages({'chromium': Path(CHROMIUM).exists(), 'fonts-noto-cjk': has_korean_font()})
    if problem:
        print(f'e2e: {problem}')
    return CHROMIUM if Path(CHROMIUM).exists() else None


def start_app(data: Path, **env: str) -> RunningApp:
    """Start main.py with the bundled simulator on a free port and wait until it serves pages."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST', 'NICEGUI'))}  # else: test mode
    values = {
        'PYTHONMALLOC': 'malloc',  # as deployed (Makefile, systemd unit, deploy/cluster.py); the environment may differ
        **inherited,
        'PORT': str(port),
        'HOST': '127.0.0.1',
        'BETA_PASSWORD': PASSWORD,
        'JOB_DB_PATH': str(data / 'db' / 'app.db'),
        'OUTPUT_DIR': str(data / 'outputs'),
        'SIMULATOR_STEP_DELAY': '0.1',
        'LOG_TO_FILE': 'false',
        'LOG_FORMAT': 'text',
        'SECRET_KEY': 'e2e-secret',
        'COMFYUI_SERVER': '',
        'COMFYUI_SERVERS': '',
        'DATABASE_URL': '',
        **env,
    }
    data.mkdir(parents=True, exist_ok=True)
    log = (data / 'app.log').open('wb')
    process = subprocess.Popen(
        [sys.executable, 'main.py'], cwd=ROOT, env=values, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'the app exited with {process.returncode}: {(data / "app.log").read_text()[-2000:]}')
        try:
            if httpx.get(f'{url}/healthz', timeout=2).status_code in (200, 401, 503) and _logged_in_ok(url):
                return RunningApp(url=url, process=process, data=data)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_app(process)
    raise RuntimeError(f'the app did not come up: {(data / "app.log").read_text()[-2000:]}')


def _logged_in_ok(url: str) -> bool:
    """Log in over HTTP as a script would, then ask /healthz for 200 (services ready, ComfyUI reachable)."""
    with httpx.Client(base_url=url, timeout=3) as client:
        client.post('/beta-login', data={'password': PASSWORD})
        return client.get('/healthz').status_code == 200


def stop_app(process: subprocess.Popen) -> None:
    """Stop the app's process group politely, then firmly."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture(scope='session')
def chromium_path() -> str:
    """The system chromium (installed on first use); the e2e tests skip with a reason if it cannot be had."""
    path = ensure_chromium()
    if path is None:
        pytest.skip('Debian chromium is not available and could not be installed (see the printed reason)')
    return path


@pytest.fixture(scope='module')
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The real app with the simulator, for one e2e module."""
    running = start_app(tmp_path_factory.mktemp('e2e-app'))
    yield running
    stop_app(running.process)


@pytest.fixture(scope='module')
def browser(chromium_path: str) -> Iterator:
    """One headless chromium per module; sync Playwright runs a loop, so it must end before async tests run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser, app_server: RunningApp) -> Iterator:
    """A fresh browser profile (a new anonymous user) at desktop size."""
    ctx = browser.new_context(viewport=DESKTOP, base_url=app_server.url, locale='en-US')
    ctx.set_default_timeout(60_000)
    yield ctx
    ctx.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under tests/artifacts/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f'{name}.png'
    page.screenshot(path=str(path), full_page=True)
    return path
