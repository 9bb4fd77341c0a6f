"""Shared fixtures: SQLite files and a migrated template; real PostgreSQL, Redis and S3 servers for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.postgres import postgres_server
from tests.redis import RedisUnavailable, redis_server
from tests.s3 import S3Server, seaweedfs_server
from vcc_ui.db import make_engine, migrate


@pytest.fixture(scope='session')
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL for the whole test session (skipped only where initdb is missing)."""
    try:
        with postgres_server() as url:
            yield url
    except FileNotFoundError as error:
        pytest.skip(f'PostgreSQL binaries not available: {error}')


@pytest.fixture(scope='session')
def redis_url() -> Iterator[str]:
    """A real Redis for the whole test session (installed when missing; skipped with the reason where it cannot be)."""
    try:
        with redis_server() as url:
            yield url
    except RedisUnavailable as error:
        pytest.skip(f'Redis not available: {error}')


@pytest.fixture(scope='session')
def s3_server() -> Iterator[S3Server]:
    """A real S3 server (SeaweedFS) for the whole test session (skipped only where the `weed` binary is missing)."""
    try:
        with seaweedfs_server() as server:
            yield server
    except FileNotFoundError as error:
        pytest.skip(f'SeaweedFS not available: {error}')


@pytest.fixture(scope='session')
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; an app started on a copy finds its migrate step a no-op."""
    path = tmp_path_factory.mktemp('template-db') / 'app.db'
    engine = make_engine(f'sqlite:///{path}')
    migrate(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into app.db
    return path


@pytest.fixture(params=['sqlite', 'postgresql'])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated engine, once on a SQLite file and once on PostgreSQL (fresh schema each test)."""
    if request.param == 'sqlite':
        eng = make_engine(f'sqlite:///{tmp_path / "app.db"}')
    else:
        url = request.getfixturevalue('postgres_url')
        admin = make_engine(url)
        name = f'test_{tmp_path.name.lower().replace("-", "_")[:40]}'
        with admin.connect().execution_options(isolation_level='AUTOCOMMIT') as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS {name}'))
            conn.execute(text(f'CREATE DATABASE {name}'))
        admin.dispose()
        eng = make_engine(url.rsplit('/', 1)[0] + f'/{name}')
    migrate(eng)
    yield eng
    eng.dispose()
