"""Storage: the path scheme, atomic writes, thumbnails, sidecars, content sniffing and path guards."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import struct
import threading
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from tests.fixtures import make_settings, services
from tests.images import jpeg_bytes, png_bytes, webp_bytes
from vcc_ui.services.storage import (
    ImageRejected,
    LocalStorage,
    Storage,
    StorageError,
    StorageUnavailable,
    sha256_bytes,
    sniff_image,
)
from vcc_ui.services.storage import core as storage_core
from vcc_ui.services.storage import local as storage_local
from vcc_ui.simulator.images import render

OWNER = 'anon-0123456789abcdef'
WHEN = datetime(2025, 3, 7, 12, 30, tzinfo=UTC)
IMAGE_ID = 'ab' * 16


@pytest.fixture
def store(tmp_path: Path) -> Storage:
    return LocalStorage(tmp_path / 'outputs')


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file() or p.is_symlink())


def png_header_only(width: int, height: int, *, bit_depth: int = 1, color_type: int = 0) -> bytes:
    """Return a PNG whose header declares a size its tiny data does not have."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))

    ihdr = struct.pack('>IIBBBBB', width, height, bit_depth, color_type, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0' * 64)) + chunk(b'IEND', b'')


def noisy_png(w: int = 256, h: int = 256) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((w, h), 64).convert('RGB').save(out, format='PNG')
    return out.getvalue()


@pytest.mark.parametrize(
    ('kind', 'folder'),
    [
        ('generated', f'users/{OWNER}/2025/03/07'),
        ('control', f'users/{OWNER}/controls/2025/03/07'),
        ('input', f'users/{OWNER}/inputs/2025/03/07'),
    ],
)
def test_save_puts_original_thumbnail_and_sidecar_at_scheme_paths(store: Storage, kind: str, folder: str) -> None:
    data = png_bytes(800, 400)
    stored = store.save(
        owner=OWNER,
        kind=kind,
        data=data,
        meta={'prompt': '고양이', 'tags': []},  # type: ignore[arg-type]
        image_id=IMAGE_ID,
        created_at=WHEN,
    )
    assert stored.rel_path == f'{folder}/{IMAGE_ID}.png'
    assert stored.thumb_rel == f'{folder}/thumb/{IMAGE_ID}.webp'
    assert stored.sidecar_rel == f'{folder}/{IMAGE_ID}.json'
    assert files_under(store.root) == sorted([stored.rel_path, stored.thumb_rel, stored.sidecar_rel])
    assert (store.root / stored.rel_path).read_bytes() == data
    assert stored.sha256 == hashlib.sha256(data).hexdigest() == sha256_bytes(data)
    assert (stored.mime, stored.bytes, stored.width, stored.height) == ('image/png', len(data), 800, 400)
    with Image.open(store.root / stored.thumb_rel) as thumb:
        assert (thumb.format, thumb.size) == ('WEBP', (320, 160))
    assert store.read_sidecar(stored.rel_path) == {
        'prompt': '고양이',
        'tags': [],
        'favorite': False,
        'id': IMAGE_ID,
        'owner': OWNER,
        'kind': kind,
        'mime': 'image/png',
        'bytes': len(data),
        'width': 800,
        'height': 400,
        'sha256': stored.sha256,
        'created_at': '2025-03-07T12:30:00+00:00',
        'status': 'active',
        'thumb': stored.thumb_rel,
        'path': stored.rel_path,
    }


def test_save_generates_id_and_utc_date_partition(store: Storage) -> None:
    seoul = datetime(2025, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=9)))
    stored = store.save(owner=OWNER, kind='control', data=jpeg_bytes(), meta={}, created_at=seoul)
    assert len(stored.id) == 32 and int(stored.id, 16) >= 0
    assert stored.rel_path == f'users/{OWNER}/controls/2024/12/31/{stored.id}.jpg'
    assert stored.created_at == seoul and stored.created_at.tzinfo == UTC


