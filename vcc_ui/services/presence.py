"""Who is connected right now: one entry per open browser tab, fed by the app's connect and disconnect hooks.

With a shared bus every instance publishes the list of its own tabs on `presence` whenever it changes and every
HEARTBEAT seconds; the others keep each instance's latest list and drop it when that instance has been silent for
three heartbeats (it died), so the dashboard on any instance shows the tabs of all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nicegui import Event

from vcc_ui.services.bus import Bus

log = logging.getLogger(__name__)

PRESENCE_TOPIC = 'presence'
HEARTBEAT = 10.0  # seconds between an instance's lists; silent for three of them = gone


@dataclass(kw_only=True, slots=True)
class Visitor:
    """One connected browser tab (on `instance`)."""

    client_id: str
    user: str
    path: str
    since: datetime
    admin: bool = False
    instance: str = ''


class Presence:
    """The connected tabs of every instance; `changed` fires whenever one arrives, moves or leaves."""

    def __init__(self, bus: Bus | None = None, *, heartbeat: float = HEARTBEAT) -> None:
        self.bus = bus or Bus()
        self.heartbeat = heartbeat
        self.visitors: dict[str, Visitor] = {}  # this instance's tabs
        self.remote: dict[str, tuple[float, list[Visitor]]] = {}  # instance -> (when heard, monotonic; its tabs)
        self.changed: Event[[]] = Event()
        self._task: asyncio.Task | None = None
        self.bus.subscribe(PRESENCE_TOPIC, self._on_remote)

    async def start(self) -> None:
        """On a shared bus: ask the others for their tabs and start sending ours every heartbeat."""
        if self.bus.shared:
            self.bus.publish(PRESENCE_TOPIC, {'instance': self.bus.instance_id, 'hello': True})
            self._task = asyncio.create_task(self._beat(), name='presence-heartbeat')

    async def stop(self) -> None:
        """Stop the heartbeat."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def connected(self, client_id: str, *, user: str, path: str, since: float, admin: bool = False) -> None:
        """Record a tab whose socket (re)connected; `since` is when the tab was opened (epoch seconds)."""
        self.visitors[client_id] = Visitor(
            client_id=client_id,
            user=user,
            path=_bare(path),
            admin=admin,
            since=datetime.fromtimestamp(since, UTC),
            instance=self.bus.instance_id,
        )
        self._changed()

    def moved(self, client_id: str, path: str) -> None:
        """Record that a tab switched to another page."""
        visitor, path = self.visitors.get(client_id), _bare(path)
        if visitor is not None and visitor.path != path:
            visitor.path = path
            self._changed()

    def disconnected(self, client_id: str) -> None:
        """Forget a tab whose socket closed."""
        if self.visitors.pop(client_id, None) is not None:
            self._changed()

    def list(self) -> list[Visitor]:
        """The connected tabs of every instance heard from lately, longest connected first."""
        horizon = time.monotonic() - 3 * self.heartbeat
        remote = [v for heard, tabs in self.remote.values() if heard >= horizon for v in tabs]
        return sorted([*self.visitors.values(), *remote], key=lambda v: v.since)

    def _changed(self) -> None:
        self.changed.emit()
        self._publish()

    def _publish(self) -> None:
        if self.bus.shared:
            tabs = [_dump(v) for v in self.visitors.values()]
            self.bus.publish(PRESENCE_TOPIC, {'instance': self.bus.instance_id, 'tabs': tabs})

    def _on_remote(self, payload: dict[str, Any]) -> None:
        instance = str(payload.get('instance') or '')
        if payload.get('hello'):
            self._publish()  # a new instance asks: tell it ours now
        if not instance or not isinstance(tabs := payload.get('tabs'), list):
            return
        try:
            visitors = [_load(item, instance) for item in tabs]
        except (KeyError, TypeError, ValueError):
            log.warning('presence: ignored a malformed list from %s', instance)
            return
        self.remote[instance] = (time.monotonic(), visitors)
        self.changed.emit()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            self._publish()
            horizon = time.monotonic() - 3 * self.heartbeat
            gone = [instance for instance, (heard, _) in self.remote.items() if heard < horizon]
            for instance in gone:
                log.info('presence: instance %s went silent; its tabs are forgotten', instance)
                del self.remote[instance]
            if gone:
                self.changed.emit()


def _dump(visitor: Visitor) -> dict[str, Any]:
    return {
        'client_id': visitor.client_id,
        'user': visitor.user,
        'path': visitor.path,
        'since': visitor.since.timestamp(),
        'admin': visitor.admin,
    }


def _load(item: dict[str, Any], instance: str) -> Visitor:
    return Visitor(
        client_id=str(item['client_id']),
        user=str(item['user']),
        path=str(item['path']),
        since=datetime.fromtimestamp(float(item['since']), UTC),
        admin=bool(item.get('admin')),
        instance=instance,
    )


def _bare(path: str) -> str:
    """The path without its query (which may hold tokens)."""
    return path.split('?', 1)[0].split('#', 1)[0] or '/'
