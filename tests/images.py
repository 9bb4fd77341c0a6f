"""Small real images made with Pillow, for tests."""

from __future__ import annotations

import io

from PIL import Image


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    """Encode `image` in `fmt` and return the bytes."""
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def png_bytes(w: int = 64, h: int = 48, color: tuple[int, ...] = (200, 30, 30)) -> bytes:
    """Return a solid-colour PNG (RGBA when `color` has four values)."""
    return _encode(Image.new('RGBA' if len(color) == 4 else 'RGB', (w, h), color), 'PNG')


def jpeg_bytes(w: int = 64, h: int = 48, color: tuple[int, int, int] = (30, 200, 30), *, orientation: int = 1) -> bytes:
    """Return a solid-colour JPEG, optionally tagged with an EXIF orientation."""
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    return _encode(Image.new('RGB', (w, h), color), 'JPEG', quality=90, exif=exif.tobytes())


def webp_bytes(w: int = 64, h: int = 48, color: tuple[int, int, int] = (30, 30, 200)) -> bytes:
    """Return a solid-colour WEBP."""
    return _encode(Image.new('RGB', (w, h), color), 'WEBP', quality=90)
