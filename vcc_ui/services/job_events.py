"""JobFeed: the events of one user's jobs (or of one job) for an event stream, taken from JobManager.changed.

Statuses come in the order they happened (a waiting job's status again when its queue position changes); progress,
previews and positions are coalesced to the newest (a slow reader gets the latest step, not every step); a completed
job's images come as `result` just before its terminal status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from vcc_ui.models import JobStatus
from vcc_ui.services.images import ImageIndex
from vcc_ui.services.jobs import JobManager, JobView

STATUS, PROGRESS, PREVIEW, RESULT = 'status', 'progress', 'preview', 'result'
QUEUE = 'queue'  # a waiting job's new position: sent as a `status` event, coalesced like progress
PREVIEW_PREFIX = '/api/v1/jobs'  # where a job's preview frames are served (JobView.preview_path)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One event of a feed: its name (status, progress, preview, result) and its JSON data."""

    name: str
    data: dict[str, Any]


@dataclass(slots=True)
class _Told:
    """What a feed has told about one job so far."""

    status: str = ''
    position: int = 0
    step: tuple[int, int] = (0, 0)
    preview: int = 0


class JobFeed:
    """A subscription to JobManager.changed for one reader; use it as a context manager (leaving it unsubscribes)."""

    def __init__(self, jobs: JobManager, images: ImageIndex, owner: str, *, job_id: str | None = None) -> None:
        self.jobs = jobs
        self.images = images
        self.owner = owner
        self.job_id = job_id  # None: every job of the owner, and the feed never ends
        self._told: dict[str, _Told] = {}
        self._pending: list[tuple[str, str, dict[str, Any]]] = []  # (event name, job id, data), oldest first
        self._wake = asyncio.Event()

    def __enter__(self) -> JobFeed:
        """Subscribe, then note the current state of the jobs followed (nothing can change in between)."""
        self.jobs.changed.subscribe(self._on_change, unsubscribe_on_delete=False)
        for view in list(self.jobs.views.values()):
            if self._follows(view) and (self.job_id is not None or not view.finished):
                self._note(view)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Unsubscribe."""
        self.jobs.changed.unsubscribe(self._on_change)

    async def events(self) -> AsyncIterator[JobEvent]:
        """The events as they happen; a one-job feed ends after the job's terminal status."""
        if self.job_id is not None and self.job_id not in self._told:  # an older job, no longer kept live
            view = await self.jobs.get(self.job_id)
            if view is not None and view.owner == self.owner:
                self._note(view)
        while True:
            while self._pending:
                name, job_id, data = self._pending.pop(0)
                if name == RESULT:
                    data = await self._result(job_id, data['image_ids'])
                yield JobEvent(STATUS if name == QUEUE else name, data)
                if name == STATUS and self.job_id is not None and JobStatus(data['status']).finished:
                    return
            self._wake.clear()
            await self._wake.wait()

    def _follows(self, view: JobView) -> bool:
        return view.owner == self.owner and (self.job_id is None or view.id == self.job_id)

    def _on_change(self, view: JobView) -> None:
        if self._follows(view):
            self._note(view)

    def _note(self, view: JobView) -> None:
        """Queue what changed since the feed last told about this job."""
        told = self._told.setdefault(view.id, _Told())
        finished, moved = view.finished, view.status != told.status
        told.status = view.status
        if moved and not finished:
            self._pending.append((STATUS, view.id, status_data(view)))
        elif view.status == JobStatus.QUEUED and view.position != told.position:
            self._coalesce(QUEUE, view.id, status_data(view))
        told.position = view.position
        if not finished and view.steps and (view.step, view.steps) != told.step:
            told.step = (view.step, view.steps)
            self._coalesce(PROGRESS, view.id, progress_data(view))
        if not finished and view.preview_seq and view.preview_seq != told.preview:
            told.preview = view.preview_seq
            self._coalesce(PREVIEW, view.id, preview_data(view))
        if moved and finished:
            if view.status == JobStatus.COMPLETED:
                self._pending.append((RESULT, view.id, {'image_ids': list(view.image_ids)}))
            self._pending.append((STATUS, view.id, status_data(view)))
            if self.job_id is None:
                del self._told[view.id]  # a finished job changes no more
        self._wake.set()

    def _coalesce(self, name: str, job_id: str, data: dict[str, Any]) -> None:
        """Replace the job's queued event of this name (after its latest status) with the newer one, else queue it."""
        for index in range(len(self._pending) - 1, -1, -1):
            queued, queued_job, _ = self._pending[index]
            if queued_job != job_id:
                continue
            if queued == name:
                self._pending[index] = (name, job_id, data)
                return
            if queued in {STATUS, RESULT}:
                break
        self._pending.append((name, job_id, data))

    async def _result(self, job_id: str, image_ids: list[str]) -> dict[str, Any]:
        views = {image.id: image for image in await self.images.results(self.owner, image_ids)}
        images = [
            {'id': image_id, 'url': views[image_id].url, 'thumb_url': views[image_id].thumb_url}
            for image_id in image_ids
            if image_id in views
        ]
        return {'job_id': job_id, 'images': images}


def status_data(view: JobView) -> dict[str, Any]:
    """A `status` event: the job's status with its queue position, ETA, server and error."""
    return {
        'job_id': view.id,
        'status': str(view.status),
        'position': view.position,
        'eta_seconds': None if view.eta_seconds is None else round(view.eta_seconds, 1),
        'server': view.server,
        'error': view.error or None,
    }


def progress_data(view: JobView) -> dict[str, Any]:
    """A `progress` event: the sampler step, the step count and the fraction done."""
    return {
        'job_id': view.id,
        'step': view.step,
        'steps': view.steps,
        'fraction': round(view.progress, 4),
        'eta_seconds': None if view.eta_seconds is None else round(view.eta_seconds, 1),
    }


def preview_data(view: JobView) -> dict[str, Any]:
    """A `preview` event: the newest preview's version and the URL that serves it."""
    return {'job_id': view.id, 'version': view.preview_seq, 'url': view.preview_path(PREVIEW_PREFIX)}
