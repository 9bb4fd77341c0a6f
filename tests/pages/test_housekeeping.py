"""Housekeeping: survivors of a full collection are left alone until clients go; then their cycles are freed."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import os
import sys
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import pytest
from nicegui import Client, app, background_tasks, binding, ui
from nicegui.element import Element
from nicegui.nicegui import _on_handshake
from nicegui.testing import User

from tests.fixtures import wait_for
from vcc_ui.pages import housekeeping
from vcc_ui.pages.widgets.image_slot import ImageSlot
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_COOKIE


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


async def test_one_tab_closing_among_many_waits_and_a_tenth_of_them_reclaim_at_once(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a full collection stalls every open tab for as long as it scans them all: a few closed ones do not pay for it
    reclaims = noted_reclaims(monkeypatch)
    before = set(Client.instances)
    for _ in range(20):  # pages whose browser never connects stand in for open tabs
        assert (await user.http_client.get('/')).status_code == 200
    opened = [Client.instances[i] for i in set(Client.instances) - before]
    opened.pop().delete()  # one of 21
    await asyncio.sleep(0.3)
    assert reclaims == []
    opened.pop().delete()
    opened.pop().delete()  # three of 21: more than a tenth of those left
    await wait_for(lambda: len(reclaims) == 1)
    for client in opened:
        client.delete()


def walked(client: Client) -> list[object]:
    """The client's elements the collector still walks (gc.get_objects lists no frozen object)."""
    tracked = {id(o) for o in gc.get_objects()}
    return [element for element in client.elements.values() if id(element) in tracked]


async def test_a_page_answered_is_frozen_so_no_automatic_collection_walks_it(user: User) -> None:
    # the automatic full collection (every ~7 page builds) walked the pages built since the last one: 25-50 ms inside
    # one GET, which made the page bench's p95 its p50 plus one collection
    before = set(Client.instances)
    assert (await user.http_client.get('/')).status_code == 200
    (page,) = (Client.instances[i] for i in set(Client.instances) - before)
    assert len(page.elements) > 100 and walked(page) == []


def page_objects() -> dict[int, object]:
    """Every live object of a class from vcc_ui.pages (frozen ones too), by id."""
    gc.unfreeze()  # frozen objects are invisible to gc.get_objects(); the next reclaim freezes again
    return {id(o): o for o in gc.get_objects() if str(vars(type(o)).get('__module__', '')).startswith('vcc_ui.pages')}


