"""Benchmark: the first gallery page of a user with 100,000 images on S3-backed storage, counting S3 requests.

Run: .venv/bin/pytest -m bench tests/bench/test_bench_storage.py -s -p no:cacheprovider
Prints p50/p95 of the page through the service and through GET /api/v1/images, and how many requests reached S3
meanwhile (the listing comes from the database: it must be 0). Asserts only the request count, never a timing.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.api.test_images_api import client_for, identify
from tests.bench.conftest import percentiles, report
from tests.bench.test_bench_gallery import OTHER_IMAGES, OTHER_USERS, PAGE, USER_IMAGES, _rows
from tests.fixtures import make_settings, services
from tests.gallery import add_image
from tests.s3 import S3Server
from vcc_ui.models import Image
from vcc_ui.services.storage import S3Storage

pytestmark = pytest.mark.bench

CALLS = 200


async def test_bench_gallery_first_page_on_s3(tmp_path: Path, s3_server: S3Server) -> None:
    settings = make_settings(tmp_path, **s3_server.settings(s3_server.new_bucket()))
    async with services(settings) as app, client_for(app) as http:
        storage = app.storage
        assert isinstance(storage, S3Storage)
        owner = await identify(app, http)
        rng = random.Random(4)
        start = datetime(2024, 1, 1, tzinfo=UTC)
        rows = _rows(owner, USER_IMAGES, rng, start)
        rows += [r for n in range(OTHER_USERS) for r in _rows(f'anon-{n:032x}', OTHER_IMAGES, rng, start)]
        began = time.perf_counter()

        def insert() -> None:
            with app.engine.begin() as conn:
                table = Image.__table__  # type: ignore[attr-defined]
                for chunk in range(0, len(rows), 5_000):
                    conn.execute(table.insert(), rows[chunk : chunk + 5_000])

        await asyncio.to_thread(insert)
        insert_s = time.perf_counter() - began
        real = await add_image(app.images, owner, created=datetime.now(UTC))  # one real object, newest on the page

        before = storage.requests
        first = await app.images.page(owner, size=PAGE, kind='generated')
        service_ms = []
        for _ in range(CALLS):
            began = time.perf_counter()
            await app.images.page(owner, size=PAGE, kind='generated')
            service_ms.append((time.perf_counter() - began) * 1000)
        api_ms = []
        for _ in range(CALLS):
            began = time.perf_counter()
            answer = await http.get('/api/v1/images', params={'size': PAGE})
            api_ms.append((time.perf_counter() - began) * 1000)
        listing_requests = storage.requests - before
        assert answer.status_code == 200 and answer.json()['items'][0]['id'] == real.id
        assert listing_requests == 0

        thumb = await http.get(answer.json()['items'][0]['thumb_url'])
        assert thumb.status_code == 200 and storage.requests > before  # the file itself does come from S3

    service_p50, service_p95 = percentiles(service_ms)
    api_p50, api_p95 = percentiles(api_ms)
    report(
        f'gallery first page on S3-backed storage: user with {USER_IMAGES:,} images '
        f'(+{OTHER_USERS * OTHER_IMAGES:,} of others), SQLite, SeaweedFS',
        rows_inserted=f'{len(rows):,} in {insert_s:.1f} s',
        page=f'{PAGE} items of {first.total:,}',
        service_page=f'p50 {service_p50:.2f} ms, p95 {service_p95:.2f} ms over {CALLS} calls',
        api_page=f'GET /api/v1/images p50 {api_p50:.2f} ms, p95 {api_p95:.2f} ms over {CALLS} calls (goal p50 <= 20)',
        s3_requests_during_listings=f'{listing_requests} (of {2 * CALLS + 1} listings)',
        s3_requests_for_one_thumbnail=storage.requests - before,
    )
