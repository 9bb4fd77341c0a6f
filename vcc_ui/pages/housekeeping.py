"""The process's memory around NiceGUI clients: long-lived objects out of the collector's way, freed pages returned.

A tab holds thousands of Python objects (its elements, their props, bindings and slots) for as long as it is open.
CPython's automatic full collection scans every one of them each time the heap grew by a quarter, so while hundreds
of tabs open, a collection stalls the event loop for seconds (measured: 1.5 s at 500k objects, 5.5 s at 2.2M on a
loaded 2-core machine) and sockets miss their pings. Instead, what survived a collection is frozen (`gc.freeze`),
so automatic collections only look at objects made since; after NiceGUI deleted clients (closed tabs, pruned pages
that never connected), one full collection over everything unfrozen frees their cycles, and glibc's `malloc_trim`
hands the freed pages back to the system (its arenas keep them otherwise). In between, NiceGUI's tables of elements
and clients are rebuilt at their present size: CPython never shrinks a dict on deletes, and the table of bindable
properties (an entry per element property, about 370 per page) kept room for every page of the peak, 20 MB after
1,000 pruned pages. Without Redis, NiceGUI also keeps an (empty, in this app) storage for every tab that ever
connected, for 30 days; the reclaim drops the empty ones of tabs no client shows. `malloc_trim` only returns what is
free when it runs: pages freed after it (clients deleted later, allocations that touched a returned page again) stay
resident, 2-3 MB after the memory bench's prunes, so it runs again TRIM_AGAIN later, and then every TRIM_EVERY for as
long as the app runs (a trim that finds nothing costs 3-4 ms on a fragmented 800 MB heap, and no collection). A heap
that a peak spread keeps most of its room free, and a quiet app's own allocations land in it and touch returned
pages again: trimming only while a trim gave back at least 1 MB had left 1.3-4 MB of free pages resident at the
memory bench's last measure after its tabs.

A page's first build (its GET) is frozen as soon as it is done (`built`): the elements of a page live as long as its
client, whose deletion reclaims them, so the collector has nothing to find in them. Left unfrozen, the automatic full
collection (due every ~70,000 allocations, about every 7 page builds) walked the last pages built, 25-50 ms that
landed inside one page's GET: the page bench's p95 was its p50 plus one such collection. `gc.freeze` costs nothing
(it moves the collector's lists, not the objects); the few cycles that die young in a build and are frozen before
a young collection found them (about 4 objects per build) wait for the next reclaim. Sub pages built over the socket
are not frozen: a navigation deletes the sub page it replaces, which frozen would wait for the next reclaim. The
app's start reclaims once, so what the start made is frozen too; its stop leaves the frozen objects as they are, and
in a process that runs many apps (the page tests) the next start frees what the last one left.

That full collection costs time in proportion to everything alive (about 1.5 s at 500 open tabs), so it is paid only
when the deleted clients since the last one are at least a tenth of those still open (RECLAIM_SHARE), or after
RECLAIM_AT_LEAST: one tab closing among 500 does not stall the other 499 every 30 s, while a prune of many pages, or
a few tabs of few, is reclaimed promptly. The cost per reclaimed client stays bounded, as in the collector's own
generations.

A page whose browser never connects (a link preview, a crawler, a script that only GETs) holds its whole client, about
680 KB, until NiceGUI's prune deletes it a minute after its build. A flood of them (the memory bench: 1,000 renders, 20
at a time) held 680 MB at once, and what the heap keeps after the prunes grows with that peak: malloc's bytes in use
came back to the byte, yet the resident pages stayed 10 MB up, each held by a few live blocks made during the peak
(1,000 renders in three rounds of 333, pruned in between, kept 8 MB; at once, 14). So beyond WAITING_KEPT pages waiting
at once, a page still waiting WAITING_GRACE after its build goes at the next page build; once such pages and other
deletions outnumber the clients still open, they are reclaimed without waiting for RECLAIM_INTERVAL: the collection over
what is left costs less than what it frees. A browser connects well within a second of the answer; one slower than
WAITING_GRACE during such a flood reloads the page when it connects (NiceGUI does so for a client it no longer knows).

A page is freed without any collection, when NiceGUI removes it (a navigation's old sub page, a container cleared, a
deleted client's page), as long as nothing in it is a cycle. NiceGUI's own were: a removed element's props, classes
and style each list their own bound `_update` among their change handlers, and an element keeps handler lists of its
own; each removed element is released (`release`). The app's were: a connect handler that closed over its client
(time_text.py), and child widgets that kept their parent's bound methods (weak.py). With them, what three deleted
pages (Generate, Gallery, dashboard) left to the collector was 8,978 objects of 1,039 KB in their own sizes, and a
page's first build is frozen, so it waited for the next reclaim; now it is none, for every page of the app
(`test_a_deleted_page_goes_without_a_collection`). An uploader alone waits for the reclaim (below).

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
from collections.abc import Iterable

from fastapi.dependencies import models as fastapi_models
from nicegui import Client, app, binding
from nicegui.element import Element
from nicegui.persistence import PersistentDict

log = logging.getLogger(__name__)

RECLAIM_DELAY = 2.0  # after the first deletion of a batch (NiceGUI's prune deletes many at once)
RECLAIM_INTERVAL = 30.0  # at most one full collection this often, however many tabs close
RECLAIM_AT_LEAST = 600.0  # frozen garbage (cycles that happened to be alive at a freeze) waits at most this long
RECLAIM_SHARE = 0.1  # deleted clients, as a share of those still open, that pay for a full collection at once
WAITING_KEPT = 100  # pages built whose browser has not connected yet, kept as NiceGUI keeps them (60 s) ...
WAITING_GRACE = 2.0  # ... beyond that many, one still waiting this many seconds after its build goes
TRIM_AGAIN = 10.0  # after a reclaim, memory freed since is handed back this much later (no collection, 3-4 ms) ...
TRIM_EVERY = 30.0  # ... and then this often
TRIM_WORTH = 1 << 20  # a trim that gives back at least this many bytes is logged
ALLOCATOR_WARNING = (
    'PYTHONMALLOC is not malloc: memory of closed and pruned pages stays with the process (set PYTHONMALLOC=malloc)'
)


class Housekeeping:
    """Freezes the survivors of every full collection; reclaims everything once clients were deleted."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(ctypes.util.find_library('c')) if sys.platform.startswith('linux') else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._trimmer: asyncio.TimerHandle | None = None
        self._last = 0.0
        self._gone = 0  # clients deleted since the last reclaim
        app.on_startup(self._start)
        app.on_shutdown(self._stop)
        app.on_delete(self._deleted)
        Client.remove_elements = remove_and_release  # type: ignore[method-assign, assignment]

    def reclaim(self) -> None:
        """Collect everything (frozen objects too), freeze what is left, return freed memory to the system."""
        self._timer = None
        self._gone = 0
        self._last = time.monotonic()
        began = time.perf_counter()
        forget_endpoints()
        forget_closed_tabs()
        gc.unfreeze()
        collected = gc.collect()
        compact_tables()
        self._freeze()
        self._trim()
        self._trim_after(TRIM_AGAIN)
        log.info('memory_reclaimed', extra={'collected': collected, 'ms': round((time.perf_counter() - began) * 1000)})

    def built(self) -> None:
        """Freeze what a page build made: it lives as long as its client, whose deletion reclaims it.

        Pages that waited too long for their browser during a flood of builds go first (prune_waiting).
        """
        if prune_waiting() and self._gone >= len(Client.instances):  # the collection costs less than it frees
            self._schedule(RECLAIM_DELAY)
        self._freeze()

    def _trim(self) -> int:
        """Hand the heap's free pages back to the system; return the resident bytes that gave back."""
        if self._libc is None:
            return 0
        before = resident_bytes()
        with contextlib.suppress(AttributeError, OSError):
            self._libc.malloc_trim(0)
        return before - resident_bytes()

    def _trim_after(self, delay: float) -> None:
        if self._trimmer is not None:
            self._trimmer.cancel()
        self._trimmer = self._loop.call_later(delay, self._trim_again) if self._loop is not None else None

    def _trim_again(self) -> None:
        """Trim what was freed since the last trim (pages that went after the reclaim, or that allocations after it
        touched again), and again TRIM_EVERY later."""
        self._trimmer = None
        if (released := self._trim()) >= TRIM_WORTH:
            log.info('memory_trimmed', extra={'mb': round(released / (1 << 20), 1)})
        self._trim_after(TRIM_EVERY)

    def _start(self) -> None:
        """Follow the collector; reclaim once, so what the start left is frozen and an earlier app's garbage goes."""
        self._loop = asyncio.get_running_loop()
        gc.callbacks.append(self._collected)
        self.reclaim()
        if self._libc is not None and os.environ.get('PYTHONMALLOC') != 'malloc':
            log.warning(ALLOCATOR_WARNING)

    def _stop(self) -> None:
        """Stop following the collector; what is frozen stays so until the next start's reclaim.

        The page tests run many apps in one process: unfreezing here made NiceGUI's two full collections per test
        walk every object of the process, where the next app's start frees this one once it is gone.
        """
        if self._collected in gc.callbacks:
            gc.callbacks.remove(self._collected)
        for timer in (self._timer, self._trimmer):
            if timer is not None:
                timer.cancel()
        self._timer = self._trimmer = None
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

    def _deleted(self) -> None:
        self._gone += 1
        since = time.monotonic() - self._last
        if self._gone >= RECLAIM_SHARE * len(Client.instances):
            self._schedule(max(RECLAIM_DELAY, RECLAIM_INTERVAL - since))
        else:
            self._schedule(max(RECLAIM_DELAY, RECLAIM_AT_LEAST - since))

    def _schedule(self, delay: float) -> None:
        """Reclaim in `delay` seconds, unless one is due sooner (from any thread: the collector calls back anywhere)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._arm, delay)

    def _arm(self, delay: float) -> None:
        if self._loop is None:
            return
        if self._timer is not None:
            if self._timer.when() <= self._loop.time() + delay:
                return
            self._timer.cancel()
        self._timer = self._loop.call_later(delay, self.reclaim)


def resident_bytes() -> int:
    """The process's resident memory (Linux)."""
    with open('/proc/self/statm', encoding='ascii') as statm:
        return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def prune_waiting() -> int:
    """Delete the oldest pages waiting for their browser beyond WAITING_KEPT, if built WAITING_GRACE ago; return
    how many went."""
    if len(Client.instances) <= WAITING_KEPT:
        return 0
    waiting = [
        client
        for client in Client.instances.values()  # in the order they were made: the oldest first
        if not client.has_socket_connection and not client._delete_tasks  # a tab that closed has its own timeout
    ]
    since = time.time() - WAITING_GRACE
    old = [client for client in waiting[: len(waiting) - WAITING_KEPT] if client.created <= since]
    for client in old:
        client.delete()
    return len(old)


