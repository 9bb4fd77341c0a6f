"""Civitai answers into CivitaiVersion rows, and preview thumbnails on disk."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from vcc_ui.models import CivitaiVersion, utcnow

PREVIEW_SIZE = 384
MODEL_URL = 'https://civitai.com/models/{model_id}?modelVersionId={version_id}'
_TAGS = re.compile(r'<[^>]+>')


def apply_version(row: CivitaiVersion, version: dict[str, Any] | None) -> None:
    """Fill a row from a model-version object, or mark it "not on Civitai"; never trade images for none."""
    row.fetched_at = utcnow()
    if version is None:
        row.found = False
        return
    model = version.get('model') or {}
    images = [
        i.get('url')
        for i in sorted(version.get('images') or [], key=lambda i: i.get('nsfwLevel') or 0)
        if isinstance(i, dict) and isinstance(i.get('url'), str) and i.get('type', 'image') == 'image'
    ]
    row.found = True
    row.version_id = _int(version.get('id'))
    if row.model_id != _int(version.get('modelId')):
        row.model_fetched_at = None
    row.model_id = _int(version.get('modelId'))
    row.model_name = _text(model.get('name'), 300)
    row.version_name = _text(version.get('name'), 300)
    row.base_model = _text(version.get('baseModel'), 100)
    row.trained_words = [str(w).strip() for w in version.get('trainedWords') or [] if str(w).strip()]
    row.description = version.get('description') or None
    row.nsfw = bool(model.get('nsfw'))
    if images or not row.image_urls:
        if images[:1] != row.image_urls[:1]:
            row.preview_path = None
        row.image_urls = images[:10]


def apply_model(row: CivitaiVersion, model: dict[str, Any] | None) -> None:
    """Add a model object's description, tags and creator to one of its versions."""
    row.model_fetched_at = utcnow()
    if model is None:
        return
    row.model_description = model.get('description') or None
    row.tags = [str(t) for t in model.get('tags') or [] if isinstance(t, str | int)]
    row.creator = _text((model.get('creator') or {}).get('username'), 200)
    row.nsfw = bool(model.get('nsfw', row.nsfw))


def civitai_url(row: CivitaiVersion) -> str | None:
    """Return the Civitai page of a matched version."""
    return MODEL_URL.format(model_id=row.model_id, version_id=row.version_id) if row.found and row.model_id else None


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


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if value is not None else None
