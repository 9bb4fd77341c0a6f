"""A throw-away PostgreSQL server for tests, started from the machine's binaries on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    return ['runuser', '-u', 'postgres', '--', *args] if os.geteuid() == 0 else args


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run initdb + pg_ctl in a temporary folder and yield a SQLAlchemy URL; stop and remove it afterwards."""
    if shutil.which('initdb') is None or shutil.which('pg_ctl') is None:
        raise FileNotFoundError('initdb/pg_ctl not on PATH')
    folder = Path(tempfile.mkdtemp(prefix='vcc-pg-'))
    if os.geteuid() == 0:
        shutil.chown(folder, 'postgres')
    data, port = folder / 'data', free_port()
    subprocess.run(
        _as_postgres(['initdb', '-D', str(data), '-A', 'trust', '-U', 'vcc']), check=True, capture_output=True
    )
    subprocess.run(
        _as_postgres(
            [
                'pg_ctl',
                '-D',
                str(data),
                '-o',
                f'-p {port} -k {folder} -h 127.0.0.1',
                '-l',
                str(folder / 'log'),
                '-w',
                'start',
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f'postgresql+psycopg://vcc@127.0.0.1:{port}/postgres'
    finally:
        subprocess.run(
            _as_postgres(['pg_ctl', '-D', str(data), '-m', 'fast', '-w', 'stop']), check=False, capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)
