"""Civitai by-hash lookups with urllib (stdlib), persisted on disk so each file is asked about once."""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

from .contract import (
    CivitaiModelInfo,
    CivitaiVersionInfo,
    civitai_by_hash_path,
    civitai_model_path,
    parse_model,
    parse_version,
)
from .hash_cache import default_cache_path, write_json_atomic

log = logging.getLogger(__name__)
_UTC = timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11; ComfyUI still runs on 3.10

BASE_URL_ENV = 'CIVITAI_BASE_URL'
API_KEY_ENV = 'CIVITAI_API_KEY'
DEFAULT_BASE_URL = 'https://civitai.com'
CACHE_FORMAT = 1
NOT_FOUND_TTL = 7 * 24 * 3600.0
DOWN_FOR = 60.0
MAX_WAIT = 10.0

FOUND, NOT_FOUND, UNAVAILABLE = 'found', 'not_found', 'unavailable'


class _Failed(Exception):
    """Civitai gave no usable answer."""


class _Retryable(_Failed):
    """A 429, 5xx, HTML challenge page or network failure: worth another try later."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class _NotFound(Exception):
    """Civitai answered 404: the file is definitely not on Civitai."""


def utc_now() -> str:
    """Return the current UTC time as `YYYY-MM-DDTHH:MM:SSZ`."""
    return datetime.now(_UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


class CivitaiLookup:
    """Look up model versions by SHA256 and remember answers (found and not found) in a JSON file."""

    def __init__(
        self,
        cache_path: str | os.PathLike[str] | None,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cache_path = Path(cache_path) if cache_path is not None else None
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip('/')
        self.timeout = timeout
        self.retries = retries
        self.sleep = sleep
        self.requests = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._versions: dict[str, dict[str, object]] = {}
        self._models: dict[str, dict[str, object]] = {}
        self._down_until = 0.0
        self._dirty = False
        self._load()

    def __len__(self) -> int:
        with self._lock:
            return len(self._versions)

    def lookup(self, sha256: str, *, api_key: str | None = None, refresh: bool = False) -> tuple[str, dict | None]:
        """Return (status, civitai block) for a file hash; never raises for network or server trouble."""
        key = sha256.upper()
        with self._lock:
            cached = self._versions.get(key)
        if cached is not None and not refresh and _still_valid(cached):
            return str(cached['status']), _data(cached)
        if time.monotonic() < self._down_until:
            return UNAVAILABLE, _data(cached)
        token = api_key or os.environ.get(API_KEY_ENV) or None
        try:
            version = parse_version(self._get_json(civitai_by_hash_path(key), token))
        except _NotFound:
            self._store(key, {'status': NOT_FOUND, 'fetched_at': utc_now(), 'checked': time.time()})
            return NOT_FOUND, None
        except _Failed as error:
            self._unavailable(error)
            return UNAVAILABLE, _data(cached)
        block = version_block(version, self._model(version.model_id, token), utc_now())
        old = _data(cached) or {}
        if not block['thumbnail_urls'] and old.get('thumbnail_urls'):
            block['thumbnail_urls'] = old['thumbnail_urls']
        self._store(key, {'status': FOUND, 'fetched_at': block['fetched_at'], 'data': block})
        return FOUND, block

    def save(self) -> None:
        """Write the cache file atomically if anything changed."""
        with self._lock:
            if not self._dirty or self.cache_path is None:
                return
            data = {'format': CACHE_FORMAT, 'versions': dict(self._versions), 'models': dict(self._models)}
            self._dirty = False
        try:
            write_json_atomic(self.cache_path, data)
        except OSError as error:
            log.warning('Civitai cache: cannot save %s: %s', self.cache_path, error)

    def _model(self, model_id: int | None, token: str | None) -> CivitaiModelInfo | None:
        """Return the model (description, tags, creator), fetched once per model."""
        if model_id is None:
            return None
        with self._lock:
            cached = self._models.get(str(model_id))
        if cached is not None:
            return CivitaiModelInfo.from_record(cached)
        try:
            model = parse_model(self._get_json(civitai_model_path(model_id), token))
        except (_NotFound, _Failed) as error:
            log.info('Civitai: model %s unavailable: %s', model_id, error)
            return None
        with self._lock:
            self._models[str(model_id)] = model.to_record()
            self._dirty = True
        return model

    def _get_json(self, path: str, token: str | None) -> dict:
        """GET a JSON object, retrying 429, 5xx, non-JSON answers and network errors with backoff."""
        for attempt in range(self.retries + 1):
            try:
                return self._get_once(path, token)
            except _Retryable as error:
                if attempt == self.retries:
                    raise
                wait = error.wait if error.wait is not None else min(2.0**attempt, 8.0) * random.uniform(0.5, 1.0)
                self.sleep(min(wait, MAX_WAIT))
        raise AssertionError('unreachable')

    def _get_once(self, path: str, token: str | None) -> dict:
        headers = {'Accept': 'application/json', 'User-Agent': 'vcc-lora-hash'}
        if token:
            headers['Authorization'] = f'Bearer {token}'
        request = urllib.request.Request(self.base_url + path, headers=headers)
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise _NotFound(path) from error
            if error.code == 429 or error.code >= 500 or error.code == 403:
                raise _Retryable(f'HTTP {error.code}', _retry_after(error.headers.get('Retry-After'))) from error
            raise _Failed(f'HTTP {error.code}') from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise _Retryable(f'unreachable: {getattr(error, "reason", error)}') from error
        try:
            data = json.loads(body)
        except ValueError as error:
            raise _Retryable('answer is not JSON (challenge page?)') from error
        if not isinstance(data, dict):
            raise _Retryable('answer is not a JSON object')
        return data

    def _unavailable(self, error: Exception) -> None:
        self.last_error = str(error)
        self._down_until = time.monotonic() + DOWN_FOR
        log.warning('Civitai unavailable (%s); using local metadata for %.0f s', error, DOWN_FOR)

    def _store(self, key: str, record: dict[str, object]) -> None:
        with self._lock:
            self._versions[key] = record
            self._dirty = True

    def _load(self) -> None:
        if self.cache_path is None or not self.cache_path.exists():
            return
        try:
            data = json.loads(self.cache_path.read_text(encoding='utf-8'))
            if data.get('format') == CACHE_FORMAT:
                self._versions = dict(data.get('versions') or {})
                self._models = dict(data.get('models') or {})
        except (OSError, ValueError, AttributeError) as error:
            log.warning('Civitai cache: cannot read %s: %s; starting empty', self.cache_path, error)


def version_block(version: CivitaiVersionInfo, model: CivitaiModelInfo | None, fetched_at: str) -> dict[str, object]:
    """Return the `civitai` block of one LoRA from its version and its model (whose nsfw flag wins when known)."""
    model = model or CivitaiModelInfo()
    return {
        'civitai_name': model.name or version.model_name,
        'version_name': version.version_name,
        'creator': model.creator,
        'tags': list(model.tags),
        'stats': dict(version.stats),
        'fetched_at': fetched_at,
        'model_id': version.model_id,
        'version_id': version.version_id,
        'base_model': version.base_model,
        'trigger_words': list(version.trigger_words),
        'thumbnail_urls': list(version.image_urls),
        'nsfw': model.nsfw if model.nsfw is not None else bool(version.nsfw),
        'description': model.description,
        'url': version.page_url,
    }


def _data(record: dict[str, object] | None) -> dict | None:
    """Return the civitai block kept in a cache record."""
    data = record.get('data') if record else None
    return data if isinstance(data, dict) else None


def _still_valid(record: dict[str, object]) -> bool:
    if record.get('status') == FOUND:
        return True
    checked = record.get('checked')
    return isinstance(checked, int | float) and time.time() - checked < NOT_FOUND_TTL


def _retry_after(value: str | None) -> float | None:
    """Return the wait a Retry-After header asks for (seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(_UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


_default: CivitaiLookup | None = None
_default_lock = threading.Lock()


def get_civitai() -> CivitaiLookup:
    """Return the process-wide lookup, its cache file beside the hash cache, created on first use."""
    global _default  # noqa: PLW0603
    with _default_lock:
        if _default is None:
            _default = CivitaiLookup(default_cache_path().parent / 'civitai_cache.json')
        return _default
