"""Civitai client: model versions by SHA256 in batches, models by id, preview images; retries with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from comfy_node.contract import (
    CIVITAI_BY_HASH_BATCH,
    CIVITAI_BY_HASH_PATH,
    CivitaiModelInfo,
    CivitaiVersionInfo,
    civitai_model_path,
    parse_model,
    parse_version,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_BASE = 1.0
BACKOFF_MAX = 30.0
RETRY_AFTER_MAX = 120.0


class CivitaiError(Exception):
    """Civitai answered something that retrying will not fix (a 4xx other than 404 and 429)."""


class CivitaiUnavailable(CivitaiError):
    """Civitai kept failing (429, 5xx, timeouts, challenge pages) after every retry."""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse Retry-After (seconds or an HTTP date) into seconds, or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class CivitaiClient:
    """Talks to Civitai (or CIVITAI_BASE_URL); `requests` counts every HTTP request made, by kind."""

    def __init__(
        self,
        base_url: str = 'https://civitai.com',
        api_key: str = '',
        *,
        timeout: float = 20.0,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_base: float = BACKOFF_BASE,
        backoff_max: float = BACKOFF_MAX,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip('/')
        self.api_key = api_key.strip()
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.requests: Counter[str] = Counter()
        self._http: httpx.AsyncClient | None = None

    async def close(self) -> None:
        """Close the HTTP client."""
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    async def by_hashes(self, hashes: list[str]) -> dict[str, CivitaiVersionInfo]:
        """Return {sha256 (lower): model version} for the hashes Civitai knows; absent ones are not on Civitai."""
        wanted = sorted({h.lower() for h in hashes if len(h) == 64})
        found: dict[str, CivitaiVersionInfo] = {}
        for start in range(0, len(wanted), CIVITAI_BY_HASH_BATCH):
            batch = wanted[start : start + CIVITAI_BY_HASH_BATCH]
            url = self.base_url + CIVITAI_BY_HASH_PATH
            body = await self._json('by_hash', 'POST', url, json=[h.upper() for h in batch])
            if not isinstance(body, list):
                raise CivitaiError(f'Civitai answered the by-hash batch with a {type(body).__name__}, not a list')
            asked = set(batch)
            for item in body:
                if isinstance(item, dict):
                    version = parse_version(item)
                    for sha in version.hashes & asked:
                        found[sha] = version
        return found

    async def model(self, model_id: int) -> CivitaiModelInfo | None:
        """Return the model (description, tags, creator), or None when Civitai does not have it."""
        body = await self._json('model', 'GET', self.base_url + civitai_model_path(model_id), missing_ok=True)
        return parse_model(body) if isinstance(body, dict) else None

    async def image(self, url: str) -> bytes:
        """Download one preview image (no API key is sent to image hosts)."""
        response = await self._send('image', 'GET', url, expect_json=False, auth=False)
        return response.content

    async def _json(self, kind: str, method: str, url: str, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        response = await self._send(kind, method, url, missing_ok=missing_ok, **kwargs)
        return None if response.status_code == 404 else response.json()

    async def _send(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        expect_json: bool = True,
        auth: bool = True,
        missing_ok: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries on 429, 5xx, timeouts, connection errors and non-JSON (challenge) answers."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.timeout, follow_redirects=True, headers={'User-Agent': 'vcc-ui'}
            )
        headers = {'Authorization': f'Bearer {self.api_key}'} if auth and self.api_key else {}
        problem = ''
        for attempt in range(self.max_attempts):
            self.requests[kind] += 1
            wait: float | None = None
            try:
                response = await self._http.request(method, url, headers=headers, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as error:
                problem = f'{type(error).__name__} on {method} {url}'
            else:
                status = response.status_code
                if status == 404 and missing_ok:
                    return response
                if status == 429 or status >= 500 or (expect_json and not _is_json(response)):
                    problem = f'{status} ({response.headers.get("content-type", "no content-type")}) on {method} {url}'
                    wait = retry_after_seconds(response.headers.get('Retry-After'))
                elif status >= 400:
                    raise CivitaiError(f'Civitai answered {status} to {method} {url}: {response.text[:200]}')
                else:
                    return response
            if attempt + 1 < self.max_attempts:
                delay = min(wait, RETRY_AFTER_MAX) if wait is not None else self._backoff(attempt)
                log.info('Civitai: %s; retry %d in %.1f s', problem, attempt + 1, delay)
                await self.sleep(delay)
        raise CivitaiUnavailable(f'Civitai unavailable after {self.max_attempts} attempts: {problem}')

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)


def _is_json(response: httpx.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True
