"""The LoRAInfoExtractor node's output (seed 002's lora_json and lora_info) and its Civitai lookups."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from comfy_node import hash_cache
from comfy_node.civitai import CivitaiLookup
from comfy_node.diagnostics import diagnose
from comfy_node.extractor import ANY, LoRAInfoExtractor, build_report, clean_name, format_info, size_human
from comfy_node.hash_cache import HashCache, get_cache
from tests.fake_civitai import FakeCivitai, fake_civitai_in_thread

# The field names of seed 002's "Output JSON Structure".
SEED_LORA_KEYS = {'index', 'display_name', 'hash', 'file', 'strength', 'original', 'civitai'}
SEED_FILE_KEYS = {'exists', 'path', 'size_bytes', 'size_human', 'modified_at'}
SEED_ORIGINAL_KEYS = {'raw', 'name', 'path'}
SEED_CIVITAI_KEYS = {'civitai_name', 'version_name', 'creator', 'tags', 'stats', 'fetched_at'}
SEED_SUMMARY_KEYS = {
    'count',
    'missing_files',
    'civitai_matches',
    'local_only',
    'total_size_bytes',
    'total_size_human',
    'tags',
}


@pytest.fixture
def loras(tmp_path: Path) -> Path:
    root = tmp_path / 'loras'
    (root / 'sub').mkdir(parents=True)
    (root / 'realistic_vision_v6.safetensors').write_bytes(b'r' * 3000)
    (root / 'sub' / 'cinematic_style.safetensors').write_bytes(b'c' * 1000)
    return root


@pytest.fixture
def civitai() -> Iterator[FakeCivitai]:
    with fake_civitai_in_thread(keep_image_urls=True) as fake:
        yield fake


@pytest.fixture
def comfyui(loras: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Run the node as inside ComfyUI: a `folder_paths` over `loras`, a fresh cache; yield the files hashed."""
    folder_paths = types.ModuleType('folder_paths')

    def get_filename_list(folder: str) -> list[str]:
        return listed(loras) if folder == 'loras' else []

    def get_full_path(folder: str, name: str) -> str | None:
        path = os.path.join(loras, name)  # a plain join, as older ComfyUI releases do: traversal must be refused first
        return path if folder == 'loras' and os.path.isfile(path) else None

    folder_paths.get_filename_list = get_filename_list  # type: ignore[attr-defined]
    folder_paths.get_full_path = get_full_path  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, 'folder_paths', folder_paths)
    monkeypatch.setenv('VCC_LORA_HASH_CACHE', str(tmp_path / 'node-cache' / 'hashes.json'))
    monkeypatch.setattr(hash_cache, '_default', None)
    monkeypatch.setattr('comfy_node.civitai._default', None)
    hashed: list[str] = []
    real = hash_cache.sha256_file

    def spy(path: str, chunk_size: int = hash_cache.CHUNK_SIZE) -> str:
        hashed.append(path)
        return real(path, chunk_size)

    monkeypatch.setattr(hash_cache, 'sha256_file', spy)
    yield hashed
    get_cache().close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def listed(loras: Path) -> list[str]:
    """Return the LoRA names ComfyUI would list for the folder, subfolders included."""
    return sorted(p.relative_to(loras).as_posix() for p in loras.rglob('*') if p.is_file())


def report_for(value: object, loras: Path, lookup: CivitaiLookup | None = None, **kwargs: object) -> dict:
    cache = HashCache(loras.parent / 'cache' / 'hashes.json', save_delay=0)
    resolve = lambda name: str(loras / name) if (loras / name).is_file() else None  # noqa: E731
    return build_report(value, cache=cache, names=listed(loras), resolve=resolve, civitai=lookup, **kwargs)  # type: ignore[arg-type]


def test_output_matches_seed_structure(loras: Path, civitai: FakeCivitai, tmp_path: Path) -> None:
    civitai.add(sha(b'r' * 3000))
    stack = {
        'path': str(loras / 'realistic_vision_v6.safetensors'),
        'strength': 0.85,
        'stack': [{'lora_name': 'sub/cinematic_style.safetensors', 'strength': 0.4}],
    }
    lookup = CivitaiLookup(tmp_path / 'civitai.json', base_url=civitai.base_url, sleep=lambda _: None)
    report = json.loads(json.dumps(report_for(stack, loras, lookup)))

    assert set(report) == {'loras', 'summary', 'combined_display'}
    first, second = report['loras']
    for entry in report['loras']:
        assert set(entry) == SEED_LORA_KEYS
        assert set(entry['file']) == SEED_FILE_KEYS
        assert set(entry['original']) == SEED_ORIGINAL_KEYS
    assert set(first['civitai']) >= SEED_CIVITAI_KEYS
    assert set(report['summary']) >= SEED_SUMMARY_KEYS
    assert first['hash'] == sha(b'r' * 3000).upper()
    assert first['display_name'] == 'Watercolor Dream'
    assert first['strength'] == 0.85
    assert first['file']['size_bytes'] == 3000
    assert first['file']['modified_at'].endswith('Z')
    assert first['original']['raw']['stack'][0]['lora_name'] == 'sub/cinematic_style.safetensors'
    assert first['civitai']['trigger_words'] == ['watercolor style', 'soft edges']
    assert first['civitai']['thumbnail_urls'][0].startswith('https://image.civitai.com/')
    assert first['civitai']['creator'] == 'brushworks'
    assert first['civitai']['tags'] == ['style', 'watercolor', 'painting']
    assert second['display_name'] == 'Cinematic Style'
    assert second['civitai'] is None
    assert second['file']['path'] == str(loras / 'sub' / 'cinematic_style.safetensors')
    assert report['summary'] | {'trigger_words': None} == {
        'count': 2,
        'missing_files': 0,
        'civitai_matches': 1,
        'local_only': 1,
        'total_size_bytes': 4000,
        'total_size_human': '3.91 KB',
        'tags': ['style', 'watercolor', 'painting'],
        'trigger_words': None,
        'skipped_entries': 0,
    }
    assert report['combined_display'] == 'Watercolor Dream + Cinematic Style'


