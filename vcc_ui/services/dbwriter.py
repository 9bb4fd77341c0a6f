"""The one way to write to the database: `write` commits fn(session) in one transaction; `DbWriter` queues them.

The running app writes only through a started `DbWriter` (writes run in order, batched into one transaction when
they pile up); the ops commands, which run without an event loop, call `write` directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from contextlib import suppress
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from vcc_ui.db import session

log = logging.getLogger(__name__)

MAX_BATCH = 64
SOON_WAIT = 0.25  # seconds a write_soon may wait for another write to share its commit
Write = Callable[[Session], Any]
# the write, its caller's future, whether it may wait (write_soon), the key a later write may take its place by
Item = tuple[Write, asyncio.Future | None, bool, Hashable | None]


def write(engine: Engine, fn: Write) -> Any:
    """Run fn(session) in one transaction and return its result once committed; on failure roll it all back."""
    with session(engine) as db:
        try:
            result = fn(db)
            db.commit()
        except BaseException:
            # NOTE: the rollback turns objects flushed in this transaction back into new ones, so a retry of fn
            # INSERTs them again; closing without it leaves them detached with an identity and a retry inserts nothing
            db.rollback()
            raise
        return result


def read(engine: Engine, fn: Write) -> Any:
    """Run a read-only fn(session) and return its result."""
    with session(engine) as db:
        return fn(db)


class DbWriter:
    """Serialises writes off the event loop; a progress step never waits on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._more = asyncio.Event()  # set when a write that may not wait is queued
        self._prompt = 0  # writes queued that may not wait (write, write_later)
        self._newest: dict[Hashable, Item] = {}  # key -> the newest queued write with it: earlier ones are skipped
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._run(), name='db-writer')

    async def stop(self) -> None:
        """Finish the pending writes, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def write(self, fn: Write, *, key: Hashable | None = None) -> Any:
        """Run fn(session) in the writer and return its result once committed.

        With `key` it takes the place of the `write_soon`s with that key still queued (see there).
        """
        future = asyncio.get_running_loop().create_future()
        self._put((fn, future, False, key))
        return await future

    def write_later(self, fn: Write) -> None:
        """Queue fn(session) without waiting for it."""
        self._put((fn, None, False, None))

    def write_soon(self, fn: Write, *, key: Hashable | None = None) -> None:
        """Queue fn(session) without waiting for it, to commit with the next write or at the latest after SOON_WAIT.

        For a job's own state steps (running, saving, progress), which the next step of the same job usually follows
        within milliseconds: one commit instead of two. Order is kept: a later write never commits before it.
        With `key` (a job's id: its newest state) a later write with the same key queued before this one ran takes
        its place, so it never runs: the later write must write all this one does (the caller's promise).
        """
        self._put((fn, None, True, key))

    def _put(self, item: Item) -> None:
        self._queue.put_nowait(item)
        if item[3] is not None:
            self._newest[item[3]] = item
        if not item[2]:
            self._prompt += 1
            self._more.set()

    def _current(self, item: Item) -> bool:
        """Whether a queued write is to run: not a `write_soon` whose key a later queued write took."""
        key = item[3]
        if key is None:
            return True
        if self._newest.get(key) is item:
            del self._newest[key]
            return True
        return item[1] is not None  # a caller waits for it: it runs, before the newer one

    async def read(self, fn: Write) -> Any:
        """Run a read-only fn(session) in a thread, outside the writer queue."""
        return await asyncio.to_thread(read, self.engine, fn)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if batch[0][2] and not self._prompt:  # only writes that may wait: give another write the time to join
                self._more.clear()
                with suppress(TimeoutError):
                    async with asyncio.timeout(SOON_WAIT):
                        await self._more.wait()
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._prompt -= sum(not soon for _, _, soon, _ in batch)
            taken = [item for item in batch if self._current(item)]
            for _ in range(len(batch) - len(taken)):  # a later write of the same key does theirs
                self._queue.task_done()
            if not taken:
                continue
            if len(taken) == 1:
                results = [await asyncio.to_thread(self._commit_one, taken[0])]
            else:
                try:
                    results = await asyncio.to_thread(self._commit, taken)
                except Exception:
                    log.warning('a batch of %d database writes failed; retrying them one by one', len(taken))
                    results = [await asyncio.to_thread(self._commit_one, item) for item in taken]
            for (_, future, _, _), result in zip(taken, results, strict=True):
                if future is not None and not future.done():
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                self._queue.task_done()

    def _commit(self, batch: list[Item]) -> list[Any]:
        return write(self.engine, lambda db: [fn(db) for fn, _, _, _ in batch])

    def _commit_one(self, item: Item) -> Any:
        try:
            return self._commit([item])[0]
        except Exception as error:
            log.exception('database write failed')
            return error
