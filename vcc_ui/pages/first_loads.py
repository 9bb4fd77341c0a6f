"""A page's first content in its first answer: the loads a page starts while the root page builds it (the gallery's
first page of images, the job history and its thumbnails, the dashboard's recent jobs) are awaited before the GET is
answered, so the HTML carries the content and no build work is left running after it (where it had slowed the next
request down). Loads started later (a sub page built over the socket, a reload, a job's result) run in the background
as before. The wait is capped: what a slow database has not answered by then comes over the socket, as it did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from typing import Any, TypeVar

from nicegui import background_tasks, context
from nicegui.client import Client
from nicegui.element import Element

KEY = 'first_loads'  # client.storage: the FirstLoads of a page whose first answer is being built
CAP_SECONDS = 1.5  # well inside NiceGUI's response timeout (3 s), after which the page would answer an error

T = TypeVar('T')


class FirstLoads:
    """Counts the loads started during a page's first build; `settled` waits until none is left."""

    def __init__(self) -> None:
        self.left = 0
        self.idle = asyncio.Event()
        self.idle.set()

    @classmethod
    def open(cls, client: Client) -> FirstLoads:
        """Start counting the loads the client's first build starts."""
        loads = client.storage[KEY] = cls()
        return loads

    @staticmethod
    def of(client: Client) -> FirstLoads | None:
        """The client's FirstLoads while its first answer is being built, else None."""
        loads = client.storage.get(KEY)
        return loads if isinstance(loads, FirstLoads) else None

    def track(self, awaitable: Awaitable[T]) -> Coroutine[Any, Any, T]:
        """Count `awaitable` from now until it ends (returned, raised or cancelled)."""
        self.left += 1
        self.idle.clear()
        return self._until_done(awaitable)

    async def _until_done(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        finally:
            self.left -= 1
            if not self.left:
                self.idle.set()

    async def settled(self, client: Client) -> None:
        """Wait (at most CAP_SECONDS) until every counted load ended; later loads are no longer counted."""
        try:
            with suppress(TimeoutError):
                await asyncio.wait_for(self.idle.wait(), CAP_SECONDS)
        finally:
            if client.storage.get(KEY) is self:
                del client.storage[KEY]


def load(awaitable: Awaitable[Any], *, name: str, context: Element) -> asyncio.Task:
    """Run a load of `context`'s page in the background; during the page's first build its answer waits for it."""
    if (loads := FirstLoads.of(context.client)) is not None:
        awaitable = loads.track(awaitable)
    return background_tasks.create(awaitable, name=name, context=context)


def first_build(build: Callable[[], object]) -> Callable[[], object]:
    """Wrap a sub page builder: an async build started by the first answer is counted by it (see FirstLoads)."""

    def run() -> object:
        result = build()
        if asyncio.iscoroutine(result) and (loads := FirstLoads.of(context.client)) is not None:
            return loads.track(result)
        return result

    return run
