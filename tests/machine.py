"""Debian packages the tests need (Redis, nginx, Chromium), installed on first use when the machine lacks them."""

from __future__ import annotations

import os
import shutil
import subprocess


def ensure_packages(packages: dict[str, bool]) -> str | None:
    """Install every package whose flag says it is missing; None when all are there, else the reason they are not."""
    missing = [name for name, there in packages.items() if not there]
    if not missing:
        return None
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        return f'{", ".join(missing)} missing and apt-get cannot run here (not root or no apt-get)'
    env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
    for command in (['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', *missing]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            return f'{" ".join(command)} failed: {result.stderr[-500:]}'
    return None
