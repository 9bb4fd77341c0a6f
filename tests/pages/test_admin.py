"""Admin pages: login, servers, users and all images, driven like a browser with the `user` fixture."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_notify import UserNotify

from tests.fixtures import USER_A, USER_B, simulator, wait_for
from tests.images import png_bytes
from vcc_ui.models import Job, JobStatus
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_COOKIE
from vcc_ui.services.image_meta import human_bytes

ADMIN_PASSWORD = 'correct horse battery staple'
HTML = {'Accept': 'text/html,application/xhtml+xml'}
pytestmark = pytest.mark.app_env(ADMIN_PASSWORD=ADMIN_PASSWORD, ADMIN_USER='boss')


async def log_in(user: User, password: str = ADMIN_PASSWORD, *, name: str = 'boss', next: str = '/admin') -> str:
    """Post the admin login form as a browser does; on success open the page it leads to; return the answer's text."""
    form = {'user': name, 'password': password, 'next': next}
    answer = await user.http_client.post('/admin/login', data=form, headers=HTML)
    if answer.status_code == 303:
        await user.open(answer.headers['location'])
    return answer.text


def become_admin(user: User, services: Services) -> None:
    user.http_client.cookies.set(ADMIN_COOKIE, services.admin.cookie_value())


async def test_a_non_admin_is_sent_to_the_admin_login(user: User) -> None:
    answer = await user.http_client.get('/admin/users', headers=HTML)
    assert answer.status_code == 303 and answer.headers['location'] == '/admin/login?next=/admin/users'
    await user.open('/')
    await user.should_not_see(marker='nav-nav_admin')
    await user.should_not_see(marker='nav-nav_loras')
    page = await user.http_client.get('/admin/login?next=/admin/users', headers=HTML)
    assert 'name="password"' in page.text and 'value="/admin/users"' in page.text


async def test_client_side_navigation_to_an_admin_page_builds_nothing_for_a_non_admin(user: User) -> None:
    await user.open('/')
    ui.navigate.to('/admin/servers')  # what a crafted history push would do, without the HTTP redirect
    await user.should_not_see(marker='server-list')


async def test_a_wrong_login_says_so_and_the_right_one_opens_the_page(user: User) -> None:
    assert 'Wrong user or password.' in await log_in(user, 'guess', next='/admin/users')
    assert (await user.http_client.get('/api/v1/admin/users')).status_code == 401
    assert 'Wrong user or password.' in await log_in(user, ADMIN_PASSWORD, name='someone-else', next='/admin/users')
    await log_in(user, next='/admin/users')
    await user.should_see(marker='user-list')
    await user.should_see(marker='nav-nav_admin')
    assert (await user.http_client.get('/api/v1/admin/users')).status_code == 200
    cookie = user.http_client.cookies.get(ADMIN_COOKIE)
    assert cookie
    await user.open('/admin/logout')
    assert user.http_client.cookies.get(ADMIN_COOKIE) is None
    assert (await user.http_client.get('/api/v1/admin/users')).status_code == 401


async def test_failed_logins_are_limited_per_client(user: User) -> None:
    for _ in range(6):  # the budget, then one check per interval
        assert 'Wrong user or password.' in await log_in(user, 'nope')
    assert 'Too many wrong attempts' in await log_in(user)  # even the right password waits for the next check now
    assert (await user.http_client.get('/api/v1/admin/users')).status_code == 401


async def test_the_session_cookie_is_httponly_and_lax(user: User) -> None:
    form = {'user': 'boss', 'password': ADMIN_PASSWORD, 'next': '/admin/images'}
    answer = await user.http_client.post('/admin/login', data=form)
    assert answer.status_code == 303 and answer.headers['location'] == '/admin/images'
    cookie = next(h for h in answer.headers.get_list('set-cookie') if h.startswith(f'{ADMIN_COOKIE}='))
    assert 'HttpOnly' in cookie and 'SameSite=lax' in cookie and 'Secure' not in cookie


class SlotCheckedNotify(UserNotify):
    """The test user's ui.notify records without a slot; this one first reaches the client like the real one."""

    def __call__(self, message: str, **kwargs: Any) -> None:
        assert ui.context.client is not None  # raises when the current slot's element was deleted
        super().__call__(message, **kwargs)


