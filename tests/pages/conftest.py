"""Page tests: the `user` fixture runs main.py, so each test configures the app through environment variables."""

from __future__ import annotations

import gc
import importlib
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi.dependencies import models as fastapi_models
from nicegui import app
from nicegui.testing import User

from tests.fixtures import simulator
from vcc_ui.services import Services
from vcc_ui.simulator import Simulator

BETA_PASSWORD = 'open sesame'


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers page tests use to configure the app."""
    config.addinivalue_line('markers', 'beta_password(value): run the app with BETA_PASSWORD=value')
    config.addinivalue_line('markers', 'app_env(**values): more environment variables for the app')
    config.addinivalue_line('markers', 'bundled_simulator: configure no ComfyUI server (the app starts its own)')


@pytest.fixture(scope='session', autouse=True)
def frozen_imports() -> Iterator[None]:
    """Keep what is loaded before the first page test out of the two full gc.collect() NiceGUI runs per test."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def release_the_app() -> Iterator[None]:
    """Let each test's app be freed after the test: NiceGUI's app object outlives it and FastAPI would keep it."""
    lifespan = app.router.lifespan_context
    yield
    # NOTE: each include_router wraps the app's lifespan around the router's, and FastAPI's lru_caches of callables
    # hold every route endpoint (closures over the services); both kept every earlier test's app alive, so the heap
    # grew and NiceGUI's gc.collect() calls got slower test after test
    app.router.lifespan_context = lifespan
    for cached in vars(fastapi_models).values():
        if callable(getattr(cached, 'cache_clear', None)):
            cached.cache_clear()


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """A ComfyUI simulator on loopback, the app's only server."""
    async with simulator(tmp_path, step_delay=0.01) as running:
        yield running


@pytest.fixture(autouse=True)
def app_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, migrated_db: Path) -> None:
    """Point the app at tmp_path (a migrated database) and the simulator; no .env, no log file, no login delay."""
    monkeypatch.chdir(tmp_path)  # pydantic-settings reads ./.env: there is none here
    (tmp_path / 'db').mkdir()
    shutil.copyfile(migrated_db, tmp_path / 'db' / 'app.db')
    values = {
        'OUTPUT_DIR': str(tmp_path / 'outputs'),
        'JOB_DB_PATH': str(tmp_path / 'db' / 'app.db'),
        'LOG_TO_FILE': 'false',
        'LOG_FORMAT': 'text',
        'SECRET_KEY': 'page-test-secret',
        'COOKIE_SECURE': 'false',
        'BETA_PASSWORD': '',
        'DATABASE_URL': '',
        'COMFYUI_SERVER': '',
        'COMFYUI_SERVERS': '',
        'MAX_PER_USER_QUEUE': '10',
        'SIMULATOR_STEP_DELAY': '0.01',
    }
    if request.node.get_closest_marker('bundled_simulator') is None:
        values['COMFYUI_SERVERS'] = request.getfixturevalue('sim').url
    if marker := request.node.get_closest_marker('beta_password'):
        values['BETA_PASSWORD'] = marker.args[0] if marker.args else BETA_PASSWORD
    if marker := request.node.get_closest_marker('app_env'):
        values.update(marker.kwargs)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    # NOTE: the user fixture drops `vcc_ui` from sys.modules after each test, so patch the module object itself
    monkeypatch.setattr(importlib.import_module('vcc_ui.services.auth'), 'WRONG_PASSWORD_DELAY', 0.0)


@pytest.fixture
def services(user: object) -> Services:
    """The services of the app the `user` fixture runs (main.py keeps them on app.state)."""
    return app.state.services


@pytest.fixture(autouse=True)
def patient_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give should_see/should_not_see ~3 s instead of ~0.3 s: CI shares 2 cores with a browser and simulators."""
    for name in ('should_see', 'should_not_see'):
        original = getattr(User, name)

        async def patient(self: User, *args: object, _original=original, retries: int = 30, **kwargs: object) -> None:
            await _original(self, *args, retries=retries, **kwargs)

        monkeypatch.setattr(User, name, patient)
