"""JobManager: the job engine's facade: submit, dispatch, finish, cancel and restart recovery."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Coroutine
from contextlib import suppress
from datetime import timedelta
from functools import partial

from nicegui import Event
from pydantic import ValidationError

from vcc_ui.models import Image, Job, JobStatus, utcnow
from vcc_ui.services.bus import Bus
from vcc_ui.services.comfy.client import ComfyError
from vcc_ui.services.comfy.messages import Message
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.jobs.cluster import (
    CONTROL,
    JOBS,
    POLL_INTERVAL,
    Leadership,
    apply_state,
    preview_of,
    scaled,
    view_state,
)
from vcc_ui.services.jobs.live import Live, time_left
from vcc_ui.services.jobs.queue import FairQueue
from vcc_ui.services.jobs.rows import (
    admit_job,
    cancel_requests,
    finish_job,
    get_image,
    jobs_by_id,
    keyed_job,
    new_queued_jobs,
    newest_jobs,
    owner_front_priority,
    put_image,
    state_fields,
    unfinished_jobs,
    update_job,
)
from vcc_ui.services.jobs.run import JobRunner, Outcome
from vcc_ui.services.jobs.types import AdmissionCheck, JobView, LiveJob, Run, SubmitError
from vcc_ui.services.servers import ServerEntry, ServerHealth, ServerPool
from vcc_ui.services.storage import Storage
from vcc_ui.services.storage.core import Problem
from vcc_ui.services.storage.health import StorageHealth
from vcc_ui.services.workflow_params import fits
from vcc_ui.services.workflows import GenerateParams, ParamError, WorkflowRegistry
from vcc_ui.settings import Settings

log = logging.getLogger('vcc_ui.jobs')

KEEP_FINISHED = 2000
MAX_REQUEUES = 3  # runs that reached ComfyUI but could not start there
SERVER_LOSS_GRACE = 60.0  # seconds a posted job waits for its server to come back before it fails
IDEMPOTENCY_WINDOW = timedelta(hours=24)  # a submit repeated with the same key within this returns the first job
UNREACHED_FOR = 300.0  # seconds a job may keep bouncing off servers it cannot connect to before it fails
REPOSITION_INTERVAL = 0.1  # positions and ETAs follow dispatches and finishes at most this often (seconds)
REFRESH_INTERVAL = 2.0  # how often an instance that does not dispatch checks its unfinished views against the DB
ROW_FIELDS = ('status', 'priority', 'queued_at', 'started_at', 'finished_at', 'error', 'image_ids')


class JobManager:
    """The app's queue: ComfyUI only ever sees what this dispatches.

    With several instances (`scaled`: PostgreSQL + a shared bus) one of them leads and dispatches; every instance
    admits jobs into the database, and the others mirror the leader's job views from the bus.
    """

    def __init__(
        self,
        settings: Settings,
        writer: DbWriter,
        pool: ServerPool,
        registry: WorkflowRegistry,
        storage: Storage,
        *,
        admission_check: AdmissionCheck,
        bus: Bus | None = None,
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.pool = pool
        self.registry = registry
        self.storage = storage
        self.storage_health = StorageHealth(storage, settings.healthz_disk_min_free_mb)
        self.changed: Event[JobView] = Event()
        self.views: dict[str, JobView] = {}  # unfinished jobs and the newest KEEP_FINISHED finished ones
        self._admission_check = admission_check
        self._queue = FairQueue(settings)
        self._live = Live(settings, self.changed)
        self._runner = JobRunner(settings, writer, storage, registry, self._live)
        self._jobs: dict[str, LiveJob] = {}  # every unfinished job
        self._runs: dict[str, Run] = {}  # job id -> its run, while on a server
        self._reposition_pending = False
        self._repositioned = float('-inf')  # when positions and ETAs were last worked out (monotonic)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._loop_task: asyncio.Task | None = None
        self.bus = bus or Bus()
        self.scaled = scaled(settings.db_url, self.bus.shared)
        self._leadership = Leadership(settings.db_url, self._lead, self._step_down) if self.scaled else None
        self._previews: dict[str, tuple[str, bytes]] = {}  # not leading: the newest preview frame per job, from the bus
        self._sync_wanted = asyncio.Event()
        self._took_over = False  # leading, and every stored job is loaded: rounds of new rows may run
        self._cluster_tasks: list[asyncio.Task] = []
        pool.add_listener(self._on_message)
        pool.changed.subscribe(self._on_server_change)
        if self._leadership is not None:
            leadership = self._leadership
            self._runner.leader = lambda: leadership.backend_pid or 0  # 0: no lock held, no claim succeeds
            self._live.publish = self._publish
            self.bus.subscribe(JOBS, self._on_jobs)
            self.bus.subscribe(CONTROL, self._on_control)

    @property
    def leading(self) -> bool:
        """Whether this instance dispatches (always, unless several instances share the queue)."""
        return self._leadership is None or self._leadership.leading

    @property
    def _dispatching(self) -> bool:
        """Leading, and every stored job is loaded: new jobs, cancels and moves are this instance's to act on."""
        return self.leading and (self._leadership is None or self._took_over)

    # ---- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load unfinished jobs from the database, re-attach running ones and start dispatching.

        Scaled, the jobs are only shown until this instance wins the leader lock (then it loads them again and
        dispatches).
        """
        self._loop_task = asyncio.create_task(self._dispatch_loop(), name='job-dispatch')
        if self._leadership is None:
            await self._lead()
            return
        for row in await self.writer.read(unfinished_jobs):
            self._adopt(row)
        self._cluster_tasks = [
            asyncio.create_task(self._leader_loop(), name='job-leader'),
            asyncio.create_task(self._refresh_loop(), name='job-refresh'),
        ]
        self._leadership.start()
        self.bus.publish(CONTROL, {'op': 'hello'})

    async def stop(self) -> None:
        """Stop dispatching and drop in-flight tasks; the DB keeps their state for the next start.

        The leader lock goes last, so no other instance takes over runs this one still follows."""
        tasks = [*self._tasks, *self._cluster_tasks, *([self._loop_task] if self._loop_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.storage_health.stop()
        if self._leadership is not None:
            await self._leadership.stop()

    async def _lead(self) -> None:
        """Take the queue: load every unfinished job, queue the waiting ones, re-attach the posted ones."""
        rows: list[Job] = await self.writer.read(unfinished_jobs)
        stale = set(self._jobs) - {row.id for row in rows}  # mirrored jobs whose end this instance did not hear of
        for ended in await self.writer.read(partial(jobs_by_id, ids=stale)) if stale else []:
            self._end_mirrored(ended)
        for row in rows:
            job = self._adopt(row)
            if row.status == JobStatus.QUEUED or (row.status == JobStatus.DISPATCHED and not row.prompt_id):
                job.view.status = JobStatus.QUEUED
                self._queue.push(job.view)
            else:
                self._recover(job, row)
        self._took_over = True
        self._reposition()
        for row in rows:
            if row.cancel_requested:
                await self.cancel(row.id)
        if self.scaled:
            for job in list(self._jobs.values()):
                self._live.emit(job, force=True)  # every instance shows what this one will do
        self._wake.set()

    async def _step_down(self, reason: str) -> None:
        """Stop dispatching and following runs at once (the lock may be another instance's now); keep the views."""
        self._took_over = False
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for run in list(self._runs.values()):
            self._detach(run)
        durations, self._queue = self._queue.durations, FairQueue(self.settings)
        self._queue.durations = durations
        log.error('job dispatcher: stepped down (%s); the jobs are left to the next leader', reason)

    # ---- public API ------------------------------------------------------------------------------------------

    async def submit(
        self, owner: str, workflow_id: str, params: dict | GenerateParams, *, source: str | None = None
    ) -> JobView:
        """Validate and queue a job, or raise SubmitError with a clear reason; `source` is the client's address."""
        return (await self.submit_once(owner, workflow_id, params, source=source))[0]

    async def keyed(self, owner: str, key: str) -> JobView | None:
        """The job the owner submitted with this idempotency key within IDEMPOTENCY_WINDOW, or None."""
        row = await self.writer.read(partial(keyed_job, owner=owner, key=key, since=utcnow() - IDEMPOTENCY_WINDOW))
        return None if row is None else self.views.get(row.id) or JobView.from_row(row)

    async def submit_once(
        self,
        owner: str,
        workflow_id: str,
        params: dict | GenerateParams,
        *,
        source: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[JobView, bool]:
        """Submit a job; with a key the owner used within 24 h, the first job instead; (job, whether it is new)."""
        if idempotency_key is not None and (earlier := await self.keyed(owner, idempotency_key)):
            return earlier, False
        workflow = self.registry.get(workflow_id)
        if workflow is None:
            raise SubmitError('unknown_workflow', f'Unknown workflow {workflow_id!r}', field='workflow_id')
        try:
            asked = params if isinstance(params, GenerateParams) else GenerateParams(**params)
            checked = workflow.check(asked, self.pool.catalogues(workflow.id))
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
            raise SubmitError(
                'invalid_params', error.message, field=error.field, reason=error.reason, values=error.values
            ) from error
        for image_id in (checked.input_image, checked.control_image):
            if image_id and not await self._image_exists(owner, image_id):
                raise SubmitError('invalid_params', f'Image {image_id} does not exist', field='input_image')
        refusal = self._refusal(owner, workflow.id, checked.lora, source, await self.storage_health.problem())
        view = JobView(
            id=uuid.uuid4().hex,
            owner=owner,
            workflow_id=workflow.id,
            mode=workflow.mode,
            params=checked.model_dump(exclude_none=True),
        )
        row = Job(
            id=view.id,
            owner=owner,
            workflow_id=view.workflow_id,
            mode=view.mode,
            params=view.params,
            queued_at=view.queued_at,
            idempotency_key=idempotency_key,
            image_ids=[],  # NOTE: every default_factory field given: pydantic inspects a factory's signature each time
        )
        # NOTE: the job is queued only once its row is committed: an accepted job is a stored job. The checks that
        # read the database (blocked, quota; scaled: the limits) run in the transaction that adds it, one trip
        admit = partial(
            admit_job,
            row=row,
            since=utcnow() - IDEMPOTENCY_WINDOW,
            check=self._admission_check,
            refusal=refusal,
            limits=self.settings if self.scaled else None,
        )
        try:
            admitted = await self.writer.write(admit)
        except Exception as error:
            log.exception('storing job %s failed; it is refused', view.id)
            raise SubmitError(
                'unavailable', 'The job could not be stored, so nothing was queued. Try again later.', reason='db'
            ) from error
        if admitted.refusal is not None:
            raise admitted.refusal
        if admitted.earlier is not None:  # the same key raced in while this one was checked
            earlier = admitted.earlier
            return self.views.get(earlier.id) or JobView.from_row(earlier), False
        if view.id in self._jobs:  # the leader's database round found it first
            return self.views[view.id], True
        self._track(view).source = source
        if not self._dispatching:  # the stored job, so the leader need not read it back
            self.bus.publish(CONTROL, {'op': 'queued', 'id': view.id, 'view': view_state(view)})
            log.info('enqueue', extra={'job_id': view.id, 'owner': owner, 'workflow_id': view.workflow_id})
            return view, True
        self._queue.push(view)
        self._position_new(self._jobs[view.id])
        log.info(
            'enqueue',
            extra={'job_id': view.id, 'owner': owner, 'workflow_id': view.workflow_id, 'position': view.position},
        )
        self._wake.set()
        return view, True

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
        rows: list[Job] = await self.writer.read(partial(newest_jobs, owner=owner, limit=limit))
        return [self.views.get(r.id) or JobView.from_row(r) for r in rows]

    async def cancel(self, job_id: str, *, owner: str | None = None) -> JobView | None:
        """Cancel a queued or running job (owner None = any owner); None if there is no such job."""
        view = self.views.get(job_id)
        if view is None or (owner is not None and view.owner != owner):
            return None
        job = self._jobs.get(job_id)
        if job is None:
            return view
        if not self._dispatching:  # the leader acts on it; the flag keeps it through a change of leader
            await self.writer.write(lambda db: update_job(db, job_id, cancel_requested=True))
            self.bus.publish(CONTROL, {'op': 'cancel', 'id': job_id})
            return view
        if view.status == JobStatus.QUEUED:
            self._queue.remove(view)
            self._reposition_soon()
            await self._finish(job, JobStatus.CANCELLED)
        elif job.run is not None:
            job.run.cancel_requested = True
            job.run.done.set()
        return view

    def move_to_front(self, job_id: str) -> bool:
        """Let a queued job go before its owner's other queued jobs and first in the round."""
        view = self.views.get(job_id)
        if view is not None and view.status == JobStatus.QUEUED and not self._dispatching:
            self.writer.write_later(partial(owner_front_priority, job_id=job_id))
            self.bus.publish(CONTROL, {'op': 'front', 'id': job_id})
            return True
        if view is None or view.status != JobStatus.QUEUED or not self._queue.move_to_front(view):
            return False
        self.writer.write_later(lambda db: update_job(db, view.id, priority=view.priority))
        self._reposition()
        self._wake.set()
        return True

    def preview(self, job_id: str) -> tuple[str, bytes] | None:
        """The latest live preview image of a running job."""
        run = self._runs.get(job_id)
        return run.preview if run is not None else self._previews.get(job_id)

    # ---- submit and dispatch ---------------------------------------------------------------------------------

    async def _image_exists(self, owner: str, image_id: str) -> bool:
        """Whether the user owns an active image with this id."""
        row = await self.writer.read(partial(get_image, image_id=image_id))
        return row is not None and row.owner == owner and row.status == 'active'

    def _refusal(
        self, owner: str, workflow_id: str, lora: str | None, source: str | None, problem: Problem | None
    ) -> SubmitError | None:
        """The first reason known without the database to refuse a job: its LoRA, the limits, its address, storage."""
        if lora and not self.pool.lora_offered(workflow_id, lora):
            return SubmitError('invalid_params', f'No ComfyUI server has the LoRA {lora!r}', field='lora')
        if not self.scaled:  # scaled: counted in the database, in the transaction that adds the job
            try:
                self._queue.check(owner)
            except SubmitError as refusal:
                return refusal
        cap = self.settings.max_queued_per_source  # per address, whichever anonymous ids it used
        if source is not None and cap and sum(1 for job in self._jobs.values() if job.source == source) >= cap:
            return SubmitError(
                'limit',
                f'Too many unfinished jobs come from your network ({cap}). Wait for some to finish.',
                reason='source_full',
                values={'limit': cap},
            )
        if problem is not None:
            return SubmitError(
                'unavailable',
                'The image storage is full, so nothing was queued. Try again later.'
                if problem == 'full'
                else 'The image storage cannot be written, so nothing was queued. Try again later.',
                reason=f'storage_{problem}',
            )
        return None

    def _track(self, view: JobView) -> LiveJob:
        self.views[view.id] = view
        job = self._jobs[view.id] = LiveJob(view)
        return job

    def _adopt(self, row: Job) -> LiveJob:
        """Track a stored unfinished job, updating the view pages may already hold for it."""
        view = self.views.get(row.id)
        if view is None:
            return self._track(JobView.from_row(row))
        for name in ROW_FIELDS:
            value = getattr(row, name)
            if getattr(view, name) != value:
                setattr(view, name, list(value) if name == 'image_ids' else value)
        job = self._jobs.get(row.id)
        if job is None or job.view is not view:
            job = self._jobs[row.id] = LiveJob(view, source=job.source if job else None)
        job.run = None
        return job

    async def _dispatch_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                self._dispatch_ready()
            except Exception:
                log.exception('dispatch round failed')

    def _dispatch_ready(self) -> None:
        if not self.leading:
            return
        # NOTE: with every slot taken no job can be placed: asking for each waiting user's next job cost O(users)
        # placements per wake-up (a submit or a finish), most of a busy queue's dispatch time
        while self.pool.has_free_slot() and (taken := self._queue.take(self._place)):
            view, server = taken
            self._reposition_soon()
            self._start_run(self._jobs[view.id], server)

    def _place(self, view: JobView) -> ServerEntry | None:
        workflow = self.registry.get(view.workflow_id)
        declared = workflow.params if workflow is not None else {}
        return self.pool.pick(  # declared values must fit the server's catalogue
            view.workflow_id,
            lora=view.params.get('lora'),
            accepts=(lambda e: fits(declared, view.params, e.object_info)) if declared else None,
        )

    def _start_run(self, job: LiveJob, server: ServerEntry) -> None:
        run = self._attach(job, server)
        job.view.status, job.view.server, job.view.position = JobStatus.DISPATCHED, server.health.name, 0
        self._live.emit(job, force=True)
        self._spawn(self._execute(run))

    def _attach(
        self, job: LiveJob, server: ServerEntry, *, prompt_id: str | None = None, recovering: bool = False
    ) -> Run:
        """Put a job on a server: a new run (one posted before a restart when recovering), a slot, a running count."""
        run = Run(job=job, server=server, prompt_id=prompt_id, recovering=recovering, posted=recovering)
        job.run = self._runs[job.view.id] = run
        self.pool.acquire(server, job.view.id)
        self._queue.started(job.view.owner)
        return run

    def _detach(self, run: Run) -> None:
        """Take a job off its server: give back the slot and the owner's running count (once)."""
        view = run.view
        if self._runs.pop(view.id, None) is None:
            return
        run.job.run = None
        self.pool.release(run.server, view.id)
        self._queue.ended(view.owner)

    def _spawn(self, coro: Coroutine) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, run: Run) -> None:
        await self._conclude(run, await self._runner.execute(run))

    def _recover(self, job: LiveJob, row: Job) -> None:
        """Re-attach a run an earlier process (or the previous leader) posted: its slot is held from now on."""
        server = self.pool.get(row.server_id)
        if server is None:
            self._spawn(self._finish(job, JobStatus.FAILED, error="The job's ComfyUI server was removed"))
            return
        job.view.server = server.health.name
        run = self._attach(job, server, prompt_id=row.prompt_id, recovering=True)
        self._spawn(self._follow_recovered(run))

    async def _follow_recovered(self, run: Run) -> None:
        await self._conclude(run, await self._runner.recover(run))

    async def _conclude(self, run: Run, outcome: Outcome) -> None:
        if not outcome.claimed:
            self._detach(run)
            if self._jobs.get(run.view.id) is run.job:
                del self._jobs[run.view.id]
            log.warning(
                "job %s is not this instance's any more (taken, or the leader lock went); left alone", run.view.id
            )
            return
        if outcome.status == JobStatus.QUEUED:
            await self._requeue(run, outcome.error, reached=outcome.reached)
        else:
            await self._finish(run.job, outcome.status, run=run, error=outcome.error)

    async def _requeue(self, run: Run, reason: str, *, reached: bool = True) -> None:
        """Put a job that did not start back in the queue; bounded by count, or by time when no server was reached."""
        job, view = run.job, run.view
        self._detach(run)
        if run.cancel_requested:
            return await self._finish(job, JobStatus.CANCELLED)
        if reached:
            job.requeues += 1
            if job.requeues > MAX_REQUEUES:
                return await self._finish(job, JobStatus.FAILED, error=f'Could not start on ComfyUI: {reason}')
        else:
            job.unreached_since = job.unreached_since or time.monotonic()
            if time.monotonic() - job.unreached_since > UNREACHED_FOR:
                return await self._finish(
                    job, JobStatus.FAILED, error=f'Could not reach a ComfyUI server for {UNREACHED_FOR:g} s: {reason}'
                )
        log.warning('job %s could not start on %s (%s); it goes back to the queue', view.id, view.server, reason)
        view.status, view.server = JobStatus.QUEUED, ''
        self._queue.push(view)
        self._reposition_soon()
        await self.writer.write(
            lambda db: update_job(db, view.id, status=JobStatus.QUEUED, server_id=None, prompt_id=None)
        )
        self._wake.set()

    async def _finish(self, job: LiveJob, status: JobStatus, *, run: Run | None = None, error: str = '') -> None:
        view = job.view
        if run is not None:
            self._detach(run)
            if status == JobStatus.COMPLETED:
                self._queue.durations.record(view.workflow_id, view.server, time.monotonic() - run.started)
            self._spawn(self._runner.cleanup(run))
        if job.finishing:
            return
        job.finishing = True
        finished_at = utcnow()
        fields: dict[str, object] = {
            **state_fields(view, status),  # a running or saving step still queued is skipped: this writes theirs
            'error': error or None,
            'finished_at': finished_at,
            'image_ids': view.image_ids,
            'progress_value': view.step,
            'progress_max': view.steps,
        }
        images = run.rows if run is not None and status == JobStatus.COMPLETED else []
        try:
            await self._write_end(view, fields, images, merge=run is not None and run.recovering)
        finally:
            job.finishing = False
        # NOTE: the view turns finished only once the row says so, so whoever sees it finished can read the DB
        view.status, view.error, view.finished_at = status, error, finished_at
        if status == JobStatus.COMPLETED:
            view.progress = 1.0
        view.eta_seconds, view.position = None, 0
        self._jobs.pop(view.id, None)  # the job's record goes, and with it everything kept about the job
        extra = {'job_id': view.id, 'owner': view.owner, 'status': str(status), 'server': view.server}
        if status == JobStatus.COMPLETED:
            log.info('job_complete', extra={**extra, 'image_ids': view.image_ids})
        else:
            log.warning('job_error', extra={**extra, 'error': error or str(status)})
        self._live.emit(job, force=True)
        self._prune()
        self._reposition_soon()
        self._wake.set()

    async def _write_end(self, view: JobView, fields: dict[str, object], images: list[Image], *, merge: bool) -> None:
        """Commit a job's end and its outputs' image rows in one write; should that fail, the rows alone, then the end.

        Either way no stored output is left without its row while the job reads completed.
        """
        try:
            end = partial(finish_job, job_id=view.id, fields=fields, images=images, merge=merge)
            await self.writer.write(end, key=view.id)
            return
        except Exception:
            if not images:
                raise
            log.warning('job %s: its end and its %d image row(s) could not be written together', view.id, len(images))
        for row in images:  # merged: a row may already be there
            await self.writer.write(partial(put_image, row=row, merge=True))
        await self.writer.write(lambda db: update_job(db, view.id, **fields))

    def _prune(self) -> None:
        if len(self.views) - len(self._jobs) <= KEEP_FINISHED:  # every unfinished view has its record
            return
        finished = [v for v in self.views.values() if v.finished]
        for view in sorted(finished, key=lambda v: v.finished_at or v.queued_at)[:-KEEP_FINISHED]:
            del self.views[view.id]

    # ---- servers ---------------------------------------------------------------------------------------------

    def _on_message(self, server: ServerEntry, message: Message) -> None:
        prompt_id = getattr(message, 'prompt_id', None)
        if not prompt_id:
            return
        for run in self._runs.values():
            if run.prompt_id == prompt_id and run.server is server:
                self._runner.follow(run, message)
                return

    def _on_server_change(self, health: ServerHealth) -> None:
        """Wake the dispatcher for a server that answers; let posted runs on a server that went down wait for it."""
        if health.reachable:
            for run in self._runs.values():
                if run.server.health is health:
                    run.server_back.set()
            self._wake.set()
            return
        for run in list(self._runs.values()):
            if run.server.health is health and run.posted and not run.done.is_set() and not run.awaiting_server:
                run.awaiting_server = True
                self._spawn(self._await_server(run))

    async def _await_server(self, run: Run) -> None:
        """Give a posted job's server SERVER_LOSS_GRACE to come back, then ask it about the prompt; else fail the job.

        A prompt the app posted may have run, so it is never posted again: back in time, the server's /history
        and /queue settle it (a restarted server no longer knows it: the job fails, see JobRunner)."""
        health, name = run.server.health, run.view.server
        log.warning('job %s: its server %s is down; waiting up to %g s for it', run.view.id, name, SERVER_LOSS_GRACE)
        run.server_back.clear()
        back, done = asyncio.ensure_future(run.server_back.wait()), asyncio.ensure_future(run.done.wait())
        try:
            await asyncio.wait((back, done), timeout=SERVER_LOSS_GRACE, return_when=asyncio.FIRST_COMPLETED)
            if run.done.is_set():
                return
            if health.reachable:
                await run.server.client.reconcile()
                return
            run.lost = (
                f'ComfyUI server {name} went down with this job and was not back within {SERVER_LOSS_GRACE:g} s '
                f'({health.last_error})'
            )
            run.done.set()
        finally:
            back.cancel()
            done.cancel()
            run.awaiting_server = False

    # ---- positions and ETAs ----------------------------------------------------------------------------------

    def _reposition_soon(self) -> None:
        """Positions and ETAs after dispatches and finishes: at once, or REPOSITION_INTERVAL after the last time.

        Each round walks every waiting job and tells the tabs of each whose position moved, so a busy queue (a job
        ending every few milliseconds) recomputed all of them for every job; now at most 10 times a second.
        """
        if self._reposition_pending:
            return
        self._reposition_pending = True
        wait = self._repositioned + REPOSITION_INTERVAL - time.monotonic()
        loop = asyncio.get_running_loop()
        if wait > 0:
            loop.call_later(wait, self._reposition)
        else:
            loop.call_soon(self._reposition)

    def _reposition(self) -> None:
        self._reposition_pending = False
        self._repositioned = time.monotonic()
        for view in self._queue.estimate(*self._backlog()):
            self._live.emit(self._jobs[view.id])

    def _position_new(self, job: LiveJob) -> None:
        """A submitted job's own position and ETA at once (its answer carries them); the other waiting jobs' follow.

        A submit can move every job after it (a user not served yet goes first), so working all of them out and
        telling their tabs for each submit walked and told the whole queue per submit (a sixth of the event loop's
        time per job in a burst of submits); the others now follow as after a dispatch, within REPOSITION_INTERVAL.
        """
        if self._queue.place(job.view, *self._backlog()):
            self._live.emit(job)
        self._reposition_soon()

    def _backlog(self) -> tuple[float, int]:
        """Seconds of work the running jobs still need, and the slots of the usable servers to share it."""
        slots = max(1, sum(e.health.max_inflight for e in self.pool.entries.values() if e.usable))
        durations = self._queue.durations
        backlog = sum(
            time_left(run, durations.expected(run.view.workflow_id, run.view.server)) for run in self._runs.values()
        )
        return backlog, slots

    # ---- several instances -----------------------------------------------------------------------------------

    def _publish(self, job: LiveJob) -> None:
        """Send a changed view to the other instances, with the preview frame when its version is new to them."""
        if not self.leading:
            return
        view, run, preview = job.view, job.run, None
        if run is not None and run.preview is not None and view.preview_seq != job.published_seq:
            preview, job.published_seq = run.preview, view.preview_seq
        self.bus.publish(JOBS, {'view': view_state(view, preview)})

    def _on_jobs(self, payload: dict) -> None:
        """Mirror a view the leader sent: pages, SSE and REST on this instance see it as the leader does."""
        state = payload.get('view')
        if self.leading or not isinstance(state, dict) or not isinstance(state.get('id'), str):
            return
        view = self.views[state['id']] = apply_state(self.views.get(state['id']), state)
        if preview := preview_of(state):
            self._previews[view.id] = preview
        if view.finished:
            self._jobs.pop(view.id, None)
            self._previews.pop(view.id, None)
            self._prune()
        elif view.id not in self._jobs:
            self._jobs[view.id] = LiveJob(view)
        self.changed.emit(view)

    def _on_control(self, payload: dict) -> None:
        """Act, as the leader, on what another instance asks: look for new jobs, cancel, move to front, resend."""
        if not self._dispatching:
            return
        op, job_id = payload.get('op'), payload.get('id')
        if op == 'queued':
            self._take_submitted(payload.get('view'))
        elif op == 'cancel' and isinstance(job_id, str):
            self._spawn(self.cancel(job_id))
        elif op == 'front' and isinstance(job_id, str):
            self.move_to_front(job_id)
        elif op == 'hello':
            for job in list(self._jobs.values()):
                self._publish(job)

    def _take_submitted(self, state: object) -> None:
        """Queue a job another instance stored (its row is committed); without its state, look in the database."""
        job_id = state.get('id') if isinstance(state, dict) else None
        if not isinstance(state, dict) or not isinstance(job_id, str):
            self._sync_wanted.set()
            return
        if job_id in self._jobs or (job_id in self.views and self.views[job_id].finished):
            return  # a database round found it first
        view = apply_state(None, state)
        self._track(view)
        self._queue.push(view)
        self._reposition()
        self._wake.set()

    async def _leader_loop(self) -> None:
        """While leading: take jobs other instances added and cancels they asked for, poll re-attached prompts."""
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._sync_wanted.wait(), timeout=POLL_INTERVAL)
            self._sync_wanted.clear()
            if not self._dispatching:
                continue
            try:
                await self._sync()
                await self._poll_recovered()
            except Exception:
                log.exception('job dispatcher: a database round failed')

    async def _sync(self) -> None:
        known = set(self._jobs) | {v.id for v in self.views.values() if v.finished}
        rows: list[Job] = await self.writer.read(partial(new_queued_jobs, known=known))
        added = False
        for row in rows:
            if not self.leading or row.id in self._jobs or (row.id in self.views and self.views[row.id].finished):
                continue
            job = self._adopt(row)
            self._queue.push(job.view)
            added = True
        if added:
            self._reposition()
            self._wake.set()
        for job_id in await self.writer.read(cancel_requests):
            if self.leading and job_id in self._jobs:
                await self.cancel(job_id)

    async def _poll_recovered(self) -> None:
        """Ask /history about prompts another process posted: their messages go to that process's socket."""
        for run in list(self._runs.values()):
            if not (run.recovering and run.prompt_id and run.server.usable) or run.done.is_set():
                continue
            try:
                entry = await run.server.client.history(run.prompt_id)
            except ComfyError as error:
                log.info('job %s: /history of its re-attached prompt failed: %s', run.view.id, error)
                continue
            if entry is not None and not run.done.is_set():
                run.server.client.forget(run.prompt_id)
                run.done.set()

    async def _refresh_loop(self) -> None:
        """While not leading: end views whose rows ended (a finish message the bus lost)."""
        while True:
            await asyncio.sleep(REFRESH_INTERVAL)
            if self.leading:
                continue
            try:
                ids = [v.id for v in self.views.values() if not v.finished]
                for row in await self.writer.read(partial(jobs_by_id, ids=ids)):
                    if not self.leading:
                        self._end_mirrored(row)
            except Exception:
                log.exception('job views: refreshing from the database failed')

    def _end_mirrored(self, row: Job) -> None:
        """Show a mirrored job as its row says once the row ended (its last message was lost)."""
        view = self.views.get(row.id)
        if view is None or view.finished or not JobStatus(row.status).finished:
            return
        self._adopt(row)
        self._jobs.pop(row.id, None)
        self._previews.pop(row.id, None)
        self.changed.emit(view)
