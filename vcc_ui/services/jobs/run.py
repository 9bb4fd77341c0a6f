"""JobRunner: one job's run on a server: upload inputs, build, post, follow messages, save outputs once, clean up."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from vcc_ui.models import Image, JobStatus, utcnow
from vcc_ui.services.comfy.client import (
    ComfyClient,
    ComfyError,
    ComfyNotFound,
    ComfyUnavailable,
    ComfyUnreachable,
    PromptRejected,
    PromptUncertain,
)
from vcc_ui.services.comfy.messages import (
    Executed,
    Executing,
    ExecutionError,
    ExecutionInterrupted,
    ExecutionStart,
    ExecutionSuccess,
    ImageRef,
    Message,
    MessageError,
    PreviewImageWithMetadata,
    Progress,
    PromptLost,
    parse_text,
)
from vcc_ui.services.comfy.protocol import MessageType
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.jobs.live import Live
from vcc_ui.services.jobs.rows import claim_job, get_image, holds_leader_lock, state_fields, update_job
from vcc_ui.services.jobs.types import JobView, Run
from vcc_ui.services.storage import Storage, StorageError, StorageUnavailable, StoredFile
from vcc_ui.services.workflows import GenerateParams, ParamError, WorkflowRegistry
from vcc_ui.settings import Settings

log = logging.getLogger('vcc_ui.jobs')

PROGRESS_DB_INTERVAL = 5.0
OUTPUT_NAMESPACE = uuid.UUID('6f1c1a52-3c1e-4c0e-9a55-6d3c2f0a7e11')
IMAGE_PARAMS = ('input_image', 'control_image')
SAVE_RETRY_FIRST = 1.0  # seconds before the first retry of an output the storage could not take
SAVE_RETRY_MAX = 60.0  # the longest wait between two retries
SAVE_RETRY_FOR = 3600.0  # how long a finished job waits for the storage before it fails
END_MESSAGES = (MessageType.EXECUTION_SUCCESS, MessageType.EXECUTION_ERROR, MessageType.EXECUTION_INTERRUPTED)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended: the job's end status with its error, or QUEUED with the reason it could not start.

    `reached` is False when the run could not even connect to its server: nothing was posted, nothing ran.
    `claimed` is False when the job is not this run's to act on: its row no longer waited when the run tried to take
    it, or this instance lost the leader lock before saving (the next leader re-attaches and saves it).
    """

    status: JobStatus
    error: str = ''
    reached: bool = True
    claimed: bool = True


