"""JobManager: per-user queue, fair dispatch, live progress, timeout, cancel and restart recovery."""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime

from nicegui import Event, binding
from pydantic import ValidationError
from sqlalchemy import update
from sqlmodel import Session, col, select

from vcc_ui.models import FINISHED, Job, JobStatus, utcnow
from vcc_ui.services.comfy.client import ComfyError, ComfyUnavailable, PromptRejected
from vcc_ui.services.comfy.messages import (
    Executed,
    Executing,
    ExecutionError,
    ExecutionInterrupted,
    ExecutionStart,
    ExecutionSuccess,
    ImageRef,
    Message,
    PreviewImageWithMetadata,
    Progress,
    PromptLost,
)
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.jobs_run import JobRunner
from vcc_ui.services.servers import ServerEntry, ServerHealth, ServerPool
from vcc_ui.services.workflows import GenerateParams, ParamError, WorkflowRegistry
from vcc_ui.settings import Settings

log = logging.getLogger('vcc_ui.jobs')

EMIT_INTERVAL = 0.1
PREVIEW_INTERVAL = 0.5  # every open tab fetches and decodes each new preview: two a second look live enough
PROGRESS_DB_INTERVAL = 5.0
DEFAULT_DURATION = 20.0
KEEP_FINISHED = 2000
MAX_REQUEUES = 3


