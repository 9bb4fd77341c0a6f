"""The workflow studio: import a ComfyUI graph, expose its inputs, check it on every server, test run, save.

A draft is a dict in the on-disk format of `workflows/<id>.json` (see workflows/README.md); the page edits it with
the functions here and the `Studio` checks, runs and saves it. Saving writes the file atomically and first copies
the file it replaces to `<folder>/.history/<id>.<UTC time>.json` (the registry reads only `<folder>/*.json`).
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from vcc_ui.services.comfy.protocol import combo_options, input_spec, node_inputs
from vcc_ui.services.jobs import JobManager
from vcc_ui.services.jobs.types import JobView, SubmitError
from vcc_ui.services.servers import ServerPool
from vcc_ui.services.workflow_convert import AppInput, ConvertError, convert, is_save_format
from vcc_ui.services.workflow_params import Kind
from vcc_ui.services.workflows import (
    ID_PATTERN,
    OUTPUT_NODE_CLASSES,
    ParamName,
    Workflow,
    WorkflowRegistry,
    load_workflow,
)

HISTORY = '.history'
PARAM_ID = re.compile(r'^[a-z][a-z0-9_]{0,31}$')
BUILTINS: tuple[str, ...] = get_args(ParamName)  # prompt, negative_prompt, seed, width, ...
TEST_PREFIX = 'studio-test-'
INLINE_WIDTH = 100  # a saved file keeps objects and lists this short on one line
MAX_STAGED = 20  # test-run drafts the registry keeps at once (each is dropped when its job ends)
Source = Literal['api', 'save', 'file']
ErrorCode = Literal[
    'bad_json',
    'not_a_workflow',
    'convert',
    'no_server',
    'invalid',
    'bad_name',
    'needs_image',
    'submit',
    'not_dispatching',
]
GUESSES: dict[tuple[str, str], str] = {  # App Mode inputs that are a built-in parameter under another name
    ('CLIPTextEncode', 'text'): 'prompt',
    ('LoadImage', 'image'): 'input_image',
    ('KSampler', 'seed'): 'seed',
    ('KSamplerAdvanced', 'noise_seed'): 'seed',
    ('RandomNoise', 'noise_seed'): 'seed',
    ('KSampler', 'steps'): 'steps',
    ('EmptyLatentImage', 'width'): 'width',
    ('EmptyLatentImage', 'height'): 'height',
    ('EmptyLatentImage', 'batch_size'): 'batch_size',
    ('EmptyImage', 'width'): 'width',
    ('EmptyImage', 'height'): 'height',
    ('EmptyImage', 'batch_size'): 'batch_size',
}


class StudioError(Exception):
    """Something the studio refuses; `code` names the case for the page, `reason` is the detail (English)."""

    def __init__(self, code: ErrorCode, reason: str = '') -> None:
        super().__init__(f'{code}: {reason}')
        self.code, self.reason = code, reason


@dataclass(kw_only=True)
class Imported:
    """A draft made from pasted or uploaded text, and what its conversion left out."""

    draft: dict[str, Any]
    source: Source
    notes: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class Check:
    """Whether a draft is a valid workflow file, and per server why it cannot run there (empty: it can)."""

    error: str | None
    servers: dict[str, list[str]] = field(default_factory=dict)


@dataclass(kw_only=True, frozen=True)
class InputType:
    """A node input's type on the servers (None: no server lists it) and, for a COMBO, the values they offer."""

    kind: Kind | None
    options: list[Any] = field(default_factory=list)


@dataclass(kw_only=True, frozen=True)
class Exposure:
    """How a node input reaches users: a built-in binding or a declared parameter, under `name`."""

    kind: Literal['binding', 'param']
    name: str


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def _targets(value: Any) -> list[dict[str, Any]]:
    return [value] if isinstance(value, dict) else [t for t in value or [] if isinstance(t, dict)]


