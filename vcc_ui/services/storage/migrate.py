"""Copy every stored file from one backend to another (local -> S3), each verified by sha256; safe to re-run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from vcc_ui.services.storage.core import Storage, StorageError, sha256_bytes

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
FOLDERS = ('users',)


@dataclass(kw_only=True, slots=True)
class MigrationReport:
    """What a migration did: files copied, found already there with the same sha256, replaced, or failed."""

    copied: int = 0
    already_there: int = 0
    replaced: list[str] = field(default_factory=list)  # in the target with other content (damaged): copied again
    failed: list[str] = field(default_factory=list)
    bytes: int = 0

    @property
    def ok(self) -> bool:
        """Whether every file is now in the target with its sha256."""
        return not self.failed


def migrate_storage(
    source: Storage, target: Storage, *, progress: Progress = lambda done, total: None
) -> MigrationReport:
    """Copy each file under users/ that the target lacks or holds with another sha256, and read each copy back.

    Idempotent and resumable: a file already in the target with the same sha256 is left alone, so a re-run after an
    interruption copies only what is missing and a damaged object is found and replaced.
    """
    report = MigrationReport()
    files = [info for folder in FOLDERS for info in source.list_files(folder) if not _temporary(info.rel_path)]
    for done, info in enumerate(files, 1):
        rel = info.rel_path
        try:
            data = source.read_bytes(rel)
            digest = sha256_bytes(data)
            there = target.stat(rel)
            if there is not None and there.size == len(data) and sha256_bytes(target.read_bytes(rel)) == digest:
                report.already_there += 1
            else:
                if there is not None:
                    log.warning('%s differs in the target (sha256 mismatch); copying it again', rel)
                    report.replaced.append(rel)
                target.write_file(rel, data)
                if sha256_bytes(target.read_bytes(rel)) != digest:
                    raise StorageError(f'{rel}: the copy read back has another sha256')
                report.copied += 1
                report.bytes += len(data)
        except StorageError as error:
            log.error('migrating %s failed: %s', rel, error)
            report.failed.append(rel)
        progress(done, len(files))
    log.info(
        'storage migration: %d copied, %d already there, %d replaced, %d failed',
        report.copied,
        report.already_there,
        len(report.replaced),
        len(report.failed),
    )
    return report


def _temporary(rel: str) -> bool:
    """Whether `rel` is the temp file of a local write that was interrupted."""
    name = rel.rsplit('/', 1)[-1]
    return name.startswith('.') and name.endswith('.tmp')
