"""A fresh PostgreSQL database per test, for the tests of several instances on one database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from vcc_ui.db import make_engine


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server, yield its URL, drop it afterwards (whoever is still connected)."""
    admin, name = make_engine(server_url), f'cluster_{uuid.uuid4().hex[:12]}'
    with admin.connect().execution_options(isolation_level='AUTOCOMMIT') as conn:
        conn.execute(text(f'CREATE DATABASE {name}'))
    try:
        yield server_url.rsplit('/', 1)[0] + f'/{name}'
    finally:
        with admin.connect().execution_options(isolation_level='AUTOCOMMIT') as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)'))
        admin.dispose()
