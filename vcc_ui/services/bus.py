"""Events between app instances: LocalBus for one process, RedisBus (Redis pub/sub) for several behind a balancer.

A service that changes shared state handles its own event locally as before and also `publish`es it; every *other*
instance's subscribers get it. Delivery is at most once and in publish order per instance: state that must not be
lost lives in the database, the bus only says "look again" or carries live-only data (progress, previews).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger('vcc_ui.bus')

Handler = Callable[[dict[str, Any]], None]
CHANNEL_PREFIX = 'vcc:'
RECONNECT_DELAY = 0.5
MAX_BACKLOG = 10_000  # messages waiting to be sent while Redis is away; older ones are dropped first


class Bus:
    """One process's subscriptions; publishing goes nowhere (there is no other instance)."""

    def __init__(self, instance_id: str | None = None) -> None:
        self.instance_id = instance_id or uuid.uuid4().hex[:12]
        self._handlers: dict[str, list[Handler]] = {}

    @property
    def shared(self) -> bool:
        """Whether other instances hear what this one publishes."""
        return False

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call `handler(payload)` for every `topic` event another instance publishes."""
        self._handlers.setdefault(topic, []).append(handler)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Tell the other instances; a JSON-able payload. Never blocks and never raises."""

    def deliver(self, topic: str, payload: dict[str, Any]) -> None:
        """Run this instance's handlers for an event that came from another instance."""
        for handler in self._handlers.get(topic, []):
            try:
                handler(payload)
            except Exception:
                log.exception('bus handler for %r failed', topic)

    async def start(self) -> None:
        """Begin listening."""

    async def stop(self) -> None:
        """Stop listening and sending."""


class RedisBus(Bus):
    """Redis pub/sub: one listening connection per instance, one sender task that keeps publish order."""

    def __init__(self, url: str, instance_id: str | None = None) -> None:
        super().__init__(instance_id)
        self.url = url
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue(MAX_BACKLOG)
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = asyncio.Event()

    @property
    def shared(self) -> bool:
        """Whether other instances hear what this one publishes."""
        return True

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Queue the event for the sender task; when Redis is away long enough the oldest events are dropped."""
        message = json.dumps({'from': self.instance_id, 'payload': payload}, separators=(',', ':'))
        if self._outbox.full():
            self._outbox.get_nowait()
        self._outbox.put_nowait((CHANNEL_PREFIX + topic, message))

    async def start(self) -> None:
        """Start the listener and the sender; both reconnect on their own when Redis goes away."""
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._send())]

    async def stop(self) -> None:
        """Cancel both tasks, again until they end: redis-py may swallow a cancel that lands inside a command."""
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _listen(self) -> None:
        while True:
            client = Redis.from_url(self.url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(CHANNEL_PREFIX + '*')
                    self.connected.set()
                    log.info('bus: listening on %s as instance %s', self.url, self.instance_id)
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                        if message is not None:
                            self._receive(message)
            except (RedisError, OSError) as error:
                self.connected.clear()
                log.warning('bus: Redis listener lost (%s); reconnecting', error)
                await asyncio.sleep(RECONNECT_DELAY)
            finally:
                await client.aclose()

    def _receive(self, message: dict[str, Any]) -> None:
        channel = message['channel'].decode() if isinstance(message['channel'], bytes) else message['channel']
        try:
            body = json.loads(message['data'])
        except ValueError:
            log.warning('bus: ignored a message on %s that is not JSON', channel)
            return
        if body.get('from') != self.instance_id:
            self.deliver(channel.removeprefix(CHANNEL_PREFIX), body.get('payload') or {})

    async def _send(self) -> None:
        client = Redis.from_url(self.url)
        try:
            while True:
                channel, message = await self._outbox.get()
                while True:
                    try:
                        await client.publish(channel, message)
                        break
                    except (RedisError, OSError) as error:
                        log.warning('bus: publish failed (%s); retrying', error)
                        await asyncio.sleep(RECONNECT_DELAY)
        finally:
            await client.aclose()


def make_bus(redis_url: str, instance_id: str | None = None) -> Bus:
    """The bus the settings ask for: Redis when REDIS_URL is set, else one process on its own."""
    return RedisBus(redis_url, instance_id) if redis_url else Bus(instance_id)
