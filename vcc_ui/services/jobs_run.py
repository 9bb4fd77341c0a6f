"""JobRunner: what one job does on a server: upload inputs, build the graph, interrupt, save outputs, clean up."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from vcc_ui.models import Image, utcnow
from vcc_ui.services.comfy.client import ComfyClient, ComfyError
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.storage import Storage, StorageError, StoredFile
from vcc_ui.services.workflows import GenerateParams, ParamError, Workflow
from vcc_ui.settings import Settings

if TYPE_CHECKING:
    from vcc_ui.services.jobs import JobView, Run

log = logging.getLogger('vcc_ui.jobs')

OUTPUT_NAMESPACE = uuid.UUID('6f1c1a52-3c1e-4c0e-9a55-6d3c2f0a7e11')
IMAGE_PARAMS = ('input_image', 'control_image')


class JobRunner:
    """The per-job steps that talk to ComfyUI, the files and the image index."""

    def __init__(self, settings: Settings, writer: DbWriter, storage: Storage) -> None:
        self.settings = settings
        self.writer = writer
        self.storage = storage
        self._progress_logged: dict[str, tuple[int, float]] = {}

    async def image_exists(self, owner: str, image_id: str) -> bool:
        """Whether the user owns an active image with this id."""
        row = await self.writer.read(lambda db: db.get(Image, image_id))
        return row is not None and row.owner == owner and row.status == 'active'

    async def prepare(self, run: Run, workflow: Workflow | None) -> dict:
        """Upload the job's input images to its server and build the API-format graph."""
        view = run.view
        if workflow is None:
            raise ParamError('workflow_id', f'Workflow {view.workflow_id!r} is no longer available')
        params = GenerateParams(**view.params)
        names: dict[str, str] = {}
        for key in IMAGE_PARAMS:
            image_id = getattr(params, key)
            if not image_id:
                continue
            row = await self.writer.read(lambda db, i=image_id: db.get(Image, i))
            if row is None or row.owner != view.owner:
                raise ParamError(key, f'Image {image_id} does not exist any more')
            data = await asyncio.to_thread(self.storage.read_bytes, row.rel_path)
            ext = row.rel_path.rsplit('.', 1)[-1]
            uploaded = await run.server.client.upload_image(data, f'vcc_{view.id}_{key}.{ext}', overwrite=True)
            run.uploaded.append(uploaded.name)
            names[key] = uploaded.load_image_value
        return workflow.build(params, images=names)

    async def interrupt(self, run: Run) -> None:
        """Stop the job's prompt on its server (targeted, never a global interrupt)."""
        assert run.prompt_id is not None
        try:
            await run.server.client.cancel(run.prompt_id)
        except ComfyError as error:
            log.warning('could not interrupt prompt %s on %s: %s', run.prompt_id, run.view.server, error)

    async def save_outputs(self, run: Run) -> list[str]:
        """Fetch every output image of the finished prompt and store it once; return the image ids."""
        view, client = run.view, run.server.client
        assert run.prompt_id is not None
        if run.succeeded and run.outputs and not run.recovering:
            refs = run.outputs  # the executed messages carried the same outputs that /history lists
        else:
            entry = await client.history(run.prompt_id)
            refs = ComfyClient.output_images(entry) if entry is not None else []
        params = GenerateParams(**view.params)
        created = view.started_at or view.queued_at
        ids: list[str] = []
        for ref in refs:
            image_id = uuid.uuid5(OUTPUT_NAMESPACE, f'{view.id}/{ref.subfolder}/{ref.filename}').hex
            ids.append(image_id)
            stored = None
            if run.recovering:  # an earlier run of the app may have saved some outputs already
                if await self.writer.read(lambda db, i=image_id: db.get(Image, i)) is not None:
                    continue
                stored = await asyncio.to_thread(
                    self.storage.find, owner=view.owner, kind='generated', image_id=image_id, created_at=created
                )
            if stored is None:
                data = await client.view(ref.filename, ref.subfolder, ref.type)
                meta = {
                    'workflow_id': view.workflow_id,
                    'mode': view.mode,
                    'prompt': params.prompt,
                    'negative_prompt': params.negative_prompt,
                    'seed': params.seed,
                    'aspect_ratio': params.aspect_ratio,
                    'job_id': view.id,
                    'server': view.server,
                    'original_filename': ref.filename,
                    'tags': [],
                }
                stored = await asyncio.to_thread(self._save, view.owner, data, meta, image_id, created)
            row = _image_row(stored, view, params)
            await self.writer.write(lambda db, r=row: db.merge(r) if run.recovering else db.add(r))
        return ids

    def _save(self, owner: str, data: bytes, meta: dict, image_id: str, created: datetime) -> dict:
        try:
            stored: StoredFile = self.storage.save(
                owner=owner, kind='generated', data=data, meta=meta, image_id=image_id, created_at=created
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

    async def cleanup(self, run: Run) -> None:
        """Remove the job's uploads from COMFY_INPUT_DIR, best effort."""
        folder = self.settings.comfy_input_dir
        if not folder or not run.uploaded:
            return
        for name in run.uploaded:
            path = Path(folder) / Path(name.replace('\\', '/')).name
            with suppress(OSError):
                await asyncio.to_thread(path.unlink, missing_ok=True)

    def log_progress(self, view: JobView, before: float) -> None:
        """Log job_progress every PROGRESS_LOG_STEP percent, at most every PROGRESS_LOG_MIN_MS."""
        step = self.settings.progress_log_step
        bucket = int(view.progress * 100) // step
        last_bucket, last_time = self._progress_logged.get(view.id, (int(before * 100) // step, 0.0))
        now = time.monotonic()
        if bucket > last_bucket and (now - last_time) * 1000 >= self.settings.progress_log_min_ms:
            self._progress_logged[view.id] = (bucket, now)
            level = logging.getLevelName(self.settings.progress_log_level.upper())
            log.log(
                level,
                'job_progress',
                extra={
                    'job_id': view.id,
                    'owner': view.owner,
                    'percent': round(view.progress * 100),
                    'step': view.step,
                    'steps': view.steps,
                },
            )
        if view.progress >= 1.0:
            self._progress_logged.pop(view.id, None)


def _image_row(meta: dict, view: JobView, params: GenerateParams) -> Image:
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
    )