def test_save_uses_extension_from_content_not_caller(store: Storage) -> None:
    stored = store.save(owner=OWNER, kind='input', data=webp_bytes(), meta={'original_filename': 'cat.png'})
    assert stored.rel_path.endswith('.webp') and stored.mime == 'image/webp'


def test_sidecar_core_fields_cannot_be_forged_by_meta(store: Storage) -> None:
    stored = store.save(owner=OWNER, kind='input', data=png_bytes(), meta={'owner': 'someone-else', 'path': '/etc'})
    meta = store.read_sidecar(stored.rel_path)
    assert (meta['owner'], meta['path']) == (OWNER, stored.rel_path)


def test_thumbnail_respects_exif_orientation(store: Storage) -> None:
    stored = store.save(owner=OWNER, kind='input', data=jpeg_bytes(640, 320, orientation=6), meta={})
    assert (stored.width, stored.height) == (640, 320)
    with Image.open(store.root / stored.thumb_rel) as thumb:
        assert thumb.size == (160, 320)


def test_thumbnail_keeps_alpha_and_small_images_are_not_upscaled(store: Storage) -> None:
    stored = store.save(owner=OWNER, kind='input', data=png_bytes(40, 20, (1, 2, 3, 100)), meta={})
    with Image.open(store.root / stored.thumb_rel) as thumb:
        assert (thumb.size, thumb.mode) == ((40, 20), 'RGBA')


def test_thumbnail_is_the_picture_made_small(store: Storage) -> None:
    picture = render('a red fox in the snow', 5, 1024, 768)
    data = io.BytesIO()
    picture.save(data, format='PNG')
    stored = store.save(owner=OWNER, kind='generated', data=data.getvalue(), meta={})
    reference = picture.resize((320, 240), Image.Resampling.LANCZOS)
    with Image.open(store.root / stored.thumb_rel) as thumb:
        assert thumb.size == (320, 240)
        difference = ImageStat.Stat(ImageChops.difference(thumb.convert('RGB'), reference)).mean
    assert max(difference) < 4  # webp at quality 80 included; a shifted or mis-scaled thumbnail is far above
    shifted = ImageStat.Stat(
        ImageChops.difference(reference, reference.transform((320, 240), Image.Transform.AFFINE, (1, 0, 3, 0, 1, 0)))
    )
    assert max(shifted.mean) > 4


