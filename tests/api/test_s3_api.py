"""The image routes on S3-backed storage (a real SeaweedFS): upload, serve, download, ZIP, share, trash, purge."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.api.test_images_api import client_for, identify, png_with_graph, share_of, upload
from tests.api.test_storage_faults import read_only_database
from tests.fixtures import make_settings, services, simulator, wait_for
from tests.gallery import add_image
from tests.images import png_bytes
from tests.postgres import free_port
from tests.s3 import S3Server
from vcc_ui.models import Image
from vcc_ui.services import Services
from vcc_ui.services.storage import S3Storage

DAY1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def keys(server: S3Server, bucket: str) -> list[str]:
    """Every object key in the bucket, without the app's prefix."""
    answer = server.client().list_objects_v2(Bucket=bucket)
    return sorted(item['Key'].removeprefix('app/') for item in answer.get('Contents', []))


@pytest.fixture
async def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


@pytest.fixture
async def app(tmp_path: Path, s3_server: S3Server, bucket: str) -> AsyncIterator[Services]:
    settings = make_settings(tmp_path, controls_max_bytes=100_000, **s3_server.settings(bucket))
    async with simulator(tmp_path) as sim:
        settings.comfyui_servers = sim.url
        async with services(settings) as built:
            assert isinstance(built.storage, S3Storage)
            yield built


async def test_upload_serve_and_download_on_s3(app: Services, s3_server: S3Server, bucket: str) -> None:
    async with client_for(app) as alice, client_for(app) as bob:
        owner = await identify(app, alice)
        await identify(app, bob)
        data = png_bytes(40, 30)
        answer = await upload(alice, data, 'cat.png')
        assert answer.status_code == 201, answer.text
        item = answer.json()
        day = datetime.now(UTC).strftime('%Y/%m/%d')
        folder = f'users/{owner}/inputs/{day}'
        assert keys(s3_server, bucket) == sorted(
            [f'{folder}/{item["id"]}.png', f'{folder}/{item["id"]}.json', f'{folder}/thumb/{item["id"]}.webp']
        )
        served = await alice.get(item['url'])
        assert served.status_code == 200 and served.content == data and served.headers['content-type'] == 'image/png'
        assert served.headers['content-length'] == str(len(data))
        thumb = await alice.get(item['thumb_url'])
        assert thumb.status_code == 200 and thumb.headers['content-type'] == 'image/webp'
        assert (await alice.get(item['url'].replace('.png', '.json'))).status_code == 404
        assert (await alice.get(item['url'].replace(item['id'], 'ef' * 16))).status_code == 404
        assert (await bob.get(item['url'])).status_code == 404
        download = await alice.get(f'/api/v1/images/{item["id"]}/download')
        assert download.status_code == 200 and download.content == data
        assert download.headers['content-disposition'].startswith('attachment; filename=')
        assert (await bob.get(f'/api/v1/images/{item["id"]}/download')).status_code == 404
        assert (await upload(alice, data)).json()['id'] == item['id']  # the same bytes: the same input


async def test_an_upload_whose_row_fails_leaves_no_object(app: Services, s3_server: S3Server, bucket: str) -> None:
    async with client_for(app) as http:
        await identify(app, http)
        with read_only_database(app.engine):
            answer = await upload(http, png_bytes(33, 22), 'x.png')
        assert answer.status_code == 503, answer.text
        assert keys(s3_server, bucket) == []
        assert (await http.get('/api/v1/inputs')).json()['total'] == 0


async def test_zip_share_trash_and_purge_on_s3(app: Services, s3_server: S3Server, bucket: str) -> None:
    async with client_for(app) as owner, client_for(app) as stranger:
        user = await identify(app, owner)
        rows = [await add_image(app.images, user, created=DAY1 + timedelta(minutes=i)) for i in range(2)]
        answer = await owner.post('/api/v1/images/zip', json={'ids': [r.id for r in rows]})
        assert answer.status_code == 200
        assert len(zipfile.ZipFile(io.BytesIO(answer.content)).namelist()) == 2

        url, original = await share_of(app, owner, 'secret prompt words')
        served = await stranger.get(url + '/image')
        assert served.status_code == 200 and b'secret prompt words' not in served.content
        assert [k for k in keys(s3_server, bucket) if k.startswith('cache/shared/')]  # the stripped copy
        assert (await stranger.get(url + '/image')).content == served.content

        for row in rows:
            assert (await owner.post(f'/api/v1/images/{row.id}/delete')).json()['status'] == 'trash'
        files_before = keys(s3_server, bucket)
        assert all(app.storage.exists(row.rel_path) for row in rows)  # trash keeps the files
        purged, size = await app.images.purge(older_than_days=0, now=datetime.now(UTC) + timedelta(seconds=1))
        assert (purged, size) == (2, sum(r.bytes for r in rows))
        gone = set(files_before) - set(keys(s3_server, bucket))
        assert gone == {k for r in rows for k in (r.rel_path, r.thumb_path, r.rel_path.replace('.png', '.json'))}
        assert await app.writer.read(lambda db: [db.get(Image, r.id) for r in rows]) == [None, None]
        assert original == png_with_graph('secret prompt words')


