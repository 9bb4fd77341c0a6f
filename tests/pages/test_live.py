"""Live updates end with their page: one tab moving between pages leaves no service event subscription behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from nicegui import Event, ui
from nicegui.testing import User

from vcc_ui.pages.live import on
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_COOKIE

PAGES = Path(__file__).parents[2] / 'vcc_ui' / 'pages'
ROUNDS = 20
# the header link that opens a page, and a marker that page shows once it is built
TOUR = [
    ('nav-nav_gallery', 'gallery-filters'),
    ('nav-nav_inputs', 'inputs-upload'),
    ('nav-nav_loras', 'lora-page'),
    ('nav-nav_admin', 'admin-dashboard'),
    ('nav-nav_generate', 'generate-form'),
]


def subscribers(services: Services) -> dict[str, int]:
    """The number of subscribers of every Event a service offers, by `service.attribute`."""
    counts = {
        f'{name}.{attribute}': len(value.callbacks)
        for name, service in vars(services).items()
        if hasattr(service, '__dict__')
        for attribute, value in vars(service).items()
        if isinstance(value, Event)
    }
    assert {
        'jobs.changed',
        'pool.changed',
        'pool.shown_changed',
        'loras.changed',
        'stats.changed',
        'presence.changed',
    } <= set(counts)
    return counts


@pytest.mark.app_env(ADMIN_PASSWORD='live-admin-pw')
async def test_a_tab_touring_every_live_page_keeps_the_subscriber_counts(user: User, services: Services) -> None:
    user.http_client.cookies.set(ADMIN_COOKIE, services.admin.cookie_value())
    idle = subscribers(services)  # the services' own subscriptions to each other
    await user.open('/')
    await user.should_see(marker='generate-form')
    tab = user.client
    baseline = subscribers(services)
    for round_ in range(ROUNDS):
        for link, marker in TOUR:
            user.find(marker=link).click()
            await user.should_see(marker=marker)
        assert user.client is tab  # sub pages of one tab, never a reload
        assert subscribers(services) == baseline, f'after round {round_ + 1}'
    tab.delete()  # the tab goes: what its last page subscribed ends too
    assert subscribers(services) == idle


async def test_a_subscription_ends_when_its_owner_goes_or_its_parent_is_cleared(user: User) -> None:
    await user.open('/')
    event: Event[int] = Event()
    seen: list[int] = []
    with user.client:
        parent = ui.column()
        with parent:
            first, second = ui.column(), ui.column()
        on(event, seen.append, owner=first)
        on(event, lambda value: seen.append(-value), owner=second)
    await event.call(1)
    assert seen == [1, -1] and len(event.callbacks) == 2
    first.delete()
    await event.call(2)
    assert seen == [1, -1, -2] and len(event.callbacks) == 1
    parent.clear()
    assert event.callbacks == []


def test_pages_subscribe_only_through_live_on() -> None:
    bare = [
        f'{path.relative_to(PAGES)}:{number}'
        for path in sorted(PAGES.rglob('*.py'))
        if path.name != 'live.py'
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if '.subscribe(' in line
    ]
    assert bare == []
