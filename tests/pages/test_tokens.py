"""The API tokens page: make a token, see its secret once, list it, revoke it; admin reach only for admins."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from tests.pages.test_gallery import visit
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_COOKIE
from vcc_ui.services.tokens import Bearer

pytestmark = pytest.mark.app_env(ADMIN_PASSWORD='admin-secret')


def secret_shown(user: User) -> str:
    """The token in the dialog that shows it once."""
    return user.find(marker='token-secret-value').elements.pop().text


async def test_make_copy_list_and_revoke_a_token(user: User, services: Services) -> None:
    owner = await visit(user, services, '/tokens')
    await user.should_see('No tokens yet.')
    await user.should_not_see(marker='token-admin')  # a beta tester's tokens never reach the admin API
    user.find(marker='token-name').type('nightly batch')
    user.find(marker='token-create').click()
    await user.should_see('Your new token "nightly batch"')
    await user.should_see('Copy it now: it is shown only this once and cannot be looked up later.')
    secret = secret_shown(user)
    [info] = await services.tokens.of(owner)
    assert await services.tokens.check(secret) == Bearer(info.id, owner, False) and info.expires_at
    user.find(marker='token-copy').click()
    await user.should_see('Token copied to the clipboard.')
    user.find(marker='token-done').click()
    await user.should_not_see(marker='token-secret')  # the secret leaves the page with its dialog
    await user.should_see(info.hint)
    await user.should_see('Never used')
    user.find(marker='token-revoke').click()
    await user.should_see('Revoke the token "nightly batch"? Scripts that use it stop working at once.')
    user.find(marker='token-keep').click()
    await user.should_not_see(marker='token-confirm')  # kept: nothing changed
    assert await services.tokens.check(secret) == Bearer(info.id, owner, False)
    user.find(marker='token-revoke').click()
    user.find(marker='token-revoke-yes').click()
    await user.should_see('Token "nightly batch" revoked.')
    await user.should_see('No tokens yet.')
    assert (await services.tokens.check(secret)).reason == 'revoked'  # type: ignore[union-attr]


async def test_a_token_without_a_name_is_refused_in_korean_too(user: User, services: Services) -> None:
    user.http_client.headers['Accept-Language'] = 'ko'
    owner = await visit(user, services, '/tokens')
    await user.should_see('API 토큰')
    user.find(marker='token-create').click()
    await user.should_see('토큰 이름을 입력하세요.')
    assert await services.tokens.of(owner) == []


async def test_an_admin_may_give_a_token_admin_reach(user: User, services: Services) -> None:
    user.http_client.cookies.set(ADMIN_COOKIE, services.admin.cookie_value())
    owner = await visit(user, services, '/tokens')
    user.find(marker='token-name').type('ops')
    user.find(marker='token-expiry').elements.pop().set_value(0)
    user.find(marker='token-admin').click()
    user.find(marker='token-create').click()
    await user.should_see('Your new token "ops"')
    [info] = await services.tokens.of(owner)
    assert await services.tokens.check(secret_shown(user)) == Bearer(info.id, owner, True)
    user.find(marker='token-done').click()
    await user.should_see('Does not expire')
    card = user.find(marker='token-card').elements.pop()
    assert any(isinstance(e, ui.badge) and e.text == 'admin' for e in card.descendants())


async def test_the_navigation_leads_to_the_tokens_page(user: User, services: Services) -> None:
    await visit(user, services, '/')
    await user.should_see(marker='drawer-nav_tokens')  # the phone's menu has it too
    user.find(marker='nav-nav_tokens').click()
    await user.should_see('A script that sends "Authorization: Bearer <token>" to /api/v1 acts as you.')
    await user.should_see(marker='token-create')
