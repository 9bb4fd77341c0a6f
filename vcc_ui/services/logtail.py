"""The last lines of the app's log file (and its rotated predecessors), read backwards from the end."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BLOCK = 64 * 1024
MAX_SCAN_BYTES = 32 * 1024 * 1024  # a filter that matches nothing stops here instead of reading every backup
LEVELS = ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')
TEXT_LINE = re.compile(r'^(?P<time>\S+ \S+) (?P<level>[A-Z]+) (?P<logger>[\w.]+): (?P<event>.*)$')


@dataclass(kw_only=True, slots=True)
class LogEntry:
    """One log line, parsed when it is JSON (or the app's text format)."""

    time: str = ''
    level: str = ''
    logger: str = ''
    event: str = ''
    job_id: str = ''
    fields: dict = field(default_factory=dict)
    raw: str = ''


class LogTail:
    """Reads the newest lines of LOG_FILE_PATH without reading the whole file."""

    def __init__(self, path: Path, *, backups: int = 0) -> None:
        self.path = Path(path)
        self.backups = backups

    @property
    def files(self) -> list[Path]:
        """The log file and its rotated copies, newest first (those that exist)."""
        candidates = [self.path, *(self.path.with_name(f'{self.path.name}.{i}') for i in range(1, self.backups + 1))]
        return [p for p in candidates if p.is_file()]

    async def tail(self, limit: int = 200, *, job_id: str = '', level: str = '') -> list[LogEntry]:
        """The newest `limit` entries (oldest first) that mention `job_id` and have at least `level`."""
        return await asyncio.to_thread(self.read, limit, job_id=job_id, level=level)

    def read(self, limit: int = 200, *, job_id: str = '', level: str = '') -> list[LogEntry]:
        """Blocking version of `tail`."""
        job_id = job_id.strip()
        needle = job_id.encode()
        minimum = LEVELS.index(level.upper()) if level.upper() in LEVELS else 0
        found: list[LogEntry] = []
        scanned = 0
        for path in self.files:
            for line, size in _lines_backwards(path):
                scanned += size
                if scanned > MAX_SCAN_BYTES:
                    return found[::-1]
                if needle and needle not in line:
                    continue
                entry = parse(line.decode('utf-8', errors='replace'))
                if minimum and (entry.level not in LEVELS or LEVELS.index(entry.level) < minimum):
                    continue
                found.append(entry)
                if len(found) >= limit:
                    return found[::-1]
        return found[::-1]


def parse(line: str) -> LogEntry:
    """Parse one JSON line; other lines keep their text as the event."""
    line = line.rstrip('\r')
    if line.startswith('{'):
        try:
            data = json.loads(line)
        except ValueError:
            data = None
        if isinstance(data, dict):
            rest = {k: v for k, v in data.items() if k not in {'time', 'level', 'logger', 'event'}}
            return LogEntry(
                time=str(data.get('time', '')),
                level=str(data.get('level', '')).upper(),
                logger=str(data.get('logger', '')),
                event=str(data.get('event', '')),
                job_id=str(data.get('job_id') or ''),
                fields=rest,
                raw=line,
            )
    if match := TEXT_LINE.match(line):
        return LogEntry(
            time=match['time'], level=match['level'], logger=match['logger'], event=match['event'], raw=line
        )
    return LogEntry(event=line, raw=line)


def _lines_backwards(path: Path) -> Iterator[tuple[bytes, int]]:
    """Yield the non-empty lines of a file from the last to the first, each with the bytes it took."""
    try:
        handle = path.open('rb')
    except FileNotFoundError:  # rotated away between listing and opening
        logging.getLogger(__name__).debug('log file %s vanished', path)
        return
    with handle:
        position = handle.seek(0, 2)
        rest = b''
        while position > 0:
            size = min(BLOCK, position)
            position -= size
            handle.seek(position)
            lines = (handle.read(size) + rest).split(b'\n')
            rest = lines[0]
            for line in reversed(lines[1:]):
                if line.strip():
                    yield line, len(line) + 1
        if rest.strip():
            yield rest, len(rest)
