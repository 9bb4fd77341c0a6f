"""A throw-away Redis server for tests: Debian's redis-server on a free loopback port, installed when missing."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.machine import ensure_packages
from tests.postgres import free_port


class RedisUnavailable(RuntimeError):
    """redis-server is not on this machine and could not be installed."""


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.2) as sock:
            sock.sendall(b'PING\r\n')
            return sock.recv(16).startswith(b'+PONG')
    except OSError:
        return False


@contextmanager
def redis_server(port: int = 0) -> Iterator[str]:
    """Start redis-server without persistence in a temporary folder (on `port`, or a free one); yield its URL."""
    problem = ensure_packages({'redis-server': shutil.which('redis-server') is not None})
    if problem:
        raise RedisUnavailable(problem)
    folder, port = Path(tempfile.mkdtemp(prefix='vcc-redis-')), port or free_port()
    command = ['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    process = subprocess.Popen(
        [*command, '--dir', str(folder), '--daemonize', 'no'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RedisUnavailable(f'redis-server did not answer on port {port}')
            time.sleep(0.05)
        yield f'redis://127.0.0.1:{port}/0'
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
