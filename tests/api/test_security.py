"""Web security over ASGI: the gate, login limits, sessions, origins, headers and body limits, on real services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures import make_settings, services, simulator
from vcc_ui.services import Services, auth
from vcc_ui.web.app import install

BETA = 'open sesame'
ADMIN = ('admin', 's3cret-admin')
JSON = {'content-type': 'application/json'}


@pytest.fixture(autouse=True)
def no_login_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrong passwords answer at once in these tests."""
    monkeypatch.setattr(auth, 'WRONG_PASSWORD_DELAY', 0.0)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Services]:
    settings = make_settings(tmp_path, beta_password=BETA, admin_password=ADMIN[1])
    async with simulator(tmp_path) as sim:
        settings.comfyui_servers = sim.url
        async with services(settings) as running:
            yield running


def client_for(app: Services, ip: str = '203.0.113.7') -> httpx.AsyncClient:
    web = FastAPI()
    install(web, app)
    transport = httpx.ASGITransport(app=web, client=(ip, 4711))
    return httpx.AsyncClient(transport=transport, base_url='http://test')


async def test_admin_basic_credentials_pass_the_beta_gate(app: Services) -> None:
    async with client_for(app) as http:
        assert (await http.get('/api/v1/admin/users', auth=ADMIN)).status_code == 200
        wrong = await http.get('/api/v1/admin/users', auth=('admin', 'nope'))
        assert wrong.status_code == 401 and wrong.json()['detail']['code'] == 'beta_locked'
        assert (await http.get('/api/v1/jobs', auth=('admin', 'nope'))).status_code == 401


async def test_typos_behind_one_address_do_not_lock_out_the_right_password(app: Services) -> None:
    async with client_for(app) as office:
        for _ in range(10):
            assert (await office.post('/beta-login', data={'password': 'typo'})).status_code == 401
        answer = await office.post('/beta-login', data={'password': BETA})
        assert answer.status_code == 303 and 'vcc_beta' in answer.cookies


async def test_a_brute_force_stays_slowed_to_a_few_tries_a_minute(app: Services) -> None:
    async with client_for(app) as attacker:
        statuses = [(await attacker.post('/beta-login', data={'password': f'guess{n}'})).status_code for n in range(30)]
        assert statuses.count(401) <= 11 and statuses[-1] == 429
        for _ in range(10):
            await attacker.get('/api/v1/admin/users', auth=('admin', 'nope'))
        refused = await attacker.get('/api/v1/admin/users', auth=('admin', 'nope'))
        assert refused.status_code == 429


async def test_admin_typos_do_not_lock_out_the_admin(app: Services) -> None:
    async with client_for(app) as office:
        for _ in range(5):
            assert (await office.get('/api/v1/admin/users', auth=('admin', 'typo'))).status_code == 401
        assert (await office.get('/api/v1/admin/users', auth=ADMIN)).status_code == 200


@pytest.fixture
async def open_app(tmp_path: Path) -> AsyncIterator[Services]:
    """The app without the beta gate, admin on."""
    async with (
        simulator(tmp_path) as sim,
        services(make_settings(tmp_path, sim.url, admin_password=ADMIN[1])) as running,
    ):
        yield running


@pytest.mark.parametrize('header', ['Origin', 'Referer'])
async def test_state_changing_requests_from_another_site_are_refused(open_app: Services, header: str) -> None:
    from tests.images import png_bytes

    evil = {header: 'http://evil.example' + ('/page' if header == 'Referer' else '')}
    async with client_for(open_app) as http:
        for answer in [
            await http.post('/api/v1/jobs/' + 'f' * 32 + '/cancel', headers=evil),
            await http.post('/api/v1/inputs/upload', files={'file': ('a.png', png_bytes(), 'image/png')}, headers=evil),
            await http.post('/api/v1/jobs', json={'workflow_id': 'test_pattern', 'params': {}}, headers=evil),
            await http.delete('/api/v1/images/' + 'f' * 32, headers=evil),
        ]:
            assert answer.status_code == 403 and answer.json()['detail']['code'] == 'cross_origin', answer.text
        assert (await http.get('/api/v1/inputs')).json()['items'] == []
        mine = {header: 'http://test' + ('/gallery' if header == 'Referer' else '')}
        upload = await http.post(
            '/api/v1/inputs/upload', files={'file': ('a.png', png_bytes(), 'image/png')}, headers=mine
        )
        assert upload.status_code == 201, upload.text


