"""The storage interface on both backends (a local folder and a real S3), then what only S3 has to get right."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.images import jpeg_bytes, png_bytes
from tests.postgres import free_port
from tests.s3 import S3Server
from vcc_ui.services.storage import (
    LocalStorage,
    S3Config,
    S3Storage,
    Storage,
    StorageError,
    StorageUnavailable,
    open_storage,
    storage_location,
)
from vcc_ui.settings import Settings

OWNER = 'anon-0123456789abcdef'
WHEN = datetime(2025, 3, 7, 12, 30, tzinfo=UTC)
IMAGE_ID = 'cd' * 16
FOLDER = f'users/{OWNER}/2025/03/07'


def s3_storage(server: S3Server, bucket: str, **overrides: object) -> S3Storage:
    """An S3Storage on the test server's bucket under the prefix 'app'."""
    values: dict = {
        'bucket': bucket,
        'prefix': 'app',
        'endpoint_url': server.endpoint,
        'region': server.region,
        'access_key_id': server.access_key,
        'secret_access_key': server.secret_key,
        **overrides,
    }
    return S3Storage(S3Config(**values))


@pytest.fixture(params=['local', 's3'])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """The same tests once on a local folder and once on a fresh bucket of a real S3 server."""
    if request.param == 'local':
        yield LocalStorage(tmp_path / 'outputs')
        return
    server: S3Server = request.getfixturevalue('s3_server')
    yield s3_storage(server, server.new_bucket())


def names(store: Storage, prefix: str = 'users') -> list[str]:
    return sorted(info.rel_path for info in store.list_files(prefix))


def save(store: Storage, data: bytes | None = None, **fields: object) -> object:
    values: dict = {'owner': OWNER, 'kind': 'generated', 'meta': {'prompt': '고양이'}, 'image_id': IMAGE_ID}
    values.update(created_at=WHEN, data=data if data is not None else png_bytes(800, 400), **fields)
    return store.save(**values)


def test_save_writes_the_same_keys_on_every_backend(store: Storage) -> None:
    data = png_bytes(800, 400)
    stored = save(store, data)
    assert (stored.rel_path, stored.thumb_rel, stored.sidecar_rel) == (
        f'{FOLDER}/{IMAGE_ID}.png',
        f'{FOLDER}/thumb/{IMAGE_ID}.webp',
        f'{FOLDER}/{IMAGE_ID}.json',
    )
    assert names(store) == sorted([stored.rel_path, stored.thumb_rel, stored.sidecar_rel])
    assert store.read_bytes(stored.rel_path) == data
    assert hashlib.sha256(store.read_bytes(stored.rel_path)).hexdigest() == stored.sha256
    with Image.open(io.BytesIO(store.read_bytes(stored.thumb_rel))) as thumb:
        assert (thumb.format, thumb.size) == ('WEBP', (320, 160))
    meta = store.read_sidecar(stored.rel_path)
    assert (meta['prompt'], meta['path'], meta['thumb'], meta['sha256']) == (
        '고양이',
        stored.rel_path,
        stored.thumb_rel,
        stored.sha256,
    )
    info = store.stat(stored.rel_path)
    assert info is not None and info.size == len(data) and info.modified.tzinfo is not None
    size, chunks = store.open_chunks(stored.rel_path)
    assert size == len(data) and b''.join(chunks) == data
    assert store.find(owner=OWNER, kind='generated', image_id=IMAGE_ID, created_at=WHEN) == meta


def test_save_refuses_an_existing_image_and_completes_a_half_saved_one(store: Storage) -> None:
    data = png_bytes(100, 60)
    stored = save(store, data)
    with pytest.raises(StorageError, match='already exists'):
        save(store, data)
    store.remove(stored.sidecar_rel)
    store.remove(stored.thumb_rel)  # what a kill after the original leaves
    again = save(store, data)
    assert again.rel_path == stored.rel_path and names(store) == sorted(
        [
            stored.rel_path,
            stored.thumb_rel,
            stored.sidecar_rel,
        ]
    )


def test_bad_images_write_nothing(store: Storage) -> None:
    with pytest.raises(Exception, match='not an image'):
        save(store, b'not an image at all')
    assert names(store) == []


def test_sidecar_thumbnail_and_delete(store: Storage) -> None:
    stored = save(store, jpeg_bytes(640, 320))
    store.write_sidecar(stored.rel_path, {**store.read_sidecar(stored.rel_path), 'favorite': True})
    assert store.read_sidecar(stored.rel_path)['favorite'] is True
    with pytest.raises(StorageError, match='no file'):
        store.write_sidecar(f'{FOLDER}/{"ef" * 16}.png', {})
    store.remove(stored.thumb_rel)
    assert not store.exists(stored.thumb_rel)
    assert store.make_thumbnail(stored.rel_path) == stored.thumb_rel and store.exists(stored.thumb_rel)
    store.delete(stored.rel_path)
    store.delete(stored.rel_path)  # missing files are ignored
    assert names(store) == []
    assert store.find(owner=OWNER, kind='generated', image_id=IMAGE_ID, created_at=WHEN) is None


def test_missing_and_corrupt_files_are_storage_errors_not_outages(store: Storage) -> None:
    missing = f'{FOLDER}/{"ef" * 16}.png'
    assert store.stat(missing) is None and not store.exists(missing)
    with pytest.raises(StorageError) as raised:
        store.read_bytes(missing)
    assert not isinstance(raised.value, StorageUnavailable)
    with pytest.raises(StorageError):
        store.open_chunks(missing)
    stored = save(store)
    store.write_file(stored.sidecar_rel, b'{broken')
    with pytest.raises(StorageError, match='not valid JSON'):
        store.read_sidecar(stored.rel_path)


