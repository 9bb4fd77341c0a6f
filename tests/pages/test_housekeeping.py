"""Housekeeping: survivors of a full collection are left alone until clients go; then their cycles are freed."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from nicegui.testing import User

from tests.fixtures import wait_for
from vcc_ui.pages import housekeeping


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
