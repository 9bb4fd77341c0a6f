"""The beta gate: nothing but the login page answers until the password was accepted."""

from __future__ import annotations

import logging

import httpx
import pytest
from nicegui import Client
from nicegui.testing import User

from tests.pages.conftest import BETA_PASSWORD
from vcc_ui.services import Services

HTML = {'Accept': 'text/html,application/xhtml+xml'}
pytestmark = pytest.mark.beta_password(BETA_PASSWORD)


async def log_in(user: User, password: str = BETA_PASSWORD, next: str = '/') -> httpx.Response:
    """Post the login form as a browser does; on success open the page it leads to."""
    answer = await user.http_client.post('/beta-login', data={'password': password, 'next': next}, headers=HTML)
    if answer.status_code == 303:
        await user.open(answer.headers['location'])
    return answer


async def test_a_locked_browser_is_sent_to_the_login_page(user: User) -> None:
    for path, target in [('/', '/beta-login?next=/'), ('/gallery?page=2', '/beta-login?next=/gallery%3Fpage%3D2')]:
        answer = await user.http_client.get(path, headers=HTML)
        assert answer.status_code == 303 and answer.headers['location'] == target
    page = await user.http_client.get('/beta-login?next=/gallery', headers=HTML)
    assert page.status_code == 200 and 'name="password"' in page.text and 'value="/gallery"' in page.text


@pytest.mark.parametrize(
    ('method', 'path'),
    [
        ('GET', '/api/v1/jobs'),
        ('POST', '/api/v1/jobs'),
        ('GET', '/outputs/users/anon-x/generated/a.png'),
        ('GET', '/'),
        ('GET', '/docs'),
        ('POST', '/_nicegui/client/0123/upload/5'),
        ('GET', '/_nicegui/auto/static/x'),
    ],
)
async def test_locked_requests_answer_401_json(user: User, method: str, path: str) -> None:
    answer = await user.http_client.request(method, path)
    assert answer.status_code == 401
    assert answer.json()['detail']['code'] == 'beta_locked'
    assert 'vcc_anon' not in answer.cookies  # the gate answers before anything else runs


async def test_the_login_page_builds_no_nicegui_client_and_no_socket_opens_while_locked(user: User) -> None:
    clients = set(Client.instances)
    page = await user.http_client.get('/beta-login', headers=HTML)
    assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
    assert set(Client.instances) == clients and '_nicegui' not in page.text
    polling = '/_nicegui_ws/socket.io/?EIO=4&transport=polling'
    for client_id in [*clients, '00000000-0000-4000-8000-000000000000', '']:
        assert (await user.http_client.get(f'{polling}&client_id={client_id}')).status_code == 401
    await log_in(user)
    assert (await user.http_client.get(polling)).status_code == 200  # the password opens it


async def test_a_wrong_password_shows_an_error_and_unlocks_nothing(user: User) -> None:
    answer = await log_in(user, 'not it')
    assert answer.status_code == 401 and 'Wrong password. Please try again.' in answer.text
    assert 'name="password"' in answer.text
    assert (await user.http_client.get('/api/v1/jobs')).status_code == 401


async def test_the_right_password_opens_the_requested_page(user: User) -> None:
    await log_in(user, next='/gallery')
    await user.should_see(marker='images-empty')
    await user.should_see(marker='nav-nav_generate')
    assert (await user.http_client.get('/api/v1/jobs')).status_code == 200
    await user.open('/')  # the cookie keeps the browser in
    await user.should_see(marker='nav-nav_inputs')


async def test_the_login_page_speaks_korean_to_a_korean_browser_and_switches(user: User) -> None:
    user.http_client.headers['Accept-Language'] = 'ko-KR,ko;q=0.9,en;q=0.8'
    answer = await log_in(user, 'not it')
    assert '비밀번호가 틀렸습니다. 다시 입력하세요.' in answer.text and '<html lang="ko">' in answer.text
    english = await user.http_client.get('/beta-login?next=/gallery&lang=en', headers=HTML)
    assert 'Beta access' in english.text and english.cookies['vcc_lang'] == 'en'
    assert 'Wrong password' in (await log_in(user, 'still not')).text  # the choice is remembered


async def test_scripts_log_in_with_a_form_post(user: User) -> None:
    wrong = await user.http_client.post('/beta-login', data={'password': 'nope'})
    assert wrong.status_code == 401 and wrong.json()['detail']['code'] == 'wrong_password'
    answer = await user.http_client.post('/beta-login', data={'password': BETA_PASSWORD, 'next': '/inputs'})
    assert answer.status_code == 303 and answer.headers['location'] == '/inputs'
    cookie = next(h for h in answer.headers.get_list('set-cookie') if h.startswith('vcc_beta='))
    assert 'HttpOnly' in cookie and 'SameSite=lax' in cookie and 'Max-Age=2592000' in cookie
    assert 'Secure' not in cookie
    assert (await user.http_client.get('/api/v1/jobs')).status_code == 200


@pytest.mark.app_env(COOKIE_SECURE='true')
async def test_the_cookie_is_secure_when_asked(user: User) -> None:
    answer = await user.http_client.post('/beta-login', data={'password': BETA_PASSWORD})
    cookie = next(h for h in answer.headers.get_list('set-cookie') if h.startswith('vcc_beta='))
    assert 'Secure' in cookie


