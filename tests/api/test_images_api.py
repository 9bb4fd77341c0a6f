"""Gallery, inputs and share routes over ASGI, backed by real services, a SQLite file and real files."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures import make_settings, services, simulator, wait_for
from tests.gallery import add_image
from tests.images import png_bytes
from tests.services.test_images import bomb_png
from vcc_ui.models import ShareLink
from vcc_ui.services import Services
from vcc_ui.services.images import image_row
from vcc_ui.web.app import install

DAY1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Services]:
    async with (
        simulator(tmp_path) as sim,
        services(make_settings(tmp_path, sim.url, controls_max_bytes=100_000)) as built,
    ):
        yield built


def client_for(app: Services) -> httpx.AsyncClient:
    web = FastAPI()
    install(web, app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url='http://test')


async def identify(app: Services, http: httpx.AsyncClient) -> str:
    """Make the client get its anonymous id cookie and return the id."""
    await http.get('/api/v1/jobs')
    return app.identity.read(http.cookies['vcc_anon'])


async def upload(http: httpx.AsyncClient, data: bytes, name: str = 'photo.png') -> httpx.Response:
    return await http.post('/api/v1/inputs/upload', files={'file': (name, data, 'image/png')})


async def test_listing_filters_and_answer_shape(app: Services) -> None:
    async with client_for(app) as http:
        user = await identify(app, http)
        old = await add_image(app.images, user, created=DAY1, prompt='red fox', aspect_ratio='16:9')
        new = await add_image(app.images, user, created=DAY1 + timedelta(days=2), prompt='blue sky')
        page = (await http.get('/api/v1/images', params={'size': 1})).json()
        assert set(page) == {'items', 'page', 'size', 'total', 'total_capped', 'has_more'}
        assert [i['id'] for i in page['items']] == [new.id] and page['total'] == 2 and page['has_more']
        assert page['items'][0]['thumb_url'].startswith('/outputs/users/')

        async def ids(**params: str) -> list[str]:
            answer = await http.get('/api/v1/images', params=params)
            assert answer.status_code == 200, answer.text
            return [i['id'] for i in answer.json()['items']]

        assert await ids(from_date='2025-03-02') == [new.id]
        assert await ids(to_date='2025-03-01') == [old.id]
        assert await ids(aspect_ratio='16:9') == [old.id]
        assert await ids(workflow_id='sd15_txt2img') == [new.id, old.id]
        assert await ids(q='FOX') == [old.id]
        assert await ids(favorite='true') == []
        assert await ids(kind='input') == []
        assert (await http.post(f'/api/v1/images/{new.id}/favorite', json={'favorite': True})).json()['favorite']
        assert await ids(favorite='true') == [new.id]
        tagged = await http.put(f'/api/v1/images/{old.id}/tags', json={'tags': ['Winter', 'fox']})
        assert tagged.json()['tags'] == ['winter', 'fox']
        assert await ids(tag='winter') == [old.id]
        assert (await http.get(f'/api/v1/images/{old.id}')).json()['prompt'] == 'red fox'


@pytest.mark.parametrize(
    'params',
    [
        {'from_date': 'yesterday'},
        {'status': 'gone'},
        {'page': '0'},
        {'size': '1000'},
        {'favorite': 'maybe'},
        {'kind': '../x'},
        {'q': 'x' * 500},
    ],
)
async def test_bad_listing_parameters_answer_422(app: Services, params: dict) -> None:
    async with client_for(app) as http:
        assert (await http.get('/api/v1/images', params=params)).status_code == 422


async def test_delete_restore_bulk_and_zip(app: Services) -> None:
    async with client_for(app) as http:
        user = await identify(app, http)
        rows = [await add_image(app.images, user, created=DAY1 + timedelta(minutes=i)) for i in range(3)]
        deleted = (await http.post(f'/api/v1/images/{rows[0].id}/delete')).json()
        assert deleted['status'] == 'trash' and deleted['purge_at']
        assert (await http.post(f'/api/v1/images/{rows[0].id}/delete')).status_code == 404
        trash = (await http.get('/api/v1/images', params={'status': 'trash'})).json()
        assert [i['id'] for i in trash['items']] == [rows[0].id]
        assert (await http.post(f'/api/v1/images/{rows[0].id}/restore')).json()['status'] == 'active'
        bulk = await http.post('/api/v1/images/bulk', json={'action': 'delete', 'ids': [r.id for r in rows[:2]]})
        assert sorted(bulk.json()['changed']) == sorted(r.id for r in rows[:2])
        assert (await http.get('/api/v1/images')).json()['total'] == 1
        restored = await http.post('/api/v1/images/bulk', json={'action': 'restore', 'ids': [rows[0].id]})
        assert restored.json()['changed'] == [rows[0].id]
        assert (await http.post('/api/v1/images/bulk', json={'action': 'burn', 'ids': []})).status_code == 422
        answer = await http.post('/api/v1/images/zip', json={'ids': [r.id for r in rows]})
        assert answer.status_code == 200 and answer.headers['content-type'] == 'application/zip'
        assert len(zipfile.ZipFile(io.BytesIO(answer.content)).namelist()) == 3
        assert 'filename="images-20' in answer.headers['content-disposition']
        assert (await http.post('/api/v1/images/zip', json={'ids': []})).status_code == 422


async def test_inputs_upload_copy_list_delete_restore(app: Services) -> None:
    async with client_for(app) as http:
        user = await identify(app, http)
        generated = await add_image(app.images, user, created=DAY1)
        uploaded = await upload(http, png_bytes(20, 10), 'my photo.png')
        assert uploaded.status_code == 201, uploaded.text
        item = uploaded.json()
        assert len(item['id']) == 32 and item['kind'] == 'input' and item['original_filename'] == 'my photo.png'
        assert (await http.get(item['url'])).content == png_bytes(20, 10)
        copied = await http.post('/api/v1/inputs/copy', json={'image_id': generated.id})
        assert copied.status_code == 201 and copied.json()['sha256'] == generated.sha256
        listed = (await http.get('/api/v1/inputs')).json()
        assert {i['id'] for i in listed['items']} == {item['id'], copied.json()['id']}
        assert (await http.post(f'/api/v1/inputs/{generated.id}/delete')).status_code == 404
        assert (await http.post(f'/api/v1/inputs/{item["id"]}/delete')).json()['status'] == 'trash'
        assert (await http.get('/api/v1/inputs')).json()['total'] == 1
        assert (await http.post(f'/api/v1/inputs/{item["id"]}/restore')).json()['status'] == 'active'


@pytest.mark.parametrize(
    ('data', 'status', 'code'),
    [
        (b'just some text\n' * 20, 422, 'not_an_image'),
        (b'GIF89a' + png_bytes()[6:], 422, 'not_an_image'),
        (png_bytes() + b'\0' * 100_001, 413, 'too_large'),
        (bomb_png(), 422, 'bomb'),
    ],
)
async def test_upload_errors(app: Services, data: bytes, status: int, code: str) -> None:
    async with client_for(app) as http:
        answer = await upload(http, data)
        assert answer.status_code == status and answer.json()['detail']['code'] == code
        assert answer.json()['detail']['message']
        assert (await http.get('/api/v1/inputs')).json()['total'] == 0


async def test_upload_without_file_field_and_copy_with_junk_answer_4xx(app: Services) -> None:
    async with client_for(app) as http:
        assert (await http.post('/api/v1/inputs/upload', data={'x': '1'})).status_code == 422
        assert (await http.post('/api/v1/inputs/copy', json={'image_id': '../../etc'})).status_code == 404
        assert (await http.post('/api/v1/inputs/copy', content=b'{nope')).status_code == 422


async def test_quota_refuses_upload_and_generate(app: Services) -> None:
    app.settings.quota_max_images = 1
    async with client_for(app) as http:
        assert (await upload(http, png_bytes())).status_code == 201
        refused = await upload(http, png_bytes(color=(7, 7, 7)))
        assert refused.status_code == 403 and 'Delete at least 1 image' in refused.json()['detail']['message']
        job = await http.post('/api/v1/jobs', json={'workflow_id': 'test_pattern', 'params': {'prompt': 'x'}})
        assert job.status_code == 403 and job.json()['detail']['code'] == 'quota'


async def test_share_link_lifecycle_without_identity(app: Services) -> None:
    async with client_for(app) as owner, client_for(app) as stranger:
        user = await identify(app, owner)
        row = await add_image(app.images, user, created=DAY1)
        created = await owner.post(f'/api/v1/images/{row.id}/shares', json={'expires': '1h'})
        assert created.status_code == 201 and created.json()['state'] == 'active'
        link = created.json()
        shown = await stranger.get(link['url'])
        assert shown.status_code == 200 and shown.headers['content-type'].startswith('text/html')
        assert (await stranger.get(link['url'] + '/image')).content.startswith(b'\x89PNG')
        assert (await stranger.get(link['url'][:-2] + 'xx')).status_code == 404
        assert (await stranger.get('/s/not-a-token')).status_code == 404
        assert (await stranger.get('/s/not-a-token/image')).status_code == 404
        assert [s['id'] for s in (await owner.get(f'/api/v1/images/{row.id}/shares')).json()['items']] == [link['id']]
        assert (await stranger.post(f'/api/v1/shares/{link["id"]}/revoke')).status_code == 404
        assert (await stranger.get('/api/v1/shares')).json()['items'] == []
        revoked = await owner.post(f'/api/v1/shares/{link["id"]}/revoke')
        assert revoked.json()['state'] == 'revoked'
        gone = await stranger.get(link['url'])
        assert gone.status_code == 410 and 'turned off' in gone.text
        assert (await stranger.get(link['url'] + '/image')).status_code == 410
        assert (await owner.post(f'/api/v1/images/{row.id}/shares', json={'expires': '2y'})).status_code == 422


async def test_expired_share_link_answers_410(app: Services) -> None:
    async with client_for(app) as http:
        user = await identify(app, http)
        row = await add_image(app.images, user, created=DAY1)
        link = (await http.post(f'/api/v1/images/{row.id}/shares', json={'expires': '1d'})).json()
        past = datetime.now(UTC) - timedelta(seconds=1)
        await app.writer.write(lambda db: setattr(db.get(ShareLink, link['id']), 'expires_at', past))
        answer = await http.get(link['url'])
        assert answer.status_code == 410 and 'expired' in answer.text and '<html' in answer.text
        assert (await http.get('/api/v1/shares')).json()['items'][0]['state'] == 'expired'


async def test_other_users_ids_answer_404_everywhere(app: Services) -> None:
    async with client_for(app) as alice, client_for(app) as bob:
        owner = await identify(app, alice)
        await identify(app, bob)
        row = await add_image(app.images, owner, created=DAY1)
        uploaded = (await upload(alice, png_bytes())).json()
        link = (await alice.post(f'/api/v1/images/{row.id}/shares', json={})).json()
        for image_id in (row.id, uploaded['id']):
            for method, path, body in [
                ('GET', f'/api/v1/images/{image_id}', None),
                ('POST', f'/api/v1/images/{image_id}/delete', None),
                ('POST', f'/api/v1/images/{image_id}/restore', None),
                ('POST', f'/api/v1/images/{image_id}/favorite', {'favorite': True}),
                ('PUT', f'/api/v1/images/{image_id}/tags', {'tags': ['mine']}),
                ('POST', '/api/v1/images/zip', {'ids': [image_id]}),
                ('POST', '/api/v1/inputs/copy', {'image_id': image_id}),
                ('POST', f'/api/v1/inputs/{image_id}/delete', None),
                ('POST', f'/api/v1/inputs/{image_id}/restore', None),
                ('POST', f'/api/v1/images/{image_id}/shares', {'expires': '1h'}),
                ('GET', f'/api/v1/images/{image_id}/shares', None),
                ('POST', f'/api/v1/shares/{link["id"]}/revoke', None),
            ]:
                answer = await bob.request(method, path, json=body)
                assert answer.status_code == 404, (method, path, answer.text)
        bulk = await bob.post('/api/v1/images/bulk', json={'action': 'delete', 'ids': [row.id, uploaded['id']]})
        assert bulk.json()['changed'] == []
        assert (await bob.get(uploaded['url'])).status_code == 404
        assert (await bob.get('/api/v1/images', params={'kind': 'all'})).json()['total'] == 0
        assert (await bob.get('/api/v1/inputs')).json()['total'] == 0
        assert (await alice.get(f'/api/v1/images/{row.id}')).json()['status'] == 'active'
        assert (await alice.get(f'/api/v1/images/{row.id}')).json()['tags'] == []


async def test_generated_image_reaches_the_gallery(app: Services) -> None:
    async with client_for(app) as http:
        job = (
            await http.post('/api/v1/jobs', json={'workflow_id': 'test_pattern', 'params': {'prompt': 'x', 'seed': 1}})
        ).json()
        await wait_for(lambda: app.jobs.views[job['id']].finished)
        items = (await http.get('/api/v1/images')).json()['items']
        assert len(items) == 1 and items[0]['job_id'] == job['id']


async def test_download_is_named_from_date_workflow_and_prompt(app: Services) -> None:
    async with client_for(app) as http, client_for(app) as stranger:
        user = await identify(app, http)
        row = await add_image(app.images, user, created=DAY1, prompt='붉은 여우 in snow')
        answer = await http.get(f'/api/v1/images/{row.id}/download')
        assert answer.status_code == 200 and answer.content.startswith(b'\x89PNG')
        assert answer.headers['content-disposition'] == (
            'attachment; filename="20250301-100000_sd15_txt2img_in-snow.png"; '
            "filename*=UTF-8''20250301-100000_sd15_txt2img_%EB%B6%89%EC%9D%80-%EC%97%AC%EC%9A%B0-in-snow.png"
        )
        await identify(app, stranger)
        assert (await stranger.get(f'/api/v1/images/{row.id}/download')).status_code == 404
        assert (await http.get('/api/v1/images/' + 'f' * 32 + '/download')).status_code == 404


def png_with_graph(prompt: str) -> bytes:
    """A PNG carrying ComfyUI-style text chunks (the graph and the workflow)."""
    from PIL import Image as PILImage
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text('prompt', json.dumps({'3': {'inputs': {'text': prompt, 'seed': 42}}}))
    info.add_itxt('workflow', '{"nodes": []}')
    out = io.BytesIO()
    PILImage.new('RGB', (24, 16), (10, 20, 30)).save(out, format='PNG', pnginfo=info)
    return out.getvalue()


async def share_of(app: Services, http: httpx.AsyncClient, prompt: str, **body: object) -> tuple[str, bytes]:
    """Index a generated PNG with an embedded graph, share it and return the link path and the original bytes."""
    user = await identify(app, http)
    data = png_with_graph(prompt)
    stored = app.storage.save(owner=user, kind='generated', data=data, meta={'prompt': prompt}, created_at=DAY1)
    row = image_row(stored, prompt=prompt, workflow_id='sd15_txt2img')
    await app.writer.write(lambda db: db.add(row))
    link = (await http.post(f'/api/v1/images/{row.id}/shares', json={'expires': '1d', **body})).json()
    return link['url'], data


async def test_a_share_link_is_an_html_page_titled_from_the_prompt(app: Services) -> None:
    async with client_for(app) as owner, client_for(app) as stranger:
        url, _ = await share_of(app, owner, 'A <red> fox in the snow')
        page = await stranger.get(url)
        token = url.rsplit('/', 1)[1]
        assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
        assert '<title>A &lt;red&gt; fox in the snow</title>' in page.text and f'<title>{token}' not in page.text
        assert '<meta property="og:title" content="A &lt;red&gt; fox in the snow">' in page.text
        assert f'<meta property="og:image" content="http://test{url}/image">' in page.text
        assert f'<img src="{url}/image"' in page.text


async def test_unknown_and_expired_links_get_a_friendly_page_in_the_visitors_language(app: Services) -> None:
    async with client_for(app) as http:
        unknown = await http.get('/s/not-a-token', headers={'Accept-Language': 'ko-KR,ko;q=0.9'})
        assert unknown.status_code == 404 and unknown.headers['content-type'].startswith('text/html')
        assert '공유 링크' in unknown.text and '"detail"' not in unknown.text


async def test_a_share_serves_a_copy_without_the_embedded_graph_by_default(app: Services) -> None:
    async with client_for(app) as owner, client_for(app) as stranger:
        url, original = await share_of(app, owner, 'secret prompt words')
        assert b'secret prompt words' in original
        served = (await stranger.get(url + '/image')).content
        assert served.startswith(b'\x89PNG') and b'secret prompt words' not in served and b'workflow' not in served
        assert (await stranger.get(url + '/image')).content == served  # the cached copy
        kept_url, _ = await share_of(app, owner, 'open prompt words', strip_metadata=False)
        assert (await stranger.get(kept_url + '/image')).content == png_with_graph('open prompt words')
        links = (await owner.get('/api/v1/shares')).json()['items']
        assert sorted(link['strip_metadata'] for link in links) == [False, True]
