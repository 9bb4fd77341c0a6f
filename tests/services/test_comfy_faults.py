"""Jobs against a misbehaving ComfyUI: cached outputs, duplicated client ids, transient errors (issue 11)."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures import USER_A, make_settings, services, simulator, wait_for


async def test_test_pattern_runs_without_a_prompt(tmp_path: Path) -> None:
    async with simulator(tmp_path) as sim, services(make_settings(tmp_path, sim.url)) as app:
        view = await app.jobs.submit(USER_A, 'test_pattern', {'seed': 1})
        await wait_for(lambda: view.finished)
        assert view.status == 'completed', view.error
