"""Benchmarks: first gallery page for a user with 100,000 images vs a folder scan of sidecars; thumbnails per second.

Run: .venv/bin/pytest -m bench tests/bench/test_bench_gallery.py -s -p no:cacheprovider
Prints figures; asserts only that both ways give the same answer (no timing asserts).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image as PILImage

from tests.fixtures import USER_A, make_settings
from vcc_ui.db import make_engine, migrate
from vcc_ui.models import Image
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.images import ImageFilter, ImageIndex
from vcc_ui.services.storage import LocalStorage

pytestmark = pytest.mark.bench

USER_IMAGES = 100_000
OTHER_USERS, OTHER_IMAGES = 20, 1_000
CALLS = 200
PAGE = 50
WORKFLOWS = ('sd15_txt2img', 'sdxl_txt2img', 'sd15_img2img', 'test_pattern')
RATIOS = ('1:1', '16:9', '9:16', '4:3', '3:4')
WORDS = 'fox castle river neon city forest portrait mountain sunset robot garden ocean'.split()


def _rows(owner: str, count: int, rng: random.Random, start: datetime) -> list[dict]:
    rows = []
    for i in range(count):
        created = start + timedelta(seconds=i * 37 + rng.randint(0, 30))
        kind = rng.choices(('generated', 'input', 'control'), (90, 6, 4))[0]
        image_id = uuid.UUID(int=rng.getrandbits(128)).hex
        folder = f'users/{owner}/{"" if kind == "generated" else kind + "s/"}{created:%Y/%m/%d}'
        trashed = rng.random() < 0.05
        rows.append(
            {
                'id': image_id,
                'owner': owner,
                'kind': kind,
                'rel_path': f'{folder}/{image_id}.png',
                'thumb_path': f'{folder}/thumb/{image_id}.webp',
                'mime': 'image/png',
                'bytes': rng.randint(300_000, 1_500_000),
                'width': 1024,
                'height': 1024,
                'sha256': '0' * 64,
                'created_at': created,
                'status': 'trash' if trashed else 'active',
                'trashed_at': created + timedelta(days=1) if trashed else None,
                'workflow_id': rng.choice(WORKFLOWS) if kind == 'generated' else None,
                'mode': 'txt2img',
                'prompt': ' '.join(rng.sample(WORDS, 5)) if kind == 'generated' else None,
                'negative_prompt': None,
                'seed': rng.getrandbits(31),
                'aspect_ratio': rng.choice(RATIOS),
                'job_id': None,
                'server': None,
                'original_filename': None,
                'tags': rng.sample(WORDS, rng.randint(0, 2)),
                'favorite': rng.random() < 0.03,
            }
        )
    return rows


def _sidecar(row: dict) -> dict:
    return {
        **row,
        'path': row['rel_path'],
        'thumb': row['thumb_path'],
        'created_at': row['created_at'].isoformat(),
        'trashed_at': row['trashed_at'].isoformat() if row['trashed_at'] else None,
    }


def _write_sidecars(root: Path, rows: list[dict]) -> None:
    for row in rows:
        path = root / (row['rel_path'].rsplit('.', 1)[0] + '.json')
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_sidecar(row)), encoding='utf-8')


def _scan_first_page(root: Path, owner: str) -> tuple[list[str], int]:
    """The baseline: walk the user's folder, read every sidecar, filter, sort, take the first page."""
    found = []
    for folder, _, files in os.walk(root / 'users' / owner):
        for name in files:
            if name.endswith('.json'):
                with open(os.path.join(folder, name), encoding='utf-8') as fh:
                    meta = json.load(fh)
                if meta['status'] == 'active' and meta['kind'] == 'generated':
                    found.append((meta['created_at'], meta['id']))
    found.sort(reverse=True)
    return [image_id for _, image_id in found[:PAGE]], len(found)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def test_bench_first_gallery_page_vs_folder_scan(tmp_path: Path) -> None:
    rng = random.Random(4)
    engine = make_engine(f'sqlite:///{tmp_path / "bench.db"}')
    migrate(engine)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    mine = _rows(USER_A, USER_IMAGES, rng, start)
    others = [r for n in range(OTHER_USERS) for r in _rows(f'anon-{n:032x}', OTHER_IMAGES, rng, start)]
    began = time.perf_counter()
    with engine.begin() as conn:
        table = Image.__table__  # type: ignore[attr-defined]
        for chunk in range(0, len(mine) + len(others), 5_000):
            conn.execute(table.insert(), (mine + others)[chunk : chunk + 5_000])
    insert_s = time.perf_counter() - began
    sidecars = tmp_path / 'scan'
    began = time.perf_counter()
    await asyncio.to_thread(_write_sidecars, sidecars, mine)
    sidecar_s = time.perf_counter() - began

    writer = DbWriter(engine)
    writer.start()
    index = ImageIndex(writer, LocalStorage(tmp_path / 'outputs'), make_settings(tmp_path))
    try:
        first = await index.page(USER_A, size=PAGE, kind='generated')
        timings = []
        for _ in range(CALLS):
            began = time.perf_counter()
            await index.page(USER_A, size=PAGE, kind='generated')
            timings.append((time.perf_counter() - began) * 1000)
        searched = []
        for _ in range(20):
            began = time.perf_counter()
            found = await index.page(USER_A, size=PAGE, filters=ImageFilter(kind='generated', q='neon city'))
            searched.append((time.perf_counter() - began) * 1000)
    finally:
        await writer.stop()
        engine.dispose()

    scans = []
    for _ in range(3):
        began = time.perf_counter()
        scan_ids, scan_total = await asyncio.to_thread(_scan_first_page, sidecars, USER_A)
        scans.append((time.perf_counter() - began) * 1000)
    assert [r.id for r in first.items] == scan_ids and first.total == scan_total

    p50, p95 = statistics.median(timings), _percentile(timings, 95)
    scan_ms = statistics.median(scans)
    print(
        f'\n[bench] gallery: user with {USER_IMAGES:,} images (+{OTHER_USERS * OTHER_IMAGES:,} of others), '
        f'SQLite; rows inserted in {insert_s:.1f}s, {len(mine):,} sidecars written in {sidecar_s:.1f}s'
    )
    print(
        f'[bench] first page ({PAGE} items, total {first.total:,}) from the index over {CALLS} calls: '
        f'p50 {p50:.2f} ms, p95 {p95:.2f} ms'
    )
    print(
        f'[bench] prompt search (q="neon city", owner-scoped FTS5 index + LIKE) first page, total '
        f'{found.total:,}{"+" if found.total_capped else ""}: '
        f'p50 {statistics.median(searched):.1f} ms, p95 {_percentile(searched, 95):.1f} ms'
    )
    print(f'[bench] same page from a folder scan of sidecars: median {scan_ms:.0f} ms over {len(scans)} scans')
    print(f'[bench] ratio scan / index p50: {scan_ms / p50:.0f}x (goal: index <= 20 ms and >= 100x)')


def test_bench_thumbnails_per_second(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / 'outputs')
    rng = random.Random(7)
    count = 24
    rels = []
    for i in range(count):
        picture = PILImage.effect_noise((1024, 1024), 40 + i).convert('RGB')
        picture.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (100, 100, 700, 600))
        out = io.BytesIO()
        picture.save(out, format='PNG')
        rels.append(storage.save(owner=USER_A, kind='generated', data=out.getvalue(), meta={}).rel_path)
    began = time.perf_counter()
    for rel in rels:
        storage.make_thumbnail(rel)
    elapsed = time.perf_counter() - began
    print(
        f'\n[bench] thumbnails: {count} x 1024x1024 PNG -> {storage.thumb_ext} in {elapsed:.2f}s = '
        f'{count / elapsed:.1f} thumbnails/s (one thread; decode + resize + encode + atomic write)'
    )
