"""Real small and read-only filesystems for storage fault tests (a tmpfs mount; skipped where mounting is refused)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(path: Path, size: str = '4m') -> Iterator[Callable[[str], None]]:
    """A real tmpfs of `size` at `path`; yields remount(options), e.g. remount('ro')."""
    path.mkdir(parents=True, exist_ok=True)
    command = ['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(path)]
    mounted = subprocess.run(command, check=False, capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f'cannot mount a small filesystem here: {mounted.stderr.decode().strip()}')

    def remount(options: str) -> None:
        subprocess.run(['mount', '-o', f'remount,{options}', str(path)], check=True)

    try:
        yield remount
    finally:
        subprocess.run(['umount', '-l', str(path)], check=False)


def fill(folder: Path) -> Path:
    """Fill the filesystem of `folder` to the last byte with one file; return it (remove it to free the space)."""
    filler = folder / 'filler.bin'
    with filler.open('wb', buffering=0) as fh:
        for size in (1 << 16, 512, 1):
            try:
                while True:
                    fh.write(b'\0' * size)
            except OSError:
                continue
    return filler
