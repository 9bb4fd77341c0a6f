"""StorageHealth: whether new images can be stored now, probed at most once a second, mostly off the caller's path."""

from __future__ import annotations

import asyncio
import logging
import time

from vcc_ui.services.storage.core import Problem, Storage

log = logging.getLogger(__name__)

PROBE_REFRESH = 0.5  # a "storage works" answer older than this is probed again in the background
PROBE_INTERVAL = 1.0  # and one older than this is probed again before it is given


class StorageHealth:
    """What `Storage.problem` (a real write and a free-space check) said lately, for the job submit path.

    A "works" answer is given from memory while it is younger than PROBE_INTERVAL; from PROBE_REFRESH on, a caller
    also starts a background probe, so a steady stream of submits never waits for one. A problem is never given
    from memory: every caller waits for a new probe, so a broken storage is refused each time and a mended one
    accepted at once. A save the backend refused since the last probe (`Storage.failed_at`) also makes the next
    caller wait for a new probe. Callers asking while a probe runs share it.
    """

    def __init__(self, storage: Storage, min_free_mb: float) -> None:
        self.storage = storage
        self.min_free_mb = min_free_mb
        self._problem: Problem | None = None
        self._probed_at = float('-inf')  # monotonic start of the probe that gave `_problem`
        self._probing: asyncio.Task[Problem | None] | None = None

    async def problem(self) -> Problem | None:
        """Why new images cannot be stored now ('full', 'read_only'), or None."""
        age = time.monotonic() - self._probed_at
        if self._problem is not None or age >= PROBE_INTERVAL or self.storage.failed_at >= self._probed_at:
            return await asyncio.shield(self._probe())
        if age >= PROBE_REFRESH:
            self._probe()  # the answer in memory is still given; the next caller gets the new one
        return self._problem

    async def stop(self) -> None:
        """Wait for a probe still running (a worker thread cannot be cancelled)."""
        if self._probing is not None:
            await asyncio.gather(self._probing, return_exceptions=True)

    def _probe(self) -> asyncio.Task[Problem | None]:
        """The probe running now, or a new one."""
        if self._probing is None:
            self._probing = asyncio.get_running_loop().create_task(self._run_probe(), name='storage-probe')
        return self._probing

    async def _run_probe(self) -> Problem | None:
        started = time.monotonic()
        problem: Problem | None
        try:
            problem = await asyncio.to_thread(self.storage.problem, self.min_free_mb)
        except Exception:
            log.exception('the image storage probe failed; taking the storage as not writable')
            problem = 'read_only'
        finally:
            self._probing = None
        if problem != self._problem:
            log.log(logging.WARNING if problem else logging.INFO, 'image storage: %s', problem or 'writable again')
        self._problem, self._probed_at = problem, started
        return problem
