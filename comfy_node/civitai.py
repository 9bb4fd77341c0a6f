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

from .hash_cache import default_cache_path, write_json_atomic

log = logging.getLogger(__name__)
_UTC = timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11; ComfyUI still runs on 3.10

BASE_URL_ENV = 'CIVITAI_BASE_URL'
API_KEY_ENV = 'CIVITAI_API_KEY'
DEFAULT_BASE_URL = 'https://civitai.com'
SITE_URL = 'https://civitai.com'
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
            return str(cached['status']), cached.get('data')  # type: ignore[return-value]
        if time.monotonic() < self._down_until:
            return UNAVAILABLE, cached.get('data') if cached else None  # type: ignore[return-value]
        token = api_key or os.environ.get(API_KEY_ENV) or None
        try:
            version = self._get_json(f'/api/v1/model-versions/by-hash/{key}', token)
        except _NotFound:
            self._store(key, {'status': NOT_FOUND, 'fetched_at': utc_now(), 'checked': time.time()})
            return NOT_FOUND, None
        except _Failed as error:
            self._unavailable(error)
            return UNAVAILABLE, cached.get('data') if cached else None  # type: ignore[return-value]
        block = version_block(version, self._model(version.get('modelId'), token), utc_now())
        old = (cached or {}).get('data') or {}
        if not block['thumbnail_urls'] and old.get('thumbnail_urls'):  # type: ignore[union-attr]
            block['thumbnail_urls'] = old['thumbnail_urls']  # type: ignore[index]
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

    def _model(self, model_id: object, token: str | None) -> dict | None:
        """Return the model record (description, tags, creator), fetched once per model."""
        if not isinstance(model_id, int):
            return None
        with self._lock:
            cached = self._models.get(str(model_id))
        if cached is not None:
            return cached
        try:
            model = self._get_json(f'/api/v1/models/{model_id}', token)
        except (_NotFound, _Failed) as error:
            log.info('Civitai: model %s unavailable: %s', model_id, error)
            return None
        record = {
            'name': model.get('name'),
            'description': model.get('description'),
            'nsfw': model.get('nsfw'),
            'tags': _tag_names(model.get('tags')),
            'creator': (model.get('creator') or {}).get('username'),
        }
        with self._lock:
            self._models[str(model_id)] = record
            self._dirty = True
        return record

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


def version_block(version: dict, model: dict | None, fetched_at: str) -> dict[str, object]:
    """Return the `civitai` block of one LoRA from a by-hash answer and its model record."""
    model = model or {}
    summary = version.get('model') or {}
    images = [image for image in version.get('images') or [] if isinstance(image, dict) and image.get('url')]
    model_id, version_id = version.get('modelId'), version.get('id')
    return {
        'civitai_name': model.get('name') or summary.get('name'),
        'version_name': version.get('name'),
        'creator': model.get('creator'),
        'tags': list(model.get('tags') or []),
        'stats': version.get('stats') or {},
        'fetched_at': fetched_at,
        'model_id': model_id,
        'version_id': version_id,
        'base_model': version.get('baseModel'),
        'trigger_words': [word for word in version.get('trainedWords') or [] if isinstance(word, str)],
        'thumbnail_urls': [image['url'] for image in images],
        'nsfw': bool(summary.get('nsfw', model.get('nsfw', False))),
        'description': model.get('description'),
        'url': f'{SITE_URL}/models/{model_id}?modelVersionId={version_id}' if model_id else None,
    }


def _tag_names(tags: object) -> list[str]:
    """Return tag names whether Civitai sent strings or {"name": ...} objects."""
    names = []
    for tag in tags if isinstance(tags, list) else []:
        name = tag.get('name') if isinstance(tag, dict) else tag
        if isinstance(name, str) and name:
            names.append(name)
    return names


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
