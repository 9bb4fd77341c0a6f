"""What the pages show about servers: one server's status, and whether ComfyUI counts as up."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures import make_settings, services, simulator
from vcc_ui.services.servers import ServerHealth


def test_a_server_is_ok_down_disabled_or_draining() -> None:
    def status(*, enabled: bool, reachable: bool, inflight: int = 0) -> str:
        health = ServerHealth(id=1, name='gpu', url='x', enabled=enabled, reachable=reachable, inflight=inflight)
        return health.status

    assert status(enabled=True, reachable=True) == 'ok'
    assert status(enabled=True, reachable=False, inflight=1) == 'down'
    assert status(enabled=False, reachable=True) == 'disabled'
    assert status(enabled=False, reachable=False, inflight=2) == 'draining'


async def test_comfyui_is_up_while_some_enabled_server_answers(tmp_path: Path) -> None:
    async with simulator(tmp_path, 'a') as a, services(make_settings(tmp_path, a.url)) as app:
        entry = next(iter(app.pool.entries.values()))
        assert app.pool.any_reachable()
        await app.pool.set_enabled(entry.id, False)
        assert not app.pool.any_reachable()  # answering, but not used
        await app.pool.set_enabled(entry.id, True)
        await app.pool.check_all()
        assert app.pool.any_reachable()
        await a.go_down()
        await app.pool.check_all()
        assert not app.pool.any_reachable()


async def test_pages_hear_of_a_server_only_when_what_they_show_changes(tmp_path: Path) -> None:
    """A health round that refreshes VRAM, queue and check time reaches the admin views alone, not every tab."""
    async with simulator(tmp_path, 'a') as a, services(make_settings(tmp_path, a.url)) as app:
        entry = next(iter(app.pool.entries.values()))
        every: list[str] = []
        shown: list[str] = []
        app.pool.changed.subscribe(lambda health: every.append(health.status), unsubscribe_on_delete=False)
        app.pool.shown_changed.subscribe(lambda health: shown.append(health.status), unsubscribe_on_delete=False)
        await app.pool.check_all()
        await app.pool.check_all()
        assert every == ['ok', 'ok'] and shown == []
        await a.go_down()
        await app.pool.check_all()
        assert shown == ['down']
        await app.pool.check_all()  # still down, same error: nothing new to show
        assert shown == ['down']
        await app.pool.set_enabled(entry.id, False)
        assert shown == ['down', 'disabled']
        await app.pool.remove_server(entry.id)
        assert shown == ['down', 'disabled', 'disabled']