async def test_servers_test_add_disable_and_remove(user: User, services: Services, tmp_path) -> None:
    become_admin(user, services)
    async with simulator(tmp_path, 'second') as second:
        await user.open('/admin/servers')
        await user.should_see(marker='server-list')
        user.find(marker='server-add').click()
        user.find(marker='server-name').type('gpu-2')
        user.find(marker='server-url').type('http://127.0.0.1:9')
        user.find(marker='server-test').click()
        await user.should_see('Not reachable')
        user.find(marker='server-url').clear().type(second.url)
        user.find(marker='server-test').click()
        await user.should_see('Reachable: ComfyUI')
        user.find(marker='server-save').click()
        await user.should_see('Server gpu-2 added')
        entry = next(e for e in services.pool.entries.values() if e.health.name == 'gpu-2')
        await user.should_see(marker=f'server-{entry.id}')
        await wait_for(lambda: entry.health.reachable)
        user.find(marker=f'server-enabled-{entry.id}').click()
        await wait_for(lambda: not entry.health.enabled)
        await user.should_see('disabled')
        user.find(marker=f'server-remove-{entry.id}').click()
        # the list is rebuilt when the pool changes; Python's automatic collection may then free the old card at once
        remove_server = services.pool.remove_server

        async def remove_and_collect(server_id: int) -> None:
            await remove_server(server_id)
            gc.collect()

        services.pool.remove_server = remove_and_collect  # type: ignore[method-assign]
        user.notify = SlotCheckedNotify()
        user.find(marker='remove-confirm').click()
        await user.should_see('Server gpu-2 removed')
        assert entry.id not in services.pool.entries
        await user.should_not_see(marker=f'server-{entry.id}')


async def test_a_health_change_from_the_background_updates_the_status_chip(user: User, services: Services) -> None:
    become_admin(user, services)
    user.http_client.headers['Accept-Language'] = 'ko-KR,ko;q=0.9'
    await user.open('/admin/servers')
    entry = next(iter(services.pool.entries.values()))
    await user.should_see('정상', marker=f'server-status-{entry.id}')
    entry.health.reachable = False

    async def health_round() -> None:  # what the 5 s health loop does: no request, no page around it
        services.pool.changed.emit(entry.health)

    await asyncio.get_running_loop().create_task(health_round(), context=contextvars.Context())
    await user.should_see('연결 안 됨', marker=f'server-status-{entry.id}')
    entry.health.reachable = True
    services.pool.changed.emit(entry.health)


async def test_users_list_block_and_quota(user: User, services: Services) -> None:
    await services.images.upload_input(USER_A, png_bytes(), 'a.png')
    await services.images.upload_input(USER_B, png_bytes(), 'b.png')
    become_admin(user, services)
    await user.open('/admin/users')
    await user.should_see(marker=f'user-{USER_A}')
    await user.should_see(marker=f'user-{USER_B}')
    user.find(marker=f'user-block-{USER_A}').click()
    await user.should_see(marker=f'user-blocked-{USER_A}')
    assert await services.users.refusal(USER_A)
    assert await services.users.refusal(USER_B) is None
    user.find(marker=f'user-edit-{USER_B}').click()
    user.find(marker='user-name').clear().type('Kim')
    user.find(marker='user-max-images').type('1')
    user.find(marker='user-save').click()
    await user.should_see('User saved')
    await user.should_see('1 of 1 images')
    usage = await services.images.usage(USER_B)
    assert usage.max_images == 1
    assert await services.images.quota_refusal(USER_B)


async def test_users_show_job_counts_and_gpu_time_in_both_languages(user: User, services: Services) -> None:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    job = Job(
        id='f' * 32,
        owner=USER_A,
        workflow_id='sd15_txt2img',
        mode='txt2img',
        params={},
        status=JobStatus.COMPLETED,
        queued_at=start,
        started_at=start,
        finished_at=start + timedelta(seconds=65),
    )
    await services.writer.write(lambda db: db.add(job))
    become_admin(user, services)
    await user.open('/admin/users')
    await user.should_see(marker=f'user-gpu-{USER_A}', content='GPU time 1 min 5 s')
    await user.should_see('1 done')
    user.http_client.headers['Accept-Language'] = 'ko-KR,ko;q=0.9'
    user.find(marker='lang-switch').elements.pop().set_value('ko')
    await user.should_see(marker=f'user-gpu-{USER_A}', content='GPU 사용 시간 1분 5초')