async def test_scripts_without_origin_pass(open_app: Services) -> None:
    async with client_for(open_app) as http:
        assert (await http.post('/api/v1/jobs/' + 'f' * 32 + '/cancel')).status_code == 404
        assert (await http.post('/api/v1/admin/purge-trash', json={'dry_run': True}, auth=ADMIN)).status_code == 200


async def test_every_answer_carries_the_security_headers(open_app: Services) -> None:
    async with client_for(open_app) as http:
        for answer in [await http.get('/api/v1/jobs'), await http.get('/healthz'), await http.get('/nope')]:
            assert answer.headers['x-content-type-options'] == 'nosniff'
            assert "frame-ancestors 'none'" in answer.headers['content-security-policy']
            assert answer.headers['referrer-policy'] == 'same-origin'
            assert 'strict-transport-security' not in answer.headers


async def test_hsts_when_cookies_are_secure(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url, cookie_secure=True)) as app:
        async with client_for(app) as http:
            assert 'max-age=' in (await http.get('/api/v1/jobs')).headers['strict-transport-security']


async def test_healthz_tells_details_only_to_admins(open_app: Services) -> None:
    async with client_for(open_app) as http:
        public = await http.get('/healthz')
        assert public.status_code == 200 and public.json() == {'ok': True, 'status': 'ok', 'checks': {}}
        detailed = (await http.get('/healthz', auth=ADMIN)).json()
        assert detailed['checks']['db']['ok'] and detailed['checks']['comfyui']['ok']


async def test_bodies_stop_at_the_limit(open_app: Services) -> None:
    sent: list[int] = []

    async def endless(chunk: bytes, count: int) -> AsyncIterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        for n in range(count):
            sent.append(n)
            yield chunk

    async with client_for(open_app) as http:
        big = await http.post('/api/v1/jobs', content=b'[' + b'1,' * 1_000_000 + b'1]', headers=JSON)
        assert big.status_code == 413 and big.json()['detail']['code'] == 'too_large'
        chunked = await http.post('/api/v1/jobs', content=endless(b' ' * 65536, 10_000), headers=JSON)
        assert chunked.status_code == 413 and len(sent) < 100
        sent.clear()
        declared = {'content-type': 'multipart/form-data; boundary=x', 'content-length': str(1 << 30)}
        upload = await http.post('/api/v1/inputs/upload', content=endless(b'x' * 65536, 16384), headers=declared)
        assert upload.status_code == 413 and len(sent) < 5
        sent.clear()
        streamed = await http.post(
            '/api/v1/inputs/upload',
            content=endless(b'x' * 65536, 16384),
            headers={'content-type': 'multipart/form-data; boundary=x'},
        )
        assert streamed.status_code == 413 and len(sent) < 400  # CONTROLS_MAX_BYTES is 10 MiB
        assert (await http.get('/api/v1/inputs')).json()['items'] == []


async def test_an_admin_cookie_stops_working_after_logout(app: Services) -> None:
    async with client_for(app) as browser:
        await browser.post('/beta-login', data={'password': BETA})
        answer = await browser.post('/admin/login', data={'user': ADMIN[0], 'password': ADMIN[1]})
        cookie = answer.cookies['vcc_admin']
        assert (await browser.get('/api/v1/admin/users')).status_code == 200
        await browser.get('/admin/logout')
    async with client_for(app) as copy:  # someone who kept a copy of the cookie
        copy.cookies.set('vcc_admin', cookie)
        copy.cookies.set('vcc_beta', browser.cookies['vcc_beta'])
        assert (await copy.get('/api/v1/admin/users')).status_code == 401


async def test_sign_out_all_beta_testers_ends_every_beta_cookie(app: Services) -> None:
    async with client_for(app) as tester, client_for(app) as admin:
        assert (await tester.post('/beta-login', data={'password': BETA})).status_code == 303
        assert (await tester.get('/api/v1/jobs')).status_code == 200
        answer = await admin.post('/api/v1/admin/beta-sessions/revoke', auth=ADMIN)
        assert answer.status_code == 200 and answer.json()['revoked'] >= 1
        assert (await tester.get('/api/v1/jobs')).status_code == 401
        assert (
            await tester.post('/beta-login', data={'password': BETA})
        ).status_code == 303  # the password still works
        assert (await tester.get('/api/v1/jobs')).status_code == 200