def test_a_save_that_is_not_durable_fsyncs_nothing_and_the_next_flush_syncs_it(
    store: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs: list[int] = []
    syncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(storage_local.os, 'fsync', lambda fd: fsyncs.append(fd) or real_fsync(fd))
    monkeypatch.setattr(storage_local.os, 'sync', lambda: syncs.append(1))
    monkeypatch.setattr(storage_core, '_LIBC', None)
    store.save(owner=OWNER, kind='input', data=png_bytes(), meta={})
    assert len(fsyncs) == 5  # the original, thumbnail and sidecar, and their two folders
    store.flush()
    assert syncs == []  # everything was durable already
    fsyncs.clear()
    stored = store.save(owner=OWNER, kind='generated', data=png_bytes(), meta={'prompt': 'fox'}, durable=False)
    assert fsyncs == []
    assert {stored.rel_path, stored.thumb_rel, stored.sidecar_rel} <= set(files_under(store.root))
    assert store.read_sidecar(stored.rel_path)['prompt'] == 'fox'
    store.flush()
    store.flush()
    assert syncs == [1]  # one flush for the save; the second has nothing to do


async def test_stop_flushes_what_a_save_left_unsynced(store: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    syncs: list[int] = []
    monkeypatch.setattr(storage_local.os, 'sync', lambda: syncs.append(1))
    monkeypatch.setattr(storage_core, '_LIBC', None)
    await store.start()
    store.save(owner=OWNER, kind='generated', data=png_bytes(), meta={}, durable=False)
    await store.stop()
    assert syncs == [1]


def test_thumbnail_falls_back_to_jpeg_without_webp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_core.features, 'check', lambda feature: False)
    store = LocalStorage(tmp_path)
    stored = store.save(owner=OWNER, kind='generated', data=png_bytes(1000, 500, (9, 9, 9, 0)), meta={})
    assert stored.thumb_rel.endswith(f'/thumb/{stored.id}.jpg')
    with Image.open(store.root / stored.thumb_rel) as thumb:
        assert (thumb.format, thumb.size, thumb.mode) == ('JPEG', (320, 160), 'RGB')


@pytest.mark.parametrize('make', [png_bytes, jpeg_bytes, webp_bytes])
def test_sniff_accepts_allowed_types(make) -> None:
    sniffed = sniff_image(make(30, 20), max_bytes=1_000_000)
    assert (sniffed.width, sniffed.height) == (30, 20)
    assert sniffed.ext == {'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp'}[sniffed.mime]


def test_sniff_treats_camera_multi_picture_jpeg_as_jpeg() -> None:
    out = io.BytesIO()
    second = Image.new('RGB', (8, 6))
    Image.new('RGB', (40, 30), (1, 2, 3)).save(out, format='MPO', save_all=True, append_images=[second])
    sniffed = sniff_image(out.getvalue(), max_bytes=1_000_000)
    assert (sniffed.mime, sniffed.ext, sniffed.width, sniffed.height) == ('image/jpeg', 'jpg', 40, 30)


def png_with_bad_crc() -> bytes:
    data = bytearray(png_bytes())
    at = data.find(b'IDAT')
    data[at + 4 + int.from_bytes(data[at - 4 : at], 'big')] ^= 0xFF
    return bytes(data)


def gif_bytes() -> bytes:
    out = io.BytesIO()
    Image.new('P', (8, 8)).save(out, format='GIF')
    return out.getvalue()


@pytest.mark.parametrize(
    ('data', 'reason'),
    [
        (b'hello, I am text named cat.png\n' * 10, 'not an image'),
        (b'', 'not an image'),
        (noisy_png()[:2000], 'not an image'),
        (jpeg_bytes(256, 256)[:-200], 'not an image'),
        (png_with_bad_crc(), 'not an image'),
        (gif_bytes(), 'type not allowed'),
        (png_header_only(20000, 20000), 'decompression bomb'),
        (png_header_only(9000, 9000, bit_depth=8, color_type=3), 'decompression bomb'),
    ],
)
def test_sniff_rejects_bad_content(data: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected) as info:
        sniff_image(data, max_bytes=10_000_000)
    assert info.value.reason == reason


def test_sniff_rejects_oversized_bytes_and_honours_limits() -> None:
    data = png_bytes()
    with pytest.raises(ImageRejected, match='too large'):
        sniff_image(data, max_bytes=len(data) - 1)
    with pytest.raises(ImageRejected, match='decompression bomb'):
        sniff_image(data, max_bytes=len(data), max_pixels=64 * 48 - 1)
    with pytest.raises(ImageRejected, match='type not allowed'):
        sniff_image(jpeg_bytes(), max_bytes=len(data) * 100, allowed=('image/png',))


def test_save_rejects_bad_image_or_size_and_writes_nothing(store: Storage) -> None:
    with pytest.raises(ImageRejected, match='not an image'):
        store.save(owner=OWNER, kind='input', data=b'<?php evil(); ?>', meta={})
    with pytest.raises(ImageRejected, match='too large'):
        store.save(owner=OWNER, kind='control', data=png_bytes(), meta={}, max_bytes=10)
    assert files_under(store.root) == []


@pytest.mark.parametrize('owner', ['..', '.', '', 'a/b', '../x', 'anon-\x00', 'a b', 'ä', 'x' * 65, 'a\\b', None])
def test_save_rejects_evil_owner(store: Storage, owner) -> None:
    with pytest.raises(StorageError):
        store.save(owner=owner, kind='generated', data=png_bytes(), meta={})
    assert files_under(store.root) == []


@pytest.mark.parametrize('image_id', ['../' + 'a' * 29, 'A' * 32, 'a' * 31, 'a' * 33, '0' * 31 + '/', 'g' * 32])
def test_save_rejects_evil_image_id_and_kind(store: Storage, image_id: str) -> None:
    with pytest.raises(StorageError):
        store.save(owner=OWNER, kind='generated', data=png_bytes(), meta={}, image_id=image_id)
    with pytest.raises(StorageError):
        store.save(owner=OWNER, kind='../x', data=png_bytes(), meta={})  # type: ignore[arg-type]
    assert files_under(store.root) == []


def test_save_refuses_to_overwrite_an_existing_image(store: Storage) -> None:
    first = store.save(owner=OWNER, kind='generated', data=png_bytes(), meta={}, image_id=IMAGE_ID, created_at=WHEN)
    with pytest.raises(StorageError, match='already exists'):
        store.save(
            owner=OWNER, kind='generated', data=png_bytes(color=(1, 1, 1)), meta={}, image_id=IMAGE_ID, created_at=WHEN
        )
    assert store.read_bytes(first.rel_path) == png_bytes()


def test_save_rejects_naive_created_at(store: Storage) -> None:
    with pytest.raises(ValueError, match='timezone-aware'):
        store.save(owner=OWNER, kind='generated', data=png_bytes(), meta={}, created_at=datetime(2025, 1, 1))


def test_thumbnail_failure_leaves_nothing(store: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(image: Image.Image, ext: str) -> bytes:
        raise RuntimeError('thumbnail broke')

    monkeypatch.setattr(storage_core, '_render_thumbnail', boom)
    with pytest.raises(RuntimeError, match='thumbnail broke'):
        store.save(owner=OWNER, kind='generated', data=png_bytes(), meta={})
    assert files_under(store.root) == []


@pytest.mark.parametrize('failing_suffix', ['.webp', '.json'])
def test_write_failure_after_original_removes_everything(
    store: Storage, monkeypatch: pytest.MonkeyPatch, failing_suffix: str
) -> None:
    real_replace = os.replace

    def flaky_replace(src: str, dst: str | Path) -> None:
        if str(dst).endswith(failing_suffix):
            raise OSError(28, 'No space left on device')
        real_replace(src, dst)

    monkeypatch.setattr(storage_local.os, 'replace', flaky_replace)
    with pytest.raises(StorageUnavailable, match='No space left'):
        store.save(owner=OWNER, kind='input', data=png_bytes(), meta={})
    assert files_under(store.root) == []


def test_unserialisable_meta_writes_nothing(store: Storage) -> None:
    with pytest.raises(TypeError):
        store.save(owner=OWNER, kind='input', data=png_bytes(), meta={'when': object()})
    assert files_under(store.root) == []


def test_write_sidecar_replaces_atomically(store: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = store.save(owner=OWNER, kind='generated', data=png_bytes(), meta={'tags': []})
    meta = store.read_sidecar(stored.rel_path)
    store.write_sidecar(stored.rel_path, {**meta, 'tags': ['cat'], 'favorite': True})
    assert store.read_sidecar(stored.rel_path)['tags'] == ['cat']
    assert json.loads((store.root / stored.sidecar_rel).read_text('utf-8'))['favorite'] is True

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(5, 'I/O error')

    monkeypatch.setattr(storage_local.os, 'replace', failing_replace)
    with pytest.raises(StorageUnavailable, match='I/O error'):
        store.write_sidecar(stored.rel_path, {'broken': True})
    assert store.read_sidecar(stored.rel_path)['tags'] == ['cat']
    assert files_under(store.root) == sorted([stored.rel_path, stored.thumb_rel, stored.sidecar_rel])


def test_write_sidecar_needs_an_existing_original(store: Storage) -> None:
    with pytest.raises(StorageError):
        store.write_sidecar(f'users/{OWNER}/2025/03/07/{IMAGE_ID}.png', {})
    assert files_under(store.root) == []


def test_read_sidecar_of_missing_or_corrupt_file_raises(store: Storage) -> None:
    stored = store.save(owner=OWNER, kind='generated', data=png_bytes(), meta={})
    with pytest.raises(StorageError):
        store.read_sidecar(stored.rel_path.replace(stored.id, IMAGE_ID))
    (store.root / stored.sidecar_rel).write_text('{not json', 'utf-8')
    with pytest.raises(StorageError, match='not valid JSON'):
        store.read_sidecar(stored.rel_path)


EVIL_PATHS = [
    '../x',
    '/etc/passwd',
    'users/../../x',
    'users/./x',
    'users\\..\\x',
    'users/x\x00.png',
    '',
    'users//x',
    'users/x/',
    'C:/x',
    '..',
]


@pytest.mark.parametrize('rel', EVIL_PATHS)
def test_resolve_and_readers_refuse_traversal(store: Storage, rel: str) -> None:
    for call in (store.resolve, store.read_bytes, store.read_sidecar, store.delete, store.make_thumbnail, Storage.url):
        with pytest.raises(StorageError):
            call(rel)
    with pytest.raises(StorageError):
        store.write_sidecar(rel, {'x': 1})


def test_symlink_leaving_root_is_refused(store: Storage, tmp_path: Path) -> None:
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'secret.png').write_bytes(png_bytes())
    (store.root / 'users').mkdir()
    (store.root / 'users' / 'evil').symlink_to(outside, target_is_directory=True)
    with pytest.raises(StorageError, match='leaves the output root'):
        store.read_bytes('users/evil/secret.png')
    with pytest.raises(StorageError):
        store.delete('users/evil/secret.png')
    with pytest.raises(StorageError):
        store.save(owner='evil', kind='generated', data=png_bytes(), meta={})
    assert sorted(p.name for p in outside.iterdir()) == ['secret.png']


def test_symlinks_to_the_root_or_a_sibling_named_like_it_are_refused(store: Storage) -> None:
    sibling = store.root.parent / (store.root.name + '-evil')  # shares the root's path as a string prefix
    sibling.mkdir()
    (store.root / 'users').mkdir()
    (store.root / 'users' / 'twin').symlink_to(sibling, target_is_directory=True)
    (store.root / 'users' / 'top').symlink_to(store.root, target_is_directory=True)
    (store.root / 'users' / 'inner').symlink_to(store.root / 'users', target_is_directory=True)
    for rel in ('users/twin/a.png', 'users/top'):
        with pytest.raises(StorageError, match='leaves the output root'):
            store.resolve(rel)
    assert store.resolve('users/inner/a.png') == store.root / 'users' / 'a.png'  # inside: allowed, as before


def test_a_file_symlink_is_followed_like_a_folder_one(store: Storage, tmp_path: Path) -> None:
    (tmp_path / 'secret.png').write_bytes(png_bytes())
    (store.root / 'users' / 'deep').mkdir(parents=True)
    (store.root / 'users' / 'deep' / 'kept.png').write_bytes(png_bytes())
    (store.root / 'users' / 'deep' / 'out.png').symlink_to(tmp_path / 'secret.png')
    (store.root / 'users' / 'deep' / 'in.png').symlink_to(store.root / 'users' / 'deep' / 'kept.png')
    with pytest.raises(StorageError, match='leaves the output root'):
        store.read_bytes('users/deep/out.png')
    assert store.resolve('users/deep/in.png') == store.root / 'users' / 'deep' / 'kept.png'
    assert store.resolve('users/deep/missing/below.png') == store.root / 'users' / 'deep' / 'missing' / 'below.png'


def test_resolve_stays_inside_root(store: Storage) -> None:
    path = store.resolve(f'users/{OWNER}/2025/03/07/{IMAGE_ID}.png')
    assert path.is_relative_to(store.root)


def test_delete_removes_original_thumbnail_and_sidecar(store: Storage) -> None:
    keep = store.save(owner=OWNER, kind='generated', data=png_bytes(), meta={})
    gone = store.save(owner=OWNER, kind='generated', data=png_bytes(), meta={})
    store.delete(gone.rel_path)
    assert files_under(store.root) == sorted([keep.rel_path, keep.thumb_rel, keep.sidecar_rel])
    store.delete(gone.rel_path)  # missing files are ignored


def test_make_thumbnail_regenerates_a_missing_thumbnail(store: Storage) -> None:
    stored = store.save(owner=OWNER, kind='control', data=png_bytes(1200, 600), meta={})
    (store.root / stored.thumb_rel).unlink()
    assert store.make_thumbnail(stored.rel_path) == stored.thumb_rel
    with Image.open(store.root / stored.thumb_rel) as thumb:
        assert thumb.size == (320, 160)
    assert store.read_sidecar(stored.rel_path)['thumb'] == stored.thumb_rel


def test_url_quotes_segments() -> None:
    assert Storage.url('users/anon-1/2025/03/07/a b#.png') == '/outputs/users/anon-1/2025/03/07/a%20b%23.png'


def test_disk_free_mb_is_positive(store: Storage) -> None:
    assert store.disk_free_mb() > 0


def leave_temp_files(store: Storage) -> list[Path]:
    """Leave the temp files a kill during writes would: an original, a thumbnail, a sidecar and a LoRA preview."""
    day = store.root / 'users' / OWNER / '2025' / '03' / '07'
    left = [
        day / f'.{IMAGE_ID}.png.k2j3x9.tmp',
        day / 'thumb' / f'.{IMAGE_ID}.webp.q81zz0.tmp',
        day / f'.{IMAGE_ID}.json.a0b1c2.tmp',
        store.root / 'civitai' / 'previews' / '.123.webp.tmp',
    ]
    for path in left:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'partial')
    return left


async def test_start_removes_temp_files_left_by_killed_writes(
    store: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stored = store.save(owner=OWNER, kind='generated', data=png_bytes(), meta={}, image_id=IMAGE_ID, created_at=WHEN)
    leave_temp_files(store)
    kept = [store.root / 'users' / OWNER / 'notes.tmp', store.root / 'users' / '.hidden.txt']
    for path in kept:
        path.write_bytes(b'not ours')
    (tmp_path / 'outside.tmp').write_bytes(b'outside')
    (store.root / 'users' / '.link.tmp').symlink_to(tmp_path / 'outside.tmp')
    threads: list[int] = []
    real_walk = os.walk

    def walk(*args: object, **kwargs: object) -> object:
        threads.append(threading.get_ident())
        return real_walk(*args, **kwargs)

    monkeypatch.setattr(storage_local.os, 'walk', walk)
    with caplog.at_level(logging.INFO, logger=storage_local.__name__):
        await store.start()

    expected = [
        stored.rel_path,
        stored.thumb_rel,
        stored.sidecar_rel,
        *(p.relative_to(store.root).as_posix() for p in kept),
    ]
    assert files_under(store.root) == sorted([*expected, 'users/.link.tmp'])
    assert (tmp_path / 'outside.tmp').read_bytes() == b'outside'
    assert threads and threading.get_ident() not in threads  # the scan ran in a worker thread, not on the event loop
    assert 'removed 4 stale temp file(s)' in caplog.text
    await store.stop()


async def test_services_start_clears_stale_temp_files(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    left = leave_temp_files(LocalStorage(Path(settings.output_dir)))
    async with services(settings):
        assert not any(path.exists() for path in left)