def test_missing_files_stay_in_the_output(loras: Path) -> None:
    report = report_for(['gone.safetensors', '/nowhere/x.safetensors', 'realistic_vision_v6.safetensors'], loras)
    assert [entry['file']['exists'] for entry in report['loras']] == [False, False, True]
    assert report['loras'][0]['hash'] is None
    assert report['summary']['missing_files'] == 2
    info = format_info(report)
    assert info.splitlines()[0].startswith('LoRAs: 3 | Civitai matches: 0 | local only: 3 | missing files: 2')
    assert 'missing file: /nowhere/x.safetensors' in info


def test_stack_as_json_lists_keeps_strengths(loras: Path) -> None:
    # a prompt's {"__value__": [[name, strength_model, strength_clip], ...]} reaches the node as plain lists
    value = json.loads(
        '[["realistic_vision_v6.safetensors", 0.8, 0.7], ["sub/cinematic_style.safetensors", 0.5], ["gone.pt", 1, 1]]'
    )
    report = report_for(value, loras)
    assert [(entry['original']['name'], entry['strength']) for entry in report['loras']] == [
        ('realistic_vision_v6.safetensors', 0.8),
        ('sub/cinematic_style.safetensors', 0.5),
        ('gone.pt', 1.0),
    ]
    assert report['loras'][0]['original']['raw'] == ['realistic_vision_v6.safetensors', 0.8, 0.7]
    assert report['summary']['skipped_entries'] == 0
    info = format_info(report)
    assert 'strength 0.8' in info and 'strength 0.5' in info
    assert 'skipped malformed entries' not in info


def test_empty_input_uses_fallback_name(loras: Path) -> None:
    report = report_for([None, 7], loras, fallback_name='no lora')
    assert report['loras'] == []
    assert report['combined_display'] == 'no lora'
    assert 'no LoRA' in report['error']
    assert report['summary']['skipped_entries'] == 1


def test_civitai_results_persist_across_restarts(loras: Path, civitai: FakeCivitai, tmp_path: Path) -> None:
    civitai.add(sha(b'r' * 3000))
    value = ['realistic_vision_v6.safetensors', 'sub/cinematic_style.safetensors']
    first = CivitaiLookup(tmp_path / 'civitai.json', base_url=civitai.base_url, sleep=lambda _: None)
    report_for(value, loras, first, api_key='secret-key')
    assert civitai.authorizations[0] == 'Bearer secret-key'
    asked = civitai.total
    assert asked == 3  # two by-hash lookups (one found, one 404) and one model

    restarted = CivitaiLookup(tmp_path / 'civitai.json', base_url=civitai.base_url, sleep=lambda _: None)
    report = report_for(value, loras, restarted)
    assert civitai.total == asked
    assert report['summary']['civitai_matches'] == 1


