"""Every knob of the app, read from the environment and `.env` (names follow the runbook)."""

from __future__ import annotations

import ipaddress
import re
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of one app process; built once in main.py and passed down."""

    model_config = SettingsConfigDict(env_file='.env', env_file_encoding='utf-8', extra='ignore', case_sensitive=False)

    host: str = '127.0.0.1'
    port: int = Field(8000, ge=1, le=65535)

    comfyui_server: str = ''
    comfyui_servers: str = ''
    server_max_inflight: int = Field(1, ge=1, le=64)
    simulator_port: int = Field(0, ge=0, le=65535)
    simulator_step_delay: float = Field(0.15, ge=0, le=60)

    output_dir: Path = Path('./outputs/')
    storage_url: str = ''  # empty or file://path: a local folder; s3://bucket/prefix: S3-compatible storage
    s3_endpoint_url: str = ''
    s3_region: str = ''
    s3_access_key_id: str = ''
    s3_secret_access_key: str = ''
    s3_presign_seconds: int = Field(0, ge=0, le=604_800)  # 0: files are served through the app
    job_db_path: Path = Path('db/app_data.db')
    database_url: str = ''
    redis_url: str = ''  # set: events between instances go through Redis pub/sub
    instance_id: str = ''  # names this instance on the bus and in job claims; empty: a random one per start
    comfy_input_dir: Path | None = None
    workflows_dir: Path | None = None  # the workflow files (the studio writes here); default: the shipped folder

    max_per_user_queue: int = Field(3, ge=0, le=1000)
    max_per_user_concurrent: int = Field(1, ge=1, le=100)
    job_timeout_seconds: float = Field(180, gt=0)
    max_queued_jobs: int = Field(500, ge=0)  # waiting jobs of everyone together; 0 = no cap
    max_queued_per_source: int = Field(20, ge=0)  # unfinished jobs per client address, whatever its ids; 0 = no cap
    max_new_ids_per_source: int = Field(30, ge=0)  # new anonymous ids per client address and hour; 0 = no cap

    comfy_http_connect_timeout: float = Field(3, gt=0)
    comfy_http_read_timeout: float = Field(10, gt=0)
    comfy_ws_connect_timeout: float = Field(5, gt=0)
    comfy_ws_idle_timeout: float = Field(120, gt=0)

    healthz_disk_min_free_mb: int = Field(1024, ge=0)

    log_level: Literal['DEBUG', 'INFO', 'WARNING', 'ERROR'] = 'INFO'
    log_format: Literal['json', 'text'] = 'json'
    log_to_file: bool = True
    log_file_path: Path = Path('logs/app.log')
    log_max_bytes: int = Field(1_048_576, ge=1024)
    log_backup_count: int = Field(3, ge=0)

    progress_log_step: int = Field(20, ge=1, le=100)
    progress_log_min_ms: int = Field(1000, ge=0)
    progress_log_level: Literal['debug', 'info', 'warning'] = 'info'

    controls_max_bytes: int = Field(10_485_760, ge=1024)
    max_image_pixels: int = Field(40_000_000, ge=1_000_000, le=100_000_000)  # per image, checked before decoding
    max_concurrent_decodes: int = Field(2, ge=1, le=32)

    trash_retention_days: int = Field(30, ge=0, le=3650)
    quota_max_bytes: int = Field(0, ge=0)
    quota_max_images: int = Field(0, ge=0)

    beta_password: str = ''
    admin_user: str = 'admin'
    admin_password: str = ''
    cookie_secure: bool = False
    secret_key: str = Field('', validate_default=True)  # required with REDIS_URL: every instance signs with it
    trusted_proxies: str = ''

    civitai_base_url: str = 'https://civitai.com'
    civitai_api_key: str = ''

    llm_base_url: str = ''
    llm_model: str = ''
    llm_api_key: str = ''
    llm_timeout_seconds: float = Field(30, gt=0, le=600)
    llm_max_per_user_per_minute: int = Field(10, ge=0, le=1000)

    @field_validator('log_level', mode='before')
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator('log_format', 'progress_log_level', mode='before')
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator('workflows_dir', mode='before')
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if value == '' else value

    @field_validator('comfyui_server', 'comfyui_servers')
    @classmethod
    def _check_servers(cls, value: str) -> str:
        for item in _split(value):
            if any(ch.isspace() for ch in item) or item.startswith(('ws:', 'wss:')):
                raise ValueError(f'{item!r} is not a ComfyUI address like 127.0.0.1:8188 or http://host:8188')
        return value

    @field_validator('llm_base_url')
    @classmethod
    def _check_llm_url(cls, value: str) -> str:
        value = value.strip()
        if value and (not value.startswith(('http://', 'https://')) or any(ch.isspace() for ch in value)):
            raise ValueError(f'{value!r} is not an address like http://127.0.0.1:11434 or https://api.example.com/v1')
        return value

    @field_validator('storage_url')
    @classmethod
    def _check_storage_url(cls, value: str) -> str:
        value = value.strip()
        if not value or (value.startswith('file://') and len(value) > len('file://')):
            return value
        bucket = value.removeprefix('s3://').split('/', 1)[0]
        if not value.startswith('s3://') or not re.fullmatch(r'[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]', bucket):
            raise ValueError(f'{value!r} is not empty, file:///a/folder or s3://bucket/prefix')
        return value

    @field_validator('s3_endpoint_url')
    @classmethod
    def _check_s3_endpoint(cls, value: str) -> str:
        value = value.strip()
        if value and (not value.startswith(('http://', 'https://')) or any(ch.isspace() for ch in value)):
            raise ValueError(f'{value!r} is not an address like http://127.0.0.1:8333 or https://s3.example.com')
        return value

    @property
    def llm_api_url(self) -> str:
        """The OpenAI-compatible API root ending in /v1 (LLM_BASE_URL with or without it), empty = helper off."""
        url = self.llm_base_url.rstrip('/')
        return url if not url or url.endswith('/v1') else f'{url}/v1'

    @field_validator('secret_key')
    @classmethod
    def _check_secret(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get('redis_url') and not value.strip():
            raise ValueError(
                'required when REDIS_URL is set: every instance must sign cookies and sessions with the same key'
            )
        return value

    @field_validator('trusted_proxies')
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        for item in _split(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f'{item!r} is not an IP address or network like 127.0.0.1 or 10.0.0.0/8') from None
        return value

    @property
    def uvicorn_proxy_options(self) -> dict[str, Any]:
        """uvicorn's options: X-Forwarded-For/-Proto count only from TRUSTED_PROXIES (none by default)."""
        proxies = _split(self.trusted_proxies)
        return {'proxy_headers': bool(proxies), 'forwarded_allow_ips': ','.join(proxies)}

    @property
    def server_urls(self) -> list[str]:
        """The configured ComfyUI base URLs (COMFYUI_SERVERS, then COMFYUI_SERVER), empty = use the simulator."""
        urls: list[str] = []
        for item in [*_split(self.comfyui_servers), *_split(self.comfyui_server)]:
            url = item if '://' in item else f'http://{item}'
            url = url.rstrip('/')
            if url not in urls:
                urls.append(url)
        return urls

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL: DATABASE_URL, else SQLite at JOB_DB_PATH."""
        return self.database_url or f'sqlite:///{self.job_db_path}'


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(',') if item.strip()]


def load_settings(**overrides: object) -> Settings:
    """Build the settings; on an invalid value print one line naming the variable and exit."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first['loc'][0]).upper() if first['loc'] else 'settings'
        value = first.get('input')
        shown = '' if isinstance(value, dict) else f' (got {value!r})'
        sys.exit(f'Invalid setting {name}: {first["msg"]}{shown}')
