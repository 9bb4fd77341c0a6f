"""The admin LoRA page: admin only, cards with Civitai data after a sync, filters, and a server without the node."""

from __future__ import annotations

import hashlib
from typing import cast

import pytest
from nicegui.testing import User

from tests.fake_civitai import fake_civitai
from tests.fixtures import wait_for
from tests.postgres import free_port
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_COOKIE
from vcc_ui.simulator import Simulator
from vcc_ui.simulator.loras import DEMO_LORAS, demo_bytes

ADMIN = pytest.mark.app_env(ADMIN_PASSWORD='lora-admin-pw')


def log_in(user: User, services: Services) -> None:
    user.http_client.cookies.set(ADMIN_COOKIE, services.admin.cookie_value())


@ADMIN
async def test_non_admins_do_not_get_the_lora_page(user: User) -> None:
    answer = await user.http_client.get('/admin/loras', headers={'Accept': 'text/html'})
    assert answer.status_code == 303 and answer.headers['location'] == '/admin/login?next=/admin/loras'


@ADMIN
@pytest.mark.bundled_simulator
async def test_sync_shows_cards_with_civitai_data_and_filters(user: User, services: Services) -> None:
    log_in(user, services)
    await services.ready.wait()
    server_id = next(iter(services.pool.entries))
    async with fake_civitai() as civitai:
        name = 'style_a.safetensors'
        civitai.add(hashlib.sha256(demo_bytes(name, DEMO_LORAS[name])).hexdigest(), trained_words=['demo style'])
        services.loras.civitai.base_url = civitai.base_url
        await user.open('/admin/loras')
        await user.should_see(marker='lora-empty')
        user.find(marker=f'lora-sync-button-{server_id}').click()
        await wait_for(lambda: services.loras.status_of(server_id).stage == 'done')
        await user.should_see('demo style')
        await user.should_see('Synced')
        assert len(user.find(marker='lora-card').elements) == 3
        assert len(user.find(marker='lora-status-lora_matched').elements) == 1
        user.find(marker='lora-match').elements.pop().set_value('unmatched')
        await user.should_not_see('demo style')
        assert len(user.find(marker='lora-card').elements) == 2
        user.find(marker='lora-match').elements.pop().set_value('')
        user.find(marker='lora-search').type('demo style')
        await user.should_see('demo style')
        assert len(user.find(marker='lora-card').elements) == 1


@ADMIN
async def test_server_without_the_node_lists_loras_and_says_how_to_install(user: User, services: Services) -> None:
    log_in(user, services)
    await services.ready.wait()
    server_id = next(iter(services.pool.entries))
    await services.loras.sync(server_id)
    await user.open('/admin/loras')
    await user.should_see(marker='lora-node-missing')
    await user.should_see('custom_nodes')
    assert len(user.find(marker='lora-card').elements) == 3
    assert len(user.find(marker='lora-status-lora_unhashed').elements) == 3


@ADMIN
@pytest.mark.bundled_simulator
async def test_unreachable_civitai_shows_a_done_sync_with_metadata_pending(user: User, services: Services) -> None:
    log_in(user, services)
    await services.ready.wait()
    server_id = next(iter(services.pool.entries))
    services.loras.civitai.base_url = f'http://127.0.0.1:{free_port()}'
    services.loras.civitai.max_attempts = 1
    await services.loras.sync(server_id)
    await user.open('/admin/loras')
    await user.should_see('Synced · metadata pending (Civitai unreachable)')
    await user.should_see('3 LoRAs · 3 hashed · 0 on Civitai · 0 not on Civitai · 3 metadata pending')
    assert len(user.find(marker='lora-status-lora_pending').elements) == 3
    await user.should_not_see(marker='lora-status-lora_unmatched')


@ADMIN
@pytest.mark.bundled_simulator
async def test_removed_node_marks_the_kept_hashes_unverified(user: User, services: Services) -> None:
    log_in(user, services)
    await services.ready.wait()
    server_id = next(iter(services.pool.entries))
    services.loras.civitai.base_url = f'http://127.0.0.1:{free_port()}'
    services.loras.civitai.max_attempts = 1
    await services.loras.sync(server_id)
    simulator = cast(Simulator, services.pool.simulator)  # the bundled one
    await simulator.go_down(keep_state=True)
    simulator.node_installed = False
    await simulator.come_back()
    await services.loras.sync(server_id)
    await user.open('/admin/loras')
    await user.should_see(marker='lora-node-missing')
    await user.should_see('hashes from earlier syncs are kept but unverified')
    await user.should_see('3 hashes unverified (kept from earlier syncs)')
    assert len(user.find(marker='lora-unverified').elements) == 3