class JobRunner:
    """The steps of one run that talk to ComfyUI, the files and the image index; the caller acts on the Outcome."""

    def __init__(
        self, settings: Settings, writer: DbWriter, storage: Storage, registry: WorkflowRegistry, live: Live
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.storage = storage
        self.registry = registry
        self.live = live
        self.leader: Callable[[], int] | None = None  # several instances: the lock connection a claim must see

    async def execute(self, run: Run) -> Outcome:
        """Store the prompt id, upload and build, post the prompt and wait for its end."""
        view = run.view
        server_id, prompt_id = run.server.id, str(uuid.uuid4())
        run.prompt_id = prompt_id
        # NOTE: the prompt id is stored before it is posted, so a restart can always find what was sent; the row is
        # taken only while it waits, so no job is posted twice whatever an instance believed
        leader = self.leader() if self.leader is not None else None
        claim = partial(claim_job, job_id=view.id, server_id=server_id, prompt_id=prompt_id, leader=leader)
        if not await self.writer.write(claim):
            return Outcome(JobStatus.QUEUED, claimed=False)
        try:
            if run.cancel_requested:
                return Outcome(JobStatus.CANCELLED)
            await self._post(run, await self._prepare(run))
            if run.executing is None and not run.done.is_set():
                view.waiting = True
                self.live.emit(run.job, force=True)
            log.info(
                'job_start',
                extra={'job_id': view.id, 'owner': view.owner, 'server': view.server, 'prompt_id': run.prompt_id},
            )
            return await self._outcome(run)
        except ComfyUnavailable as error:
            if not run.posted:
                return Outcome(JobStatus.QUEUED, str(error), reached=not isinstance(error, ComfyUnreachable))
            return Outcome(JobStatus.FAILED, f'Lost contact with ComfyUI: {error}')
        except PromptRejected as error:
            return Outcome(JobStatus.FAILED, f'ComfyUI refused the workflow: {error}')
        except ComfyError as error:
            return Outcome(JobStatus.FAILED, f'ComfyUI error: {error}')
        except ParamError as error:
            return Outcome(JobStatus.FAILED, error.message)
        except StorageError as error:
            log.warning('job %s could not save its output: %s', view.id, error)
            return Outcome(JobStatus.FAILED, f'Could not save the image: {error}')
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception('job %s failed unexpectedly', view.id)
            return Outcome(JobStatus.FAILED, f'Internal error: {error}')

    async def recover(self, run: Run) -> Outcome:
        """Follow a run an earlier app process started: reconcile with the server, then wait for its end."""
        view, client = run.view, run.server.client
        if run.prompt_id:
            client.watch(run.prompt_id)
        if view.started_at:
            run.started -= (utcnow() - view.started_at).total_seconds()
            self._began(run, run.started)
        log.info('recovering job %s (%s) on %s', view.id, view.status, view.server)
        try:
            if view.status == JobStatus.SAVING:
                run.done.set()
            else:
                await client.reconcile()
            return await self._outcome(run)
        except ComfyError as error:
            return Outcome(JobStatus.FAILED, f'Could not fetch the result: {error}')
        except ParamError as error:
            return Outcome(JobStatus.FAILED, error.message)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # recovery ends every job it finds, whatever went wrong
            log.exception('recovering job %s failed unexpectedly', view.id)
            return Outcome(JobStatus.FAILED, f'Internal error: {error}')

    async def _post(self, run: Run, graph: dict) -> None:
        """Post the run's prompt; one the server may have queued before failing counts as posted (reconcile settles
        it), so it is never posted twice."""
        assert run.prompt_id is not None
        try:
            await run.server.client.queue_prompt(graph, prompt_id=run.prompt_id)
        except PromptUncertain as error:
            log.warning('job %s: %s; /history and /queue will settle it', run.view.id, error)
        run.posted = True

    async def _outcome(self, run: Run) -> Outcome:
        """Wait for the run's end and save its outputs; once, when ComfyUI lost an output file, run it again."""
        try:
            return await self._await_outcome(run)
        except ComfyNotFound as error:
            log.warning('job %s: %s; running its prompt once more with a fresh output prefix', run.view.id, error)
        await self._rerun(run)
        return await self._await_outcome(run)

    async def _rerun(self, run: Run) -> None:
        """Post the job again under a new prompt id (so a new filename_prefix) on the same server."""
        view = run.view
        run.prompt_id = prompt_id = str(uuid.uuid4())
        run.done.clear()
        run.outputs.clear()
        run.succeeded, run.error, run.lost, run.interrupted, run.recovering = False, None, None, False, False
        view.status = JobStatus.RUNNING
        await self.writer.write(lambda db: update_job(db, view.id, status=JobStatus.RUNNING, prompt_id=prompt_id))
        self.live.emit(run.job, force=True)
        await self._post(run, await self._prepare(run))

    def follow(self, run: Run, message: Message) -> None:
        """Apply one message about the run's prompt."""
        view = run.view
        if isinstance(message, ExecutionStart) or (isinstance(message, Executing) and message.node is not None):
            if run.executing is None:
                self._began(run, time.monotonic())
            if view.status == JobStatus.DISPATCHED:
                view.status, view.started_at, view.waiting = JobStatus.RUNNING, utcnow(), False
                step = partial(update_job, job_id=view.id, status=JobStatus.RUNNING, started_at=view.started_at)
                self.writer.write_soon(step, key=view.id)  # the saving step or the end takes its place
                self.live.emit(run.job, force=True)
            if isinstance(message, Executing):
                view.node = message.node or ''
        elif isinstance(message, Progress):
            self._progress(run, message)
        elif isinstance(message, PreviewImageWithMetadata):
            self.live.preview(run, message.image_type, message.data)
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

    @staticmethod
    def _began(run: Run, when: float) -> None:
        """Note that ComfyUI began executing the run's prompt: its timeout counts from `when`."""
        run.executing = when
        run.began.set()

    async def cleanup(self, run: Run) -> None:
        """Remove the run's uploads from COMFY_INPUT_DIR, best effort."""
        folder = self.settings.comfy_input_dir
        if not folder or not run.uploaded:
            return
        for name in run.uploaded:
            path = Path(folder) / Path(name.replace('\\', '/')).name
            with suppress(OSError):
                await asyncio.to_thread(path.unlink, missing_ok=True)

    def _progress(self, run: Run, message: Progress) -> None:
        job = run.job
        self.live.progress(run, message.value, message.max)
        now = time.monotonic()
        if now - job.last_db_progress >= PROGRESS_DB_INTERVAL:
            job.last_db_progress = now
            job_id, value, maximum = job.view.id, job.view.step, job.view.steps
            self.writer.write_soon(lambda db: update_job(db, job_id, progress_value=value, progress_max=maximum))

    async def _prepare(self, run: Run) -> dict:
        """Upload the job's input images to its server and build the API-format graph."""
        view = run.view
        workflow = self.registry.get(view.workflow_id)
        if workflow is None:
            raise ParamError('workflow_id', f'Workflow {view.workflow_id!r} is no longer available')
        params = GenerateParams(**view.params)
        names: dict[str, str] = {}
        for key in IMAGE_PARAMS:
            image_id = getattr(params, key)
            if not image_id:
                continue
            row = await self.writer.read(partial(get_image, image_id=image_id))
            if row is None or row.owner != view.owner:
                raise ParamError(key, f'Image {image_id} does not exist any more')
            data = await asyncio.to_thread(self.storage.read_bytes, row.rel_path)
            ext = row.rel_path.rsplit('.', 1)[-1]
            uploaded = await run.server.client.upload_image(data, f'vcc_{view.id}_{key}.{ext}', overwrite=True)
            run.uploaded.append(uploaded.name)
            names[key] = uploaded.load_image_value
        run.workflow_version = workflow.version
        assert run.prompt_id is not None
        return workflow.build(
            params,
            images=names,
            output_prefix=f'vcc_{view.id[:12]}_{run.prompt_id[:8]}',
            object_info=run.server.object_info,
        )

    async def _await_outcome(self, run: Run) -> Outcome:
        view = run.view
        timed_out = not await self._wait_for_end(run)
        view.waiting = False
        if (timed_out or run.cancel_requested) and run.prompt_id:
            await self._interrupt(run)
        if timed_out:
            return Outcome(JobStatus.TIMED_OUT, f'Timed out after {self.settings.job_timeout_seconds:g} s')
        if run.cancel_requested:
            return Outcome(JobStatus.CANCELLED)
        if run.lost and run.recovering and view.status == JobStatus.DISPATCHED:
            # NOTE: the app stopped between storing the prompt id and knowing the POST went through: maybe never sent
            return Outcome(JobStatus.QUEUED, run.lost)
        if run.lost:  # a prompt this process posted may have run: it is never posted again
            return Outcome(JobStatus.FAILED, f'{run.lost}. It may have run, but its result is gone. Submit it again.')
        if not (run.succeeded or run.error or run.interrupted):
            await self._end_from_history(run)
        if run.error:
            e = run.error
            return Outcome(
                JobStatus.FAILED,
                f'{e.node_type} (node {e.node_id}): {e.exception_type}: {e.exception_message}'.strip(),
            )
        if run.interrupted:
            return Outcome(JobStatus.FAILED, 'Interrupted on the ComfyUI server')
        return await self._save_outputs(run)

    async def _wait_for_end(self, run: Run) -> bool:
        """Wait for the run's end; False when it ran longer than the timeout since ComfyUI began executing it.

        A prompt waiting in ComfyUI's own queue (another job of the server runs) has no clock running yet.
        """
        limit = self.settings.job_timeout_seconds
        if run.executing is None:
            began = asyncio.ensure_future(run.began.wait())
            ended = asyncio.ensure_future(run.done.wait())
            try:
                await asyncio.wait((began, ended), return_when=asyncio.FIRST_COMPLETED)
            finally:
                began.cancel()
                ended.cancel()
        if run.done.is_set():
            return True
        assert run.executing is not None
        try:
            await asyncio.wait_for(run.done.wait(), timeout=max(0.0, limit - (time.monotonic() - run.executing)))
        except TimeoutError:
            return False
        return True

    async def _end_from_history(self, run: Run) -> None:
        """Learn how the prompt ended from /history when its end messages were missed (a dropped socket, a restart)."""
        assert run.prompt_id is not None
        entry = await run.server.client.history(run.prompt_id)
        status = entry.get('status') if isinstance(entry, dict) else None
        messages = status.get('messages') if isinstance(status, dict) else None
        for item in messages if isinstance(messages, list) else []:
            if not (isinstance(item, list) and len(item) == 2 and item[0] in END_MESSAGES):
                continue
            try:
                message = parse_text(json.dumps({'type': item[0], 'data': item[1]}))
            except MessageError as error:
                log.warning('job %s: unreadable %s in the history: %s', run.view.id, item[0], error)
                continue
            self.follow(run, message)

    async def _interrupt(self, run: Run) -> None:
        """Stop the run's prompt on its server (targeted, never a global interrupt)."""
        assert run.prompt_id is not None
        try:
            await run.server.client.cancel(run.prompt_id)
        except ComfyError as error:
            log.warning('could not interrupt prompt %s on %s: %s', run.prompt_id, run.view.server, error)

    async def _save_outputs(self, run: Run) -> Outcome:
        view = run.view
        if self.leader is not None and not await self.writer.read(partial(holds_leader_lock, pid=self.leader())):
            return Outcome(JobStatus.QUEUED, claimed=False)  # the lock went: the next leader saves it, once
        view.status = JobStatus.SAVING
        self.live.emit(run.job, force=True)
        # NOTE: keyed by the job: it writes the running step's fields too, so that step, when still queued, is
        # skipped (and this one is when the end follows before the writer ran it): one UPDATE instead of three
        saving = state_fields(view, JobStatus.SAVING)
        self.writer.write_soon(lambda db: update_job(db, view.id, **saving), key=view.id)
        image_ids = await self._store_outputs(run)
        if not image_ids:
            return Outcome(JobStatus.FAILED, 'ComfyUI finished without an image')
        view.image_ids = image_ids
        return Outcome(JobStatus.COMPLETED)

    async def _store_outputs(self, run: Run) -> list[str]:
        """Fetch every output image of the finished prompt, then store each once; return the image ids.

        The image rows go on run.rows: the job's finish write commits them with its end (one transaction, and a
        completed job always has its rows). All or nothing: a fetch that fails stores nothing, and a save that fails
        removes the files this call stored.
        """
        view, client = run.view, run.server.client
        assert run.prompt_id is not None
        if run.succeeded and run.outputs and not run.recovering:
            refs = run.outputs  # the executed messages carried the same outputs that /history lists
        else:
            entry = await client.history(run.prompt_id)
            refs = ComfyClient.output_images(entry) if entry is not None else []
        params = GenerateParams(**view.params)
        workflow = self.registry.get(view.workflow_id)
        recorded = {
            **view.params,
            'workflow_id': view.workflow_id,
            'mode': view.mode,
            'workflow_version': run.workflow_version or (workflow.version if workflow else ''),
        }
        created = view.started_at or view.queued_at
        ids = [uuid.uuid5(OUTPUT_NAMESPACE, f'{view.id}/{ref.subfolder}/{ref.filename}').hex for ref in refs]
        todo: list[tuple[str, ImageRef, bytes | dict[str, Any]]] = []
        for image_id, ref in zip(ids, refs, strict=True):
            if run.recovering:  # an earlier run of the app may have saved some outputs already
                if await self.writer.read(partial(get_image, image_id=image_id)) is not None:
                    continue
                found = await asyncio.to_thread(
                    self.storage.find, owner=view.owner, kind='generated', image_id=image_id, created_at=created
                )
                if found is not None:
                    todo.append((image_id, ref, found))
                    continue
            todo.append((image_id, ref, await client.view(ref.filename, ref.subfolder, ref.type)))
        stored: dict[str, str] = {}  # image id -> path, of what this call stored
        rows: list[Image] = []
        try:
            for image_id, ref, got in todo:
                if isinstance(got, bytes):
                    meta = self._meta(view, params, ref.filename, recorded)
                    saved = await self._save_when_possible(run, got, meta, image_id, created)
                else:
                    saved = got
                stored[image_id] = saved['path']
                rows.append(_image_row(saved, view, params, recorded))
        except Exception:
            await self._discard(stored)
            raise
        run.rows = rows
        return ids

    @staticmethod
    def _meta(view: JobView, params: GenerateParams, filename: str, recorded: dict[str, Any]) -> dict[str, Any]:
        return {
            'workflow_id': view.workflow_id,
            'mode': view.mode,
            'prompt': params.prompt,
            'negative_prompt': params.negative_prompt,
            'seed': params.seed,
            'aspect_ratio': params.aspect_ratio,
            'job_id': view.id,
            'server': view.server,
            'original_filename': filename,
            'tags': [],
            **_helped(params),
            'params': recorded,
        }

    async def _discard(self, stored: dict[str, str]) -> None:
        """Remove the files of outputs a failed save stored (their rows were never written): no images kept."""
        if not stored:
            return
        log.warning('a save failed: removing the %d image(s) it had stored', len(stored))
        try:
            for path in stored.values():
                await asyncio.to_thread(self.storage.delete, path)
        except Exception:
            log.exception('could not remove the images of a failed save: %s', list(stored))

    async def _save_when_possible(
        self, run: Run, data: bytes, meta: dict[str, Any], image_id: str, created: datetime
    ) -> dict[str, Any]:
        """Save one output, retrying with backoff while the storage cannot take it (full or read-only).

        The bytes are held meanwhile and ComfyUI keeps its file, so nothing is lost while the folder is fixed.
        """
        delay, waited = SAVE_RETRY_FIRST, 0.0
        while True:
            try:
                return await asyncio.to_thread(self._save, run.view.owner, data, meta, image_id, created)
            except StorageUnavailable as error:
                if waited >= SAVE_RETRY_FOR or run.cancel_requested:
                    raise
                log.warning('job %s: cannot save its output yet (%s); retrying in %g s', run.view.id, error, delay)
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, SAVE_RETRY_MAX)

    def _save(self, owner: str, data: bytes, meta: dict[str, Any], image_id: str, created: datetime) -> dict[str, Any]:
        try:
            # NOTE: the flusher puts the files on the disk within a second; ComfyUI keeps its copy meanwhile
            stored: StoredFile = self.storage.save(
                owner=owner,
                kind='generated',
                data=data,
                meta=meta,
                image_id=image_id,
                created_at=created,
                durable=False,
            )
        except StorageError:
            found = self.storage.find(owner=owner, kind='generated', image_id=image_id, created_at=created)
            if found is None:
                raise
            return found
        return {
            **meta,
            'id': stored.id,
            'path': stored.rel_path,
            'thumb': stored.thumb_rel,
            'mime': stored.mime,
            'bytes': stored.bytes,
            'width': stored.width,
            'height': stored.height,
            'sha256': stored.sha256,
            'created_at': stored.created_at.isoformat(),
        }


