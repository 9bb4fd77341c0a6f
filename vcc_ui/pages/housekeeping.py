"""The process's memory around NiceGUI clients: long-lived objects out of the collector's way, freed pages returned.

A tab holds thousands of Python objects (its elements, their props, bindings and slots) for as long as it is open.
CPython's automatic full collection scans every one of them each time the heap grew by a quarter, so while hundreds
of tabs open, a collection stalls the event loop for seconds (measured: 1.5 s at 500k objects, 5.5 s at 2.2M on a
loaded 2-core machine) and sockets miss their pings. Instead, what survived a collection is frozen (`gc.freeze`),
so automatic collections only look at objects made since; after NiceGUI deleted clients (closed tabs, pruned pages
that never connected), one full collection over everything unfrozen frees their cycles, and glibc's `malloc_trim`
hands the freed pages back to the system (its arenas keep them otherwise).

Before that collection, FastAPI's caches of callables are emptied: every `ui.upload` adds a route for itself, and
FastAPI keeps each route's endpoint (a closure over the element, its handlers and so the page widgets around them) in
three lru caches of 4,096 entries, long after NiceGUI removed the route; a Generate page that was never opened kept
its input slot and thumbnail strip alive that way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import sys
import time

from fastapi.dependencies import models as fastapi_models
from nicegui import app

log = logging.getLogger(__name__)

RECLAIM_DELAY = 2.0  # after the first deletion of a batch (NiceGUI's prune deletes many at once)
RECLAIM_INTERVAL = 30.0  # at most one full collection this often, however many tabs close
RECLAIM_AT_LEAST = 600.0  # frozen garbage (cycles that happened to be alive at a freeze) waits at most this long
ALLOCATOR_WARNING = (
    'PYTHONMALLOC is not malloc: memory of closed and pruned pages stays with the process (set PYTHONMALLOC=malloc)'
)


class Housekeeping:
    """Freezes the survivors of every full collection; reclaims everything once clients were deleted."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(ctypes.util.find_library('c')) if sys.platform.startswith('linux') else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled = False
        self._froze = False
        self._last = 0.0
        app.on_startup(self._start)
        app.on_shutdown(self._stop)
        app.on_delete(self._deleted)

    def reclaim(self) -> None:
        """Collect everything (frozen objects too), freeze what is left, return freed memory to the system."""
        self._scheduled = False
        self._last = time.monotonic()
        began = time.perf_counter()
        forget_endpoints()
        gc.unfreeze()
        collected = gc.collect()
        self._freeze()
        if self._libc is not None:
            with contextlib.suppress(AttributeError, OSError):
                self._libc.malloc_trim(0)
        log.info('memory_reclaimed', extra={'collected': collected, 'ms': round((time.perf_counter() - began) * 1000)})

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._last = time.monotonic()
        gc.callbacks.append(self._collected)
        if self._libc is not None and os.environ.get('PYTHONMALLOC') != 'malloc':
            log.warning(ALLOCATOR_WARNING)

    def _stop(self) -> None:
        """Leave the collector as it was (the page tests run many apps in one process)."""
        if self._collected in gc.callbacks:
            gc.callbacks.remove(self._collected)
        if self._froze:
            gc.unfreeze()
        self._loop = None

    def _collected(self, phase: str, info: dict) -> None:
        """After an automatic full collection, freeze its survivors (once the collector is done)."""
        if phase != 'stop' or info['generation'] != 2 or self._loop is None or self._loop.is_closed():
            return
        if time.monotonic() - self._last > RECLAIM_AT_LEAST:
            self._schedule(RECLAIM_DELAY)
        else:
            self._loop.call_soon_threadsafe(self._freeze)

    def _freeze(self) -> None:
        gc.freeze()
        self._froze = True

    def _deleted(self) -> None:
        self._schedule(max(RECLAIM_DELAY, RECLAIM_INTERVAL - (time.monotonic() - self._last)))

    def _schedule(self, delay: float) -> None:
        if self._scheduled or self._loop is None:
            return
        self._scheduled = True
        self._loop.call_soon_threadsafe(self._loop.call_later, delay, self.reclaim)


def forget_endpoints() -> None:
    """Empty FastAPI's caches keyed by endpoint callables, so the endpoints of removed routes (uploads) can go."""
    for cached in vars(fastapi_models).values():
        if callable(getattr(cached, 'cache_clear', None)):
            cached.cache_clear()
