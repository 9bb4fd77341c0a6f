"""Housekeeping: survivors of a full collection are left alone until clients go; then their cycles are freed."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from nicegui import Client, background_tasks, ui
from nicegui.testing import User

from tests.fixtures import wait_for
from vcc_ui.pages import housekeeping
from vcc_ui.pages.widgets.image_slot import ImageSlot


class Cycle:
    """An object that refers to itself: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


async def test_survivors_stay_frozen_until_a_deleted_client_lets_them_go(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(housekeeping, 'RECLAIM_DELAY', 0.0)
    monkeypatch.setattr(housekeeping, 'RECLAIM_INTERVAL', 0.0)
    await user.open('/')
    kept = Cycle()
    ref = weakref.ref(kept)
    gc.collect()  # a full collection: its survivors are frozen on the next loop turn
    await asyncio.sleep(0.05)
    del kept
    gc.collect()
    assert ref() is not None  # frozen: automatic collections no longer scan (or free) it
    user.client.delete()  # a tab goes: one full collection over everything frees what it left
    await wait_for(lambda: ref() is None)


async def test_a_pruned_page_leaves_no_upload_or_input_slot_alive(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    # each ui.upload adds a route; FastAPI's caches kept its endpoint (and through it the slot) after the page went
    monkeypatch.setattr(housekeeping, 'RECLAIM_DELAY', 0.0)
    monkeypatch.setattr(housekeeping, 'RECLAIM_INTERVAL', 0.0)
    before = set(Client.instances)
    answer = await user.http_client.get('/')  # a page whose browser never connects, as a prefetch or a bot leaves it
    assert answer.status_code == 200
    (page,) = (Client.instances[i] for i in set(Client.instances) - before)
    uploads = [weakref.ref(element) for element in page.elements.values() if isinstance(element, ui.upload)]
    slots = [weakref.ref(o) for o in gc.get_objects() if isinstance(o, ImageSlot) and o.upload.client is page]
    assert uploads and slots
    page.delete()  # what NiceGUI's prune does a minute later
    del page
    await wait_for(lambda: all(ref() is None for ref in uploads + slots))


async def test_a_pruned_page_does_not_ask_for_the_time_zone(user: User, caplog: pytest.LogCaptureFixture) -> None:
    before = set(Client.instances)
    await user.http_client.get('/')
    (page,) = (Client.instances[i] for i in set(Client.instances) - before)
    page.delete()  # it never connected: its question would go nowhere and its answer (None) would be logged
    await wait_for(lambda: not any(task.get_name() == 'learn time zone' for task in background_tasks.running_tasks))
    assert 'time zone' not in caplog.text