@pytest.mark.app_env(ADMIN_PASSWORD='housekeeping-admin-pw')
async def test_pruned_pages_leave_no_object_of_the_pages_alive(
    user: User, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each ui.upload adds a route; FastAPI's caches kept its endpoint, and through it the Generate page's input slot
    monkeypatch.setattr(housekeeping, 'RECLAIM_DELAY', 0.0)
    monkeypatch.setattr(housekeeping, 'RECLAIM_INTERVAL', 0.0)
    user.http_client.cookies.set(ADMIN_COOKIE, services.admin.cookie_value())
    before, baseline = set(Client.instances), page_objects()
    for path in ('/', '/gallery', '/admin'):  # pages whose browser never connects, as a prefetch or a bot leaves them
        assert (await user.http_client.get(path)).status_code == 200
    built = [weakref.ref(o) for i, o in page_objects().items() if i not in baseline and type(o).__weakrefoffset__]
    assert any(isinstance(ref(), ImageSlot) for ref in built)
    for client_id in set(Client.instances) - before:
        Client.instances[client_id].delete()  # what NiceGUI's prune does a minute later
    await wait_for(lambda: not [ref for ref in built if ref() is not None])


EVERY_PAGE = (
    '/',
    '/gallery',
    '/inputs',
    '/tokens',
    '/admin',
    '/admin/servers',
    '/admin/users',
    '/admin/images',
    '/admin/loras',
    '/admin/logs',
    '/admin/studio',
)


def observed(elements: Iterable[Element]) -> list[weakref.ref]:
    """Weak references to each element's props, classes and style: their dicts and lists are most of a page."""
    return [weakref.ref(part) for element in elements for part in (element._props, element._classes, element._style)]


@contextmanager
def no_collection() -> Iterator[None]:
    """Nothing but reference counting frees objects inside (the automatic collections are off)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_an_element_removed_goes_at_once_without_a_collection(user: User) -> None:
    # its props, classes and style each held their own change handler: a cycle only a full collection freed, and a
    # page's first build is frozen, so what a navigation replaced waited for the next reclaim
    await user.open('/')
    with user.client:
        box = ui.column()
        with box:
            ui.label('going').classes('text-lg').style('color: red').props('data-role=probe')
    parts = observed([*box.descendants()])
    with no_collection():
        box.clear()
        assert [ref() for ref in parts if ref() is not None] == []


@pytest.mark.app_env(ADMIN_PASSWORD='housekeeping-admin-pw')
async def test_a_deleted_page_goes_without_a_collection(user: User, services: Services) -> None:
    # cycles kept each closed tab's page for the collector, and a page's first build is frozen, so for the next
    # reclaim: its elements' props, classes and style (each held its own change handler), its client (the time
    # zone's connect handler closed over it) and its widgets (a child kept its parent's method, weak.py)
    user.http_client.cookies.set(ADMIN_COOKIE, services.admin.cookie_value())
    before, baseline = set(Client.instances), page_objects()
    for path in EVERY_PAGE:  # pages whose browser never connected
        assert (await user.http_client.get(path)).status_code == 200
    clients = [Client.instances[i] for i in set(Client.instances) - before]
    assert len(clients) == len(EVERY_PAGE)
    widgets = [weakref.ref(o) for i, o in page_objects().items() if i not in baseline and type(o).__weakrefoffset__]
    # an uploader stays until the next reclaim empties FastAPI's caches, which hold its route's endpoint (housekeeping)
    elements = [e for client in clients for e in client.elements.values() if not isinstance(e, ui.upload)]
    left = [weakref.ref(client) for client in clients] + widgets + observed(elements)
    del elements
    with no_collection():
        for client in clients:
            client.delete()  # what NiceGUI does 10 s after a tab closed, or to a page pruned
        del clients, client
        await wait_for(lambda: all(ref() is None for ref in left))


@pytest.mark.app_env(ADMIN_PASSWORD='housekeeping-admin-pw')
async def test_a_closed_tab_goes_without_a_collection(user: User, services: Services) -> None:
    # a connected tab's client holds its sub page router, and the presence tracker's handler on it closed over the
    # client: every closed tab's page waited for the next reclaim
    user.http_client.cookies.set(ADMIN_COOKIE, services.admin.cookie_value())
    before, baseline = set(Client.instances), page_objects()
    for path in ('/', '/gallery', '/admin'):
        assert (await user.http_client.get(path)).status_code == 200
    clients = [Client.instances[i] for i in set(Client.instances) - before]
    for client in clients:  # each connects as its browser tab would
        await _on_handshake(f'test-{uuid4()}', {'client_id': client.id, 'tab_id': str(uuid4()), 'document_id': '1'})
    assert all(client.has_socket_connection for client in clients)
    widgets = [weakref.ref(o) for i, o in page_objects().items() if i not in baseline and type(o).__weakrefoffset__]
    left = [weakref.ref(client) for client in clients] + widgets
    with no_collection():
        for client in clients:
            client.delete()  # what NiceGUI does once a closed tab's reconnect time is over
        del clients, client
        await wait_for(lambda: all(ref() is None for ref in left))


def noted_reclaims(monkeypatch: pytest.MonkeyPatch, *, keep_interval: bool = False) -> list[housekeeping.Housekeeping]:
    """Make reclaims run at once after deletes (with keep_interval, not sooner than RECLAIM_INTERVAL after the last
    one unless Housekeeping asks for it); return the list each reclaiming Housekeeping is appended to."""
    monkeypatch.setattr(housekeeping, 'RECLAIM_DELAY', 0.0)
    if not keep_interval:
        monkeypatch.setattr(housekeeping, 'RECLAIM_INTERVAL', 0.0)
    keepers: list[housekeeping.Housekeeping] = []
    reclaim = housekeeping.Housekeeping.reclaim

    def noted(self: housekeeping.Housekeeping) -> None:
        keepers.append(self)
        reclaim(self)

    monkeypatch.setattr(housekeeping.Housekeeping, 'reclaim', noted)
    return keepers


async def test_the_table_of_bindable_properties_shrinks_after_a_prune(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CPython never shrinks a dict on deletes: after 1,000 pruned pages NiceGUI's table of bindable properties (an
    # entry per element property) kept room for all of them, 20 MB of the memory the memory bench saw kept
    keepers = noted_reclaims(monkeypatch)
    table = vars(binding.bindable_properties)['data']
    before, entries = set(Client.instances), len(table)
    for _ in range(10):  # pages whose browser never connects
        assert (await user.http_client.get('/')).status_code == 200
    assert len(table) > entries + 1000
    peak = sys.getsizeof(table)
    for client_id in set(Client.instances) - before:
        Client.instances[client_id].delete()  # what NiceGUI's prune does
    await wait_for(lambda: bool(keepers))

    def pages_gone() -> bool:
        gc.unfreeze()  # a page whose cancelled tasks still held it at the first reclaim was frozen with them
        gc.collect()
        return len(table) < entries + 100

    await wait_for(pages_gone)
    keepers[0].reclaim()
    assert sys.getsizeof(table) < peak / 4


async def test_a_pruned_page_does_not_ask_for_the_time_zone(user: User, caplog: pytest.LogCaptureFixture) -> None:
    before = set(Client.instances)
    await user.http_client.get('/')
    (page,) = (Client.instances[i] for i in set(Client.instances) - before)
    page.delete()  # it never connected: its question would go nowhere and its answer (None) would be logged
    await wait_for(lambda: not any(task.get_name() == 'learn time zone' for task in background_tasks.running_tasks))
    assert 'time zone' not in caplog.text


@pytest.mark.parametrize(
    'allocator',
    [pytest.param(name, marks=pytest.mark.app_env(PYTHONMALLOC=name)) for name in ('malloc', 'pymalloc')],
)
async def test_the_app_warns_when_freed_pages_cannot_go_back(
    allocator: str, caplog: pytest.LogCaptureFixture, user: User
) -> None:
    # pymalloc keeps every arena a pruned page's objects shared with one that lives on: 1,000 renders kept +449 MB
    await user.open('/')
    warned = any(housekeeping.ALLOCATOR_WARNING in r.getMessage() for r in caplog.get_records('setup'))
    assert warned == (allocator != 'malloc' and sys.platform.startswith('linux'))


async def connected_tab(user: User, tab_id: str) -> Client:
    """Load a page and connect it as the browser tab `tab_id` would."""
    before = set(Client.instances)
    assert (await user.http_client.get('/')).status_code == 200
    (client,) = (Client.instances[i] for i in set(Client.instances) - before)
    await _on_handshake(f'test-{uuid4()}', {'client_id': client.id, 'tab_id': tab_id, 'document_id': str(uuid4())})
    return client


async def test_the_storage_of_a_closed_tab_goes_and_an_open_or_filled_one_stays(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # without Redis NiceGUI kept an empty storage for every tab that ever connected, for 30 days: 1,000 closed tabs
    # kept 1,000 of them, made while many pages were open, each pinning a heap page of that peak
    monkeypatch.setattr(housekeeping, 'RECLAIM_DELAY', 0.0)
    monkeypatch.setattr(housekeeping, 'RECLAIM_INTERVAL', 0.0)
    tabs = app.storage._tabs
    await user.open('/')
    closed, filled = str(uuid4()), str(uuid4())
    gone = [await connected_tab(user, closed), await connected_tab(user, filled)]
    tabs[filled]['kept'] = 1  # what a page put in app.storage.tab stays for its tab's return (a reload)
    for client in gone:
        client.delete()
    await wait_for(lambda: closed not in tabs)
    assert user.tab_id in tabs  # a tab still open keeps its storage
    assert tabs[filled] == {'kept': 1}


def resident() -> int:
    """This process's resident memory in bytes (Linux)."""
    return int(Path('/proc/self/statm').read_text().split()[1]) * os.sysconf('SC_PAGE_SIZE')


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason="glibc's malloc_trim")
async def test_memory_freed_after_a_reclaim_goes_back_to_the_system_without_another_collection(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the reclaim trims once; heap pages freed after it (the last pruned pages, allocations that touched trimmed pages
    # again) stayed resident until the next reclaim, which needs more deleted clients: 2-3 MB at the memory bench's end
    keeper = await reclaiming_keeper(user, monkeypatch)
    monkeypatch.setattr(housekeeping, 'TRIM_AGAIN', 1.0)
    keeper.reclaim()
    with small_blocks_freed_under_a_pin(50_000):
        freed = resident()
        await wait_for(lambda: resident() < freed - (25 << 20), timeout=5)


async def reclaiming_keeper(user: User, monkeypatch: pytest.MonkeyPatch) -> housekeeping.Housekeeping:
    """The app's Housekeeping, found by the reclaim a deleted tab makes it run (reclaims at once from here on)."""
    keepers = noted_reclaims(monkeypatch)
    await user.open('/')
    user.client.delete()
    await wait_for(lambda: bool(keepers))
    return keepers[0]


@contextmanager
def small_blocks_freed_under_a_pin(count: int) -> Iterator[None]:
    """Fill glibc's heap with count blocks of 1 KB (as a page's objects) and free them under a block allocated after
    them (the heap cannot simply shrink from its top); free that one on the way out."""
    libc = ctypes.CDLL(ctypes.util.find_library('c'))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(1024) for _ in range(count)]
    for block in blocks:
        ctypes.memset(block, 1, 1024)
    pin = libc.malloc(1024)
    for block in blocks:
        libc.free(block)
    try:
        yield
    finally:
        libc.free(pin)


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason="glibc's malloc_trim")
async def test_memory_freed_long_after_a_reclaim_still_goes_back_to_the_system(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the trims after a reclaim stopped at the first that gave back under 1 MB; what a quiet app freed after that
    # (its allocations touch the free pages of a heap a peak spread) stayed resident: 1.3-4 MB at the memory bench's end
    keeper = await reclaiming_keeper(user, monkeypatch)
    monkeypatch.setattr(housekeeping, 'TRIM_AGAIN', 0.1)
    monkeypatch.setattr(housekeeping, 'TRIM_EVERY', 0.5)
    trims = []
    trim = housekeeping.Housekeeping._trim

    def noted(self: housekeeping.Housekeeping) -> int:
        trims.append(released := trim(self))
        return released

    monkeypatch.setattr(housekeeping.Housekeeping, '_trim', noted)
    keeper.reclaim()
    await wait_for(lambda: len(trims) >= 2)  # the reclaim's trim, then TRIM_AGAIN's, with little left to give back
    assert trims[1] < housekeeping.TRIM_WORTH
    with small_blocks_freed_under_a_pin(50_000):
        freed = resident()
        await wait_for(lambda: resident() < freed - (25 << 20), timeout=5)


async def test_a_flood_of_pages_never_connected_keeps_the_newest_and_drops_those_waiting_too_long(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(housekeeping, 'WAITING_KEPT', 3)
    monkeypatch.setattr(housekeeping, 'WAITING_GRACE', 0.5)
    await user.open('/')  # a connected tab, however old, is never the one to go
    tab = user.client
    before = set(Client.instances)
    for _ in range(4):  # pages whose browser never connects
        assert (await user.http_client.get('/')).status_code == 200
    early = [Client.instances[i] for i in Client.instances if i not in before]
    assert len(early) == 4 and not any(client.is_deleted for client in early)  # all four young: none goes yet
    await asyncio.sleep(0.6)
    assert (await user.http_client.get('/')).status_code == 200  # the build that finds them waiting too long
    late = [client for client in Client.instances.values() if client not in early and client.id not in before]
    assert [client.is_deleted for client in early] == [True, True, False, False]  # the oldest beyond the newest 3
    assert not tab.is_deleted and not late[0].is_deleted
    for client in early[2:] + late:
        client.delete()


async def test_a_flood_of_pages_dropped_is_reclaimed_without_waiting_for_the_interval(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # more pages dropped than open: the collection over what is left costs less than what it frees, so it does not
    # wait for RECLAIM_INTERVAL after the one before (here, the app's start)
    monkeypatch.setattr(housekeeping, 'WAITING_KEPT', 2)
    monkeypatch.setattr(housekeeping, 'WAITING_GRACE', 0.0)
    reclaims = noted_reclaims(monkeypatch, keep_interval=True)
    before = set(Client.instances)
    for _ in range(6):  # each build drops the oldest beyond the newest 2
        assert (await user.http_client.get('/')).status_code == 200
    await wait_for(lambda: len(reclaims) >= 1)
    for client in [client for client in Client.instances.values() if client.id not in before]:
        client.delete()
