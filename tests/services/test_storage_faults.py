"""Storage under interruptions and faults: half-saved images, big images, unwritable folders."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.fixtures import USER_A
from tests.images import png_bytes
from vcc_ui.services.storage import Storage, StorageError

IMAGE_ID = 'f' * 32
CREATED = datetime(2025, 1, 2, tzinfo=UTC)


def _half_saved(storage: Storage, data: bytes) -> Path:
    """Save an image, then take away what a kill after the original would not have written."""
    stored = storage.save(owner=USER_A, kind='generated', data=data, meta={}, image_id=IMAGE_ID, created_at=CREATED)
    storage.resolve(stored.sidecar_rel).unlink()
    storage.resolve(stored.thumb_rel).unlink()
    return storage.resolve(stored.rel_path)


def test_an_original_without_its_sidecar_is_completed_by_the_same_bytes(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    data = png_bytes(64, 48)
    original = _half_saved(storage, data)
    stored = storage.save(owner=USER_A, kind='generated', data=data, meta={}, image_id=IMAGE_ID, created_at=CREATED)
    assert original.read_bytes() == data
    assert json.loads(storage.resolve(stored.sidecar_rel).read_text())['sha256'] == stored.sha256
    assert storage.resolve(stored.thumb_rel).is_file()
    with pytest.raises(StorageError, match='already exists'):
        storage.save(owner=USER_A, kind='generated', data=data, meta={}, image_id=IMAGE_ID, created_at=CREATED)


def test_an_original_without_its_sidecar_is_replaced_by_other_bytes(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    original = _half_saved(storage, png_bytes(64, 48))
    other = png_bytes(32, 32)
    stored = storage.save(owner=USER_A, kind='generated', data=other, meta={}, image_id=IMAGE_ID, created_at=CREATED)
    assert original.read_bytes() == other and (stored.width, stored.height) == (32, 32)
