"""Storage under interruptions and faults: half-saved images, big images, unwritable folders."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image as PILImage

from tests.fixtures import USER_A, make_settings
from tests.images import png_bytes
from vcc_ui.services.storage import ImageRejected, LocalStorage, StorageError, sniff_image

IMAGE_ID = 'f' * 32
CREATED = datetime(2025, 1, 2, tzinfo=UTC)


def _half_saved(storage: LocalStorage, data: bytes) -> Path:
    """Save an image, then take away what a kill after the original would not have written."""
    stored = storage.save(owner=USER_A, kind='generated', data=data, meta={}, image_id=IMAGE_ID, created_at=CREATED)
    storage.resolve(stored.sidecar_rel).unlink()
    storage.resolve(stored.thumb_rel).unlink()
    return storage.resolve(stored.rel_path)


def test_an_original_without_its_sidecar_is_completed_by_the_same_bytes(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    data = png_bytes(64, 48)
    original = _half_saved(storage, data)
    stored = storage.save(owner=USER_A, kind='generated', data=data, meta={}, image_id=IMAGE_ID, created_at=CREATED)
    assert original.read_bytes() == data
    assert json.loads(storage.resolve(stored.sidecar_rel).read_text())['sha256'] == stored.sha256
    assert storage.resolve(stored.thumb_rel).is_file()
    with pytest.raises(StorageError, match='already exists'):
        storage.save(owner=USER_A, kind='generated', data=data, meta={}, image_id=IMAGE_ID, created_at=CREATED)


def test_an_original_without_its_sidecar_is_replaced_by_other_bytes(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    original = _half_saved(storage, png_bytes(64, 48))
    other = png_bytes(32, 32)
    stored = storage.save(owner=USER_A, kind='generated', data=other, meta={}, image_id=IMAGE_ID, created_at=CREATED)
    assert original.read_bytes() == other and (stored.width, stored.height) == (32, 32)


def _big_png(width: int, height: int) -> bytes:
    """A PNG of many pixels in few bytes (one bit per pixel while building it, a few KB once compressed)."""
    out = io.BytesIO()
    PILImage.new('1', (width, height)).save(out, format='PNG')
    return out.getvalue()


def test_an_image_of_more_pixels_than_the_setting_is_refused_before_decoding(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.max_image_pixels <= 40_000_000
    storage = LocalStorage(tmp_path / 'outputs', max_pixels=settings.max_image_pixels)
    data = _big_png(7000, 7000)  # 49 MP: 196 MB once decoded as RGBA
    with pytest.raises(ImageRejected, match='decompression bomb'):
        storage.save(owner=USER_A, kind='input', data=data, meta={})
    with pytest.raises(ImageRejected, match='decompression bomb'):
        sniff_image(data, max_bytes=len(data))
    assert not any(p.is_file() for p in (tmp_path / 'outputs').rglob('*'))


def test_decodes_wait_for_a_free_slot(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, max_decodes=1)
    storage.decoding.acquire()  # another decode is under way
    done = threading.Event()

    def save() -> None:
        storage.save(owner=USER_A, kind='input', data=png_bytes(), meta={})
        done.set()

    worker = threading.Thread(target=save)
    worker.start()
    assert not done.wait(0.3)  # it waits while the only slot is taken ...
    assert not list(tmp_path.rglob('*.png'))
    storage.decoding.release()
    worker.join()
    assert done.is_set() and len(list(tmp_path.rglob('*.png'))) == 1  # ... and runs once it is free
