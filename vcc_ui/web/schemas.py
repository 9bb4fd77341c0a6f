"""Request bodies and response models of the REST API: what /docs documents and what every JSON answer carries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vcc_ui.models import JobStatus, ShareLink
from vcc_ui.services.admin import admin_url
from vcc_ui.services.admin_data import ServerJob
from vcc_ui.services.image_meta import MAX_TAGS, AdminImageView
from vcc_ui.services.images import MAX_BULK, ImagePage
from vcc_ui.services.jobs import JobView
from vcc_ui.services.servers import ServerEntry
from vcc_ui.services.shares import Shares
from vcc_ui.services.stats import Stats
from vcc_ui.services.tokens import EXPIRY_DAYS_MAX, TokenInfo
from vcc_ui.services.workflow_params import Param
from vcc_ui.services.workflows import Defaults, Template, Workflow, WorkflowProblem

T = TypeVar('T')
Timestamp = Annotated[str, Field(json_schema_extra={'format': 'date-time'})]
ImageId = Annotated[str, Field(max_length=64)]


def file_answer(description: str, *media_types: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of a 200 answer that is a file of one of these media types, not JSON."""
    content = {media_type: {'schema': {'type': 'string', 'format': 'binary'}} for media_type in media_types}
    return {200: {'description': description, 'content': content}}


class Body(BaseModel):
    """A request body: unknown keys are refused."""

    model_config = ConfigDict(extra='forbid')


class Out(BaseModel):
    """A response body: it carries exactly the keys the API answers with (a missing or extra key is a bug)."""

    model_config = ConfigDict(extra='forbid')


# ---- request bodies ------------------------------------------------------------------------------------------


class JobCreate(Body):
    """What POST /api/v1/jobs takes: a workflow and its params, or `remix` (an image id) with params to change."""

    workflow_id: str | None = Field(default=None, min_length=1, max_length=64)
    remix: ImageId | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode='after')
    def _workflow_or_remix(self) -> JobCreate:
        if self.workflow_id is None and self.remix is None:
            raise ValueError('give a workflow_id, or an image id as remix')
        return self


class FavoriteBody(Body):
    """Mark or unmark an image as a favourite."""

    favorite: bool = True


class TagsBody(Body):
    """The new tags of an image."""

    tags: list[Annotated[str, Field(max_length=100)]] = Field(max_length=MAX_TAGS)


class BulkBody(Body):
    """Delete or restore many images."""

    action: Literal['delete', 'restore']
    ids: list[ImageId] = Field(max_length=MAX_BULK)


class ZipBody(Body):
    """The images to put in a ZIP."""

    ids: list[ImageId] = Field(min_length=1, max_length=MAX_BULK)


class CopyBody(Body):
    """The image to copy into the inputs library."""

    image_id: ImageId


class ShareBody(Body):
    """How long a share link lives."""

    expires: Literal['1h', '1d', '7d', '30d'] = '1d'
    strip_metadata: bool = True  # share a copy without the embedded prompt and graph


class ServerCreate(Body):
    """A new ComfyUI server."""

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=300)
    max_inflight: int = Field(default=1, ge=1, le=64)
    enabled: bool = True


