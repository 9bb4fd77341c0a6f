"""The prompts a simulator received and how each execution ended, as JSON lines that survive a kill."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class PromptLog:
    """Append one line per received prompt and per finished execution (with the pid: a restart is a new life)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[dict[str, Any]] = []
        path.parent.mkdir(parents=True, exist_ok=True)

    def received(self, prompt_id: str, client_id: str | None, *, accepted: bool) -> None:
        """Record a POST /prompt (accepted = queued, else refused by validation)."""
        self._add({'event': 'received', 'prompt_id': prompt_id, 'client_id': client_id, 'accepted': accepted})

    def started(self, prompt_id: str) -> None:
        """Record that the executor began a prompt."""
        self._add({'event': 'started', 'prompt_id': prompt_id})

    def finished(self, prompt_id: str, status: str, outputs: dict[str, Any]) -> None:
        """Record how an execution ended and the files its output nodes named."""
        files = [
            f'{image.get("subfolder", "")}/{image.get("filename", "")}'.lstrip('/')
            for ui in outputs.values()
            for image in ui.get('images', [])
        ]
        self._add({'event': 'finished', 'prompt_id': prompt_id, 'status': status, 'files': files})

    def _add(self, entry: dict[str, Any]) -> None:
        entry = {'time': round(time.time(), 3), 'pid': os.getpid(), **entry}
        self.entries.append(entry)
        try:
            with self.path.open('a', encoding='utf-8') as out:  # flushed on close: a SIGKILL keeps every line
                out.write(json.dumps(entry) + '\n')
        except OSError as error:
            log.warning('cannot append to the prompt log %s: %s', self.path, error)


def read_prompt_log(path: Path) -> list[dict[str, Any]]:
    """Read a prompt log file; a torn last line (a kill mid-write) is skipped."""
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding='utf-8').splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries
