"""Time stamps the benches take inside the simulator."""

from __future__ import annotations

import time

from vcc_ui.simulator import Simulator


async def stamp_prompt_posts(sim: Simulator) -> list[float]:
    """Record `time.perf_counter()` at every POST /prompt the simulator receives; return the growing list."""
    posted: list[float] = []
    handler = sim._post_prompt

    async def stamped(request):
        posted.append(time.perf_counter())
        return await handler(request)

    sim._post_prompt = stamped
    await sim.go_down(keep_state=True)
    await sim.come_back()  # rebuild the routes with the stamped handler
    return posted
