"""File rules of /view and /upload/image (blocking; call through a thread)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from .catalogue import split_annotation

FOLDER_TYPES = ('input', 'output', 'temp')


def resolve_view(root: Path, query: Mapping[str, str]) -> Path | int:
    """Return the file /view should serve, or the HTTP status ComfyUI answers instead."""
    if 'filename' not in query:
        return 404
    filename, kind = split_annotation(query['filename'])
    if not filename or filename[0] == '/' or '..' in filename:
        return 400
    kind = kind or query.get('type', 'output')
    if kind not in FOLDER_TYPES:
        return 400
    folder = os.path.abspath(root / kind)
    if 'subfolder' in query:
        full = os.path.join(folder, query['subfolder'])
        if os.path.commonpath((os.path.abspath(full), folder)) != folder:
            return 403
        folder = full
    path = Path(folder) / os.path.basename(filename)
    return path if path.is_file() else 404


def store_upload(root: Path, kind: str, *, subfolder: str, filename: str, data: bytes, overwrite: bool) -> str | None:
    """Store an upload like ComfyUI (same bytes keep the name, else 'name (1).png'); None means 400."""
    upload_dir = os.path.abspath(root / kind)
    folder = Path(os.path.join(upload_dir, os.path.normpath(subfolder)))
    if os.path.commonpath((upload_dir, os.path.abspath(folder / filename))) != upload_dir:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    stem, ext = os.path.splitext(filename)
    path, i = folder / filename, 1
    if not overwrite:
        digest = hashlib.sha256(data).digest()
        while path.exists():
            if hashlib.sha256(path.read_bytes()).digest() == digest:
                return path.name
            path = folder / f'{stem} ({i}){ext}'
            i += 1
    path.write_bytes(data)
    return path.name


def list_files(folder: Path) -> list[str]:
    """Return top-level file names, newest first (/internal/files)."""
    files = [p for p in folder.iterdir() if p.is_file()]
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [p.name for p in files]
