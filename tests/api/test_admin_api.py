"""Admin API security: every admin route of the running app refuses non-admins; Basic auth works for scripts."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from nicegui import app
from nicegui.testing import User

from tests.fixtures import USER_A, simulator, wait_for
from tests.images import png_bytes
from tests.pages.conftest import app_env, sim  # noqa: F401 (the page tests' app configuration)
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_API_PREFIX, ADMIN_COOKIE, ADMIN_OPEN_PATHS, ADMIN_PAGE_PREFIX

PASSWORD = 's3cret-admin'
AUTH = ('admin', PASSWORD)
pytestmark = pytest.mark.app_env(ADMIN_PASSWORD=PASSWORD)


@pytest.fixture
def services(user: User) -> Services:
    """The services of the app the `user` fixture runs."""
    return app.state.services


def flat_routes() -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route of the app, also inside included routers (FastAPI >= 0.165 nests them)."""
    for route in app.routes:
        if hasattr(route, 'effective_route_contexts'):
            for context in route.effective_route_contexts():
                yield context.path, set(getattr(context.original_route, 'methods', None) or {'GET'})
        else:
            yield getattr(route, 'path', ''), set(getattr(route, 'methods', None) or {'GET'})


def admin_routes() -> list[tuple[str, str]]:
    """Every (method, path) under /api/v1/admin and /admin that the running app serves, login routes excepted."""
    found = []
    for path, methods in flat_routes():
        if (
            not (
                path.startswith(ADMIN_API_PREFIX)
                or path == ADMIN_PAGE_PREFIX
                or path.startswith(ADMIN_PAGE_PREFIX + '/')
            )
            or path in ADMIN_OPEN_PATHS
        ):
            continue
        found += [(method, re.sub(r'\{[^}:]+(:path)?\}', '1', path)) for method in sorted(methods - {'HEAD'})]
    return found


async def test_every_admin_route_refuses_a_non_admin(user: User) -> None:
    await user.open('/')  # a browser with an anonymous id, not an admin
    routes = admin_routes()
    assert ('GET', f'{ADMIN_API_PREFIX}/servers') in routes and ('POST', f'{ADMIN_API_PREFIX}/purge-trash') in routes
    assert len(routes) >= 12, routes  # the enumeration really found the admin API
    for method, path in routes:
        answer = await user.http_client.request(method, path, json={})
        assert answer.status_code in {401, 403}, (method, path, answer.status_code)
        assert answer.headers.get('www-authenticate', '').startswith('Basic'), (method, path)
        wrong = await user.http_client.request(method, path, json={}, auth=('admin', 'wrong'))
        assert wrong.status_code in {401, 403, 429}, (method, path, wrong.status_code)


async def test_a_forged_or_foreign_cookie_is_not_an_admin_session(user: User, services: Services) -> None:
    for value in ['x', services.gate.cookie_value(), services.identity.cookie_for(USER_A)]:
        user.http_client.cookies.set(ADMIN_COOKIE, value)
        assert (await user.http_client.get(f'{ADMIN_API_PREFIX}/users')).status_code == 401


async def test_scripts_use_basic_auth(user: User, services: Services, tmp_path) -> None:
    await services.images.upload_input(USER_A, png_bytes(), 'a.png')
    http = user.http_client
    users = (await http.get(f'{ADMIN_API_PREFIX}/users', auth=AUTH)).json()['items']
    assert [u['id'] for u in users] == [USER_A] and users[0]['images'] == 1
    images = (
        await http.get(f'{ADMIN_API_PREFIX}/images', params={'user_id': USER_A, 'include': 'all'}, auth=AUTH)
    ).json()
    assert images['total'] == 1 and images['items'][0]['owner'] == USER_A
    image_id = images['items'][0]['id']
    thumb = await http.get(images['items'][0]['admin_thumb_url'], auth=AUTH)
    assert thumb.status_code == 200 and thumb.headers['content-type'].startswith('image/')
    assert (await http.post(f'{ADMIN_API_PREFIX}/images/{image_id}/delete', auth=AUTH)).json()['status'] == 'trash'
    dry = (
        await http.post(f'{ADMIN_API_PREFIX}/purge-trash', json={'older_than_days': 0, 'dry_run': True}, auth=AUTH)
    ).json()
    assert dry['images'] == 1 and dry['bytes'] > 0
    assert (await http.post(f'{ADMIN_API_PREFIX}/images/{image_id}/restore', auth=AUTH)).json()['status'] == 'active'
    gone = (await http.post(f'{ADMIN_API_PREFIX}/purge-trash', json={'older_than_days': 0}, auth=AUTH)).json()
    assert gone['images'] == 0  # restored, so nothing to purge

    blocked = await http.patch(
        f'{ADMIN_API_PREFIX}/users/{USER_A}', json={'blocked': True, 'quota_max_images': 5}, auth=AUTH
    )
    assert blocked.json()['blocked'] is True and blocked.json()['max_images'] == 5
    http.cookies.set('vcc_anon', services.identity.cookie_for(USER_A))
    refused = await http.post('/api/v1/inputs/upload', files={'file': ('b.png', png_bytes(), 'image/png')})
    assert refused.status_code == 403 and refused.json()['detail']['code'] == 'blocked'

    async with simulator(tmp_path, 'extra') as extra:
        tested = (await http.post(f'{ADMIN_API_PREFIX}/servers/test', json={'url': extra.url}, auth=AUTH)).json()
        assert tested['reachable'] is True and tested['devices']
        added = await http.post(f'{ADMIN_API_PREFIX}/servers', json={'name': 'extra', 'url': extra.url}, auth=AUTH)
        assert added.status_code == 201, added.text
        server_id = added.json()['id']
        duplicate = await http.post(f'{ADMIN_API_PREFIX}/servers', json={'name': 'x', 'url': extra.url}, auth=AUTH)
        assert duplicate.status_code == 409
        await wait_for(lambda: services.pool.entries[server_id].health.reachable)
        edited = await http.put(
            f'{ADMIN_API_PREFIX}/servers/{server_id}', json={'max_inflight': 2, 'enabled': False}, auth=AUTH
        )
        assert edited.json()['max_inflight'] == 2 and edited.json()['enabled'] is False
        detail = (await http.get(f'{ADMIN_API_PREFIX}/servers/{server_id}', auth=AUTH)).json()
        assert detail['history'] == []
        assert (await http.delete(f'{ADMIN_API_PREFIX}/servers/{server_id}', auth=AUTH)).status_code == 200
        assert server_id not in services.pool.entries


async def test_wrong_basic_auth_is_limited(user: User) -> None:
    for _ in range(6):  # the budget, then one check per interval
        assert (await user.http_client.get(f'{ADMIN_API_PREFIX}/users', auth=('admin', 'no'))).status_code == 401
    limited = await user.http_client.get(f'{ADMIN_API_PREFIX}/users', auth=AUTH)
    assert limited.status_code == 429 and int(limited.headers['retry-after']) > 0


@pytest.mark.app_env(ADMIN_PASSWORD='')
async def test_no_admin_password_turns_admin_off(user: User) -> None:
    for method, path in admin_routes():
        answer = await user.http_client.request(method, path, json={}, auth=('admin', ''))
        assert answer.status_code == 403 and answer.json()['detail']['code'] == 'admin_off', (method, path)
