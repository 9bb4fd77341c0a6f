"""Live on its own: throttled change events, thinned previews and the time left of a running job."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import uvloop
from nicegui import Event

from tests.fixtures import USER_A, make_settings, wait_for
from vcc_ui.services.jobs import JobView, live
from vcc_ui.services.jobs.live import Live, time_left
from vcc_ui.services.jobs.types import LiveJob, Run


def running_job() -> Run:
    """A run of a fresh job; the engine's records need no server for what Live does."""
    job = LiveJob(JobView(id='j1', owner=USER_A, workflow_id='wf', mode='txt2img', params={}))
    job.run = Run(job=job, server=None)
    return job.run


def recorder(tmp_path: Path) -> tuple[Live, list[tuple[int, int]]]:
    """A Live whose events are recorded as (step, preview version)."""
    changed: Event[JobView] = Event()
    seen: list[tuple[int, int]] = []
    changed.subscribe(lambda view: seen.append((view.step, view.preview_seq)))
    return Live(make_settings(tmp_path), changed), seen


async def test_progress_events_are_throttled_and_the_last_step_follows(tmp_path: Path) -> None:
    events, seen = recorder(tmp_path)
    run = running_job()
    for step in range(1, 21):
        events.progress(run, step, 20)
    assert seen == [(1, 0)]  # the first at once, the rest wait out EMIT_INTERVAL
    await asyncio.sleep(live.EMIT_INTERVAL * 3)
    assert seen == [(1, 0), (20, 0)]  # one deferred event carries the newest step
    events.emit(run.job, force=True)  # a status change is never held back
    assert len(seen) == 3


async def test_previews_are_thinned_and_the_newest_frame_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, 'PREVIEW_INTERVAL', 0.2)
    events, _ = recorder(tmp_path)
    run = running_job()
    for frame in range(5):
        events.preview(run, 'image/jpeg', bytes([frame]))
    assert run.view.preview_seq == 1 and run.preview == ('image/jpeg', bytes([4]))
    await asyncio.sleep(0.5)
    assert run.view.preview_seq == 2  # one more version once the interval is over, not one per frame


async def test_a_preview_timer_of_an_ended_run_shows_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, 'PREVIEW_INTERVAL', 0.2)
    events, _ = recorder(tmp_path)
    run = running_job()
    events.preview(run, 'image/jpeg', b'first')
    events.preview(run, 'image/jpeg', b'second')  # waits for the interval
    run.job.run = None  # the run ends meanwhile
    await asyncio.sleep(0.5)
    assert run.view.preview_seq == 1


async def test_a_new_preview_rides_with_the_next_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, 'PREVIEW_INTERVAL', 30.0)  # no event of its own within the test
    events, seen = recorder(tmp_path)
    run = running_job()
    events.progress(run, 1, 20)
    events.preview(run, 'image/jpeg', b'frame')  # a new version after its step's event went out
    await asyncio.sleep(live.EMIT_INTERVAL * 1.5)
    events.progress(run, 2, 20)
    assert seen == [(1, 0), (2, 1)]  # step 1 was not told again for the preview, and step 2 went at once


async def test_a_preview_no_step_carries_goes_alone_and_holds_no_step_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, 'PREVIEW_INTERVAL', 0.2)
    events, seen = recorder(tmp_path)
    run = running_job()
    events.progress(run, 1, 20)
    events.preview(run, 'image/jpeg', b'frame')
    await wait_for(lambda: len(seen) == 2)
    assert seen == [(1, 0), (1, 1)]  # no step came: the new version went on its own
    events.progress(run, 2, 20)
    assert seen[-1] == (2, 1)  # at once: the preview's event does not count against EMIT_INTERVAL


def test_a_preview_timer_that_uvloop_fires_early_is_armed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, 'PREVIEW_INTERVAL', 0.0504)
    armed: list[str] = []

    class Loop(uvloop.Loop):  # the app's loop (uvicorn runs on uvloop): its timers fire up to a millisecond early
        def call_later(self, delay: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
            armed.append(getattr(callback, '__name__', ''))
            return super().call_later(delay, callback, *args, **kwargs)

    async def frames() -> Run:
        events, _ = recorder(tmp_path)
        run = running_job()
        events.preview(run, 'image/jpeg', b'first')  # shown at once
        events.preview(run, 'image/jpeg', b'second')  # shown when the interval is over
        await asyncio.sleep(0.2)
        return run

    with asyncio.Runner(loop_factory=Loop) as runner:
        run = runner.run(frames())
    assert run.view.preview_seq == 2 and run.preview == ('image/jpeg', b'second')
    assert armed.count('_preview_deferred') == 1  # not re-armed for the microseconds the early timer left


async def test_time_left_comes_from_the_jobs_own_pace(tmp_path: Path) -> None:
    events, _ = recorder(tmp_path)
    run = running_job()
    run.started = time.monotonic() - 5
    assert time_left(run, expected=20.0) == pytest.approx(15.0, abs=0.5)  # no step yet: expected minus elapsed
    events.progress(run, 1, 100)
    run.pace_from = (time.monotonic() - 1.0, 1)  # one step took a second ...
    events.progress(run, 2, 100)
    assert time_left(run, expected=20.0) == pytest.approx(98.0, rel=0.05)  # ... so 98 steps to go take ~98 s
