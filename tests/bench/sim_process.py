"""Simulators in child processes that stamp each progress frame as it goes out, for the latency benches.

A bench that runs its simulators in its own interpreter lets the browser driver, the HTTP polling and the
simulators starve each other (50 simulators at 10 steps a second are 500 frames a second): the figure then
measures the harness, not the app. Here each child process runs its share of the simulators on its own event
loop, like ComfyUI servers on other machines; the stamps come back when the bench stops them.

Each child encodes a step's preview JPEG once for all its simulators: 50 GPU servers each blur and encode their
own, but this machine cannot do 500 of those a second (about 9 ms of CPU each) beside the app. The app still gets
a full-size JPEG with every step, as from a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from pathlib import Path
from typing import Any

from tests.fixtures import simulator
from vcc_ui.simulator import images


async def _serve(root: Path, names: list[str], step_delay: float, signals: tuple[Any, Any, Any]) -> None:
    ready, stop, results = signals
    sent: dict[tuple[str, int], float] = {}
    urls = []
    async with contextlib.AsyncExitStack() as stack:
        for name in names:
            sim = await stack.enter_async_context(simulator(root, name, step_delay=step_delay))
            _stamp(sim, sent)
            urls.append(sim.url)
        results.put(urls)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
    results.put(sent)


def _stamp(sim: Any, sent: dict[tuple[str, int], float]) -> None:
    """Stamp (prompt id, step) with time.time() just before the simulator sends that step's progress frame."""
    original = sim.hub.send_json

    async def stamped(event: str, data: dict, sid: str | None) -> None:
        if event == 'progress':
            sent.setdefault((data['prompt_id'], int(data['value'])), time.time())
        await original(event, data, sid)

    sim.hub.send_json = stamped


def _share_previews() -> None:
    """Encode each (image size, step) preview once in this process; every simulator sends it as its own."""
    encode = images.preview_jpeg
    encoded: dict[tuple, bytes] = {}

    def shared(image: Any, fraction: float, max_size: int) -> bytes:
        key = (image.size, image.mode, round(fraction, 6), max_size)
        if key not in encoded:
            encoded[key] = encode(image, fraction, max_size)
        return encoded[key]

    images.preview_jpeg = shared


def _child(root: Path, names: list[str], step_delay: float, signals: tuple[Any, Any, Any]) -> None:
    _share_previews()
    asyncio.run(_serve(root, names, step_delay, signals))


class SimulatorProcesses:
    """`count` simulators spread over `processes` child processes; `urls` once entered, `sent` once left.

    `sent` maps (prompt id, step) to the wall-clock time its progress frame went out (each simulator runs one prompt
    at a time, so a prompt id names its simulator).
    """

    def __init__(self, root: Path, count: int, *, step_delay: float, processes: int = 1) -> None:
        context = multiprocessing.get_context('spawn')
        self.urls: list[str] = []
        self.sent: dict[tuple[str, int], float] = {}
        self._children = []
        for share in range(min(processes, count)):
            names = [f'sim{n}' for n in range(share, count, processes)]
            signals = (context.Event(), context.Event(), context.Queue())
            process = context.Process(
                target=_child, args=(root, names, step_delay, signals), name=f'simulators-{share}', daemon=True
            )
            self._children.append((process, signals))

    @property
    def pids(self) -> list[int]:
        """The child processes' ids (for their CPU seconds)."""
        return [process.pid for process, _ in self._children if process.pid is not None]

    def __enter__(self) -> SimulatorProcesses:
        for process, _ in self._children:
            process.start()
        for process, (ready, _, results) in self._children:
            if not ready.wait(120):
                self._kill()
                raise RuntimeError(f'the simulators of {process.name} did not start')
            self.urls.extend(results.get(timeout=10))
        return self

    def __exit__(self, *exc: object) -> None:
        for _, (_, stop, _) in self._children:
            stop.set()
        for process, (_, _, results) in self._children:
            with contextlib.suppress(Exception):
                self.sent.update(results.get(timeout=60))
            process.join(30)
        self._kill()

    def _kill(self) -> None:
        for process, _ in self._children:
            if process.is_alive():
                process.kill()