def test_api_key_from_environment(
    loras: Path, civitai: FakeCivitai, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('CIVITAI_API_KEY', 'env-key')
    report_for('realistic_vision_v6.safetensors', loras, CivitaiLookup(None, base_url=civitai.base_url))
    assert civitai.authorizations == ['Bearer env-key']


def test_civitai_retries_429_500_and_html(loras: Path, civitai: FakeCivitai) -> None:
    civitai.add(sha(b'r' * 3000))
    civitai.faults = ['429-wait', 'html']
    waits: list[float] = []
    lookup = CivitaiLookup(None, base_url=civitai.base_url, retries=2, sleep=waits.append)
    report = report_for('realistic_vision_v6.safetensors', loras, lookup)
    assert report['summary']['civitai_matches'] == 1
    assert waits[0] == 0  # Retry-After: 0 honoured
    assert len(waits) == 2


def test_unreachable_civitai_still_works(loras: Path, tmp_path: Path) -> None:
    with fake_civitai_in_thread() as stopped:
        base_url = stopped.base_url
    lookup = CivitaiLookup(tmp_path / 'civitai.json', base_url=base_url, timeout=2, sleep=lambda _: None)
    report = report_for(['realistic_vision_v6.safetensors', 'sub/cinematic_style.safetensors'], loras, lookup)
    assert report['summary']['count'] == 2
    assert report['summary']['civitai_matches'] == 0
    assert lookup.last_error
    assert lookup.requests == 3  # the first file tried 3 times; the second did not wait again


def test_node_class_and_outputs(loras: Path, comfyui: list[str], tmp_path: Path) -> None:
    inputs = LoRAInfoExtractor.INPUT_TYPES()
    assert inputs['required']['lora'][0] == ANY
    assert not ANY != 'WANVIDLORA'  # ComfyUI's check: received_type != input_type means a mismatch
    node = LoRAInfoExtractor()
    info, lora_json, triggers = getattr(node, LoRAInfoExtractor.FUNCTION)(
        lora=str(loras / 'realistic_vision_v6.safetensors'), fetch_civitai=False
    )
    assert len(LoRAInfoExtractor.RETURN_TYPES) == len(LoRAInfoExtractor.RETURN_NAMES) == 3
    assert json.loads(lora_json)['loras'][0]['display_name'] == 'Realistic Vision V6'
    assert info.startswith('LoRAs: 1')
    assert triggers == ''

    get_cache().close()
    report = diagnose(HashCache(tmp_path / 'node-cache' / 'hashes.json'))
    assert (report['health'], report['entries']) == ('ok', 1)


def test_node_refuses_files_comfyui_does_not_list(loras: Path, comfyui: list[str], tmp_path: Path) -> None:
    (tmp_path / 'secret.txt').write_bytes(b'secret')
    (tmp_path / 'checkpoints').mkdir()
    (tmp_path / 'checkpoints' / 'model.safetensors').write_bytes(b'checkpoint')
    (tmp_path / 'elsewhere').mkdir()
    (tmp_path / 'elsewhere' / 'realistic_vision_v6.safetensors').write_bytes(b'same name, other folder')
    refused = {
        str(tmp_path / 'secret.txt'): 'not a listed LoRA',
        'sub/../../secret.txt': 'path traversal is not allowed',
        '../checkpoints/model.safetensors': 'path traversal is not allowed',
        str(tmp_path / 'elsewhere' / 'realistic_vision_v6.safetensors'): 'not a listed LoRA',
        'C:/Windows/win.ini': 'absolute paths are not allowed',
        'not_here.safetensors': 'not a listed LoRA',
    }
    wanvideo = {'path': str(loras / 'sub' / 'cinematic_style.safetensors'), 'name': 'cinematic_style', 'strength': 1}
    _, lora_json, _ = LoRAInfoExtractor().extract(lora=[*refused, wanvideo], fetch_civitai=False)

    report = json.loads(lora_json)
    *entries, listed = report['loras']
    for entry, reason in zip(entries, refused.values(), strict=True):
        assert (entry['hash'], entry.get('error')) == (None, reason), entry['original']
        assert entry['file'] | {'path': None} == {
            'exists': False,
            'path': None,
            'size_bytes': None,
            'size_human': '0.00 B',
            'modified_at': None,
        }
    assert 'error' not in listed
    assert listed['hash'] == sha(b'c' * 1000).upper()
    assert comfyui == [str(loras / 'sub' / 'cinematic_style.safetensors')]
    assert len(get_cache()) == 1
    assert report['summary']['missing_files'] == len(refused)
    info = format_info(report)
    assert f'missing file: {tmp_path / "secret.txt"} (not a listed LoRA)' in info
    assert 'missing file: sub/../../secret.txt (path traversal is not allowed)' in info


def test_listed_lora_whose_file_vanished_is_missing_not_refused(loras: Path) -> None:
    cache = HashCache(loras.parent / 'cache' / 'hashes.json', save_delay=0)
    report = build_report('gone.safetensors', cache=cache, names=['gone.safetensors'], resolve=lambda name: None)
    (entry,) = report['loras']
    assert (entry['file']['exists'], entry['hash']) == (False, None)
    assert 'error' not in entry


def test_diagnostics_prunes_and_reports(tmp_path: Path) -> None:
    cache = HashCache(tmp_path / 'cache' / 'hashes.json', save_delay=0)
    for name in ('a', 'b'):
        (tmp_path / name).write_bytes(name.encode())
        cache.get(tmp_path / name)
    (tmp_path / 'a').unlink()
    report = diagnose(cache, CivitaiLookup(None), prune=True)
    assert (report['entries'], report['pruned'], report['health']) == (1, 1, 'ok')
    assert report['cache_file_bytes'] > 0


def test_helpers() -> None:
    assert size_human(167772160) == '160.00 MB'
    assert clean_name('sub/realistic_vision_v6.safetensors') == 'Realistic Vision V6'
    assert clean_name('Zeta_Detail.safetensors') == 'Zeta Detail'