async def test_all_images_filter_delete_restore_and_purge(user: User, services: Services) -> None:
    a = await services.images.upload_input(USER_A, png_bytes(), 'a.png')
    b = await services.images.upload_input(USER_B, png_bytes(color=(0, 0, 255)), 'b.png')
    become_admin(user, services)
    await user.open('/admin/images')
    await user.should_see(marker=f'image-{a.id}')
    await user.should_see(marker=f'image-{b.id}')
    tile = user.find(marker=f'image-{a.id}').elements.pop()
    owner = user.find(marker='image-owner').elements
    assert {tile.props['owner-id'] for tile in owner} == {USER_A, USER_B}  # the full id on hover, as a native title
    delete = user.find(marker=f'image-delete-{a.id}').elements.pop()
    assert delete is tile and tile.props['action-title'] == 'Move to trash'  # the tile draws its button: one element
    assert not [e for e in tile.descendants() if isinstance(e, ui.tooltip)]  # no tooltip elements in 48 tiles
    user.find(marker='images-user').click()  # a select: pick USER_A
    user.find(marker='images-user').elements.pop().set_value(USER_A)
    await user.should_not_see(marker=f'image-{b.id}')
    user.find(marker=f'image-delete-{a.id}').click()
    await user.should_see('No images match these filters.')
    user.find(marker='images-include').elements.pop().set_value('trash')
    await user.should_see(marker=f'image-restore-{a.id}')
    user.find(marker=f'image-restore-{a.id}').click()
    await user.should_see('No images match these filters.')
    assert (await services.images.get(USER_A, a.id)).status == 'active'
    await services.admin_data.delete_image(b.id)
    user.find(marker='images-purge').click()
    await user.should_see('0 image files (0 bytes) trashed more than 30 days ago')
    user.find(marker='purge-days').elements.pop().set_value(0)  # typed: the field still has the focus
    await user.should_see(f'1 image files ({_size(b.bytes)}) trashed more than 0 days ago')
    user.find(marker='purge-days').elements.pop().set_value(2)
    await user.should_see('0 image files (0 bytes) trashed more than 2 days ago')
    user.find(marker='purge-days').elements.pop().set_value(0)
    await user.should_see(f'1 image files ({_size(b.bytes)}) trashed more than 0 days ago')
    user.find(marker='purge-confirm').click()
    await user.should_see('Purged 1 images')
    assert await services.images.get(USER_B, b.id) is None


def _size(n: int) -> str:
    return human_bytes(n)


@pytest.mark.app_env(ADMIN_PASSWORD='')
async def test_without_a_password_admin_is_off_and_says_how_to_turn_it_on(user: User) -> None:
    await user.open('/admin/servers')
    await user.should_see(marker='admin-off')
    await user.should_see('set ADMIN_PASSWORD (and optionally ADMIN_USER) in .env and restart')
    await user.should_not_see(marker='server-list')
    answer = await user.http_client.get('/api/v1/admin/servers', auth=('admin', ''))
    assert answer.status_code == 403 and answer.json()['detail']['code'] == 'admin_off'


QUASAR_COLOR = re.compile(
    r'(red|pink|purple|deep-purple|indigo|blue|light-blue|cyan|teal|green|light-green|lime|yellow|amber|orange'
    r'|deep-orange|brown|grey|blue-grey)(-\d{1,2})?'
)


@pytest.mark.bundled_simulator
async def test_every_server_card_shows_its_source_badge_in_a_quasar_color(user: User, services: Services) -> None:
    become_admin(user, services)
    await user.open('/admin/servers')
    entry = next(iter(services.pool.entries.values()))
    assert entry.health.simulated
    await user.should_see('simulator', marker=f'server-sim-{entry.id}')
    [badge] = user.find(marker=f'server-sim-{entry.id}').elements
    assert QUASAR_COLOR.fullmatch(str(badge.props.get('color'))), badge.props  # 'sky-7' is no Quasar colour


@pytest.mark.beta_password('open sesame')
async def test_the_users_page_signs_out_all_beta_testers(user: User, services: Services) -> None:
    tester = services.gate.cookie_value()
    user.http_client.cookies.set('vcc_beta', services.gate.cookie_value())
    become_admin(user, services)
    await user.open('/admin/users')
    user.find(marker='user-signout-beta').click()
    user.find(marker='user-signout-confirm').click()
    await user.should_see('beta sessions signed out')
    assert not services.gate.is_open(tester)
    assert services.admin.is_admin({ADMIN_COOKIE: user.http_client.cookies[ADMIN_COOKIE]})  # admins stay in
