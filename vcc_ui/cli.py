"""Ops commands: `python -m vcc_ui.cli reindex|thumbnails|quota-report|purge-trash|backup|restore|reset`.

Each works on the storage STORAGE_URL names (the local folder or S3); `migrate-storage` copies local to S3.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine

from vcc_ui.db import make_engine, migrate
from vcc_ui.services import backup as backups
from vcc_ui.services import maintenance
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.image_meta import human_bytes
from vcc_ui.services.images import ImageIndex
from vcc_ui.services.storage import (
    LocalStorage,
    S3Storage,
    Storage,
    StorageUnavailable,
    open_storage,
    s3_config,
    storage_location,
)
from vcc_ui.services.storage.migrate import migrate_storage
from vcc_ui.settings import Settings, load_settings

log = logging.getLogger('vcc_ui.cli')


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = self.width * done // max(total, 1)
        self.stream.write(f'\r{self.label} [{"#" * filled}{"-" * (self.width - filled)}] {done}/{total}')
        if done >= total:
            self.stream.write('\n')
        self.stream.flush()


def _say(text: str = '') -> None:
    sys.stdout.write(text + '\n')


def _open(settings: Settings) -> tuple[Engine, Storage]:
    engine = make_engine(settings.db_url)
    migrate(engine)
    return engine, open_storage(settings)


def cmd_reindex(settings: Settings, args: argparse.Namespace) -> int:
    """Compare the index with the folders and sidecars; --fix repairs."""
    engine, storage = _open(settings)
    report = maintenance.reindex(engine, storage, fix=args.fix, progress=ProgressBar('reindex'))
    for name, items in report.as_dict().items():
        if isinstance(items, list):
            _say(f'{name.replace("_", " ")}: {len(items)}')
            for item in items[: args.show]:
                _say(f'  {item}')
    _say(f'fixed: {report.fixed}' if args.fix else 'run with --fix to repair' if report.problems else 'all consistent')
    return 1 if report.problems and not args.fix else 0


def cmd_thumbnails(settings: Settings, args: argparse.Namespace) -> int:
    """Regenerate missing thumbnails (or all)."""
    engine, storage = _open(settings)
    made, failed = maintenance.thumbnails(engine, storage, regenerate_all=args.all, progress=ProgressBar('thumbnails'))
    _say(f'thumbnails made: {made}, failed: {failed}')
    return 1 if failed else 0


def cmd_quota_report(settings: Settings, args: argparse.Namespace) -> int:
    """Print each user's usage against their limits."""
    engine, _ = _open(settings)
    rows = maintenance.quota_report(engine, settings)
    if args.json:
        _say(json.dumps(rows, indent=1))
        return 0
    _say(f'{"owner":<40} {"images":>8} {"size":>10} {"trash":>6} {"limit":>18}  over')
    for r in rows:
        limit = f'{r["max_images"] or "-"} / {human_bytes(r["max_bytes"]) if r["max_bytes"] else "-"}'
        _say(
            f'{r["owner"]:<40} {r["images"]:>8} {human_bytes(r["bytes"]):>10} {r["trash_images"]:>6} '
            f'{limit:>18}  {"OVER" if r["over"] else ""}'
        )
    return 0


def cmd_purge_trash(settings: Settings, args: argparse.Namespace) -> int:
    """Remove for good the images trashed longer ago than the retention."""
    engine, storage = _open(settings)

    async def run() -> int:
        writer = DbWriter(engine)
        writer.start()
        try:
            return await ImageIndex(writer, storage, settings).purge_trash(older_than_days=args.older_than_days)
        finally:
            await writer.stop()

    days = settings.trash_retention_days if args.older_than_days is None else args.older_than_days
    _say(f'purged {asyncio.run(run())} image(s) trashed more than {days} day(s) ago')
    return 0


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    """Write a tar of the images created in a date range."""
    engine, storage = _open(settings)
    if args.to_date < args.from_date:
        _say('--to must not be before --from')
        return 2
    counts = backups.backup(
        engine, storage, Path(args.out), from_date=args.from_date, to_date=args.to_date, progress=ProgressBar('backup')
    )
    _say(f'wrote {args.out}: {counts["images"]} image(s), {counts["files"]} file(s)')
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    """Restore a backup tar after verifying every file."""
    engine, storage = _open(settings)
    try:
        counts = backups.restore(engine, storage, Path(args.archive), progress=ProgressBar('restore'))
    except backups.BackupError as error:
        _say(f'restore refused, nothing changed: {error}')
        return 1
    _say(f'restored {counts["images"]} image row(s) and {counts["files"]} file(s)')
    return 0


