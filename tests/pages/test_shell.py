"""The shell around every page: navigation, language, health banner, and the anonymous user behind a browser."""

from __future__ import annotations

import asyncio

import pytest
from nicegui import ui
from nicegui.testing import User

from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_COOKIE
from vcc_ui.simulator import Simulator


async def test_the_shell_shows_the_navigation_but_no_admin_entries(user: User) -> None:
    await user.open('/')
    await user.should_see(marker='app-name')
    for key in ['nav_generate', 'nav_gallery', 'nav_inputs']:
        await user.should_see(marker=f'nav-{key}')
        await user.should_see(marker=f'drawer-{key}')
    await user.should_not_see(marker='nav-nav_admin')
    await user.should_not_see(marker='nav-nav_loras')


async def test_navigation_switches_sub_pages(user: User) -> None:
    await user.open('/')
    user.find(marker='nav-nav_gallery').click()
    await user.should_see('No images yet.')
    user.find(marker='nav-nav_inputs').click()
    await user.should_see('No input images yet.')


@pytest.mark.parametrize(
    ('accept', 'expected'),
    [('ko-KR,ko;q=0.9,en-US;q=0.8', '갤러리'), ('en-US,en;q=0.9,ko;q=0.5', 'Gallery'), ('de-DE', 'Gallery')],
)
async def test_the_language_follows_the_browser_on_first_visit(user: User, accept: str, expected: str) -> None:
    user.http_client.headers['Accept-Language'] = accept
    await user.open('/gallery')
    await user.should_see(expected)


async def test_the_language_switch_sticks_for_this_browser(user: User) -> None:
    user.http_client.headers['Accept-Language'] = 'en'
    await user.open('/gallery')
    await user.should_see('No images yet.')
    user.find(marker='lang-switch').elements.pop().set_value('ko')
    await user.should_see('아직 이미지가 없습니다.')
    await user.open('/inputs')  # a later visit, still in Korean although the browser prefers English
    await user.should_see('아직 입력 이미지가 없습니다.')


async def test_the_health_banner_appears_when_comfyui_goes_down(user: User, services: Services, sim: Simulator) -> None:
    await user.open('/')
    await user.should_not_see(marker='health-banner')
    await user.should_not_see(marker='simulator-note')
    await sim.go_down()
    await services.pool.check_all()
    await user.should_see(marker='health-banner')
    name = next(iter(services.pool.entries.values())).health.name
    text = user.find(marker='health-banner-text').elements.pop()
    assert isinstance(text, ui.label) and text.text == 'No ComfyUI server is reachable right now.'
    assert name not in text.text  # the server's name or address is for admins
    await sim.come_back()
    await services.pool.check_all()
    await user.should_not_see(marker='health-banner')


@pytest.mark.bundled_simulator
async def test_the_bundled_simulator_is_announced(user: User) -> None:
    await user.open('/')
    await user.should_see(marker='simulator-note')


async def test_a_first_visit_records_the_anonymous_user(user: User, services: Services) -> None:
    await user.open('/')
    anon = services.identity.read(user.http_client.cookies.get('vcc_anon'))
    assert anon is not None and anon.startswith('anon-')
    await wait_for_row(services, anon)
    row = await services.users.get(anon)
    assert row is not None and row.created_at == row.last_seen
    await user.open('/gallery')  # the same browser keeps its id
    assert services.identity.read(user.http_client.cookies.get('vcc_anon')) == anon


async def wait_for_row(services: Services, user_id: str) -> None:
    async with asyncio.timeout(10):
        while await services.users.get(user_id) is None:
            await asyncio.sleep(0.01)


@pytest.mark.app_env(ADMIN_PASSWORD='correct horse battery staple', ADMIN_USER='boss')
async def test_admins_see_which_server_is_down_and_why(user: User, services: Services, sim: Simulator) -> None:
    user.http_client.cookies.set(ADMIN_COOKIE, services.admin.cookie_value())
    await user.open('/')
    await sim.go_down()
    await services.pool.check_all()
    await user.should_see(marker='health-banner')
    name = next(iter(services.pool.entries.values())).health.name
    text = user.find(marker='health-banner-text').elements.pop()
    assert isinstance(text, ui.label) and text.text.startswith(f'ComfyUI server {name} is not reachable: ')
    await user.should_see('New jobs are refused until a server is back.')


def test_page_paths_are_the_root_pages_sub_pages() -> None:
    import inspect
    import re

    from vcc_ui.pages import root

    assert set(re.findall(r"^\s+'(/[a-z/]*)': ", inspect.getsource(root.create), re.M)) == root.PAGE_PATHS
