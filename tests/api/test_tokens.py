"""Personal API tokens over a real uvicorn on loopback: made, used, revoked, hashed at rest, never logged."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlmodel import select

from tests.fixtures import make_settings, services, simulator, wait_for
from tests.live_server import served
from vcc_ui.logs import JsonFormatter
from vcc_ui.models import ApiToken
from vcc_ui.services import Services, auth
from vcc_ui.services.dbwriter import read
from vcc_ui.services.tokens import CREATE_LIMIT

pytestmark = pytest.mark.asyncio(loop_scope='module')

BETA = 'open sesame'
ADMIN = ('admin', 's3cret-admin')
JOB = {'workflow_id': 'test_pattern', 'params': {'prompt': 'a token job', 'seed': 3}}


@pytest_asyncio.fixture(scope='module', loop_scope='module')
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Services, str]]:
    """One simulator, app and uvicorn for the module; every test uses fresh browsers (new anonymous ids)."""
    tmp = tmp_path_factory.mktemp('tokens')
    auth.WRONG_PASSWORD_DELAY, delay = 0.0, auth.WRONG_PASSWORD_DELAY
    settings = make_settings(tmp, beta_password=BETA, admin_password=ADMIN[1], max_new_ids_per_source=0)
    try:
        async with simulator(tmp) as sim:
            settings.comfyui_servers = sim.url
            async with services(settings) as app, served(app) as url:
                yield app, url
    finally:
        auth.WRONG_PASSWORD_DELAY = delay


@asynccontextmanager
async def browser(url: str, *, admin: bool = False) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in beta tester's browser (and the admin's, with `admin`): a cookie jar."""
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.post('/beta-login', data={'password': BETA})).status_code == 303
        if admin:
            login = await client.post('/admin/login', data={'user': ADMIN[0], 'password': ADMIN[1]})
            assert login.status_code == 303
        yield client


def script(url: str, token: str) -> httpx.AsyncClient:
    """A script without cookies that sends the token."""
    return httpx.AsyncClient(base_url=url, headers={'Authorization': f'Bearer {token}'})


def secret_of(token: str) -> str:
    """The secret part of a token (after `vcc_<id>_`), which nothing may store or log."""
    assert len(token) == 4 + 16 + 1 + 43
    return token[21:]