def cmd_reset(settings: Settings, args: argparse.Namespace, ask: Callable[[str], str] = input) -> int:
    """Delete all local data (database rows and outputs/users) after confirmation."""
    where = f'database {settings.db_url.split("@")[-1]} and {storage_location(settings)}users/'
    if not args.yes:
        answer = ask(f'This deletes every job, image and user in {where}. Type "reset" to continue: ')
        if answer.strip() != 'reset':
            _say('cancelled, nothing changed')
            return 1
    engine, storage = _open(settings)
    try:
        rows, removed = maintenance.reset(engine, storage)
    except StorageUnavailable as error:
        _say(f'reset stopped, the files could not be deleted: {error}')
        return 1
    _say(f'reset done: {rows} row(s) deleted{", outputs removed" if removed else ""}')
    return 0


def cmd_migrate_storage(settings: Settings, args: argparse.Namespace) -> int:
    """Copy a local output folder to the S3 storage of STORAGE_URL, every file verified by sha256."""
    config = s3_config(settings)
    if config is None:
        _say('STORAGE_URL must be s3://bucket/prefix: migrate-storage copies a local folder there')
        return 2
    source_dir = Path(args.source) if args.source else Path(settings.output_dir)
    if not (source_dir / 'users').is_dir():
        _say(f'nothing to migrate: {source_dir.resolve()} has no users/ folder')
        return 2
    source = LocalStorage(source_dir, max_pixels=settings.max_image_pixels)
    target = S3Storage(config, max_pixels=settings.max_image_pixels)
    try:
        if target.ensure_bucket():
            _say(f'created the bucket {config.bucket}')
        _say(f'copying {source.location}/users to {target.location}users')
        report = migrate_storage(source, target, progress=ProgressBar('migrate'))
    except StorageUnavailable as error:
        _say(f'migration stopped, S3 is unavailable: {error}; run the command again to resume')
        return 1
    _say(
        f'copied {report.copied} file(s) ({human_bytes(report.bytes)}), {report.already_there} already there '
        f'with the same sha256, {len(report.replaced)} damaged in the target and copied again, '
        f'{len(report.failed)} failed'
    )
    for rel in report.replaced[: args.show]:
        _say(f'  replaced: {rel}')
    for rel in report.failed[: args.show]:
        _say(f'  failed: {rel}')
    if not report.ok:
        _say('run the command again to retry the failed files')
    return 0 if report.ok else 1


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f'{text!r} is not a date like 2025-03-01') from error


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog='python -m vcc_ui.cli', description='VCC UI operations')
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('reindex', help='rebuild the index from folders and sidecars, report orphans both ways')
    p.add_argument('--fix', action='store_true', help='repair: the folder wins, rows follow')
    p.add_argument('--show', type=int, default=20, help='list at most this many items per finding')
    p.set_defaults(run=cmd_reindex)
    p = sub.add_parser('thumbnails', help='regenerate missing thumbnails')
    p.add_argument('--all', action='store_true', help='regenerate every thumbnail')
    p.set_defaults(run=cmd_thumbnails)
    p = sub.add_parser('quota-report', help="each user's usage and limits")
    p.add_argument('--json', action='store_true')
    p.set_defaults(run=cmd_quota_report)
    p = sub.add_parser('purge-trash', help='remove trashed images past TRASH_RETENTION_DAYS')
    p.add_argument('--older-than-days', type=float, default=None)
    p.set_defaults(run=cmd_purge_trash)
    p = sub.add_parser('backup', help='tar of the images created in a date range (UTC days, inclusive)')
    p.add_argument('--from', dest='from_date', type=_date, required=True)
    p.add_argument('--to', dest='to_date', type=_date, required=True)
    p.add_argument('out', help='the tar file to write')
    p.set_defaults(run=cmd_backup)
    p = sub.add_parser('restore', help='restore a backup tar (every file verified by sha256 first)')
    p.add_argument('archive')
    p.set_defaults(run=cmd_restore)
    p = sub.add_parser('migrate-storage', help='copy the local output folder to the S3 storage of STORAGE_URL')
    p.add_argument('--from', dest='source', default=None, help='the local folder (default: OUTPUT_DIR)')
    p.add_argument('--show', type=int, default=20, help='list at most this many replaced or failed files')
    p.set_defaults(run=cmd_migrate_storage)
    p = sub.add_parser('reset', help='delete all local data: database rows and outputs')
    p.add_argument('--yes', action='store_true', help='do not ask for confirmation')
    p.set_defaults(run=cmd_reset)
    return parser


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """Run one command and return its exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='%(levelname)s %(name)s: %(message)s')
    return args.run(settings or load_settings(), args)


if __name__ == '__main__':
    sys.exit(main())