async def test_favourites_tags_and_copies_update_s3(app: Services) -> None:
    async with client_for(app) as http:
        user = await identify(app, http)
        row = await add_image(app.images, user, created=DAY1)
        assert (await http.post(f'/api/v1/images/{row.id}/favorite', json={'favorite': True})).json()['favorite']
        assert (await http.put(f'/api/v1/images/{row.id}/tags', json={'tags': ['snow']})).json()['tags'] == ['snow']
        sidecar = app.storage.read_sidecar(row.rel_path)
        assert (sidecar['favorite'], sidecar['tags']) == (True, ['snow'])
        copied = await http.post('/api/v1/inputs/copy', json={'image_id': row.id})
        assert copied.status_code == 201 and copied.json()['sha256'] == row.sha256
        assert (await http.get(copied.json()['url'])).content == app.storage.read_bytes(row.rel_path)


async def test_a_generated_image_is_stored_in_s3_once(app: Services, s3_server: S3Server, bucket: str) -> None:
    async with client_for(app) as http:
        job = await http.post('/api/v1/jobs', json={'workflow_id': 'test_pattern', 'params': {'prompt': 'x'}})
        assert job.status_code == 201, job.text
        await wait_for(lambda: app.jobs.views[job.json()['id']].finished)
        items = (await http.get('/api/v1/images')).json()['items']
        assert len(items) == 1 and (await http.get(items[0]['url'])).status_code == 200
        originals = [k for k in keys(s3_server, bucket) if k.endswith('.png')]
        assert originals == [items[0]['url'].removeprefix('/outputs/')]


async def test_listings_never_touch_s3(app: Services) -> None:
    async with client_for(app) as http:
        user = await identify(app, http)
        for i in range(3):
            await add_image(app.images, user, created=DAY1 + timedelta(minutes=i))
        storage = app.storage
        assert isinstance(storage, S3Storage)
        before = storage.requests
        page = (await http.get('/api/v1/images', params={'size': 50})).json()
        assert len(page['items']) == 3 and (await http.get('/api/v1/inputs')).status_code == 200
        assert storage.requests == before


async def test_healthz_checks_s3_by_writing(app: Services) -> None:
    ok, checks = await app.health.run()
    assert checks['disk'] == {'ok': True, 'writable': True, 'backend': 's3'}
    assert ok is checks['comfyui']['ok']


async def test_presigned_mode_redirects_after_the_owner_check(tmp_path: Path, s3_server: S3Server, bucket: str) -> None:
    settings = make_settings(tmp_path, s3_presign_seconds=120, **s3_server.settings(bucket))
    async with services(settings) as app, client_for(app) as alice, client_for(app) as bob:
        await identify(app, alice)
        await identify(app, bob)
        data = png_bytes(24, 24)
        item = (await upload(alice, data)).json()
        answer = await alice.get(item['url'])
        assert answer.status_code == 307 and answer.headers['location'].startswith(s3_server.endpoint)
        policy = (await alice.get('/api/v1/images')).headers['content-security-policy']
        assert f"img-src 'self' data: blob: {s3_server.endpoint};" in policy  # else the page may not show it
        assert 'X-Amz-Signature=' in answer.headers['location'] and 'max-age=60' in answer.headers['cache-control']
        async with httpx.AsyncClient() as direct:
            fetched = await direct.get(answer.headers['location'])
        assert fetched.status_code == 200 and fetched.content == data
        assert (await bob.get(item['url'])).status_code == 404  # no redirect for anyone but the owner
        missing = item['url'].replace(item['id'], 'ef' * 16)
        assert (await alice.get(missing)).status_code == 404
        download = await alice.get(f'/api/v1/images/{item["id"]}/download')
        assert download.status_code == 307 and 'response-content-disposition=attachment' in download.headers['location']


async def test_an_unreachable_s3_answers_storage_unavailable_and_stores_nothing(tmp_path: Path) -> None:
    # NOTE: no s3_server here: the endpoint is a free port nobody listens on
    down = {
        'storage_url': 's3://vcc-down/app',
        's3_endpoint_url': f'http://127.0.0.1:{free_port()}',
        's3_access_key_id': 'k',
        's3_secret_access_key': 's',
        's3_region': 'us-east-1',
    }
    async with (
        simulator(tmp_path) as sim,
        services(make_settings(tmp_path, sim.url, **down)) as app,
        client_for(app) as http,
    ):
        user = await identify(app, http)
        answer = await upload(http, png_bytes(), 'x.png')
        assert answer.status_code == 503 and answer.json()['detail']['code'] == 'unavailable'
        assert 'storage' in answer.json()['detail']['message']
        ko = await http.post(
            '/api/v1/inputs/upload',
            files={'file': ('x.png', png_bytes(), 'image/png')},
            headers={'Accept-Language': 'ko'},
        )
        assert ko.status_code == 503 and '저장소' in ko.json()['detail']['message']
        assert (await http.get('/api/v1/inputs')).json()['total'] == 0
        job = await http.post('/api/v1/jobs', json={'workflow_id': 'test_pattern', 'params': {'prompt': 'x'}})
        assert job.status_code == 503 and 'image storage cannot be written' in job.json()['detail']['message']
        _, checks = await app.health.run()
        assert checks['disk'] == {'ok': False, 'writable': False, 'backend': 's3'}
        served = await http.get(f'/outputs/users/{user}/2025/03/01/{"ab" * 16}.png')
        assert served.status_code == 503 and served.json()['detail']['code'] == 'unavailable'
