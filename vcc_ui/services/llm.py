"""The prompt helper: translate or improve a prompt with any OpenAI-compatible chat endpoint, streamed and rate-limited.

The endpoint is LLM_BASE_URL (Ollama, llama.cpp's server, vLLM, a hosted API); unset, the helper is off. Answers come
as server-sent `chat.completion.chunk` events (`data: {...}` lines, then `data: [DONE]`); every failure becomes one
`HelperError` with a code the UI translates, and the user's prompt is never changed by the service.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from nicegui import Event

from vcc_ui.models import utcnow
from vcc_ui.services.civitai import retry_after_seconds
from vcc_ui.services.stats import HOURS, hour_starts
from vcc_ui.settings import Settings

log = logging.getLogger(__name__)

Action = Literal['translate', 'improve']
ErrorCode = Literal[
    'off', 'empty', 'too_long', 'unreachable', 'unauthorized', 'rate_limited', 'bad_stream', 'timeout', 'server_error'
]

MAX_PROMPT_CHARS = 2000  # longer prompts (and workflow instructions) are refused, not cut
MAX_OUTPUT_CHARS = 3000  # the stream is closed when the answer reaches this length
MAX_OUTPUT_TOKENS = 600
CONNECT_TIMEOUT = 5.0
CHECK_TIMEOUT = 3.0
RATE_WINDOW = 60.0
DETAIL_CHARS = 200

_RULES = 'Answer with the prompt text only: no preamble, no quotes, no labels, no markdown, no notes or explanations.'
_KEEP = 'Keep every weight like (word:1.2), every tag like <lora:name:0.8> and every embedding name exactly as written.'
TRANSLATE_PROMPT = (
    'You translate prompts for an image generation model into English. Translate the text faithfully: keep its '
    'subjects, details, style words and comma-separated structure, and keep words already in English as they are. '
    f'{_KEEP} {_RULES}'
)
TRANSLATE_NEGATIVE_PROMPT = (
    'You translate negative prompts (the things an image generation model must avoid) into English. Translate the '
    'list faithfully, keep it comma-separated and keep words already in English as they are. '
    f'{_KEEP} {_RULES}'
)
IMPROVE_PROMPT = (
    'You improve prompts for an image generation model. Rewrite the text in English with more visual detail '
    '(subject, setting, lighting, composition, style, quality) while keeping its meaning and all of its subjects. '
    f'Stay under 120 words. {_KEEP} {_RULES}'
)
IMPROVE_NEGATIVE_PROMPT = (
    'You improve negative prompts (the things an image generation model must avoid). Return the list in English, '
    'completed with common defects to avoid (for example blurry, low quality, bad anatomy, extra fingers, watermark, '
    f'text), comma-separated, keeping every item it had. Stay under 60 words. {_KEEP} {_RULES}'
)
WORKFLOW_STYLE = 'Follow the style this workflow asks for: {instruction}'
SYSTEM_PROMPTS: dict[tuple[Action, bool], str] = {
    ('translate', False): TRANSLATE_PROMPT,
    ('translate', True): TRANSLATE_NEGATIVE_PROMPT,
    ('improve', False): IMPROVE_PROMPT,
    ('improve', True): IMPROVE_NEGATIVE_PROMPT,
}
TEMPERATURES: dict[Action, float] = {'translate': 0.2, 'improve': 0.7}

_FENCE = re.compile(r'```[^\n`]*\n?(.*?)(?:```|$)', re.S)
_PLEASANTRY = re.compile(r'^(?:sure|certainly|of course|okay|absolutely|alright)\s*[!,.]\s*', re.I)
_INTRO = re.compile(
    r"^(?:here(?:'s|\u2019s| is| are)|below is|the following is)\b[^\n:\uff1a]{0,100}[:\uff1a]\s*", re.I
)
_INTRO_LINE = re.compile(r"^(?:here(?:'s|\u2019s| is| are)|below is|the following is)\b[^\n]{0,120}\n\s*(?=\S)", re.I)
_HEADER = re.compile(r'^[^\n]{0,100}[:\uff1a][ \t]*\n\s*(?=\S)')
_LABEL = re.compile(
    r'^[*_#\s]*(?:(?:translated|improved|enhanced|refined|rewritten|detailed|english|positive|negative|final|new)\s+)*'
    r'(?:prompt|translation|english|version)\s*[*_]*\s*[:\uff1a][*_]*\s*',
    re.I,
)
_QUOTES = {  # opening -> closing: straight, curly, guillemets, CJK corner brackets, backtick
    '"': '"',
    "'": "'",
    '\u201c': '\u201d',
    '\u2018': '\u2019',
    '\u00ab': '\u00bb',
    '\u300c': '\u300d',
    '\u300e': '\u300f',
    '`': '`',
}


class HelperError(Exception):
    """A suggestion or check failed; `code` says why (the UI translates it), `retry_after` is in seconds or None."""

    def __init__(self, code: ErrorCode, detail: str = '', *, retry_after: float | None = None) -> None:
        super().__init__(f'{code}: {detail}' if detail else code)
        self.code: ErrorCode = code
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What the helper suggested for one prompt: the action, the user's original text and the suggested text."""

    action: Action
    original: str
    text: str
    negative: bool = False


