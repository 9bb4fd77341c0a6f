"""SQLModel tables: the database is the index and the queue's truth."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime that reads back as UTC on every database (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(*, index: bool = False, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


class JobStatus(StrEnum):
    QUEUED = 'queued'
    DISPATCHED = 'dispatched'
    RUNNING = 'running'
    SAVING = 'saving'
    COMPLETED = 'completed'
    FAILED = 'failed'
    CANCELLED = 'cancelled'
    TIMED_OUT = 'timed_out'

    @property
    def finished(self) -> bool:
        """Whether the job has reached an end state."""
        return self in FINISHED


FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT})
ACTIVE = frozenset({JobStatus.DISPATCHED, JobStatus.RUNNING, JobStatus.SAVING})


class User(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    last_seen: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    display_name: str | None = Field(default=None, max_length=100)
    quota_max_bytes: int | None = Field(default=None, sa_column=Column(BigInteger))
    quota_max_images: int | None = None
    blocked: bool = False


class ComfyServer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    base_url: str = Field(max_length=300, unique=True)
    enabled: bool = True
    max_inflight: int = 1
    client_id: str = Field(max_length=64)
    simulated: bool = False
    from_env: bool = False  # listed in COMFYUI_SERVERS / COMFYUI_SERVER: its address and slots come from .env
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Job(SQLModel, table=True):
    __table_args__ = (
        Index('ix_job_owner_status', 'owner', 'status'),
        Index('ix_job_owner_idempotency_key', 'owner', 'idempotency_key'),
    )

    id: str = Field(primary_key=True, max_length=32)
    owner: str = Field(index=True, max_length=64)
    workflow_id: str = Field(max_length=64)
    mode: str = Field(max_length=32)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=JobStatus.QUEUED, index=True, max_length=16)
    priority: float = 0.0
    server_id: int | None = Field(default=None, index=True)
    prompt_id: str | None = Field(default=None, max_length=64)
    queued_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    started_at: datetime | None = _when()
    finished_at: datetime | None = _when(index=True)
    progress_value: float = 0.0
    progress_max: float = 0.0
    error: str | None = None
    image_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    idempotency_key: str | None = Field(default=None, max_length=128)  # the client's key: a retry gets this job
    cancel_requested: bool = False  # asked on an instance that does not dispatch; the dispatcher acts on it


class Image(SQLModel, table=True):
    __table_args__ = (
        Index('ix_image_owner_status_created', 'owner', 'status', 'created_at'),
        Index('ix_image_owner_kind_status_created', 'owner', 'kind', 'status', 'created_at', 'id'),
        Index('ix_image_status_created', 'status', 'created_at'),  # everyone's images newest first (admin)
        Index('ix_image_owner_status_bytes', 'owner', 'status', 'bytes'),  # totals from the index alone
    )

    id: str = Field(primary_key=True, max_length=32)
    owner: str = Field(index=True, max_length=64)
    kind: str = Field(default='generated', max_length=16)
    rel_path: str = Field(max_length=400)
    thumb_path: str | None = Field(default=None, max_length=400)
    mime: str = Field(max_length=32)
    bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    width: int = 0
    height: int = 0
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    status: str = Field(default='active', max_length=16, index=True)
    trashed_at: datetime | None = _when()
    workflow_id: str | None = Field(default=None, max_length=64)
    mode: str | None = Field(default=None, max_length=32)
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = Field(default=None, sa_column=Column(BigInteger))
    aspect_ratio: str | None = Field(default=None, max_length=16)
    job_id: str | None = Field(default=None, index=True, max_length=32)
    server: str | None = Field(default=None, max_length=100)
    original_filename: str | None = Field(default=None, max_length=255)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    favorite: bool = False
    prompt_original: str | None = None  # the user's own prompt when the prompt helper's suggestion replaced it
    negative_prompt_original: str | None = None
    llm_action: str | None = Field(default=None, max_length=200)  # accepted helper actions: 'translate,improve'
    params: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # what the job was built from


class ShareLink(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=32)
    owner: str = Field(index=True, max_length=64)
    image_id: str = Field(index=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = _when()
    strip_metadata: bool = True  # serve a copy without the PNG text chunks (prompt, graph)


class LoraFile(SQLModel, table=True):
    __table_args__ = (Index('ix_lorafile_server_name', 'server_id', 'name', unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    server_id: int = Field(index=True)
    name: str = Field(max_length=1024)
    sha256: str | None = Field(default=None, max_length=64, index=True)
    size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    mtime: float = 0.0
    hashed_at: datetime | None = _when()
    hash_verified: bool = False  # the hash node vouched for sha256 in the latest sync (else it is kept from before)


class CivitaiVersion(SQLModel, table=True):
    """Civitai's answer for one hash; a hashed LoRA without a row is "metadata pending" (Civitai not asked yet)."""

    sha256: str = Field(primary_key=True, max_length=64)
    found: bool = False
    version_id: int | None = None
    model_id: int | None = Field(default=None, index=True)
    model_name: str | None = Field(default=None, max_length=300)
    version_name: str | None = Field(default=None, max_length=300)
    base_model: str | None = Field(default=None, max_length=100)
    trained_words: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    description: str | None = None
    model_description: str | None = None
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    creator: str | None = Field(default=None, max_length=200)
    nsfw: bool = False
    image_urls: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    preview_path: str | None = Field(default=None, max_length=400)
    fetched_at: datetime | None = _when()
    model_fetched_at: datetime | None = _when()


class LoraSyncState(SQLModel, table=True):
    server_id: int = Field(primary_key=True)
    stage: str = Field(default='idle', max_length=32)
    done: int = 0
    total: int = 0
    error: str | None = None
    node_installed: bool | None = None
    node_version: str | None = Field(default=None, max_length=32)
    lora_count: int = 0
    matched: int = 0
    metadata_note: str | None = Field(default=None, max_length=32)  # why metadata is pending: unreachable, refused
    metadata_error: str | None = None
    started_at: datetime | None = _when()
    finished_at: datetime | None = _when()


class QueueDepth(SQLModel, table=True):
    """The queue's peak within one 10 s bucket (the dashboard's depth chart; written when the bucket closes)."""

    at: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    queued: int = 0
    running: int = 0


class WebSession(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)  # the session id inside the signed admin or beta cookie
    kind: str = Field(index=True, max_length=16)  # 'admin' or 'beta'
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ApiToken(SQLModel, table=True):
    """A personal API token: only the sha256 of its secret is kept; the secret is shown once, at creation."""

    id: str = Field(primary_key=True, max_length=16)  # public: the token reads `vcc_<id>_<secret part>`
    owner: str = Field(index=True, max_length=64)  # the user the token acts as
    name: str = Field(max_length=60)
    digest: str = Field(max_length=64)  # sha256 hex of the whole token
    admin: bool = False  # made by a signed-in admin who asked for admin reach
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime | None = _when()
    last_used_at: datetime | None = _when()
    revoked_at: datetime | None = _when()