NICEGUI_REMOVE_ELEMENTS = Client.remove_elements


def remove_and_release(client: Client, elements: Iterable[Element]) -> None:
    """NiceGUI's removal of elements (a navigation, a container cleared, a client deleted), then `release` of each."""
    removed = list(elements)
    NICEGUI_REMOVE_ELEMENTS(client, removed)
    for element in removed:
        release(element)


def release(element: Element) -> None:
    """Break the cycles a removed element's props, classes, style and handlers make, so it goes with its references.

    Its props, classes and style each list their own bound method `_update` among their change handlers; its own
    handler lists (`_change_handlers` of a value element, an upload's, a table's) hold the page's methods, which hold
    the element again. NiceGUI clears a removed element's slots and event listeners, not these.
    """
    for observed in (element._props, element._classes, element._style):
        observed._change_handlers.clear()
    for name, value in vars(element).items():
        if name.endswith('_handlers') and isinstance(value, list):
            value.clear()


def compact_tables() -> None:
    """Rebuild NiceGUI's tables of elements and clients at their present size (a dict never shrinks on deletes)."""
    for table in (
        vars(binding.bindable_properties)['data'],  # the weak-value dictionary's own dict
        binding.bindings,
        binding._binding_keys_by_object,
        Client.instances,
        app.storage._tabs,
    ):
        kept = dict(table)
        table.clear()
        table.update(kept)


def forget_closed_tabs() -> None:
    """Drop the empty in-memory tab storages of tabs no client shows (NiceGUI keeps each for 30 days)."""
    shown = {client.tab_id for client in Client.instances.values()}
    tabs = app.storage._tabs
    for tab_id, tab in list(tabs.items()):
        if not tab and tab_id not in shown and not isinstance(tab, PersistentDict):
            del tabs[tab_id]  # a tab that comes back (a reload) gets a new empty one, as a new tab does


def forget_endpoints() -> None:
    """Empty FastAPI's caches keyed by endpoint callables, so the endpoints of removed routes (uploads) can go."""
    for cached in vars(fastapi_models).values():
        if callable(getattr(cached, 'cache_clear', None)):
            cached.cache_clear()