async def make_token(client: httpx.AsyncClient, name: str = 'ci', **body: object) -> dict:
    answer = await client.post('/api/v1/tokens', json={'name': name, **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_a_token_acts_as_its_user_without_the_beta_cookie(stack: tuple[Services, str]) -> None:
    app, url = stack
    async with browser(url) as tester, httpx.AsyncClient(base_url=url) as stranger:
        made = await make_token(tester, 'nightly batch', expires_in_days=30)
        owner = app.identity.read(tester.cookies['vcc_anon'])
        token = made['token']
        assert token.startswith(f'vcc_{made["id"]}_') and made['hint'] == f'vcc_{made["id"]}_…'
        assert made['expires_at'] and made['last_used_at'] is None and not made['admin']
        assert (await stranger.get('/api/v1/jobs')).status_code == 401  # no cookie, no token: the gate
        async with script(url, token) as bot:
            submitted = await bot.post('/api/v1/jobs', json=JOB)
            assert submitted.status_code == 201, submitted.text
            job = submitted.json()
            assert job['owner'] == owner and 'vcc_anon' not in submitted.cookies  # its user, and no id minted
            await wait_for(lambda: app.jobs.views[job['id']].finished)
            done = (await bot.get(f'/api/v1/jobs/{job["id"]}')).json()
            assert done['status'] == 'completed'
            image = (await bot.get('/api/v1/images')).json()['items'][0]
            assert (await bot.get(image['url'])).content.startswith(b'\x89PNG')  # its files too (/outputs)
        mine = (await tester.get('/api/v1/jobs')).json()['items']
        assert [j['id'] for j in mine] == [job['id']]  # the browser sees the script's job as its own
        listed = (await tester.get('/api/v1/tokens')).json()['items']
        assert [t['id'] for t in listed] == [made['id']] and listed[0]['last_used_at']
        assert 'token' not in listed[0] and token not in str(listed)  # shown once: never listed


async def test_tokens_are_stored_hashed(stack: tuple[Services, str]) -> None:
    app, url = stack
    async with browser(url) as tester:
        made = await make_token(tester)
    row = read(app.engine, lambda db: db.exec(select(ApiToken).where(ApiToken.id == made['id'])).one())
    assert row.digest == hashlib.sha256(made['token'].encode()).hexdigest()
    secret = secret_of(made['token']).encode()
    folder = Path(app.settings.job_db_path).parent
    stored = b''.join(path.read_bytes() for path in folder.iterdir() if path.name.startswith('app.db'))
    assert row.digest.encode() in stored  # the database files were read: the hash is there ...
    assert secret not in stored  # ... and the secret is not


async def test_revoked_expired_and_unknown_tokens_get_401_never_the_cookie(stack: tuple[Services, str]) -> None:
    app, url = stack
    async with browser(url) as tester:
        revoked = await make_token(tester, 'old')
        expiring = await make_token(tester, 'short', expires_in_days=1)
        answer = await tester.delete(f'/api/v1/tokens/{revoked["id"]}')
        assert answer.status_code == 200 and answer.json()['id'] == revoked['id']
        assert (await tester.delete(f'/api/v1/tokens/{revoked["id"]}')).status_code == 404
        unknown = f'vcc_{"0" * 16}_{secrets.token_urlsafe(32)}'
        app.tokens.clock, clock = (lambda: clock() + timedelta(days=2)), app.tokens.clock
        try:
            cases = [
                (revoked['token'], 'token_revoked'),
                (expiring['token'], 'token_expired'),
                (unknown, 'token_unknown'),
                ('not-a-token', 'token_malformed'),
            ]
            for token, code in cases:
                # the browser's valid beta cookie rides along: the token alone decides, and it does not work
                answer = await tester.get('/api/v1/jobs', headers={'Authorization': f'Bearer {token}'})
                assert answer.status_code == 401 and answer.json()['detail']['code'] == code, (code, answer.text)
                assert answer.headers['www-authenticate'] == 'Bearer error="invalid_token"'
        finally:
            app.tokens.clock = clock
        korean = await tester.get('/api/v1/jobs', headers={'Authorization': 'Bearer x', 'Accept-Language': 'ko'})
        assert korean.json()['detail']['message'].startswith('Authorization 헤더에 VCC UI 토큰이 없습니다')
        listed = [t['id'] for t in (await tester.get('/api/v1/tokens')).json()['items']]
        assert listed == [expiring['id']]  # a revoked token leaves the list
        async with script(url, expiring['token']) as bot:
            assert (await bot.get('/api/v1/jobs')).status_code == 200  # not expired yet


async def test_admin_tokens_reach_the_admin_api_and_others_do_not(stack: tuple[Services, str]) -> None:
    _, url = stack
    async with browser(url, admin=True) as admin, browser(url) as tester:
        admin_token = (await make_token(admin, 'ops', admin=True))['token']
        plain_admin_token = (await make_token(admin, 'plain'))['token']
        beta_token = (await make_token(tester, 'beta'))['token']
        refused = await tester.post('/api/v1/tokens', json={'name': 'sneaky', 'admin': True})
        assert refused.status_code == 403 and refused.json()['detail']['code'] == 'admin_required'
        async with script(url, admin_token) as bot:
            assert (await bot.get('/api/v1/admin/users')).status_code == 200
        for token in (beta_token, plain_admin_token):
            async with script(url, token) as bot:
                answer = await bot.get('/api/v1/admin/users')
                assert answer.status_code == 403 and answer.json()['detail']['code'] == 'admin_required'
        # a beta token next to the admin's own session cookie: the token decides
        answer = await admin.get('/api/v1/admin/users', headers={'Authorization': f'Bearer {beta_token}'})
        assert answer.status_code == 403


async def test_tokens_cannot_make_tokens_and_making_them_is_capped(stack: tuple[Services, str]) -> None:
    _, url = stack
    async with browser(url) as tester:
        token = (await make_token(tester))['token']
        async with script(url, token) as bot:
            answer = await bot.post('/api/v1/tokens', json={'name': 'child'})
            assert answer.status_code == 403 and answer.json()['detail']['code'] == 'token_by_token'
            assert (await bot.get('/api/v1/tokens')).status_code == 200
        for name in range(CREATE_LIMIT - 1):
            await make_token(tester, f'n{name}')
        answer = await tester.post('/api/v1/tokens', json={'name': 'one too many'})
        assert answer.status_code == 429 and answer.json()['detail']['code'] == 'limit'
        bad = await tester.post('/api/v1/tokens', json={'name': '   '})
        assert bad.status_code == 422 and bad.json()['detail']['message'] == 'Give the token a name.'
        assert len((await tester.get('/api/v1/tokens')).json()['items']) == CREATE_LIMIT


async def test_bearer_requests_need_no_origin_check_cookie_requests_keep_it(stack: tuple[Services, str]) -> None:
    _, url = stack
    elsewhere = {'Origin': 'https://evil.example'}
    async with browser(url) as tester:
        token = (await make_token(tester))['token']
        refused = await tester.post('/api/v1/jobs', json=JOB, headers=elsewhere)
        assert refused.status_code == 403 and refused.json()['detail']['code'] == 'cross_origin'
        async with script(url, token) as bot:
            assert (await bot.post('/api/v1/jobs', json=JOB, headers=elsewhere)).status_code == 201


async def test_the_secret_never_appears_in_the_logs(
    stack: tuple[Services, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, url = stack
    caplog.set_level(logging.DEBUG)
    async with browser(url) as tester:
        made = await make_token(tester, 'logged?')
        async with script(url, made['token']) as bot:
            assert (await bot.get('/api/v1/jobs')).status_code == 200
            assert (await bot.post('/api/v1/jobs', json=JOB)).status_code == 201
        assert (await tester.delete(f'/api/v1/tokens/{made["id"]}')).status_code == 200
        async with script(url, made['token']) as bot:
            assert (await bot.get('/api/v1/jobs')).status_code == 401
    events = [record.getMessage() for record in caplog.records]
    assert any('"GET /api/v1/jobs HTTP/1.1" 401' in event for event in events)  # access lines were captured
    assert 'api token created' in events and any(event.startswith('refused an API token') for event in events)
    lines = [JsonFormatter().format(record) for record in caplog.records]  # the app's log lines, extras included
    secret = secret_of(made['token'])
    assert not [line for line in lines if secret in line or made['token'] in line]
