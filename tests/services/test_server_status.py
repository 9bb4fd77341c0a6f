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
