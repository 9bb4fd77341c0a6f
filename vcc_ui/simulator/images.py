"""Deterministic Pillow image work of the ComfyUI simulator (blocking; call through a thread)."""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import textwrap
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageOps, PngImagePlugin


def _palette(text: str, seed: int, index: int) -> random.Random:
    digest = hashlib.sha256(f'{text}\x00{seed}\x00{index}'.encode()).digest()
    return random.Random(digest)


def render(text: str, seed: int, width: int, height: int, index: int = 0) -> Image.Image:
    """Draw a gradient-and-shapes picture whose colours derive from the prompt text and seed."""
    rng = _palette(text, seed, index)
    start = tuple(rng.randrange(256) for _ in range(3))
    end = tuple(rng.randrange(256) for _ in range(3))
    gradient = Image.linear_gradient('L').rotate(rng.choice((0, 45, 90, 135)), expand=False).resize((width, height))
    image = ImageOps.colorize(gradient, start, end).convert('RGB')
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = max(2, int(min(width, height) * rng.uniform(0.05, 0.25)))
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    draw.multiline_text((6, 6), caption(text, seed, width), fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    return image


def caption(text: str, seed: int, width: int) -> str:
    """What a picture says of its prompt and seed: the prompt's Latin letters only, which Pillow's built-in font has.

    A Korean prompt drew a row of empty boxes (the font has no Hangul, and a CJK font is not on every machine).
    """
    latin = ' '.join(''.join(ch if ch <= '\u00ff' else ' ' for ch in text).split()).strip(' ,.;:')  # no stray commas
    return textwrap.fill(f'{latin} #{seed}' if latin else f'#{seed}', width=max(8, width // 8))


def blend(base: Image.Image, target: Image.Image, amount: float) -> Image.Image:
    """Blend target over base (img2img with denoise)."""
    return Image.blend(base.convert('RGB'), target.resize(base.size).convert('RGB'), max(0.0, min(1.0, amount)))


def gray(width: int, height: int) -> Image.Image:
    """Return the grey image an empty latent decodes to."""
    return Image.new('RGB', (width, height), (127, 127, 127))


def preview_jpeg(image: Image.Image, fraction: float, max_size: int) -> bytes:
    """Return a blurry JPEG preview for a sampler step, fitted into max_size (upscaling too)."""
    radius = max(0.0, (1.0 - fraction) * 12)
    small = image.filter(ImageFilter.GaussianBlur(radius)) if radius else image
    scale = max_size / max(small.width, small.height)
    fitted = small.resize((max(1, round(small.width * scale)), max(1, round(small.height * scale))))
    buffer = io.BytesIO()
    fitted.convert('RGB').save(buffer, format='JPEG', quality=95)
    return buffer.getvalue()


def next_counter(folder: Path, prefix: str) -> int:
    """Return the next free counter for prefix_NNNNN_.png in folder (continues from files on disk)."""
    pattern = re.compile(rf'^{re.escape(prefix)}_(\d+)_?\..+$')
    counters = [int(m.group(1)) for p in folder.glob('*') if (m := pattern.match(p.name))] if folder.is_dir() else []
    return max(counters, default=0) + 1


def save_pngs(
    images: list[Image.Image], folder: Path, prefix: str, *, metadata: dict[str, Any] | None = None, compress: int = 4
) -> list[str]:
    """Write images as prefix_NNNNN_.png files and return their names."""
    folder.mkdir(parents=True, exist_ok=True)
    counter = next_counter(folder, prefix)
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_text(key, json.dumps(value))
    names = []
    for image in images:
        name = f'{prefix}_{counter:05}_.png'
        image.save(folder / name, pnginfo=info, compress_level=compress)
        names.append(name)
        counter += 1
    return names


def load(path: Path) -> tuple[Image.Image, Image.Image]:
    """Open an image file and return its RGB image and mask (inverted alpha, like LoadImage)."""
    with Image.open(path) as source:
        source.load()
        image = ImageOps.exif_transpose(source) or source
        rgb = image.convert('RGB')
        if 'A' in image.getbands():
            mask = ImageOps.invert(image.getchannel('A'))
        else:
            mask = Image.new('L', image.size, 0)
    return rgb, mask


def scale(image: Image.Image, width: int, height: int, crop: str = 'disabled') -> Image.Image:
    """Resize like ImageScale (0 keeps the aspect ratio)."""
    if width == 0 and height == 0:
        return image.copy()
    if width == 0:
        width = max(1, round(image.width * height / image.height))
    if height == 0:
        height = max(1, round(image.height * width / image.width))
    if crop == 'center':
        return ImageOps.fit(image, (width, height))
    return image.resize((width, height))


def invert(image: Image.Image) -> Image.Image:
    """Invert an RGB image."""
    return ImageOps.invert(image.convert('RGB'))


def solid(width: int, height: int, color: int) -> Image.Image:
    """Return a plain image of a 0xRRGGBB colour."""
    return Image.new('RGB', (width, height), ((color >> 16) & 255, (color >> 8) & 255, color & 255))


def view_variant(path: Path, preview: str | None, channel: str | None) -> tuple[bytes, str] | None:
    """Re-encode a file for /view's preview or channel parameters; None means serve the file as is."""
    with Image.open(path) as img:
        buffer = io.BytesIO()
        if preview is not None:
            parts = preview.split(';')
            image_format = parts[0]
            if image_format not in ('webp', 'jpeg') or 'a' in (channel or ''):
                image_format = 'webp'
            quality = int(parts[-1]) if parts[-1].isdigit() else 90
            out = img.convert('RGB') if image_format == 'jpeg' or channel == 'rgb' else img
            out.save(buffer, format=image_format, quality=quality)
            return buffer.getvalue(), f'image/{image_format}'
        if channel == 'rgb':
            img.convert('RGB').save(buffer, format='PNG')
            return buffer.getvalue(), 'image/png'
        if channel == 'a':
            alpha = img.getchannel('A') if img.mode == 'RGBA' else Image.new('L', img.size, 255)
            out = Image.new('RGBA', img.size)
            out.putalpha(alpha)
            out.save(buffer, format='PNG')
            return buffer.getvalue(), 'image/png'
    return None
