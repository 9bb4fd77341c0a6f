"""The LoRAInfoExtractor node: every LoRA of a stack with its hash, file facts and Civitai metadata."""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from .civitai import CivitaiLookup, get_civitai
from .hash_cache import HashCache, get_cache
from .stack import LoraRef, walk

log = logging.getLogger(__name__)
_UTC = timezone.utc  # noqa: UP017 - datetime.UTC needs Python 3.11; ComfyUI still runs on 3.10

Resolver = Callable[[str], str | None]
TOP_TAGS = 10


class AnyType(str):
    """A ComfyUI type that matches every other type, so any LoRA output can be connected."""

    __slots__ = ()

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = str.__hash__


ANY = AnyType('*')


def comfy_resolver(name: str) -> str | None:
    """Resolve a LoRA name with ComfyUI's folder_paths; None outside ComfyUI or when unknown."""
    try:
        import folder_paths  # ComfyUI's own module
    except ImportError:
        return None
    return folder_paths.get_full_path('loras', name)


def size_human(size: int | None) -> str:
    """Return a size like `160.00 MB` (binary multiples, as the seed shows)."""
    value = float(size or 0)
    for unit in ('B', 'KB', 'MB', 'GB'):
        if value < 1024:
            return f'{value:.2f} {unit}'
        value /= 1024
    return f'{value:.2f} TB'


def clean_name(name: str) -> str:
    """Turn `sub/realistic_vision_v6.safetensors` into `Realistic Vision V6`."""
    base = name.replace('\\', '/').rsplit('/', 1)[-1]
    if re.search(r'\.(safetensors|ckpt|pt|pth|bin|sft)$', base, re.IGNORECASE):
        base = base.rsplit('.', 1)[0]
    words = re.sub(r'[_\-\s]+', ' ', base).strip().split(' ')
    return ' '.join(word.capitalize() if word.islower() else word for word in words) or name


def build_report(
    lora: object,
    *,
    cache: HashCache,
    resolve: Resolver = comfy_resolver,
    civitai: CivitaiLookup | None = None,
    api_key: str | None = None,
    fallback_name: str = '',
    refresh: bool = False,
) -> dict[str, Any]:
    """Return the `lora_json` structure of seed 002 for whatever LoRA value or stack the node received."""
    walked = walk(lora)
    entries = [
        _entry(index, ref, cache=cache, resolve=resolve, civitai=civitai, api_key=api_key, refresh=refresh)
        for index, ref in enumerate(walked.loras)
    ]
    tags = Counter(tag for entry in entries for tag in (entry['civitai'] or {}).get('tags', []))
    matches = sum(1 for entry in entries if entry['civitai'])
    total = sum(entry['file']['size_bytes'] or 0 for entry in entries)
    report: dict[str, Any] = {
        'loras': entries,
        'summary': {
            'count': len(entries),
            'missing_files': sum(1 for entry in entries if not entry['file']['exists']),
            'civitai_matches': matches,
            'local_only': len(entries) - matches,
            'total_size_bytes': total,
            'total_size_human': size_human(total),
            'tags': [tag for tag, _ in tags.most_common(TOP_TAGS)],
            'trigger_words': _unique(
                word for entry in entries for word in (entry['civitai'] or {}).get('trigger_words', [])
            ),
            'skipped_entries': walked.skipped,
        },
        'combined_display': ' + '.join(entry['display_name'] for entry in entries) or fallback_name,
    }
    if not entries:
        report['error'] = 'no LoRA found in the input' + (
            f'; using fallback name {fallback_name!r}' if fallback_name else ''
        )
    if civitai is not None:
        civitai.save()
    return report


def format_info(report: dict) -> str:
    """Return the human-readable `lora_info`: one summary line, then one bullet per LoRA."""
    summary = report['summary']
    lines = [
        f'LoRAs: {summary["count"]} | Civitai matches: {summary["civitai_matches"]} | local only: '
        f'{summary["local_only"]} | missing files: {summary["missing_files"]} | total size: '
        f'{summary["total_size_human"]}'
    ]
    if report.get('error'):
        lines.append(f'! {report["error"]}')
    for entry in report['loras']:
        file = entry['file']
        parts = [f'- {entry["display_name"]}']
        parts.append(f'[{entry["hash"][:10]}]' if entry['hash'] else '[no hash]')
        if entry['strength'] is not None:
            parts.append(f'strength {entry["strength"]:g}')
        missing = f'missing file: {file["path"] or entry["original"]["name"]}'
        parts.append(file['size_human'] if file['exists'] else missing)
        civitai = entry['civitai']
        if civitai:
            parts.append(f'Civitai: {civitai["civitai_name"]} {civitai["version_name"] or ""}'.rstrip())
            if civitai['trigger_words']:
                parts.append('triggers: ' + ', '.join(civitai['trigger_words']))
        lines.append(' | '.join(parts))
    if summary['tags']:
        lines.append('tags: ' + ', '.join(summary['tags']))
    if summary['skipped_entries']:
        lines.append(f'skipped malformed entries: {summary["skipped_entries"]}')
    return '\n'.join(lines)


