"""ImageIndex against real databases (SQLite file and PostgreSQL) and real files: queries, trash, inputs, quotas."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.fixtures import USER_A, USER_B
from tests.gallery import add_image, image_index
from tests.images import jpeg_bytes, png_bytes, webp_bytes
from vcc_ui.models import Image, User
from vcc_ui.services.admin_data import AdminData
from vcc_ui.services.image_meta import AdminImageView, ImageView
from vcc_ui.services.images import ImageFilter, ImageIndex, ImageNotFound, ImageProblem, QuotaExceeded, Usage
from vcc_ui.services.storage import ImageRejected, Storage
from vcc_ui.services.users import UserDirectory

DAY1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose header declares a huge size."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))

    ihdr = struct.pack('>IIBBBBB', width, height, 1, 0, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0' * 64)) + chunk(b'IEND', b'')


@pytest.fixture
async def index(engine: Engine, tmp_path: Path) -> AsyncIterator[ImageIndex]:
    async with image_index(engine, tmp_path, controls_max_bytes=200_000) as built:
        yield built


def sidecar(index: ImageIndex, row: Image) -> dict:
    return index.storage.read_sidecar(row.rel_path)


# ---- inputs: upload and copy ---------------------------------------------------------------------------------


@pytest.mark.parametrize('make', [png_bytes, jpeg_bytes, webp_bytes])
async def test_upload_input_stores_file_thumbnail_sidecar_and_row(index: ImageIndex, make) -> None:
    view = await index.upload_input(USER_A, make(40, 30), '../../evil/photo.png')
    row = await index.row(USER_A, view.id)
    assert row is not None and view.url == Storage.url(row.rel_path) and view.thumb_url == Storage.url(row.thumb_path)
    assert row.kind == 'input' and row.owner == USER_A and (row.width, row.height) == (40, 30)
    assert row.rel_path.startswith(f'users/{USER_A}/inputs/') and row.original_filename == 'photo.png'
    assert index.storage.resolve(row.rel_path).is_file() and index.storage.resolve(row.thumb_path).is_file()
    assert sidecar(index, row)['kind'] == 'input'
    assert (await index.get(USER_A, row.id)).id == row.id
    listed = await index.page(USER_A, kind='input')
    assert [r.id for r in listed.items] == [row.id]


@pytest.mark.parametrize(
    ('data', 'code'),
    [
        (b'hello, I am a text file\n' * 10, 'not_an_image'),
        (png_bytes(40, 40)[:60], 'not_an_image'),
        (bomb_png(), 'bomb'),
        (png_bytes(400, 400, color=(1, 2, 3)) + b'\0' * 200_001, 'too_large'),
    ],
)
async def test_upload_input_refuses_bad_files_and_stores_nothing(
    index: ImageIndex, tmp_path: Path, data: bytes, code: str
) -> None:
    with pytest.raises(ImageRejected) as caught:
        await index.upload_input(USER_A, data, 'x.png')
    assert caught.value.code == code and caught.value.reason.endswith('.')
    assert (await index.page(USER_A, kind='input')).total == 0
    assert not [p for p in (tmp_path / 'outputs').rglob('*') if p.is_file()]


async def test_upload_input_refuses_gif_by_content(index: ImageIndex) -> None:
    import io

    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.new('RGB', (10, 10)).save(out, format='GIF')
    with pytest.raises(ImageRejected, match='Only PNG, JPEG and WEBP'):
        await index.upload_input(USER_A, out.getvalue(), 'x.png')


async def test_copy_to_inputs_makes_a_new_input_image(index: ImageIndex) -> None:
    generated = await add_image(index, USER_A, created=DAY1, prompt='castle')
    copy = await index.copy_to_inputs(USER_A, generated.id)
    assert copy.id != generated.id and copy.kind == 'input' and copy.sha256 == generated.sha256
    stored = await index.row(USER_A, copy.id)
    assert stored is not None and stored.owner == USER_A
    assert copy.prompt == 'castle' and sidecar(index, stored)['source_image_id'] == generated.id
    assert index.storage.resolve(stored.rel_path).is_file()
    assert (await index.page(USER_A, kind='generated')).total == 1


async def test_copy_to_inputs_refuses_other_users_trashed_and_unknown_ids(index: ImageIndex) -> None:
    mine = await add_image(index, USER_A, created=DAY1)
    with pytest.raises(ImageNotFound):
        await index.copy_to_inputs(USER_B, mine.id)
    with pytest.raises(ImageNotFound):
        await index.copy_to_inputs(USER_A, 'f' * 32)
    with pytest.raises(ImageNotFound):
        await index.copy_to_inputs(USER_A, '../../etc/passwd')
    await index.delete(USER_A, mine.id)
    with pytest.raises(ImageNotFound):
        await index.copy_to_inputs(USER_A, mine.id)
    assert (await index.page(USER_B, kind='input')).total == 0


# ---- quotas -------------------------------------------------------------------------------------------------


async def test_quota_refuses_upload_and_says_what_to_delete(index: ImageIndex) -> None:
    index.settings.quota_max_images = 2
    first = await index.upload_input(USER_A, png_bytes(color=(1, 1, 1)), 'a.png')
    await index.upload_input(USER_A, png_bytes(color=(2, 2, 2)), 'b.png')
    with pytest.raises(QuotaExceeded, match=r'2 of 2 images.*Delete at least 1 image '):
        await index.upload_input(USER_A, png_bytes(color=(3, 3, 3)), 'c.png')
    assert await index.quota_refusal(USER_A) is not None
    assert await index.quota_refusal(USER_B) is None
    await index.delete(USER_A, first.id)  # the trash does not count
    assert await index.quota_refusal(USER_A) is None
    await index.upload_input(USER_A, png_bytes(color=(3, 3, 3)), 'c.png')


async def test_quota_per_user_override_of_bytes(index: ImageIndex) -> None:
    data = png_bytes(64, 64)
    await index.writer.write(lambda db: db.add(User(id=USER_A, quota_max_bytes=len(data) + 10)))
    await index.upload_input(USER_A, data, 'a.png')
    with pytest.raises(QuotaExceeded, match='Delete at least'):
        await index.upload_input(USER_A, png_bytes(64, 64, color=(9, 9, 9)), 'b.png')
    await index.upload_input(USER_B, data, 'b.png')  # settings say unlimited
    usage = await index.usage(USER_A)
    assert (usage.images, usage.bytes, usage.max_bytes, usage.max_images) == (1, len(data), len(data) + 10, 0)


# ---- listing and filters ------------------------------------------------------------------------------------


async def test_page_is_newest_first_paged_and_scoped_to_owner(index: ImageIndex) -> None:
    rows = [await add_image(index, USER_A, created=DAY1 + timedelta(hours=i)) for i in range(5)]
    await add_image(index, USER_B, created=DAY1)
    first = await index.page(USER_A, size=2)
    second = await index.page(USER_A, page=3, size=2)
    assert [r.id for r in first.items] == [rows[4].id, rows[3].id] and first.total == 5 and first.has_more
    assert [r.id for r in second.items] == [rows[0].id] and not second.has_more


async def test_filters_by_date_ratio_workflow_favourite_tag_and_prompt(index: ImageIndex) -> None:
    old = await add_image(index, USER_A, created=DAY1, prompt='A Red Fox in snow', aspect_ratio='16:9')
    new = await add_image(
        index, USER_A, created=DAY1 + timedelta(days=3), prompt='blue 100%_sky', workflow_id='sdxl_txt2img'
    )
    await index.set_favorite(USER_A, new.id, True)
    await index.set_tags(USER_A, old.id, ['  Nature ', 'snow', 'nature'])

    async def ids(**criteria) -> list[str]:
        return [r.id for r in (await index.page(USER_A, filters=ImageFilter(**criteria))).items]

    assert await ids(from_date=date(2025, 3, 2)) == [new.id]
    assert await ids(to_date=date(2025, 3, 1)) == [old.id]
    assert await ids(from_date=date(2025, 3, 1), to_date=date(2025, 3, 4)) == [new.id, old.id]
    assert await ids(aspect_ratio='16:9') == [old.id]
    assert await ids(workflow_id='sdxl_txt2img') == [new.id]
    assert await ids(favorite=True) == [new.id]
    assert await ids(favorite=False) == [old.id]
    assert await ids(tag='Nature') == [old.id]
    assert await ids(tag='natur') == []
    assert await ids(q='red fox') == [old.id]
    assert await ids(q='100%_') == [new.id]
    assert await ids(q='%') == [new.id]
    assert await ids(q='nothing like this') == []
    assert (await index.get(USER_A, old.id)).tags == ['nature', 'snow']
    assert sidecar(index, old)['tags'] == ['nature', 'snow'] and sidecar(index, new)['favorite'] is True


async def test_tags_with_non_ascii_are_found_and_bad_tags_refused(index: ImageIndex) -> None:
    row = await add_image(index, USER_A, created=DAY1)
    await index.set_tags(USER_A, row.id, ['풍경', 'café'])
    assert [r.id for r in (await index.page(USER_A, filters=ImageFilter(tag='풍경'))).items] == [row.id]
    with pytest.raises(ImageProblem):
        await index.set_tags(USER_A, row.id, ['a"b'])
    with pytest.raises(ImageProblem):
        await index.set_tags(USER_A, row.id, [f't{i}' for i in range(21)])
    with pytest.raises(ImageNotFound):
        await index.set_tags(USER_B, row.id, ['x'])
    with pytest.raises(ImageNotFound):
        await index.set_favorite(USER_B, row.id, True)


# ---- trash, restore, purge, bulk, zip -----------------------------------------------------------------------


async def test_delete_moves_to_trash_with_sidecar_and_restore_brings_back(index: ImageIndex) -> None:
    row = await add_image(index, USER_A, created=DAY1)
    trashed = await index.delete(USER_A, row.id)
    assert trashed.status == 'trash' and trashed.trashed_at is not None
    assert sidecar(index, row)['status'] == 'trash' and sidecar(index, row)['trashed_at']
    assert (await index.page(USER_A)).total == 0
    assert [r.id for r in (await index.page(USER_A, filters=ImageFilter(status='trash'))).items] == [row.id]
    assert index.purge_at(trashed) == trashed.trashed_at + timedelta(days=30)
    with pytest.raises(ImageNotFound):
        await index.delete(USER_A, row.id)  # already in the trash
    with pytest.raises(ImageNotFound):
        await index.restore(USER_B, row.id)
    restored = await index.restore(USER_A, row.id)
    assert restored.status == 'active' and restored.trashed_at is None
    assert sidecar(index, row)['status'] == 'active' and sidecar(index, row)['trashed_at'] is None


async def test_purge_removes_only_trash_past_retention_with_files(index: ImageIndex) -> None:
    old, recent, active = [await add_image(index, USER_A, created=DAY1) for _ in range(3)]
    await index.delete(USER_A, old.id)
    await index.delete(USER_A, recent.id)
    later = datetime.now(UTC) + timedelta(days=31)
    await index.writer.write(lambda db: setattr(db.get(Image, recent.id), 'trashed_at', later - timedelta(days=5)))
    assert await index.purge_trash(now=later) == 1
    assert await index.get(USER_A, old.id) is None
    assert not index.storage.resolve(old.rel_path).exists() and not index.storage.resolve(old.thumb_path).exists()
    assert not index.storage.resolve(old.rel_path.replace('.png', '.json')).exists()
    assert (await index.get(USER_A, recent.id)).status == 'trash'
    assert (await index.get(USER_A, active.id)).status == 'active'
    assert await index.purge_trash(older_than_days=1, now=later) == 1


async def test_bulk_delete_and_restore_skip_other_users_ids(index: ImageIndex) -> None:
    mine = [await add_image(index, USER_A, created=DAY1 + timedelta(minutes=i)) for i in range(3)]
    theirs = await add_image(index, USER_B, created=DAY1)
    changed = await index.bulk_delete(USER_A, [r.id for r in mine] + [theirs.id, 'junk'])
    assert sorted(r.id for r in changed) == sorted(r.id for r in mine)
    assert (await index.get(USER_B, theirs.id)).status == 'active'
    assert len(await index.bulk_restore(USER_A, [mine[0].id, mine[1].id])) == 2
    assert (await index.page(USER_A)).total == 2
    with pytest.raises(ImageProblem):
        await index.bulk_delete(USER_A, ['a' * 32] * 501)


async def test_zip_contains_only_the_owners_selected_files(index: ImageIndex) -> None:
    mine = [await add_image(index, USER_A, created=DAY1 + timedelta(minutes=i)) for i in range(2)]
    theirs = await add_image(index, USER_B, created=DAY1)
    path = await index.zip_images(USER_A, [r.id for r in mine] + [theirs.id])
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            assert names == ['20250301-100000_sd15_txt2img_a-red-fox.png', '20250301-100100_sd15_txt2img_a-red-fox.png']
            assert archive.read(names[0]).startswith(b'\x89PNG')
    finally:
        path.unlink()
    with pytest.raises(ImageNotFound):
        await index.zip_images(USER_B, [r.id for r in mine])


async def test_zip_entries_of_one_moment_and_prompt_get_distinct_names(index: ImageIndex) -> None:
    rows = [await add_image(index, USER_A, created=DAY1, prompt='붉은 여우', color=(i, 0, 0)) for i in range(3)]
    path = await index.zip_images(USER_A, [r.id for r in rows])
    try:
        with zipfile.ZipFile(path) as archive:
            assert sorted(archive.namelist()) == [
                '20250301-100000_sd15_txt2img_붉은-여우-2.png',
                '20250301-100000_sd15_txt2img_붉은-여우-3.png',
                '20250301-100000_sd15_txt2img_붉은-여우.png',
            ]
    finally:
        path.unlink()


async def test_change_rebuilds_a_corrupt_sidecar_from_the_row(index: ImageIndex) -> None:
    row = await add_image(index, USER_A, created=DAY1, prompt='kept')
    index.storage.resolve(row.rel_path.replace('.png', '.json')).write_text('{broken', encoding='utf-8')
    await index.set_favorite(USER_A, row.id, True)
    meta = json.loads(index.storage.resolve(row.rel_path.replace('.png', '.json')).read_text(encoding='utf-8'))
    assert meta['favorite'] is True and meta['prompt'] == 'kept' and meta['sha256'] == row.sha256


# ---- shared queries: the gallery and the admin pages ----------------------------------------------------------


async def test_the_gallery_and_the_admin_listing_give_the_same_rows_for_one_filter(index: ImageIndex) -> None:
    rows = [await add_image(index, USER_A, created=DAY1 + timedelta(days=i)) for i in range(4)]
    await add_image(index, USER_B, created=DAY1 + timedelta(days=1))
    await index.delete(USER_A, rows[2].id)
    admin = AdminData(index.writer, index, index.settings, UserDirectory(index.writer))
    days = {'from_date': date(2025, 3, 2), 'to_date': date(2025, 3, 4)}
    for status, include in [('active', 'active'), ('trash', 'trash'), (None, 'all')]:
        mine = await index.page(USER_A, size=2, filters=ImageFilter(status=status, **days))
        seen = await admin.images_page(user_id=USER_A, size=2, include=include, **days)
        assert [r.id for r in mine.items] == [r.id for r in seen.items] and mine.total == seen.total
        assert mine.has_more == seen.has_more
    everyone = await admin.images_page(include='all', **days)
    assert everyone.total == 4 and [r.id for r in everyone.items][:2] == [rows[3].id, rows[2].id]
    assert [r.id for r in (await index.page(USER_A, filters=ImageFilter(status=None))).items] == [
        r.id for r in reversed(rows)
    ]


async def test_the_admin_user_summary_counts_like_the_users_own_usage(index: ImageIndex) -> None:
    kept, trashed = [await add_image(index, USER_A, created=DAY1) for _ in range(2)]
    await index.delete(USER_A, trashed.id)
    await index.writer.write(lambda db: db.add(User(id=USER_A, quota_max_images=9)))
    admin = AdminData(index.writer, index, index.settings, UserDirectory(index.writer))
    usage = await index.usage(USER_A)
    summary = await admin.user(USER_A)
    assert summary is not None
    assert (usage.images, usage.bytes, usage.trash_images, usage.trash_bytes) == (1, kept.bytes, 1, trashed.bytes)
    assert (summary.images, summary.bytes, summary.trash_images) == (usage.images, usage.bytes, usage.trash_images)
    assert (summary.max_images, summary.max_bytes, summary.quota_max_images) == (9, usage.max_bytes, 9)
    dumped = summary.model_dump(mode='json')
    assert list(dumped) == [
        'id',
        'display_name',
        'created_at',
        'last_seen',
        'blocked',
        'jobs',
        'jobs_done',
        'gpu_seconds',
        'images',
        'bytes',
        'trash_images',
        'quota_max_bytes',
        'quota_max_images',
        'max_bytes',
        'max_images',
    ]
    assert summary.created_at is not None and dumped['created_at'] == summary.created_at.isoformat()
    assert await index.usage(USER_B) == Usage(bytes=0, images=0, max_bytes=0, max_images=0)


# ---- typed views ----------------------------------------------------------------------------------------------

API_IMAGE_KEYS = [
    'id',
    'kind',
    'url',
    'thumb_url',
    'mime',
    'bytes',
    'width',
    'height',
    'sha256',
    'created_at',
    'status',
    'workflow_id',
    'mode',
    'prompt',
    'negative_prompt',
    'seed',
    'aspect_ratio',
    'job_id',
    'server',
    'tags',
    'favorite',
    'original_filename',
    'prompt_original',
    'negative_prompt_original',
    'llm_action',
    'trashed_at',
    'purge_at',
    'params',
]


async def test_image_view_has_typed_fields_and_serializes_as_the_api_always_did(index: ImageIndex) -> None:
    row = await add_image(index, USER_A, created=DAY1, prompt='a fox')
    view = await index.delete(USER_A, row.id)
    assert isinstance(view, ImageView) and view.created_at == DAY1 and isinstance(view.trashed_at, datetime)
    assert view.purge_at == view.trashed_at + timedelta(days=30) == index.purge_at(view)
    with pytest.raises(ValueError, match='frozen'):
        view.status = 'active'  # type: ignore[misc]
    dumped = view.model_dump(mode='json')
    assert list(dumped) == API_IMAGE_KEYS
    assert dumped == {
        'id': row.id,
        'kind': 'generated',
        'url': Storage.url(row.rel_path),
        'thumb_url': Storage.url(row.thumb_path),
        'mime': 'image/png',
        'bytes': row.bytes,
        'width': 32,
        'height': 32,
        'sha256': row.sha256,
        'created_at': DAY1.isoformat(),
        'status': 'trash',
        'workflow_id': 'sd15_txt2img',
        'mode': None,
        'prompt': 'a fox',
        'negative_prompt': None,
        'seed': 1,
        'aspect_ratio': '1:1',
        'job_id': None,
        'server': None,
        'tags': [],
        'favorite': False,
        'original_filename': 'out.png',
        'prompt_original': None,
        'negative_prompt_original': None,
        'llm_action': None,
        'trashed_at': view.trashed_at.isoformat(),
        'purge_at': view.purge_at.isoformat(),
        'params': None,
    }
    assert json.loads(view.model_dump_json()) == dumped
    restored = await index.restore(USER_A, row.id)
    assert (restored.trashed_at, restored.purge_at) == (None, None)
    assert restored.model_dump(mode='json')['trashed_at'] is None


async def test_the_admin_view_adds_the_owner(index: ImageIndex) -> None:
    row = await add_image(index, USER_A, created=DAY1)
    seen = (await AdminData(index.writer, index, index.settings, UserDirectory(index.writer)).images_page()).items
    assert [type(v) for v in seen] == [AdminImageView] and seen[0].owner == USER_A
    assert seen[0].model_dump(mode='json') == {
        **(await index.get(USER_A, row.id)).model_dump(mode='json'),
        'owner': USER_A,
    }
