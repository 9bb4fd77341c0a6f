"""`app.storage.user` in Redis shared by every instance, without the lost writes of NiceGUI's own Redis dict.

NiceGUI 3.18's `RedisPersistentDict` publishes the whole dict on each change and applies every message on its channel,
its own included. An instance that wrote twice gets its first message back after the second write, goes back to that
older copy and publishes it again; other instances republish each message they apply. Four quick writes of one
instance left two in Redis and on every instance: a typed draft or a language choice was lost after a failover.

`SharedUserDict` tags what it publishes with its origin and skips its own messages, applies another instance's without
publishing them again, and subscribes before it reads the key, so that no write falls between the read and the
subscription. Writes of two instances at the same moment still end with the last one published, as before.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import suppress
from typing import Any

import nicegui.storage
import redis as redis_sync
from nicegui import background_tasks, core, json
from nicegui.persistence import RedisPersistentDict
from nicegui.persistence.serialization import dumps
from nicegui.storage import Storage

log = logging.getLogger(__name__)

SEPARATOR = '\n'  # between the origin and the JSON in a channel message (JSON text holds no raw newline)


class SharedUserDict(RedisPersistentDict):
    """A Redis-backed storage dict that never applies its own echoes nor republishes what it received."""

    def __init__(self, **kwargs: Any) -> None:
        self.origin = uuid.uuid4().hex
        self._applying = False
        super().__init__(**kwargs)

    @property
    def channel(self) -> str:
        """The pub/sub channel this key's changes go through (NiceGUI's name for it)."""
        return self.key + 'changes'

    async def initialize(self) -> None:
        """Subscribe, then load the stored data: a change published in between is not missed."""
        try:
            await self.pubsub.subscribe(self.channel)
            data = await self.redis_client.get(self.key)
            self.apply(json.loads(_text(data)) if data else {})
            self._start_listening()
        except Exception:
            log.warning('could not load user storage %s from Redis', self.key)

    def initialize_sync(self) -> None:
        """Load the stored data before the event loop runs (NiceGUI's general storage), then listen."""
        with redis_sync.from_url(self.url, **self._redis_client_params) as client:
            try:
                data = client.get(self.key)
                self.apply(json.loads(_text(data)) if data else {})
                self._start_listening()
            except Exception:
                log.warning('could not load storage %s from Redis', self.key)

    def apply(self, data: dict[str, Any]) -> None:
        """Take `data` as the current content without publishing it again."""
        if data == self:
            return
        self._applying = True
        try:
            for key in set(self) - data.keys():
                del self[key]
            self.update(data)
        finally:
            self._applying = False

    def receive(self, message: bytes | str) -> None:
        """Apply one channel message unless it is this dict's own."""
        origin, _, payload = _text(message).partition(SEPARATOR)
        if origin != self.origin and payload:
            self.apply(json.loads(payload))

    def _start_listening(self) -> None:
        async def listen() -> None:
            try:
                if not self.pubsub.subscribed:
                    await self.pubsub.subscribe(self.channel)
                async for message in self.pubsub.listen():
                    if message['type'] == 'message':
                        self.receive(message['data'])
                    elif message['type'] in ('unsubscribe', 'punsubscribe') and message.get('data') == 0:
                        break
            except asyncio.CancelledError:
                pass  # close() cancels the listener
            except Exception:
                log.exception('the Redis listener of %s stopped', self.key)
            finally:
                if self.pubsub.subscribed:
                    with suppress(Exception):
                        await self.pubsub.unsubscribe()

        def create_listener() -> None:
            self._listener_task = background_tasks.create(listen(), name=f'redis-listen-{self.key}')

        if core.is_loop_running():
            create_listener()
        else:
            core.app.on_startup(create_listener)

    def publish(self) -> None:
        """Store the dict and tell the other instances, unless the change came from one of them."""
        if self._applying:
            return

        async def backup() -> None:
            if not await self.redis_client.exists(self.key) and not self:
                return
            data = dumps(self, self.key)
            pipeline = self.redis_client.pipeline()
            pipeline.set(self.key, data, ex=self.ttl)
            pipeline.publish(self.channel, self.origin + SEPARATOR + data)
            await pipeline.execute()

        background_tasks.create_lazy_or_defer(backup(), name=f'redis-{self.key}')


def _text(value: bytes | str) -> str:
    """Redis answers bytes unless the client decodes them."""
    return value.decode() if isinstance(value, bytes) else value


def share_user_storage(redis_url: str | None) -> None:
    """Keep NiceGUI's user and tab storage in Redis at `redis_url` with `SharedUserDict` (no URL: local files)."""
    Storage.redis_url = redis_url or None
    # NOTE: NiceGUI builds its Redis dicts from this module-level name (nicegui.storage._create_persistent_dict)
    nicegui.storage.RedisPersistentDict = SharedUserDict  # type: ignore[misc]