class ServerUpdate(Body):
    """What to change on a server (missing or null = unchanged)."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: str | None = Field(default=None, min_length=1, max_length=300)
    max_inflight: int | None = Field(default=None, ge=1, le=64)
    enabled: bool | None = None


class ServerTest(Body):
    """A server address to try."""

    url: str = Field(min_length=1, max_length=300)


class UserUpdate(Body):
    """What to change on a user (a null quota = the default)."""

    display_name: str | None = Field(default=None, max_length=100)
    blocked: bool | None = None
    quota_max_bytes: int | None = Field(default=None, ge=0)
    quota_max_images: int | None = Field(default=None, ge=0)


class PurgeBody(Body):
    """Which trash to purge (default: older than the retention), or only count it."""

    older_than_days: float | None = Field(default=None, ge=0, le=3650)
    dry_run: bool = False


# ---- generic answers -------------------------------------------------------------------------------------------


class ItemsOut(Out, Generic[T]):
    """A list answer."""

    items: list[T]


class PageOut(Out, Generic[T]):
    """One page of a listing, newest first."""

    items: list[T]
    page: int
    size: int
    total: int
    total_capped: bool = Field(description='counting stopped at `total`: the listing has more matches than that')
    has_more: bool

    @classmethod
    def of(cls, result: ImagePage, items: list[T]) -> Self:
        """The answer for a page of rows, given its items as answered."""
        return cls(
            items=items,
            page=result.page,
            size=result.size,
            total=result.total,
            total_capped=result.total_capped,
            has_more=result.has_more,
        )


class ErrorDetail(Out):
    """Why a request was refused."""

    code: str
    message: str
    field: str | None


class ErrorBody(Out):
    """The body of every refusal."""

    detail: ErrorDetail


# ---- jobs and workflows --------------------------------------------------------------------------------------


class JobOut(Out):
    """A job with its live position, ETA and progress."""

    id: str
    owner: str
    workflow_id: str
    mode: str
    params: dict[str, Any]
    status: JobStatus
    position: int
    eta_seconds: float | None
    progress: float
    step: int
    steps: int
    server: str
    error: str | None
    image_ids: list[str]
    queued_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    preview_url: str | None

    @classmethod
    def of(cls, view: JobView) -> JobOut:
        """The answer for a job view."""
        return cls.model_validate(view.to_dict())


class AvailabilityOut(Out):
    """Whether one server can run a workflow, and why not."""

    ok: bool
    reason: str | None


class ParamOut(Out):
    """A parameter a workflow declares: a job sets it as `params.<id>` (type and choices from the server)."""

    id: str
    label: dict[str, str]
    default: Any
    min: float | None
    max: float | None
    step: float | None
    advanced: bool
    control: str | None
    choices: list[Any] | None

    @classmethod
    def of(cls, param: Param) -> ParamOut:
        """The answer for one declared parameter."""
        return cls(
            id=param.id,
            label=param.label,
            default=param.default,
            min=param.minimum,
            max=param.maximum,
            step=param.step,
            advanced=param.advanced,
            control=param.control,
            choices=list(param.choices) if param.choices is not None else None,
        )


class WorkflowOut(Out):
    """A workflow with its UI metadata and availability per server."""

    id: str
    title: dict[str, str]
    description: dict[str, str]
    mode: str
    mode_label: dict[str, str]
    related: dict[str, str]
    related_img2img: str | None
    params: list[ParamOut]
    aspect_ratios: dict[str, tuple[int, int]]
    max_batch: int
    defaults: Defaults
    templates: list[Template]
    availability: dict[str, AvailabilityOut]

    @classmethod
    def of(cls, workflow: Workflow, availability: dict[str, str | None]) -> WorkflowOut:
        """The answer for a workflow and its availability (None = the server can run it, else the reasons)."""
        return cls(
            id=workflow.id,
            title=workflow.title,
            description=workflow.description,
            mode=workflow.mode,
            mode_label=workflow.mode_label,
            related=workflow.related,
            related_img2img=workflow.related_img2img,
            params=[ParamOut.of(p) for p in workflow.params.values()],
            aspect_ratios=workflow.aspect_ratios,
            max_batch=workflow.max_batch,
            defaults=workflow.defaults,
            templates=workflow.templates,
            availability={
                server: AvailabilityOut(ok=reason is None, reason=reason) for server, reason in availability.items()
            },
        )


class WorkflowProblemOut(Out):
    """A workflow file that could not be loaded, and why."""

    file: str
    reason: str

    @classmethod
    def of(cls, problem: WorkflowProblem) -> WorkflowProblemOut:
        """The answer for a workflow problem."""
        return cls(file=problem.file, reason=problem.reason)


class WorkflowsOut(Out):
    """Every workflow, and the files that could not be loaded."""

    items: list[WorkflowOut]
    problems: list[WorkflowProblemOut]


class HealthOut(Out):
    """Whether ComfyUI, the database and the disk are fine; each check with its values for admins only."""

    ok: bool
    status: Literal['ok', 'failing', 'starting']
    checks: dict[str, dict[str, Any]]


# ---- images, inputs and shares -------------------------------------------------------------------------------


class AdminImageOut(AdminImageView):
    """An image as admins see it: with its owner and admin-only file URLs."""

    admin_url: str
    admin_thumb_url: str | None

    @classmethod
    def of_view(cls, view: AdminImageView) -> AdminImageOut:
        """The answer for any user's image."""
        thumb = admin_url(view.thumb_url) if view.thumb_url else None
        return cls(**dict(view), admin_url=admin_url(view.url), admin_thumb_url=thumb)


class BulkOut(Out):
    """What a bulk delete or restore changed."""

    action: Literal['delete', 'restore']
    changed: list[str]