def new_draft(graph: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return a draft around an API-format graph: nothing exposed yet."""
    return {
        'id': '',
        'title': {'en': '', 'ko': ''},
        'description': {'en': '', 'ko': ''},
        'mode': 'txt2img',
        'ui': {'order': 100},
        'bindings': {},
        'aspect_ratios': {},
        'max_batch': 1,
        'templates': [],
        'defaults': {},
        'graph': graph,
    }


def exposure(draft: dict[str, Any], node: str, name: str) -> Exposure | None:
    """Return how this node input is exposed, or None."""
    for binding, targets in (draft.get('bindings') or {}).items():
        if any(t.get('node') == node and t.get('input') == name for t in _targets(targets)):
            return Exposure(kind='binding', name=binding)
    for param, declaration in (draft.get('params') or {}).items():
        if any(t.get('node') == node and t.get('input') == name for t in _targets(declaration.get('targets'))):
            return Exposure(kind='param', name=param)
    return None


def unexpose(draft: dict[str, Any], node: str, name: str) -> None:
    """Stop exposing this node input (dropping a binding or parameter left without targets)."""
    for key in ('bindings', 'params'):
        entries = draft.get(key) or {}
        for entry_name in list(entries):
            holder = entries[entry_name] if key == 'params' else None
            targets = _targets(holder.get('targets') if holder is not None else entries[entry_name])
            kept = [t for t in targets if not (t.get('node') == node and t.get('input') == name)]
            if len(kept) == len(targets):
                continue
            if not kept:
                del entries[entry_name]
            elif holder is not None:
                holder['targets'] = kept
            else:
                entries[entry_name] = kept
        if key == 'params' and key in draft and not entries:
            del draft[key]


def expose(
    draft: dict[str, Any], node: str, name: str, as_name: str, *, label: dict[str, str] | None = None, **extra: Any
) -> None:
    """Expose a node input as a built-in binding (`as_name` in BUILTINS) or a declared parameter.

    `extra` goes into a parameter's declaration (default, min, max, step, advanced, control, choices).
    Raise StudioError('bad_name') for a name neither kind takes or an input that is a link.
    """
    value = draft['graph'].get(node, {}).get('inputs', {}).get(name)
    if node not in draft['graph'] or name not in draft['graph'][node]['inputs'] or _is_link(value):
        raise StudioError('bad_name', f"node '{node}' has no literal input '{name}'")
    if as_name not in BUILTINS and not PARAM_ID.match(as_name):
        raise StudioError('bad_name', as_name)
    unexpose(draft, node, name)
    target = {'node': node, 'input': name}
    if as_name in BUILTINS:
        bindings = draft.setdefault('bindings', {})
        bindings[as_name] = [*_targets(bindings.get(as_name)), target]
        return
    params = draft.setdefault('params', {})
    if as_name in params:
        params[as_name]['targets'] = [*_targets(params[as_name]['targets']), target]
        return
    text = label or {'en': as_name.replace('_', ' ').capitalize(), 'ko': as_name.replace('_', ' ')}
    params[as_name] = {'targets': target, 'label': text, **{k: v for k, v in extra.items() if v is not None}}


def output_nodes(draft: dict[str, Any], object_info: dict[str, Any] | None = None) -> list[str]:
    """Return the graph's output nodes (SaveImage, PreviewImage, or what the server marks as output)."""
    info = object_info or {}
    return [
        node_id
        for node_id, node in draft['graph'].items()
        if node['class_type'] in OUTPUT_NODE_CLASSES or (info.get(node['class_type']) or {}).get('output_node')
    ]


def keep_output(draft: dict[str, Any], node_id: str, object_info: dict[str, Any] | None = None) -> list[str]:
    """Make `node_id` the only output: drop the other outputs and what only they needed; return the dropped ids."""
    graph = draft['graph']
    if node_id not in graph:
        raise StudioError('bad_name', f"node '{node_id}' is not in the graph")
    needed: set[str] = set()
    todo = [node_id]
    while todo:
        current = todo.pop()
        if current in needed or current not in graph:
            continue
        needed.add(current)
        todo += [value[0] for value in graph[current]['inputs'].values() if _is_link(value)]
    dropped = [n for n in graph if n not in needed]
    for gone in dropped:
        for name in list(graph[gone]['inputs']):
            unexpose(draft, gone, name)
        del graph[gone]
    return dropped


def adopt_app_mode(draft: dict[str, Any], inputs: list[AppInput], outputs: list[str]) -> None:
    """Expose App Mode's chosen inputs (built-in names where they are one) and keep its first output."""
    taken: set[str] = set()
    for chosen in inputs:
        class_type = draft['graph'][chosen.node]['class_type']
        name = GUESSES.get((class_type, chosen.input))
        if name == 'prompt' and 'prompt' in taken:
            name = 'negative_prompt'
        if name is None or name in taken:
            base = re.sub(r'[^a-z0-9_]', '_', chosen.input.lower()).strip('_') or 'value'
            name = base if PARAM_ID.match(base) and base not in BUILTINS else f'p_{base}'[:32]
            while name in taken:
                name = f'{name[:28]}_{secrets.token_hex(1)}'
        expose(draft, chosen.node, chosen.input, name)
        taken.add(name)
    if outputs:
        keep_output(draft, outputs[0])
    width, height = _bound_size(draft)
    if width and height and not draft.get('aspect_ratios'):
        draft['aspect_ratios'] = {'1:1': [width, height]} if width == height else {f'{width}x{height}': [width, height]}


def _bound_size(draft: dict[str, Any]) -> tuple[int | None, int | None]:
    sizes: list[int | None] = []
    for name in ('width', 'height'):
        targets = _targets((draft.get('bindings') or {}).get(name))
        value = draft['graph'][targets[0]['node']]['inputs'][targets[0]['input']] if targets else None
        sizes.append(value if isinstance(value, int) else None)
    return sizes[0], sizes[1]


SIZE = re.compile(r'^\s*([^=,\s][^=,]*?)\s*=\s*(\d{1,5})\s*[xX\u00d7]\s*(\d{1,5})\s*$')
LINK = re.compile(r'^\s*([a-z0-9][a-z0-9_-]{0,31})\s*=\s*([a-z0-9][a-z0-9_-]{0,63})\s*$')


def format_sizes(sizes: dict[str, Any]) -> str:
    """Return aspect ratios as the page shows them: `1:1=512x512, 3:2=768x512`."""
    return ', '.join(f'{name}={w}x{h}' for name, (w, h) in sizes.items())


def parse_sizes(text: str) -> dict[str, list[int]]:
    """Read `name=WxH, ...`; raise StudioError('bad_name') naming the part that is not one."""
    result: dict[str, list[int]] = {}
    for part in filter(str.strip, text.split(',')):
        match = SIZE.match(part)
        if not match:
            raise StudioError('bad_name', part.strip())
        result[match[1]] = [int(match[2]), int(match[3])]
    return result


def format_related(related: dict[str, Any]) -> str:
    """Return linked modes as the page shows them: `img2img=sd15_img2img, upscale=upscale`."""
    return ', '.join(f'{mode}={workflow_id}' for mode, workflow_id in related.items() if workflow_id)


def parse_related(text: str) -> dict[str, str]:
    """Read `mode=workflow_id, ...`; raise StudioError('bad_name') naming the part that is not one."""
    result: dict[str, str] = {}
    for part in filter(str.strip, text.split(',')):
        match = LINK.match(part)
        if not match:
            raise StudioError('bad_name', part.strip())
        result[match[1]] = match[2]
    return result


def _json(value: Any, indent: int) -> str:
    """Write a value one level per line, but a short object or list on one line (as the shipped files are)."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict | list) or not value or indent + len(flat) <= INLINE_WIDTH:
        return flat
    pad = ' ' * (indent + 2)
    if isinstance(value, dict):
        parts = [f'{pad}{json.dumps(k, ensure_ascii=False)}: {_json(v, indent + 2)}' for k, v in value.items()]
        return '{\n' + ',\n'.join(parts) + '\n' + ' ' * indent + '}'
    return '[\n' + ',\n'.join(f'{pad}{_json(v, indent + 2)}' for v in value) + '\n' + ' ' * indent + ']'


def dump(draft: dict[str, Any]) -> str:
    """Return the text a draft is saved as."""
    return _json(draft, 0) + '\n'


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.stem}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Studio:
    """Checks drafts against every server's /object_info, runs them once on a server and saves them."""

    def __init__(self, registry: WorkflowRegistry, pool: ServerPool, jobs: JobManager) -> None:
        self.registry, self.pool, self.jobs = registry, pool, jobs
        self.directory = registry.directory
        self._staged: list[str] = []
        jobs.changed.subscribe(self._on_job, unsubscribe_on_delete=False)

    def catalogues(self) -> dict[str, dict[str, Any]]:
        """Return each server's /object_info, by server name (servers not reached yet are left out)."""
        return {e.health.name: e.object_info for e in self.pool.entries.values() if e.object_info}

    def import_text(self, text: str, server: str | None = None) -> Imported:
        """Make a draft from a workflow file, an API-format graph or a save-format file (converted on `server`)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise StudioError('bad_json', f'line {e.lineno}, column {e.colno}: {e.msg}') from e
        if isinstance(data, dict) and isinstance(data.get('graph'), dict) and 'id' in data:
            return Imported(draft=data, source='file')
        if is_save_format(data):
            catalogue = self.catalogues().get(server or '')
            if not catalogue:
                raise StudioError('no_server', server or '')
            try:
                converted = convert(data, catalogue)
            except ConvertError as e:
                raise StudioError('convert', str(e)) from e
            draft = new_draft(converted.graph)
            adopt_app_mode(draft, converted.app_inputs, converted.app_outputs)
            return Imported(draft=draft, source='save', notes=converted.notes)
        if isinstance(data, dict) and isinstance(data.get('prompt'), dict):
            data = data['prompt']  # a /prompt request body
        if (
            isinstance(data, dict)
            and data
            and all(isinstance(n, dict) and isinstance(n.get('class_type'), str) for n in data.values())
        ):
            graph = {str(k): {'inputs': {}, **v} for k, v in data.items()}
            return Imported(draft=new_draft(graph), source='api')
        raise StudioError('not_a_workflow')

    def files(self) -> list[str]:
        """Return the ids of the folder's workflow files, loadable or not (a broken one can be fixed here)."""
        return sorted(p.stem for p in self.directory.glob('*.json') if re.match(ID_PATTERN, p.stem))

    def open(self, workflow_id: str) -> dict[str, Any]:
        """Return a saved workflow file as a draft."""
        if not re.match(ID_PATTERN, workflow_id) or not (self.directory / f'{workflow_id}.json').is_file():
            raise StudioError('not_a_workflow', workflow_id)
        text = (self.directory / f'{workflow_id}.json').read_text(encoding='utf-8', errors='replace')
        imported = self.import_text(text)
        if imported.source != 'file':
            raise StudioError('not_a_workflow', workflow_id)
        return imported.draft

    def inputs(self, draft: dict[str, Any], node_id: str) -> dict[str, Any]:
        """Return a node's literal inputs in the order the servers list them (then any others)."""
        node = draft['graph'][node_id]
        literal = {k: v for k, v in node['inputs'].items() if not _is_link(v)}
        order: list[str] = []
        for catalogue in self.catalogues().values():
            info = catalogue.get(node['class_type'])
            order += [n for n in node_inputs(info) if n in literal and n not in order] if isinstance(info, dict) else []
        return {name: literal[name] for name in [*order, *(n for n in literal if n not in order)]}

    def input_type(self, draft: dict[str, Any], node_id: str, name: str) -> InputType:
        """Return a node input's type from the first server that lists it; a COMBO offers every server's values."""
        class_type = draft['graph'][node_id]['class_type']
        kind: Kind | None = None
        options: list[Any] = []
        for catalogue in self.catalogues().values():
            spec = input_spec(catalogue, class_type, name)
            if spec is None:
                continue
            offered = combo_options(spec)
            if offered is not None:
                kind = 'COMBO'
                options += [o for o in offered if o not in options]
            elif kind is None and spec[0] in ('INT', 'FLOAT', 'BOOLEAN', 'STRING'):
                kind = spec[0]
        if kind is None:  # no server lists it: the graph's value says what it is
            value = draft['graph'][node_id]['inputs'].get(name)
            kind = 'BOOLEAN' if isinstance(value, bool) else 'INT' if isinstance(value, int) else None
            kind = 'FLOAT' if isinstance(value, float) else 'STRING' if isinstance(value, str) else kind
        return InputType(kind=kind, options=options)

    def check(self, draft: dict[str, Any]) -> Check:
        """Load the draft as the registry would, then list per server why it cannot run there."""
        try:
            workflow = self._load(draft, draft.get('id') or 'draft')
        except ValueError as e:
            return Check(error=str(e))
        return Check(error=None, servers={name: workflow.problems_on(info) for name, info in self.catalogues().items()})

    def diff(self, draft: dict[str, Any]) -> str:
        """Return the unified diff from the saved file to what saving the draft writes."""
        workflow_id = str(draft.get('id') or '')
        path = self.directory / f'{workflow_id}.json'
        before = path.read_text(encoding='utf-8') if re.match(ID_PATTERN, workflow_id) and path.is_file() else ''
        lines = difflib.unified_diff(
            before.splitlines(keepends=True),
            dump(draft).splitlines(keepends=True),
            fromfile=f'{workflow_id}.json (saved)' if before else '/dev/null',
            tofile=f'{workflow_id}.json',
        )
        return ''.join(lines)

    async def save(self, draft: dict[str, Any]) -> Path:
        """Write the draft as `<id>.json` (the previous file goes to .history/) and reload the registry."""
        workflow_id = str(draft.get('id') or '')
        if not re.match(ID_PATTERN, workflow_id) or workflow_id.startswith(TEST_PREFIX):
            raise StudioError('bad_name', workflow_id)
        if (problem := self.check(draft).error) is not None:
            raise StudioError('invalid', problem)
        path = await asyncio.to_thread(self._write, workflow_id, dump(draft))
        await self.registry.reload()
        return path

    async def test_run(self, draft: dict[str, Any], server: str, owner: str) -> JobView:
        """Queue the draft once with its defaults on one server, as the owner's job; return the job.

        The draft is staged in this process's registry only, so only the instance that dispatches can run it; on any
        other instance of a scaled deployment the run is refused (StudioError('not_dispatching')) instead of queued.
        """
        if not self.jobs.leading:
            raise StudioError('not_dispatching')
        if not any(e.health.name == server and e.usable for e in self.pool.entries.values()):
            raise StudioError('no_server', server)  # unknown, switched off or down: the job would only wait
        workflow = self._load(draft, f'{TEST_PREFIX}{secrets.token_hex(4)}', error='invalid')
        if workflow.needs_input_image or 'control_image' in workflow.bindings:
            raise StudioError('needs_image')
        defaults = workflow.defaults
        params = {'prompt': defaults.prompt or 'studio test run', 'negative_prompt': defaults.negative_prompt}
        self.registry.stage(workflow, server)
        self._staged.append(workflow.id)
        while len(self._staged) > MAX_STAGED:
            self.registry.unstage(self._staged.pop(0))
        try:
            return await self.jobs.submit(owner, workflow.id, params)
        except SubmitError as e:
            self._unstage(workflow.id)
            raise StudioError('submit', e.message) from e

    def _on_job(self, view: JobView) -> None:
        if view.workflow_id in self._staged and view.finished:
            self._unstage(view.workflow_id)

    def _unstage(self, workflow_id: str) -> None:
        if workflow_id in self._staged:
            self._staged.remove(workflow_id)
        self.registry.unstage(workflow_id)

    def _load(self, draft: dict[str, Any], workflow_id: str, *, error: ErrorCode | None = None) -> Workflow:
        """Validate a draft as the file `<workflow_id>.json` would be (a temporary copy, never the folder)."""
        data = {**draft, 'id': workflow_id}
        with tempfile.TemporaryDirectory(prefix='vcc-studio-') as folder:
            path = Path(folder) / f'{workflow_id}.json'
            path.write_text(dump(data), encoding='utf-8')
            try:
                workflow = load_workflow(path)
            except ValueError as e:
                if error is None:
                    raise
                raise StudioError(error, str(e)) from e
        return workflow

    def _write(self, workflow_id: str, text: str) -> Path:
        path = self.directory / f'{workflow_id}.json'
        if path.is_file():
            history = self.directory / HISTORY
            history.mkdir(exist_ok=True)
            stamp = datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')
            _atomic_write(history / f'{workflow_id}.{stamp}.json', path.read_text(encoding='utf-8'))
        _atomic_write(path, text)
        return path