async def test_next_never_leaves_the_site(user: User) -> None:
    for target in ['//evil.example/x', 'https://evil.example/', '/\\evil.example']:
        user.http_client.cookies.clear()
        answer = await user.http_client.post('/beta-login', data={'password': BETA_PASSWORD, 'next': target})
        assert answer.headers['location'] == '/'


async def test_ten_wrong_passwords_a_minute_then_429(user: User) -> None:
    for _ in range(11):  # the budget, then one check per interval
        assert (await user.http_client.post('/beta-login', data={'password': 'guess'})).status_code == 401
    limited = await user.http_client.post('/beta-login', data={'password': BETA_PASSWORD})
    assert limited.status_code == 429 and limited.json()['detail']['code'] == 'rate_limited'
    assert 1 <= int(limited.headers['Retry-After']) <= 60
    assert 'vcc_beta' not in limited.cookies
    page = await log_in(user)  # a browser gets the page back with the reason
    assert page.status_code == 429 and 'Too many wrong attempts' in page.text and 'vcc_beta' not in page.cookies


@pytest.mark.beta_password('')
async def test_without_a_password_the_gate_is_off_and_the_log_says_so(
    user: User, caplog: pytest.LogCaptureFixture
) -> None:
    await user.open('/')
    await user.should_see(marker='nav-nav_generate')
    assert (await user.http_client.get('/api/v1/jobs')).status_code == 200
    answer = await user.http_client.get('/beta-login')
    assert answer.status_code == 303 and answer.headers['location'] == '/'
    warnings = [r.getMessage() for r in caplog.get_records('setup') if r.levelno == logging.WARNING]
    assert any('BETA_PASSWORD is not set' in message for message in warnings)


async def test_a_share_link_opens_without_the_password(user: User, services: Services) -> None:
    from tests.images import png_bytes

    await services.ready.wait()
    owner = 'anon-' + 'd' * 32
    image = await services.images.upload_input(owner, png_bytes(), 'cat.png')
    link = await services.shares.create(owner, image.id, '1h')
    answer = await user.http_client.get(services.shares.url(link))
    assert answer.status_code == 200 and answer.headers['content-type'].startswith('text/html')
    image_answer = await user.http_client.get(services.shares.url(link) + '/image')
    assert image_answer.status_code == 200 and image_answer.headers['content-type'].startswith('image/')
    assert (await user.http_client.get('/s/forged-token')).status_code == 404


@pytest.mark.app_env(COOKIE_SECURE='true')
@pytest.mark.beta_password('')
async def test_nicegui_session_cookie_is_secure_when_asked(user: User) -> None:
    answer = await user.http_client.get('/')
    cookie = next(h for h in answer.headers.get_list('set-cookie') if h.startswith('session='))
    assert 'secure' in cookie.lower() and 'httponly' in cookie.lower()


async def test_unknown_paths_answer_a_plain_404_without_a_page_or_a_user(user: User, services: Services) -> None:
    from nicegui import Client
    from sqlmodel import Session, func, select

    from vcc_ui.models import User as UserRow

    await services.ready.wait()
    clients = len(Client.instances)
    for path in ['/s/a/b', '/s/x/y/z', '/nope', '/admin/nope/deeper']:
        answer = await user.http_client.get(path, headers=HTML)
        assert answer.status_code in {303, 404} and 'text/html' not in answer.headers.get('content-type', '')
        assert 'vcc_anon' not in answer.cookies, path
        assert answer.status_code == 303 or path.startswith('/s/')  # only share links pass the locked gate
    await log_in(user)
    await user.should_see(marker='nav-nav_generate')
    clients = len(Client.instances)
    await services.writer.write(lambda db: None)  # the signed-in user's row is committed before it is counted
    with Session(services.engine) as db:
        users = db.exec(select(func.count()).select_from(UserRow)).one()
    for path in ['/s/a/b', '/nope', '/gallery/x']:
        answer = await user.http_client.get(path, headers=HTML)
        assert answer.status_code == 404 and answer.headers['content-type'].startswith('application/json'), path
    assert len(Client.instances) == clients
    await services.writer.write(lambda db: None)
    with Session(services.engine) as db:
        assert db.exec(select(func.count()).select_from(UserRow)).one() == users


async def test_only_a_browser_that_passed_the_gate_becomes_a_user(user: User, services: Services) -> None:
    from tests.images import png_bytes

    await services.ready.wait()
    owner = 'anon-' + 'e' * 32
    image = await services.images.upload_input(owner, png_bytes(), 'cat.png')
    link = services.shares.url(await services.shares.create(owner, image.id, '1h'))
    for _ in range(2):  # the second visit carries the identity cookie the first one was given
        assert (await user.http_client.get(link)).status_code == 200
    assert (await user.http_client.get('/gallery', headers=HTML)).status_code == 303
    assert (await user.http_client.get('/beta-login', headers=HTML)).status_code == 200
    await services.writer.write(lambda db: None)  # every pending touch is committed
    visitors = [u.id for u in await services.admin_data.users() if u.id != owner]
    assert visitors == []  # a share link visitor, a redirect to the login page and the login page make no user

    assert (await log_in(user)).status_code == 303
    await user.should_see(marker='nav-nav_gallery')
    await services.writer.write(lambda db: None)
    assert [u.id for u in await services.admin_data.users() if u.id != owner] == [user.client.request.state.user]