class SubmitError(Exception):
    """A submission the app refuses; `code` maps to an HTTP status, `message` is shown to the user.

    `reason` and `values` name the case for pages that say it in the user's language (e.g. 'queue_full' with
    {'queued': 3, 'limit': 3}, or a pydantic error type with the field and its bound).
    """

    def __init__(
        self, code: str, message: str, *, field: str | None = None, reason: str = '', values: dict | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field
        self.reason, self.values = reason, values or {}


@binding.bindable_dataclass
class JobView:
    """The live state of one job, bound by pages and sent by the API."""

    id: str
    owner: str
    workflow_id: str
    mode: str
    params: dict
    status: str = JobStatus.QUEUED
    priority: float = 0.0
    queued_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    position: int = 0
    eta_seconds: float | None = None
    progress: float = 0.0
    step: int = 0
    steps: int = 0
    node: str = ''
    server: str = ''
    error: str = ''
    image_ids: list[str] = field(default_factory=list)
    preview_seq: int = 0

    @property
    def finished(self) -> bool:
        """Whether the job reached an end state."""
        return JobStatus(self.status) in FINISHED

    def to_dict(self) -> dict:
        """The JSON shape the API answers with."""
        return {
            'id': self.id,
            'owner': self.owner,
            'workflow_id': self.workflow_id,
            'mode': self.mode,
            'params': self.params,
            'status': self.status,
            'position': self.position,
            'eta_seconds': None if self.eta_seconds is None else round(self.eta_seconds, 1),
            'progress': round(self.progress, 4),
            'step': self.step,
            'steps': self.steps,
            'server': self.server,
            'error': self.error or None,
            'image_ids': list(self.image_ids),
            'queued_at': self.queued_at.isoformat(),
            'started_at': self.started_at.isoformat() if self.started_at else None,
            'finished_at': self.finished_at.isoformat() if self.finished_at else None,
            'preview_url': f'/api/v1/jobs/{self.id}/preview?v={self.preview_seq}' if self.preview_seq else None,
        }

    @classmethod
    def from_row(cls, row: Job, server: str = '') -> JobView:
        """Build the view of a stored job."""
        return cls(
            id=row.id,
            owner=row.owner,
            workflow_id=row.workflow_id,
            mode=row.mode,
            params=row.params,
            status=row.status,
            priority=row.priority,
            queued_at=row.queued_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            progress=(row.progress_value / row.progress_max)
            if row.progress_max
            else (1.0 if row.status == JobStatus.COMPLETED else 0.0),
            server=server,
            error=row.error or '',
            image_ids=list(row.image_ids),
        )


@dataclass(eq=False)
class Run:
    """Book-keeping of one dispatched job while it is on a server."""

    view: JobView
    server: ServerEntry
    prompt_id: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: ExecutionError | None = None
    interrupted: bool = False
    lost: str | None = None
    cancel_requested: bool = False
    posted: bool = False
    recovering: bool = False
    succeeded: bool = False
    outputs: list[ImageRef] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    pace_from: tuple[float, int] | None = None  # (when, step) of the first step seen of the current sampler


class JobManager:
    """The app's queue: ComfyUI only ever sees what this dispatches."""

    def __init__(
        self, settings: Settings, writer: DbWriter, pool: ServerPool, registry: WorkflowRegistry, runner: JobRunner
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.pool = pool
        self.registry = registry
        self.runner = runner
        self.quota_check: Callable[[str], Awaitable[str | None]] | None = None  # owner -> refusal message or None
        self.block_check: Callable[[str], Awaitable[str | None]] | None = None  # owner -> refusal message or None
        self.changed: Event[JobView] = Event()
        self.views: dict[str, JobView] = {}
        self.runs: dict[str, Run] = {}
        self.previews: dict[str, tuple[str, bytes]] = {}
        self._queued: dict[str, list[JobView]] = {}
        self._by_prompt: dict[str, Run] = {}
        self._served: dict[str, int] = {}
        self._serve_counter = 0
        self._durations: dict[tuple[str, str], float] = {}
        self._requeues: dict[str, int] = {}
        self._finishing: set[str] = set()
        self._workflow_durations: dict[str, float] = {}
        self._last_emit: dict[str, float] = {}
        self._emit_pending: set[str] = set()
        self._last_preview: dict[str, float] = {}
        self._preview_pending: set[str] = set()
        self._reposition_pending = False
        self._last_db_progress: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._loop_task: asyncio.Task | None = None
        pool.add_listener(self._on_message)
        pool.changed.subscribe(self._on_server_change)

    # ---- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load unfinished jobs from the database, re-attach running ones and start dispatching."""
        rows: list[Job] = await self.writer.read(
            lambda db: list(
                db.exec(
                    select(Job).where(col(Job.status).not_in([s.value for s in FINISHED])).order_by(col(Job.queued_at))
                ).all()
            )
        )
        for row in rows:
            view = JobView.from_row(row)
            self.views[view.id] = view
            if row.status == JobStatus.QUEUED or (row.status == JobStatus.DISPATCHED and not row.prompt_id):
                view.status = JobStatus.QUEUED
                self._enqueue(view)
            else:
                self._spawn(self._recover(view, row))
        self._loop_task = asyncio.create_task(self._dispatch_loop(), name='job-dispatch')
        self._reposition()

    async def stop(self) -> None:
        """Stop dispatching and drop in-flight tasks; the DB keeps their state for the next start."""
        tasks = [*self._tasks, *([self._loop_task] if self._loop_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- public API ------------------------------------------------------------------------------------------

    async def submit(self, owner: str, workflow_id: str, params: dict | GenerateParams) -> JobView:
        """Validate and queue a job, or raise SubmitError with a clear reason."""
        workflow = self.registry.get(workflow_id)
        if workflow is None:
            raise SubmitError('unknown_workflow', f'Unknown workflow {workflow_id!r}', field='workflow_id')
        try:
            checked = workflow.check(params if isinstance(params, GenerateParams) else GenerateParams(**params))
        except ValidationError as error:
            first = error.errors()[0]
            name = '.'.join(str(p) for p in first['loc']) or 'params'
            raise SubmitError(
                'invalid_params',
                f'{name}: {first["msg"]}',
                field=name,
                reason=first['type'],
                values=dict(first.get('ctx') or {}),
            ) from error
        except ParamError as error:
            raise SubmitError('invalid_params', error.message, field=error.field) from error
        for image_id in (checked.input_image, checked.control_image):
            if image_id and not await self.runner.image_exists(owner, image_id):
                raise SubmitError('invalid_params', f'Image {image_id} does not exist', field='input_image')
        if self.block_check and (blocked := await self.block_check(owner)):
            raise SubmitError('blocked', blocked)
        if checked.lora and not self.pool.lora_offered(workflow.id, checked.lora):
            raise SubmitError('invalid_params', f'No ComfyUI server has the LoRA {checked.lora!r}', field='lora')
        self._check_limits(owner)
        refusal = await self.quota_check(owner) if self.quota_check else None
        if refusal:
            raise SubmitError('quota', refusal)
        view = JobView(
            id=uuid.uuid4().hex,
            owner=owner,
            workflow_id=workflow.id,
            mode=workflow.mode,
            params=checked.model_dump(exclude_none=True),
        )
        self.views[view.id] = view
        self._enqueue(view)
        row = Job(
            id=view.id,
            owner=owner,
            workflow_id=view.workflow_id,
            mode=view.mode,
            params=view.params,
            queued_at=view.queued_at,
        )
        await self.writer.write(lambda db: db.add(row))
        self._reposition()
        log.info(
            'enqueue',
            extra={'job_id': view.id, 'owner': owner, 'workflow_id': view.workflow_id, 'position': view.position},
        )
        self._wake.set()
        return view

    def jobs_of(self, owner: str) -> list[JobView]:
        """The live jobs of one user, oldest first."""
        return sorted((v for v in self.views.values() if v.owner == owner), key=lambda v: v.queued_at)

    async def get(self, job_id: str) -> JobView | None:
        """Return the live view, or the stored one of an older job."""
        if job_id in self.views:
            return self.views[job_id]
        row = await self.writer.read(lambda db: db.get(Job, job_id))
        return JobView.from_row(row) if row else None

    async def history(self, owner: str, *, limit: int = 50) -> list[JobView]:
        """The newest jobs of one user, live ones included."""
        rows = await self.writer.read(
            lambda db: list(
                db.exec(select(Job).where(Job.owner == owner).order_by(col(Job.queued_at).desc()).limit(limit)).all()
            )
        )
        return [self.views.get(r.id) or JobView.from_row(r) for r in rows]

    async def cancel(self, job_id: str, *, owner: str | None = None) -> JobView | None:
        """Cancel a queued or running job (owner None = any owner); None if there is no such job."""
        view = self.views.get(job_id)
        if view is None or (owner is not None and view.owner != owner):
            return None
        if view.status == JobStatus.QUEUED:
            self._dequeue(view)
            await self._finish(view, JobStatus.CANCELLED)
        elif job_id in self.runs:
            run = self.runs[job_id]
            run.cancel_requested = True
            run.done.set()
        return view

    def move_to_front(self, job_id: str) -> bool:
        """Let a queued job go before its owner's other queued jobs and first in the round."""
        view = self.views.get(job_id)
        if view is None or view.status != JobStatus.QUEUED:
            return False
        jobs = self._queued[view.owner]
        view.priority = min(j.priority for j in jobs) - 1
        jobs.sort(key=lambda j: (j.priority, j.queued_at))
        self._served[view.owner] = -1
        self.writer.write_later(lambda db: _update(db, view.id, priority=view.priority))
        self._reposition()
        self._wake.set()
        return True

    def preview(self, job_id: str) -> tuple[str, bytes] | None:
        """The latest live preview image of a running job."""
        return self.previews.get(job_id)

    # ---- queue and dispatch ----------------------------------------------------------------------------------

    def _check_limits(self, owner: str) -> None:
        queued = len(self._queued.get(owner, []))
        active = sum(1 for r in self.runs.values() if r.view.owner == owner)
        max_queue, max_active = self.settings.max_per_user_queue, self.settings.max_per_user_concurrent
        if queued + active >= max_queue + max_active:
            if max_queue == 0 or queued == 0:
                raise SubmitError(
                    'limit',
                    f'You already have {active} job(s) running (limit {max_active}). '
                    'Wait for one to finish or cancel it.',
                    reason='running_full',
                    values={'active': active, 'limit': max_active},
                )
            raise SubmitError(
                'limit',
                f'Your queue is full ({queued} waiting, limit {max_queue}). Wait for a job to finish or cancel one.',
                reason='queue_full',
                values={'queued': queued, 'limit': max_queue},
            )

    def _enqueue(self, view: JobView) -> None:
        jobs = self._queued.setdefault(view.owner, [])
        jobs.append(view)
        jobs.sort(key=lambda j: (j.priority, j.queued_at))

    def _dequeue(self, view: JobView) -> None:
        jobs = self._queued.get(view.owner, [])
        if view in jobs:
            jobs.remove(view)
        if not jobs:
            self._queued.pop(view.owner, None)
        self._reposition_soon()

    def _owners_in_turn(self) -> list[str]:
        return sorted(self._queued, key=lambda o: (self._served.get(o, 0), self._queued[o][0].queued_at))

    async def _dispatch_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                self._dispatch_ready()
            except Exception:
                log.exception('dispatch round failed')

    def _dispatch_ready(self) -> None:
        dispatched = True
        while dispatched:
            dispatched = False
            for owner in self._owners_in_turn():
                active = sum(1 for r in self.runs.values() if r.view.owner == owner)
                if active >= self.settings.max_per_user_concurrent:
                    continue
                view = self._queued[owner][0]
                servers = self.pool.candidates(view.workflow_id, lora=view.params.get('lora'))
                if not servers:
                    continue
                self._serve_counter += 1
                self._served[owner] = self._serve_counter
                self._dequeue(view)
                self._start_run(view, servers[0])
                dispatched = True
                break

    def _start_run(self, view: JobView, server: ServerEntry) -> None:
        run = Run(view=view, server=server)
        self.runs[view.id] = run
        server.health.inflight += 1
        view.status, view.server, view.position = JobStatus.DISPATCHED, server.health.name, 0
        self._emit(view, force=True)
        self._spawn(self._execute(run))

    def _spawn(self, coro: Coroutine) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, run: Run) -> None:
        view = run.view
        server_id, prompt_id = run.server.id, str(uuid.uuid4())
        run.prompt_id = prompt_id
        self._by_prompt[prompt_id] = run
        # NOTE: the prompt id is stored before it is posted, so a restart can always find what was sent
        await self.writer.write(
            lambda db: _update(db, view.id, status=JobStatus.DISPATCHED, server_id=server_id, prompt_id=prompt_id)
        )
        try:
            if run.cancel_requested:
                return await self._finish(view, JobStatus.CANCELLED, run=run)
            graph = await self.runner.prepare(run, self.registry.get(view.workflow_id))
            await run.server.client.queue_prompt(graph, prompt_id=prompt_id)
            run.posted = True
            log.info(
                'job_start',
                extra={'job_id': view.id, 'owner': view.owner, 'server': view.server, 'prompt_id': run.prompt_id},
            )
            await self._await_outcome(run)
        except ComfyUnavailable as error:
            if not run.posted:
                return await self._requeue(run, str(error))
            await self._finish(view, JobStatus.FAILED, run=run, error=f'Lost contact with ComfyUI: {error}')
        except PromptRejected as error:
            await self._finish(view, JobStatus.FAILED, run=run, error=f'ComfyUI refused the workflow: {error}')
        except ComfyError as error:
            await self._finish(view, JobStatus.FAILED, run=run, error=f'ComfyUI error: {error}')
        except ParamError as error:
            await self._finish(view, JobStatus.FAILED, run=run, error=error.message)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception('job %s failed unexpectedly', view.id)
            await self._finish(view, JobStatus.FAILED, run=run, error=f'Internal error: {error}')

    async def _await_outcome(self, run: Run) -> None:
        view = run.view
        remaining = self.settings.job_timeout_seconds - (time.monotonic() - run.started)
        timed_out = False
        try:
            await asyncio.wait_for(run.done.wait(), timeout=max(0.0, remaining))
        except TimeoutError:
            timed_out = True
        if (timed_out or run.cancel_requested) and run.prompt_id:
            await self.runner.interrupt(run)
        if timed_out:
            return await self._finish(
                view, JobStatus.TIMED_OUT, run=run, error=f'Timed out after {self.settings.job_timeout_seconds:g} s'
            )
        if run.cancel_requested:
            return await self._finish(view, JobStatus.CANCELLED, run=run)
        if run.lost and view.status == JobStatus.DISPATCHED:
            return await self._requeue(run, run.lost)  # it never started, so running it again is safe
        if run.lost:
            return await self._finish(view, JobStatus.FAILED, run=run, error=run.lost)
        if run.error:
            e = run.error
            return await self._finish(
                view,
                JobStatus.FAILED,
                run=run,
                error=f'{e.node_type} (node {e.node_id}): {e.exception_type}: {e.exception_message}'.strip(),
            )
        if run.interrupted:
            return await self._finish(view, JobStatus.FAILED, run=run, error='Interrupted on the ComfyUI server')
        await self._save_outputs(run)

    async def _save_outputs(self, run: Run) -> None:
        view = run.view
        view.status = JobStatus.SAVING
        self._emit(view, force=True)
        self.writer.write_later(lambda db: _update(db, view.id, status=JobStatus.SAVING))
        image_ids = await self.runner.save_outputs(run)
        if not image_ids:
            return await self._finish(view, JobStatus.FAILED, run=run, error='ComfyUI finished without an image')
        view.image_ids = image_ids
        await self._finish(view, JobStatus.COMPLETED, run=run)

    async def _requeue(self, run: Run, reason: str) -> None:
        view = run.view
        self._release(run)
        if run.cancel_requested:
            return await self._finish(view, JobStatus.CANCELLED)
        self._requeues[view.id] = self._requeues.get(view.id, 0) + 1
        if self._requeues[view.id] > MAX_REQUEUES:
            return await self._finish(view, JobStatus.FAILED, error=f'Could not start on ComfyUI: {reason}')
        log.warning('job %s could not start on %s (%s); it goes back to the queue', view.id, view.server, reason)
        view.status, view.server = JobStatus.QUEUED, ''
        self._enqueue(view)
        self._reposition_soon()
        await self.writer.write(
            lambda db: _update(db, view.id, status=JobStatus.QUEUED, server_id=None, prompt_id=None)
        )
        self._wake.set()

    def _release(self, run: Run) -> None:
        if self.runs.pop(run.view.id, None) is not None:
            run.server.health.inflight = max(0, run.server.health.inflight - 1)
        if run.prompt_id:
            self._by_prompt.pop(run.prompt_id, None)
        self.previews.pop(run.view.id, None)
        self._last_preview.pop(run.view.id, None)

    async def _finish(self, view: JobView, status: JobStatus, *, run: Run | None = None, error: str = '') -> None:
        if run is not None:
            self._release(run)
            if status == JobStatus.COMPLETED:
                self._record_duration(view, run)
            self._spawn(self.runner.cleanup(run))
        if view.id in self._finishing:
            return
        self._finishing.add(view.id)
        finished_at = utcnow()
        fields = {
            'status': status,
            'error': error or None,
            'finished_at': finished_at,
            'image_ids': view.image_ids,
            'progress_value': view.step,
            'progress_max': view.steps,
        }
        try:
            await self.writer.write(lambda db: _update(db, view.id, **fields))
        finally:
            self._finishing.discard(view.id)
        # NOTE: the view turns finished only once the row says so, so whoever sees it finished can read the DB
        view.status, view.error, view.finished_at = status, error, finished_at
        if status == JobStatus.COMPLETED:
            view.progress = 1.0
        view.eta_seconds, view.position = None, 0
        extra = {'job_id': view.id, 'owner': view.owner, 'status': str(status), 'server': view.server}
        if status == JobStatus.COMPLETED:
            log.info('job_complete', extra={**extra, 'image_ids': view.image_ids})
        else:
            log.warning('job_error', extra={**extra, 'error': error or str(status)})
        self._emit(view, force=True)
        self._requeues.pop(view.id, None)
        self._prune()
        self._reposition_soon()
        self._wake.set()

    def _prune(self) -> None:
        finished = [v for v in self.views.values() if v.finished]
        for view in sorted(finished, key=lambda v: v.finished_at or v.queued_at)[:-KEEP_FINISHED]:
            del self.views[view.id]

    # ---- messages from ComfyUI -------------------------------------------------------------------------------

    def _on_message(self, server: ServerEntry, message: Message) -> None:
        run = self._by_prompt.get(getattr(message, 'prompt_id', None) or '')
        if run is None or run.server is not server:
            return
        view = run.view
        if isinstance(message, ExecutionStart) or (isinstance(message, Executing) and message.node is not None):
            if view.status == JobStatus.DISPATCHED:
                view.status, view.started_at = JobStatus.RUNNING, utcnow()
                started = view.started_at
                self.writer.write_later(lambda db: _update(db, view.id, status=JobStatus.RUNNING, started_at=started))
                self._emit(view, force=True)
            if isinstance(message, Executing):
                view.node = message.node or ''
        elif isinstance(message, Progress):
            self._on_progress(run, message)
        elif isinstance(message, PreviewImageWithMetadata):
            self.previews[view.id] = (message.image_type, message.data)
            self._show_preview(view)
        elif isinstance(message, Executed):
            run.outputs.extend(message.images)
        elif isinstance(message, ExecutionSuccess):
            run.succeeded = True
        elif isinstance(message, ExecutionError):
            run.error = message
        elif isinstance(message, ExecutionInterrupted):
            run.interrupted = True
        elif isinstance(message, PromptLost):
            run.lost = message.reason
            run.done.set()
        elif isinstance(message, Executing) and message.node is None:
            run.done.set()

    def _on_progress(self, run: Run, message: Progress) -> None:
        view = run.view
        before = view.progress
        view.step, view.steps = int(message.value), int(message.max)
        view.progress = min(1.0, message.value / message.max) if message.max else 0.0
        now = time.monotonic()
        self._pace(run, now)
        if now - self._last_db_progress.get(view.id, 0) >= PROGRESS_DB_INTERVAL:
            self._last_db_progress[view.id] = now
            value, maximum = view.step, view.steps
            self.writer.write_later(lambda db: _update(db, view.id, progress_value=value, progress_max=maximum))
        self.runner.log_progress(view, before)
        self._emit(view)

    @staticmethod
    def _pace(run: Run, now: float) -> None:
        """Time left from this job's own pace: seconds per step so far times the steps still to go."""
        view = run.view
        if run.pace_from is None or view.step < run.pace_from[1]:  # the first step, or the next sampler starts over
            run.pace_from = (now, view.step)
        elif view.step > run.pace_from[1]:
            began, first = run.pace_from
            view.eta_seconds = (now - began) / (view.step - first) * max(0, view.steps - view.step)

    def _on_server_change(self, health: ServerHealth) -> None:
        if health.reachable:
            self._wake.set()
            return
        for run in list(self.runs.values()):
            if run.server.health is health and run.prompt_id and not run.done.is_set():
                run.lost = f'ComfyUI server {health.name} stopped responding: {health.last_error}'
                run.done.set()

    # ---- live state --------------------------------------------------------------------------------------------

    def _emit(self, view: JobView, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_emit.get(view.id, 0) >= EMIT_INTERVAL:
            self._last_emit[view.id] = now
            self._emit_pending.discard(view.id)
            self.changed.emit(view)
            if view.finished:
                self._last_emit.pop(view.id, None)
                self._last_db_progress.pop(view.id, None)
        else:
            self._emit_soon(view, EMIT_INTERVAL - (now - self._last_emit[view.id]))

    def _emit_soon(self, view: JobView, delay: float = EMIT_INTERVAL) -> None:
        if view.id not in self._emit_pending:
            self._emit_pending.add(view.id)
            asyncio.get_running_loop().call_later(delay, self._emit_deferred, view)

    def _emit_deferred(self, view: JobView) -> None:
        if view.id in self._emit_pending:
            self._emit(view, force=True)

    def _show_preview(self, view: JobView) -> None:
        """Bump the preview version at most every PREVIEW_INTERVAL; the newest image is the one served."""
        now = time.monotonic()
        last = self._last_preview.get(view.id)
        if last is None or now - last >= PREVIEW_INTERVAL:
            self._last_preview[view.id] = now
            view.preview_seq += 1
            self._emit_soon(view)  # the progress message that comes with it usually emits first
        elif view.id not in self._preview_pending:
            self._preview_pending.add(view.id)
            asyncio.get_running_loop().call_later(PREVIEW_INTERVAL - (now - last), self._preview_deferred, view)

    def _preview_deferred(self, view: JobView) -> None:
        self._preview_pending.discard(view.id)
        if view.id in self.previews:
            self._show_preview(view)

    def _record_duration(self, view: JobView, run: Run) -> None:
        took = time.monotonic() - run.started
        for key, table in (
            ((view.workflow_id, view.server), self._durations),
            (view.workflow_id, self._workflow_durations),
        ):
            old = table.get(key)
            table[key] = took if old is None else 0.7 * old + 0.3 * took

    def _duration(self, workflow_id: str, server: str = '') -> float:
        return (
            self._durations.get((workflow_id, server)) or self._workflow_durations.get(workflow_id) or DEFAULT_DURATION
        )

    def _reposition_soon(self) -> None:
        """Positions and ETAs once per loop turn, however many jobs were dispatched or finished in it."""
        if not self._reposition_pending:
            self._reposition_pending = True
            asyncio.get_running_loop().call_soon(self._reposition)

    def _reposition(self) -> None:
        self._reposition_pending = False
        slots = max(1, sum(e.health.max_inflight for e in self.pool.entries.values() if e.usable))
        backlog = 0.0
        for run in self.runs.values():
            v = run.view
            if run.pace_from is None or v.step <= run.pace_from[1] or v.eta_seconds is None:  # no pace yet
                expected = self._duration(v.workflow_id, v.server)
                left = expected * (1 - v.progress) if v.progress else expected - (time.monotonic() - run.started)
                v.eta_seconds = max(0.0, left)
            backlog += v.eta_seconds
        order = self._simulated_order()
        for index, view in enumerate(order):
            own = self._duration(view.workflow_id)
            eta = backlog / slots + own
            if view.position != index + 1 or view.eta_seconds is None or abs(view.eta_seconds - eta) >= 1:
                view.position, view.eta_seconds = index + 1, eta
                self._emit(view)
            backlog += own

    def _simulated_order(self) -> list[JobView]:
        turns = [(self._served.get(o, 0), jobs[0].queued_at, o) for o, jobs in self._queued.items()]
        heapq.heapify(turns)
        next_index = dict.fromkeys(self._queued, 0)
        counter = self._serve_counter
        order: list[JobView] = []
        while turns:
            _, _, owner = heapq.heappop(turns)
            jobs, index = self._queued[owner], next_index[owner]
            order.append(jobs[index])
            next_index[owner] = index + 1
            counter += 1
            if index + 1 < len(jobs):
                heapq.heappush(turns, (counter, jobs[index + 1].queued_at, owner))
        return order

    # ---- recovery ----------------------------------------------------------------------------------------------

    async def _recover(self, view: JobView, row: Job) -> None:
        server = self.pool.get(row.server_id)
        if server is None:
            return await self._finish(view, JobStatus.FAILED, error="The job's ComfyUI server was removed")
        run = Run(view=view, server=server, prompt_id=row.prompt_id, recovering=True, posted=True)
        view.server = server.health.name
        self.runs[view.id] = run
        server.health.inflight += 1
        if run.prompt_id:
            self._by_prompt[run.prompt_id] = run
            server.client.watch(run.prompt_id)
        if row.started_at:
            run.started -= (utcnow() - row.started_at).total_seconds()
        log.info('recovering job %s (%s) on %s', view.id, row.status, view.server)
        try:
            if row.status == JobStatus.SAVING:
                run.done.set()
            else:
                await server.client.reconcile()
            await self._await_outcome(run)
        except ComfyError as error:
            await self._finish(view, JobStatus.FAILED, run=run, error=f'Could not fetch the result: {error}')


def _update(db: Session, job_id: str, **fields: object) -> None:
    db.exec(update(Job).where(col(Job.id) == job_id).values(**fields))