class ShareOut(Out):
    """A share link and its state."""

    id: str
    image_id: str
    url: str
    state: Literal['active', 'expired', 'revoked']
    created_at: Timestamp
    expires_at: Timestamp
    revoked_at: Timestamp | None
    strip_metadata: bool

    @classmethod
    def of(cls, shares: Shares, link: ShareLink) -> ShareOut:
        """The answer for a share link."""
        return cls.model_validate(shares.as_dict(link))


# ---- admin ---------------------------------------------------------------------------------------------------


class ServerOut(Out):
    """A server with its live health and load."""

    id: int
    name: str
    url: str
    enabled: bool
    simulated: bool
    max_inflight: int
    inflight: int
    reachable: bool
    connected: bool
    queue_remaining: int
    vram_total: int
    vram_free: int
    last_error: str | None
    last_check: float | None

    @classmethod
    def of(cls, entry: ServerEntry) -> ServerOut:
        """The answer for a server entry."""
        h = entry.health
        return cls(
            id=entry.id,
            name=h.name,
            url=h.url,
            enabled=h.enabled,
            simulated=h.simulated,
            max_inflight=h.max_inflight,
            inflight=h.inflight,
            reachable=h.reachable,
            connected=h.connected,
            queue_remaining=h.queue_remaining,
            vram_total=h.vram_total,
            vram_free=h.vram_free,
            last_error=h.last_error or None,
            last_check=h.last_check or None,
        )


class ServerDetailOut(ServerOut):
    """A server with its newest jobs."""

    history: list[ServerJob]


class RemovedOut(Out):
    """The id of the server that was removed."""

    removed: int


class RevokedOut(Out):
    """How many sessions were signed out."""

    revoked: int


class DeviceOut(Out):
    """A device a server reports."""

    name: str | None
    type: str | None
    vram_total: int | float | None
    vram_free: int | float | None


class ServerTestOut(Out):
    """Whether a server address answers: its version and devices, or the error."""

    reachable: bool
    url: str
    version: str | None
    devices: list[DeviceOut]
    error: str | None


class PurgeOut(Out):
    """What a trash purge removed (or, with dry_run, would remove)."""

    dry_run: bool
    older_than_days: int | float
    images: int
    bytes: int


class HourOut(Out):
    """Finished jobs of one hour."""

    hour: Timestamp
    done: int
    failed: int
    cancelled: int


class DepthOut(Out):
    """One sample of the queue depth."""

    at: Timestamp
    queued: int
    running: int


class StatsOut(Out):
    """The dashboard's counters, queue depth samples, jobs per hour and average durations per workflow."""

    queued: int
    running: int
    done_last_hour: int
    failed_last_hour: int
    avg_duration_seconds: dict[str, float]
    jobs_per_hour: list[HourOut]
    queue_depth: list[DepthOut]

    @classmethod
    def of(cls, stats: Stats) -> StatsOut:
        """The answer for the stats service's current figures."""
        c, f = stats.counters, stats.figures
        return cls(
            queued=c.queued,
            running=c.running,
            done_last_hour=c.done_hour,
            failed_last_hour=c.failed_hour,
            avg_duration_seconds={k: round(v, 1) for k, v in f.durations.items()},
            jobs_per_hour=[
                HourOut(hour=h.start.isoformat(), done=h.done, failed=h.failed, cancelled=h.cancelled)
                for h in f.per_hour
            ],
            queue_depth=[DepthOut(at=s.at.isoformat(), queued=s.queued, running=s.running) for s in stats.series()],
        )


# ---- personal API tokens ----------------------------------------------------------------------------------------


class TokenCreate(Body):
    """What POST /api/v1/tokens takes: a name, an optional lifetime in days, admin reach (signed-in admins only)."""

    name: str = Field(max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=EXPIRY_DAYS_MAX)
    admin: bool = False


class TokenOut(Out):
    """A personal API token as its owner sees it: never its secret."""

    id: str
    name: str
    hint: str = Field(description='the public beginning of the token, to recognise it')
    admin: bool
    created_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    expired: bool

    @classmethod
    def of(cls, info: TokenInfo, now: datetime) -> TokenOut:
        """The answer for a token."""
        return cls(
            id=info.id,
            name=info.name,
            hint=info.hint,
            admin=info.admin,
            created_at=info.created_at.isoformat(),
            expires_at=info.expires_at.isoformat() if info.expires_at else None,
            last_used_at=info.last_used_at.isoformat() if info.last_used_at else None,
            expired=info.expired(now),
        )


class TokenCreatedOut(TokenOut):
    """A token just made, with its secret: the only answer that ever carries it."""

    token: str = Field(description='send it as `Authorization: Bearer <token>`; it is not shown again')
