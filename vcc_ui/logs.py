"""Logging set-up: JSON (or text) lines on the console and, optionally, a rotating file."""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import UTC, datetime
from pathlib import Path

from vcc_ui.settings import Settings

_STANDARD = set(logging.LogRecord('', 0, '', 0, '', (), None).__dict__) | {'message', 'asctime', 'taskName'}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event and every `extra` field."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            'time': datetime.fromtimestamp(record.created, UTC).isoformat(timespec='milliseconds'),
            'level': record.levelname,
            'logger': record.name,
            'event': record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry['exception'] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(settings: Settings) -> None:
    """Install the handlers that LOG_* asks for on the root logger."""
    formatter: logging.Formatter = (
        JsonFormatter()
        if settings.log_format == 'json'
        else logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s')
    )
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if settings.log_to_file:
        Path(settings.log_file_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                settings.log_file_path,
                maxBytes=settings.log_max_bytes,
                backupCount=settings.log_backup_count,
                encoding='utf-8',
            )
        )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, 'vcc', False):
            root.removeHandler(handler)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.vcc = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.getLogger('httpx').setLevel(logging.WARNING)  # else every ComfyUI request, health checks included
