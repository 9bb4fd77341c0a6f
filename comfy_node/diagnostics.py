"""A small ComfyUI node that reports the LoRA hash cache's size and health."""

from __future__ import annotations

import json
import os

from .civitai import CivitaiLookup, get_civitai
from .contract import VERSION
from .extractor import size_human
from .hash_cache import HashCache, get_cache


def diagnose(cache: HashCache, civitai: CivitaiLookup | None = None, *, prune: bool = False) -> dict[str, object]:
    """Return the cache's size, counters and health; with prune, first drop entries of changed or vanished files."""
    pruned = cache.prune() if prune else 0
    if prune:
        cache.save()
    path = cache.path
    exists = bool(path and path.exists())
    folder = path.parent if path else None
    writable = bool(folder and (os.access(folder, os.W_OK) if folder.exists() else _creatable(folder)))
    problems = [
        problem for problem in (cache.last_error, None if writable else 'cache folder is not writable') if problem
    ]
    return {
        'version': VERSION,
        'health': 'ok' if not problems else 'degraded',
        'problems': problems,
        'cache_path': str(path) if path else None,
        'cache_file_exists': exists,
        'cache_file_bytes': path.stat().st_size if exists and path else 0,
        'cache_file_human': size_human(path.stat().st_size if exists and path else 0),
        'entries': len(cache),
        'pruned': pruned,
        'hashing_now': cache.inflight,
        'stats': dict(cache.stats),
        'civitai_entries': len(civitai) if civitai is not None else None,
        'civitai_last_error': civitai.last_error if civitai is not None else None,
    }


def _creatable(folder: os.PathLike[str]) -> bool:
    parent = os.path.dirname(os.fspath(folder))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return bool(parent) and os.access(parent, os.W_OK)


class LoRAHashCacheDiagnostics:
    """ComfyUI node: show the hash cache's size, entries and health (optionally pruning stale entries)."""

    CATEGORY = 'VCC/LoRA'
    FUNCTION = 'diagnose'
    RETURN_TYPES = ('STRING', 'STRING')
    RETURN_NAMES = ('diagnostics_json', 'summary')
    OUTPUT_NODE = True
    DESCRIPTION = 'Reports the LoRA hash cache file, entry count and health.'

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, dict[str, tuple]]:
        """Declare the only input: whether to drop entries of changed or vanished files."""
        return {'required': {}, 'optional': {'prune': ('BOOLEAN', {'default': False})}}

    @classmethod
    def IS_CHANGED(cls, **_: object) -> float:
        """Run every time: the cache changes outside the graph."""
        return float('nan')

    def diagnose(self, prune: bool = False) -> dict[str, object]:
        """Return the report as JSON and a one-line summary, also shown on the node."""
        report = diagnose(get_cache(), get_civitai(), prune=prune)
        summary = (
            f'LoRA hash cache: {report["health"]}, {report["entries"]} entries, '
            f'{report["cache_file_human"]} at {report["cache_path"]}'
        )
        return {'ui': {'text': [summary]}, 'result': (json.dumps(report), summary)}
