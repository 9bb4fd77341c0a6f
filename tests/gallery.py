"""Helpers for gallery tests: an ImageIndex on a real database and real files, and images saved the app's way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from tests.fixtures import make_settings
from tests.images import png_bytes
from vcc_ui.models import Image
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.images import ImageIndex, image_row
from vcc_ui.services.storage import open_storage


@asynccontextmanager
async def image_index(engine: Engine, tmp: Path, **overrides: object) -> AsyncIterator[ImageIndex]:
    """An ImageIndex with a started writer, its files under tmp/outputs (or where STORAGE_URL in overrides says)."""
    settings = make_settings(tmp, **overrides)
    writer = DbWriter(engine)
    writer.start()
    try:
        yield ImageIndex(writer, open_storage(settings), settings)
    finally:
        await writer.stop()


async def add_image(
    index: ImageIndex,
    owner: str,
    *,
    created: datetime,
    kind: str = 'generated',
    prompt: str = 'a red fox',
    workflow_id: str = 'sd15_txt2img',
    aspect_ratio: str = '1:1',
    size: tuple[int, int] = (32, 32),
    color: tuple[int, int, int] = (200, 30, 30),
) -> Image:
    """Save a real PNG with thumbnail and sidecar, then index it, like the job runner does."""
    meta = {
        'workflow_id': workflow_id,
        'prompt': prompt,
        'aspect_ratio': aspect_ratio,
        'seed': 1,
        'tags': [],
        'favorite': False,
        'original_filename': 'out.png',
    }
    stored = await asyncio.to_thread(
        index.storage.save, owner=owner, kind=kind, data=png_bytes(*size, color=color), meta=meta, created_at=created
    )
    row = image_row(
        stored,
        workflow_id=workflow_id,
        prompt=prompt,
        aspect_ratio=aspect_ratio,
        seed=1,
        original_filename='out.png',
    )
    await index.writer.write(lambda db: db.add(row))
    return row
