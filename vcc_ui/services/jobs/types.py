"""The job engine's records: the refusal, the live view of a job, one job's state and one run's state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from nicegui import binding
from sqlmodel import Session

from vcc_ui.models import FINISHED, Image, Job, JobStatus, utcnow
from vcc_ui.services.comfy.messages import ExecutionError, ImageRef
from vcc_ui.services.servers import ServerEntry

# (session, owner) -> why the owner may not submit: (blocked, over quota) messages or None; read in the admitting write
AdmissionCheck = Callable[[Session, str], tuple[str | None, str | None]]


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
    waiting: bool = False  # posted to ComfyUI, waiting in its own queue for execution to start

    @property
    def finished(self) -> bool:
        """Whether the job reached an end state."""
        return self.status in FINISHED  # a StrEnum hashes as its string

    def preview_path(self, prefix: str) -> str:
        """The URL of the newest preview frame under `prefix`, or '' when there is none (none once the job ended)."""
        return f'{prefix}/{self.id}/preview?v={self.preview_seq}' if self.preview_seq and not self.finished else ''

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
            'preview_url': self.preview_path('/api/v1/jobs') or None,
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
class LiveJob:
    """Everything the engine keeps about one unfinished job; dropping this record forgets the job."""

    view: JobView
    source: str | None = None  # the client address that submitted it (None: recovered after a restart, or the CLI)
    run: Run | None = None  # while the job is on a server
    requeues: int = 0  # runs that reached ComfyUI but could not start there
    unreached_since: float | None = None  # when a run first could not connect to its server (monotonic)
    finishing: bool = False
    last_emit: float = 0.0  # when the last event that was not only a preview's went out
    emit_pending: bool = False
    told_preview: int = 0  # the preview version the job's last event carried
    last_db_progress: float = 0.0
    progress_logged: tuple[int, float] | None = None  # (percent bucket, when) of the last job_progress line
    published_seq: int = 0  # the preview version the other instances last got the frame of


@dataclass(eq=False)
class Run:
    """One attempt of a job on a server, from dispatch (or recovery after a restart) until it ends."""

    job: LiveJob
    server: ServerEntry
    prompt_id: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: ExecutionError | None = None
    interrupted: bool = False
    lost: str | None = None
    cancel_requested: bool = False
    posted: bool = False
    awaiting_server: bool = False  # its server went down after the prompt was posted; JobManager._await_server
    server_back: asyncio.Event = field(default_factory=asyncio.Event)  # its server answers again
    recovering: bool = False
    succeeded: bool = False
    outputs: list[ImageRef] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    rows: list[Image] = field(default_factory=list)  # stored outputs' image rows: the finish write commits them
    workflow_version: str = ''  # of the workflow file the graph was built from
    started: float = field(default_factory=time.monotonic)
    executing: float | None = None  # when ComfyUI began executing the prompt: the timeout counts from here
    began: asyncio.Event = field(default_factory=asyncio.Event)
    pace_from: tuple[float, int] | None = None  # (when, step) of the first step seen of the current sampler
    preview: tuple[str, bytes] | None = None  # the newest preview frame: (image type, data)
    preview_shown: float | None = None  # when the preview version was last bumped
    preview_pending: bool = False

    @property
    def view(self) -> JobView:
        """The view of the job this run belongs to."""
        return self.job.view
