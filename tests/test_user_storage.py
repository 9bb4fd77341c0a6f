"""User storage in a real Redis shared by two instances: every write kept everywhere, nothing echoed back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from nicegui import background_tasks, core

from vcc_ui.web.user_storage import SharedUserDict


@pytest.fixture
async def two_instances(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[SharedUserDict, ...]]:
    """The same user's storage as two instances hold it, both loaded and listening."""
    monkeypatch.setattr(core, 'loop', asyncio.get_running_loop())
    name = f'user-{id(monkeypatch)}'
    dicts = (SharedUserDict(url=redis_url, id=name), SharedUserDict(url=redis_url, id=name))
    for storage in dicts:
        await storage.initialize()
    while not all(storage.pubsub.subscribed for storage in dicts):
        await asyncio.sleep(0.01)
    yield dicts
    for storage in dicts:
        await storage.close()


async def published(storage: SharedUserDict) -> None:
    """Wait until the dict's latest change is in Redis and its message sent."""
    await background_tasks.lazy_tasks_running[f'redis-{storage.key}']


async def settled(*dicts: SharedUserDict, expected: dict) -> None:
    """Wait (at most 5 s) until every dict holds `expected`."""
    for _ in range(100):
        if all(storage == expected for storage in dicts):
            return
        await asyncio.sleep(0.05)


async def test_quick_writes_of_one_instance_are_all_kept_in_redis_and_on_both(
    two_instances: tuple[SharedUserDict, SharedUserDict], redis_url: str
) -> None:
    first, second = two_instances
    expected = {f'key{index}': index for index in range(4)}
    for key, value in expected.items():
        first[key] = value  # its earlier message comes back after this write
        await published(first)
    await settled(first, second, expected=expected)
    await asyncio.sleep(0.5)  # time for the echoes of those writes, if any were applied
    client = redis.from_url(redis_url)
    try:
        assert json.loads(await client.get(first.key)) == expected
    finally:
        await client.aclose()
    assert first == expected
    assert second == expected


async def test_a_change_reaches_the_other_instance_which_does_not_publish_it_again(
    two_instances: tuple[SharedUserDict, SharedUserDict], redis_url: str
) -> None:
    first, second = two_instances
    client = redis.from_url(redis_url)
    listener = client.pubsub()
    await listener.subscribe(first.channel)
    try:
        second['lang'] = 'ko'
        await published(second)
        await settled(first, expected={'lang': 'ko'})
        assert first == {'lang': 'ko'}
        messages = []
        for _ in range(10):  # half a second: time for an echo, if one were sent
            if message := await listener.get_message(ignore_subscribe_messages=True, timeout=0.05):
                messages.append(message['data'].decode())
        assert [json.loads(message.split('\n')[-1]) for message in messages] == [{'lang': 'ko'}]
    finally:
        await listener.aclose()
        await client.aclose()