def _entry(
    index: int,
    ref: LoraRef,
    *,
    cache: HashCache,
    resolve: Resolver,
    civitai: CivitaiLookup | None,
    api_key: str | None,
    refresh: bool,
) -> dict[str, Any]:
    path = _locate(ref, resolve)
    exists = False
    sha = None
    if path is not None and os.path.isfile(path):
        exists = True
        try:
            sha = cache.get(path).sha256.upper()
        except OSError as error:
            log.warning('LoRAInfoExtractor: cannot hash %s: %s', path, error)
            exists = os.path.isfile(path)
    file: dict[str, Any] = {
        'exists': exists,
        'path': path or ref.path,
        'size_bytes': None,
        'size_human': size_human(0),
        'modified_at': None,
    }
    if exists and path is not None:
        try:
            st = os.stat(path)
            file.update(
                size_bytes=st.st_size,
                size_human=size_human(st.st_size),
                modified_at=datetime.fromtimestamp(st.st_mtime, _UTC).strftime('%Y-%m-%dT%H:%M:%SZ'),
            )
        except OSError:
            file['exists'] = False
    block = None
    if sha and civitai is not None:
        _, block = civitai.lookup(sha, api_key=api_key, refresh=refresh)  # stale data is kept while unreachable
    name = ref.name or clean_name(path or '')
    return {
        'index': index,
        'display_name': (block or {}).get('civitai_name') or clean_name(name),
        'hash': sha,
        'file': file,
        'strength': ref.strength,
        'original': {'raw': _jsonable(ref.raw), 'name': name, 'path': ref.path or path},
        'civitai': block,
    }


def _locate(ref: LoraRef, resolve: Resolver) -> str | None:
    """Return the file of a LoRA: an absolute path as given, else what ComfyUI resolves the name or path to."""
    for candidate in (ref.path, ref.name):
        if not candidate:
            continue
        expanded = os.path.expanduser(candidate)
        if os.path.isabs(expanded):
            return expanded
        try:
            resolved = resolve(candidate)
        except (OSError, ValueError) as error:
            log.info('LoRAInfoExtractor: cannot resolve %r: %s', candidate, error)
            resolved = None
        if resolved:
            return resolved
    return None


def _jsonable(value: object, depth: int = 0, active: frozenset[int] = frozenset()) -> object:
    """Return a JSON-safe copy of the raw input (cycles and deep nesting cut, unknown objects named)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if id(value) in active:
        return '<cycle>'
    if depth >= 6:
        return '<…>'
    inner = active | {id(value)}
    if isinstance(value, dict):
        return {str(key): _jsonable(item, depth + 1, inner) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item, depth + 1, inner) for item in value]
    fields = (
        {key: item for key, item in vars(value).items() if not key.startswith('_')}
        if hasattr(value, '__dict__')
        else None
    )
    return _jsonable(fields, depth, active) if fields else f'<{type(value).__name__}>'


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


class LoRAInfoExtractor:
    """ComfyUI node: describe every LoRA of a stack as JSON and text, with Civitai metadata when reachable."""

    CATEGORY = 'VCC/LoRA'
    FUNCTION = 'extract'
    RETURN_TYPES = ('STRING', 'STRING', 'STRING')
    RETURN_NAMES = ('lora_info', 'lora_json', 'trigger_words')
    DESCRIPTION = 'Walks LoRA stacks, hashes each file (persistent cache) and adds Civitai metadata.'

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, dict[str, tuple]]:
        """Declare the inputs: any LoRA value or stack, plus optional Civitai settings."""
        return {
            'required': {'lora': (ANY, {'tooltip': 'A LoRA name, path, dict, object or (nested) LoRA stack.'})},
            'optional': {
                'civitai_api_key': ('STRING', {'default': '', 'tooltip': 'Empty: use CIVITAI_API_KEY.'}),
                'fetch_civitai': ('BOOLEAN', {'default': True}),
                'refresh_civitai': ('BOOLEAN', {'default': False}),
                'fallback_name': ('STRING', {'default': ''}),
            },
        }

    def extract(
        self,
        lora: object,
        civitai_api_key: str = '',
        fetch_civitai: bool = True,
        refresh_civitai: bool = False,
        fallback_name: str = '',
    ) -> tuple[str, str, str]:
        """Return (lora_info, lora_json, trigger_words) for the given LoRA input."""
        report = build_report(
            lora,
            cache=get_cache(),
            civitai=get_civitai() if fetch_civitai else None,
            api_key=civitai_api_key.strip() or None,
            fallback_name=fallback_name,
            refresh=refresh_civitai,
        )
        triggers = ', '.join(report['summary']['trigger_words'])
        return format_info(report), json.dumps(report, ensure_ascii=False), triggers