@dataclass(slots=True)
class HelperHour:
    """Helper uses and failures within one clock hour."""

    start: datetime
    uses: int = 0
    failures: int = 0


def clean(text: str) -> str:
    """Strip what models wrap around the prompt (quotes, preambles, fences, labels); safe on partial text too."""
    text = text.strip()
    previous = None
    while text != previous:
        previous = text
        if fence := _FENCE.search(text):
            text = fence.group(1).strip()
        for pattern in (_PLEASANTRY, _INTRO, _INTRO_LINE, _HEADER, _LABEL):
            text = pattern.sub('', text, count=1)
        text = _unquote(text.strip())
    return text


def _unquote(text: str) -> str:
    close = _QUOTES.get(text[:1])
    if close and len(text) >= 2 and text.endswith(close) and close not in text[1:-1]:
        return text[1:-1].strip()
    return text


class PromptHelper:
    """Talks to the chat endpoint through one HTTP client; counts uses and failures per hour (`changed` fires)."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = settings.llm_api_url
        self.model = settings.llm_model.strip()
        self.api_key = settings.llm_api_key.strip()
        self.timeout = settings.llm_timeout_seconds
        self.per_minute = settings.llm_max_per_user_per_minute
        self.clock = clock
        self.changed: Event[[]] = Event()
        self._http: httpx.AsyncClient | None = None
        self._recent: dict[str, deque[float]] = {}
        self._hours: dict[datetime, HelperHour] = {}
        self._listed_model = ''

    @property
    def enabled(self) -> bool:
        """Return whether LLM_BASE_URL is set (else the UI shows no trace of the helper)."""
        return bool(self.url)

    async def stop(self) -> None:
        """Close the HTTP client."""
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    async def suggest(
        self,
        owner: str,
        action: Action,
        prompt: str,
        *,
        negative: bool = False,
        workflow_instruction: str | None = None,
    ) -> AsyncGenerator[str]:
        """Stream the answer's text deltas; closing the iterator or cancelling the task closes the HTTP stream."""
        messages = self._messages(action, prompt, negative, workflow_instruction)
        self._admit(owner)
        self._tally(failed=False)
        started, length = time.perf_counter(), 0
        try:
            async with aclosing(self._stream(action, messages)) as deltas:
                async for delta in deltas:
                    piece = delta[: MAX_OUTPUT_CHARS - length]
                    length += len(piece)
                    yield piece
                    if length >= MAX_OUTPUT_CHARS:
                        break
            if not length:
                raise HelperError('bad_stream', 'the answer had no text')
        except HelperError as error:
            self._tally(failed=True)
            log.warning('prompt helper %s failed for %s: %s', action, owner, error)
            raise
        log.info(
            'prompt helper %s%s for %s: %d chars in %.0f ms',
            action,
            ' (negative)' if negative else '',
            owner,
            length,
            (time.perf_counter() - started) * 1000,
        )

    async def suggestion(
        self,
        owner: str,
        action: Action,
        prompt: str,
        *,
        negative: bool = False,
        workflow_instruction: str | None = None,
        on_text: Callable[[str], Any] | None = None,
    ) -> Suggestion:
        """Run `suggest` to the end, passing the cleaned text so far to `on_text`; return the cleaned Suggestion."""
        text = ''
        stream = self.suggest(owner, action, prompt, negative=negative, workflow_instruction=workflow_instruction)
        async with aclosing(stream) as deltas:
            async for delta in deltas:
                text += delta
                if on_text is not None:
                    on_text(clean(text))
        cleaned = clean(text)
        if not cleaned:
            self._tally(failed=True)
            raise HelperError('bad_stream', 'the answer had no prompt text')
        return Suggestion(action=action, original=prompt, text=cleaned, negative=negative)

    async def check(self, limit: float = CHECK_TIMEOUT) -> dict[str, Any]:
        """Health: list the models within `limit` s; state 'off' (unset, still ok), 'ok' or 'failing'."""
        if not self.enabled:
            return {'ok': True, 'state': 'off'}
        started = time.perf_counter()
        try:
            ids = await self._models(asyncio.get_running_loop().time() + limit)
        except HelperError as error:
            return {'ok': False, 'state': 'failing', 'code': error.code, 'error': str(error)}
        model = self.model or (ids[0] if ids else '')
        if not model:
            return {'ok': False, 'state': 'failing', 'code': 'server_error', 'error': 'the endpoint lists no model'}
        return {
            'ok': True,
            'state': 'ok',
            'model': model,
            'listed': model in ids,
            'latency_ms': round((time.perf_counter() - started) * 1000, 1),
        }

    def per_hour(self, now: datetime | None = None) -> list[HelperHour]:
        """Uses and failures in each of the last 24 clock hours, oldest first (the last is the current hour)."""
        return [
            replace(self._hours[start]) if start in self._hours else HelperHour(start=start)
            for start in hour_starts(now or utcnow())
        ]

    def _messages(
        self, action: Action, prompt: str, negative: bool, workflow_instruction: str | None
    ) -> list[dict[str, str]]:
        if not self.enabled:
            raise HelperError('off', 'LLM_BASE_URL is not set')
        text = prompt.strip()
        instruction = (workflow_instruction or '').strip()
        if not text:
            raise HelperError('empty', 'there is no prompt to work on')
        if len(text) > MAX_PROMPT_CHARS or len(instruction) > MAX_PROMPT_CHARS:
            raise HelperError('too_long', f'prompts are limited to {MAX_PROMPT_CHARS} characters')
        system = SYSTEM_PROMPTS[action, negative]
        if instruction and action == 'improve':
            system += '\n' + WORKFLOW_STYLE.format(instruction=instruction)
        return [{'role': 'system', 'content': system}, {'role': 'user', 'content': text}]

    def _admit(self, owner: str) -> None:
        """Refuse a user over LLM_MAX_PER_USER_PER_MINUTE in the last minute (sliding window), else count the use."""
        if not self.per_minute:
            return
        now = self.clock()
        for key in [key for key, stamps in self._recent.items() if stamps[-1] <= now - RATE_WINDOW]:
            del self._recent[key]
        stamps = self._recent.setdefault(owner, deque())
        while stamps and stamps[0] <= now - RATE_WINDOW:
            stamps.popleft()
        if len(stamps) >= self.per_minute:
            wait = stamps[0] + RATE_WINDOW - now
            raise HelperError('rate_limited', f'{self.per_minute} suggestions per minute', retry_after=wait)
        stamps.append(now)

    def _tally(self, *, failed: bool) -> None:
        now = utcnow()
        start = now.replace(minute=0, second=0, microsecond=0)
        hour = self._hours.setdefault(start, HelperHour(start=start))
        if failed:
            hour.failures += 1
        else:
            hour.uses += 1
        for old in [key for key in self._hours if key <= start - timedelta(hours=HOURS)]:
            del self._hours[old]
        self.changed.emit()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {'User-Agent': 'vcc-ui'}
            if self.api_key:
                headers['Authorization'] = f'Bearer {self.api_key}'
            timeout = httpx.Timeout(self.timeout, connect=min(CONNECT_TIMEOUT, self.timeout))
            self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout)
        return self._http

    async def _stream(self, action: Action, messages: list[dict[str, str]]) -> AsyncGenerator[str]:
        """Yield the content deltas of one streamed chat completion, within LLM_TIMEOUT_SECONDS from the start."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        model = self.model or await self._first_model(deadline)
        body = {
            'model': model,
            'messages': messages,
            'stream': True,
            'temperature': TEMPERATURES[action],
            'max_tokens': MAX_OUTPUT_TOKENS,
        }
        response = await self._send('POST', '/chat/completions', deadline, json=body)
        try:
            if _media_type(response) == 'application/json':
                yield _completion_text(await _read(response, deadline))
                return
            async with aclosing(_sse_deltas(response.aiter_lines(), deadline)) as deltas:
                async for delta in deltas:
                    yield delta
        finally:
            await response.aclose()

    async def _first_model(self, deadline: float) -> str:
        if not self._listed_model:
            ids = await self._models(deadline)
            if not ids:
                raise HelperError('server_error', 'the endpoint lists no model')
            self._listed_model = ids[0]
        return self._listed_model

    async def _models(self, deadline: float) -> list[str]:
        response = await self._send('GET', '/models', deadline)
        try:
            body = _json(await _read(response, deadline))
        finally:
            await response.aclose()
        data = body.get('data') if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise HelperError('bad_stream', 'the models listing has no data list')
        return [item['id'] for item in data if isinstance(item, dict) and isinstance(item.get('id'), str)]

    async def _send(self, method: str, path: str, deadline: float, **kwargs: Any) -> httpx.Response:
        """Send and wait for the status line by the deadline; an error status becomes a HelperError."""
        http = self._client()
        request = http.build_request(method, path, **kwargs)
        try:
            async with asyncio.timeout_at(deadline):
                response = await http.send(request, stream=True)
        except TimeoutError:
            raise HelperError('timeout', f'no answer from {self.url} in time') from None
        except httpx.ConnectTimeout as error:
            raise HelperError('unreachable', f'{type(error).__name__} connecting to {self.url}') from None
        except httpx.TimeoutException as error:
            raise HelperError('timeout', f'{type(error).__name__} from {self.url}') from None
        except httpx.HTTPError as error:
            raise HelperError('unreachable', f'{type(error).__name__} from {self.url}: {error}') from None
        if response.status_code < 400:
            return response
        try:
            detail = (
                'an HTML page'
                if _media_type(response) == 'text/html'
                else _error_detail(await _read(response, deadline))
            )
        except HelperError:
            detail = ''
        finally:
            await response.aclose()
        raise _status_error(response, detail)


def _media_type(response: httpx.Response) -> str:
    return response.headers.get('content-type', '').split(';')[0].strip().lower()


async def _read(response: httpx.Response, deadline: float) -> bytes:
    try:
        async with asyncio.timeout_at(deadline):
            return await response.aread()
    except TimeoutError:
        raise HelperError('timeout', 'the answer did not finish in time') from None
    except httpx.TimeoutException as error:
        raise HelperError('timeout', type(error).__name__) from None
    except httpx.HTTPError as error:
        raise HelperError('bad_stream', f'{type(error).__name__}: {error}') from None


def _json(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise HelperError('bad_stream', f'not JSON: {raw[:DETAIL_CHARS]!r}') from None


def _completion_text(raw: bytes) -> str:
    """The text of a non-streamed chat.completion (an endpoint that ignores `stream`)."""
    body = _json(raw)
    try:
        content = body['choices'][0]['message']['content']
    except (KeyError, IndexError, TypeError):
        raise HelperError('bad_stream', 'a chat.completion without choices[0].message.content') from None
    if not isinstance(content, str):
        raise HelperError('bad_stream', 'a chat.completion whose content is not text')
    return content


async def _sse_deltas(lines: AsyncIterator[str], deadline: float) -> AsyncGenerator[str]:
    """Yield choices[0].delta.content of each `data:` event until `data: [DONE]`; anything else malformed fails."""
    finished = False
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                line = await anext(lines)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise HelperError('timeout', 'the answer did not finish in time') from None
        except httpx.TimeoutException as error:
            raise HelperError('timeout', type(error).__name__) from None
        except httpx.HTTPError as error:
            raise HelperError('bad_stream', f'the stream broke: {type(error).__name__}: {error}') from None
        if not line or line.startswith(':'):
            continue  # event separator or SSE comment (keep-alive)
        name, _, value = line.partition(':')
        if name in {'event', 'id', 'retry'}:
            continue
        if name != 'data':
            raise HelperError('bad_stream', f'not a server-sent event: {line[:DETAIL_CHARS]!r}')
        value = value.removeprefix(' ')
        if value.strip() == '[DONE]':
            return
        chunk = _json(value)
        if isinstance(chunk, dict) and chunk.get('error'):
            raise HelperError('server_error', f'error in the stream: {_error_detail(value)}')
        choices = chunk.get('choices') if isinstance(chunk, dict) else None
        if not isinstance(choices, list):
            raise HelperError('bad_stream', f'a chunk without choices: {value[:DETAIL_CHARS]!r}')
        if not choices:
            continue  # the usage chunk of stream_options.include_usage
        choice = choices[0] if isinstance(choices[0], dict) else {}
        delta = choice.get('delta')
        content = delta.get('content') if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            yield content
        finished = finished or bool(choice.get('finish_reason'))
    if not finished:
        raise HelperError('bad_stream', 'the stream ended without finish_reason or [DONE]')


def _error_detail(raw: str | bytes) -> str:
    """The message of an OpenAI-style error body ({"error": {"message"}} or {"error": "..."}), else its start."""
    try:
        body = json.loads(raw)
    except ValueError:
        text = raw.decode('utf-8', 'replace') if isinstance(raw, bytes) else raw
        return text[:DETAIL_CHARS]
    error = body.get('error') if isinstance(body, dict) else None
    message = error.get('message') if isinstance(error, dict) else error
    return str(message or body)[:DETAIL_CHARS]


def _status_error(response: httpx.Response, detail: str) -> HelperError:
    status = response.status_code
    text = f'HTTP {status}' + (f': {detail}' if detail else '')
    if status in {401, 403}:
        return HelperError('unauthorized', text)
    if status == 429:
        return HelperError('rate_limited', text, retry_after=retry_after_seconds(response.headers.get('Retry-After')))
    return HelperError('server_error', text)