@pytest.mark.parametrize('rel', ['../escape.png', 'users/../../x', '/etc/passwd', 'users//x', 'a\\b', 'users/x:y', ''])
def test_paths_that_could_leave_the_root_are_refused(store: Storage, rel: str) -> None:
    for action in (store.read_bytes, store.stat, store.remove, lambda r: store.write_file(r, b'x'), store.check):
        with pytest.raises(StorageError):
            action(rel)
    assert names(store) == []


def test_remove_tree_and_the_write_probe(store: Storage) -> None:
    save(store)
    store.write_file('cache/shared/x.png', b'copy')
    assert store.problem(0) is None and store.writable()
    assert store.remove_tree('users') is True
    assert names(store) == [] and store.remove_tree('users') is False
    assert names(store, 'cache') == ['cache/shared/x.png']


def test_many_files_list_across_pages(store: Storage) -> None:
    for n in range(1005):  # S3 answers 1,000 keys per listing page
        store.write_file(f'users/{OWNER}/bulk/{n:04d}.json', b'{}')
    assert len(names(store)) == 1005
    assert store.remove_tree('users') and names(store) == []


# ---- S3 only ------------------------------------------------------------------------------------------------


def test_settings_pick_the_backend(tmp_path: Path, s3_server: S3Server) -> None:
    local = open_storage(Settings(_env_file=None, output_dir=tmp_path / 'out'))
    assert isinstance(local, LocalStorage) and local.root == (tmp_path / 'out').resolve()
    other = open_storage(Settings(_env_file=None, storage_url=f'file://{tmp_path / "files"}'))
    assert isinstance(other, LocalStorage) and other.root == (tmp_path / 'files').resolve()
    settings = Settings(_env_file=None, **s3_server.settings('my-bucket', 'some/prefix/'))
    remote = open_storage(settings)
    assert isinstance(remote, S3Storage) and remote.location == 's3://my-bucket/some/prefix/'
    assert storage_location(settings) == 's3://my-bucket/some/prefix/'
    for bad in ('s3://', 's3://UPPER/x', 'ftp://x/y', '/just/a/path', 'file://'):
        with pytest.raises(ValueError, match=r's3://bucket/prefix'):
            Settings(_env_file=None, storage_url=bad)


def test_objects_live_under_the_prefix_and_requests_are_signed(s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    store = s3_storage(s3_server, bucket)
    stored = save(store)
    keys = sorted(o['Key'] for o in s3_server.client().list_objects_v2(Bucket=bucket)['Contents'])
    assert keys == sorted(f'app/{rel}' for rel in (stored.rel_path, stored.thumb_rel, stored.sidecar_rel))
    wrong = s3_storage(s3_server, bucket, secret_access_key='not-the-secret')
    with pytest.raises(StorageUnavailable):
        wrong.read_bytes(stored.rel_path)
    assert wrong.problem(0) == 'read_only'


def test_an_unreachable_s3_is_unavailable_and_leaves_nothing(s3_server: S3Server) -> None:
    down = s3_storage(
        s3_server, 'vcc-nowhere', endpoint_url=f'http://127.0.0.1:{free_port()}', connect_timeout=0.5, read_timeout=1
    )
    with pytest.raises(StorageUnavailable, match='S3'):
        save(down)
    with pytest.raises(StorageUnavailable):
        down.read_bytes(f'{FOLDER}/{IMAGE_ID}.png')
    with pytest.raises(StorageUnavailable):
        down.stat(f'{FOLDER}/{IMAGE_ID}.png')
    assert down.problem(1024) == 'read_only' and not down.writable() and down.disk_free_mb() is None


def test_a_failed_put_removes_the_objects_already_put(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    store = s3_storage(s3_server, s3_server.new_bucket())
    real = store.write_file
    calls: list[str] = []

    def third_fails(rel: str, data: bytes) -> None:
        calls.append(rel)
        if len(calls) == 3:
            raise StorageUnavailable(f'cannot write {rel}: S3 InternalError')
        real(rel, data)

    monkeypatch.setattr(store, 'write_file', third_fails)
    with pytest.raises(StorageUnavailable):
        save(store)
    assert len(calls) == 3 and names(store) == []


def test_a_missing_bucket_is_created_once(s3_server: S3Server) -> None:
    store = s3_storage(s3_server, f'vcc-new-{free_port()}')
    assert store.ensure_bucket() is True and store.ensure_bucket() is False
    save(store)
    assert len(names(store)) == 3


async def test_presigned_urls_serve_the_object_and_expire(s3_server: S3Server) -> None:
    store = s3_storage(s3_server, s3_server.new_bucket(), presign_seconds=60)
    stored = save(store)
    url = store.presigned_url(stored.rel_path, media_type='image/png', disposition='attachment; filename="a.png"')
    assert url is not None and url.startswith(s3_server.endpoint) and 'X-Amz-Expires=60' in url
    async with httpx.AsyncClient() as http:
        answer = await http.get(url)
        assert answer.status_code == 200 and answer.content == store.read_bytes(stored.rel_path)
        assert answer.headers['content-type'] == 'image/png'
        assert answer.headers['content-disposition'] == 'attachment; filename="a.png"'
        forged = url.replace(stored.rel_path.split('/')[-1], stored.thumb_rel.split('/')[-1])
        assert (await http.get(forged)).status_code == 403
    assert s3_storage(s3_server, 'b', presign_seconds=0).presigned_url('users/x.png', media_type='image/png') is None


def test_requests_are_counted(s3_server: S3Server) -> None:
    store = s3_storage(s3_server, s3_server.new_bucket())
    before = store.requests
    store.write_file('users/x.json', json.dumps({}).encode())
    store.read_bytes('users/x.json')
    assert store.requests - before == 2
