"""Civitai answers into CivitaiVersion rows, and preview thumbnails on disk."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from PIL import Image as PILImage

from comfy_node.contract import CivitaiModelInfo, CivitaiVersionInfo, civitai_page_url
from vcc_ui.models import CivitaiVersion, utcnow

PREVIEW_SIZE = 384
_TAGS = re.compile(r'<[^>]+>')


def apply_version(row: CivitaiVersion, version: CivitaiVersionInfo | None) -> None:
    """Fill a row from a model version, or mark it "not on Civitai"; never trade images for none."""
    row.fetched_at = utcnow()
    if version is None:
        row.found = False
        return
    row.found = True
    row.version_id = version.version_id
    if row.model_id != version.model_id:
        row.model_fetched_at = None
    row.model_id = version.model_id
    row.model_name = _text(version.model_name, 300)
    row.version_name = _text(version.version_name, 300)
    row.base_model = _text(version.base_model, 100)
    row.trained_words = list(version.trigger_words)
    row.description = version.description
    row.nsfw = bool(version.nsfw)
    if version.image_urls or not row.image_urls:
        if version.image_urls[:1] != row.image_urls[:1]:
            row.preview_path = None
        row.image_urls = list(version.image_urls)


def apply_model(row: CivitaiVersion, model: CivitaiModelInfo | None) -> None:
    """Add a model's description, tags and creator to one of its versions; its nsfw flag wins when known."""
    row.model_fetched_at = utcnow()
    if model is None:
        return
    row.model_description = model.description
    row.tags = list(model.tags)
    row.creator = _text(model.creator, 200)
    if model.nsfw is not None:
        row.nsfw = model.nsfw


def civitai_url(row: CivitaiVersion) -> str | None:
    """Return the Civitai page of a matched version."""
    return civitai_page_url(row.model_id, row.version_id) if row.found else None


def plain_text(html: str | None, limit: int = 600) -> str:
    """Return Civitai's HTML description as short plain text."""
    text = re.sub(r'\s+', ' ', _TAGS.sub(' ', html or '')).strip()
    return text if len(text) <= limit else text[: limit - 1] + '…'


def save_preview(folder: Path, version_id: int, data: bytes) -> str:
    """Thumbnail an image into folder/<version_id>.webp (atomically); return the file name."""
    with PILImage.open(io.BytesIO(data)) as image:
        image.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
        out = io.BytesIO()
        image.convert('RGB').save(out, 'WEBP', quality=82)
    folder.mkdir(parents=True, exist_ok=True)
    name = f'{int(version_id)}.webp'
    tmp = folder / f'.{name}.tmp'
    tmp.write_bytes(out.getvalue())
    os.replace(tmp, folder / name)
    return name


def _text(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None else None