def _image_row(meta: dict[str, Any], view: JobView, params: GenerateParams, recorded: dict[str, Any]) -> Image:
    return Image(
        id=meta['id'],
        owner=view.owner,
        kind='generated',
        rel_path=meta['path'],
        thumb_path=meta.get('thumb'),
        mime=meta['mime'],
        bytes=meta['bytes'],
        width=meta['width'],
        height=meta['height'],
        sha256=meta['sha256'],
        created_at=datetime.fromisoformat(meta['created_at']) if 'created_at' in meta else utcnow(),
        workflow_id=view.workflow_id,
        mode=view.mode,
        prompt=params.prompt,
        negative_prompt=params.negative_prompt,
        seed=params.seed,
        aspect_ratio=params.aspect_ratio,
        job_id=view.id,
        server=view.server,
        original_filename=meta.get('original_filename'),
        prompt_original=params.prompt_original,
        negative_prompt_original=params.negative_prompt_original,
        llm_action=params.llm_action,
        params=meta.get('params') or recorded,
        tags=[],  # NOTE: every default_factory field given: pydantic inspects the factory's signature each time
    )


def _helped(params: GenerateParams) -> dict[str, str]:
    """The prompt helper's part of an image's sidecar: the original prompts and the actions, when it was used."""
    fields = params.model_dump(include={'prompt_original', 'negative_prompt_original', 'llm_action'})
    return {name: value for name, value in fields.items() if value is not None}
