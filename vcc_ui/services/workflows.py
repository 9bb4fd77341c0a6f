"""Workflow files -> validated Workflow objects -> API-format prompt graphs."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from nicegui import Event
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from vcc_ui.services.comfy.protocol import combo_options, node_inputs, node_outputs, required_inputs
from vcc_ui.services.workflow_params import Param, ParamControl, ParamDecl, ParamError, check_values, load_params

log = logging.getLogger(__name__)

ID_PATTERN = r'^[a-z0-9][a-z0-9_-]{0,63}$'
MODE_PATTERN = r'^[a-z0-9][a-z0-9_-]{0,31}$'
SEED_MAX = 2**53 - 1
STEPS_MIN, STEPS_MAX = 1, 150
PROMPT_MAX = 4000
INSTRUCTION_MAX = 2000  # the prompt helper refuses longer instructions
LLM_ACTIONS = r'(?:negative:)?(?:translate|improve)'
OUTPUT_NODE_CLASSES = frozenset({'SaveImage', 'PreviewImage'})
IMAGE_PARAMS = ('input_image', 'control_image')
ParamName = Literal[
    'prompt',
    'negative_prompt',
    'seed',
    'width',
    'height',
    'batch_size',
    'steps',
    'input_image',
    'control_image',
    'lora',
    'lora_strength',
]
LORA_PARAMS = ('lora', 'lora_strength')
LocalText = Annotated[dict[str, str], Field(min_length=1)]
Size = tuple[Annotated[int, Field(ge=1, le=16384)], Annotated[int, Field(ge=1, le=16384)]]
Snapshot = dict[str, tuple[int, int]]
MODEL_INPUTS = {  # loader inputs that name a model file, and what to call a missing one
    'ckpt_name': 'checkpoint',
    'lora_name': 'LoRA',
    'vae_name': 'VAE',
    'unet_name': 'diffusion model',
    'clip_name': 'text encoder',
    'control_net_name': 'ControlNet model',
    'model_name': 'model',
}


class _Model(BaseModel):
    model_config = ConfigDict(extra='forbid')


class GenerateParams(BaseModel):
    """What a user asks a workflow to make: the built-in params, plus the workflow's declared ones as extra keys."""

    model_config = ConfigDict(extra='allow')

    prompt: Annotated[str, StringConstraints(strip_whitespace=True, max_length=PROMPT_MAX)] = ''
    negative_prompt: Annotated[str, StringConstraints(strip_whitespace=True, max_length=PROMPT_MAX)] = ''
    seed: int | None = Field(default=None, ge=0, le=SEED_MAX)
    aspect_ratio: str | None = None
    batch_size: int = Field(default=1, ge=1, le=16)
    steps: int | None = Field(default=None, ge=STEPS_MIN, le=STEPS_MAX)
    input_image: str | None = Field(default=None, pattern=r'^[0-9a-f]{32}$')
    control_image: str | None = Field(default=None, pattern=r'^[0-9a-f]{32}$')
    lora: str | None = Field(default=None, min_length=1, max_length=255, pattern=r'^[^\x00-\x1f]+$')
    lora_strength: float | None = Field(default=None, ge=-4, le=4)
    prompt_original: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=PROMPT_MAX)] | None
    ) = None
    negative_prompt_original: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=PROMPT_MAX)] | None
    ) = None
    llm_action: str | None = Field(default=None, max_length=200, pattern=rf'^{LLM_ACTIONS}(?:,{LLM_ACTIONS}){{0,9}}$')

    @model_validator(mode='after')
    def _helped_together(self) -> GenerateParams:
        """An original prompt comes with the helper actions that changed it, and those with an original."""
        originals = self.prompt_original is not None or self.negative_prompt_original is not None
        if originals != (self.llm_action is not None):
            raise ValueError('prompt_original / negative_prompt_original and llm_action go together')
        return self


class BindingTarget(_Model):
    """One node input that receives a parameter."""

    node: str
    input: str
    modulo: int | None = Field(default=None, ge=2)

    def apply(self, value: Any) -> Any:
        """Return the value as this target receives it."""
        return value % self.modulo if self.modulo and isinstance(value, int) else value


class Template(_Model):
    """A suggested prompt."""

    title: LocalText
    prompt: str = Field(max_length=PROMPT_MAX)
    negative_prompt: str = Field(default='', max_length=PROMPT_MAX)

    def title_for(self, lang: str) -> str:
        """Return the title in the given language, falling back to English."""
        return _pick(self.title, lang)


class Defaults(_Model):
    """Initial values the page shows for a workflow."""

    prompt: str = Field(default='', max_length=PROMPT_MAX)
    negative_prompt: str = Field(default='', max_length=PROMPT_MAX)
    aspect_ratio: str | None = None
    steps: int | None = Field(default=None, ge=STEPS_MIN, le=STEPS_MAX)


ModeName = Annotated[str, StringConstraints(pattern=MODE_PATTERN)]


class _Ui(_Model):
    related: dict[ModeName, Annotated[str, StringConstraints(pattern=ID_PATTERN)]] = {}
    order: int = 100
    llm_instruction: str | None = Field(default=None, min_length=1, max_length=INSTRUCTION_MAX)
    base_model: str | None = Field(default=None, max_length=100)  # Civitai's name, e.g. 'SD 1.5': LoRAs must fit


class _GraphNode(BaseModel):
    model_config = ConfigDict(extra='allow')  # API-format exports carry `_meta`
    class_type: str = Field(min_length=1)
    inputs: dict[str, Any]


class WorkflowFile(_Model):
    """The on-disk format of `workflows/<id>.json`."""

    id: str = Field(pattern=ID_PATTERN)
    title: LocalText
    description: dict[str, str] = {}
    mode: ModeName
    mode_label: LocalText | None = None
    ui: _Ui = _Ui()
    bindings: dict[ParamName, Annotated[list[BindingTarget], Field(min_length=1)]]
    aspect_ratios: dict[str, Size] = {}
    max_batch: int = Field(default=1, ge=1, le=16)
    templates: list[Template] = []
    defaults: Defaults = Defaults()
    params: dict[str, ParamDecl] = {}
    graph: Annotated[dict[str, _GraphNode], Field(min_length=1)]

    @field_validator('bindings', mode='before')
    @classmethod
    def _listify(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, dict) else v for k, v in value.items()}
        return value


@dataclass(kw_only=True, slots=True, frozen=True)
class WorkflowProblem:
    """A workflow file that could not be loaded, and why."""

    file: str
    reason: str


def _pick(texts: dict[str, str], lang: str) -> str:
    return texts.get(lang) or texts.get('en') or next(iter(texts.values()), '')


def _is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


@dataclass(kw_only=True)
class Workflow:
    """A validated workflow: UI metadata plus the graph it builds."""

    id: str
    title: dict[str, str]
    description: dict[str, str]
    mode: str
    related: dict[str, str]  # mode -> the workflow a card runs in that mode (one tab each)
    order: int
    aspect_ratios: dict[str, tuple[int, int]]
    templates: list[Template]
    defaults: Defaults
    max_batch: int
    bindings: dict[str, list[BindingTarget]]
    graph: dict[str, dict[str, Any]]
    source: Path
    llm_instruction: str | None = None
    version: str = field(default='', compare=False)  # first 12 hex of the file's sha256: the edit that made an image
    base_model: str | None = None
    mode_label: dict[str, str] = field(default_factory=dict)
    params: dict[str, Param] = field(default_factory=dict)  # declared parameters, in the file's order

    @property
    def related_img2img(self) -> str | None:
        """The edit workflow this card runs in Img2Img mode, if it links one."""
        return self.related.get('img2img')

    def title_for(self, lang: str) -> str:
        """Return the title in the given language, falling back to English."""
        return _pick(self.title, lang)

    def description_for(self, lang: str) -> str:
        """Return the description in the given language, falling back to English."""
        return _pick(self.description, lang) if self.description else ''

    def mode_label_for(self, lang: str) -> str:
        """Return the file's label of its mode in the given language ('' when it has none)."""
        return _pick(self.mode_label, lang) if self.mode_label else ''

    def accepts(self, param: str) -> bool:
        """Tell whether the graph has a place for this parameter (a built-in binding or a declared one)."""
        return param in self.bindings or param in self.params

    def controls(self, object_info: dict[str, Any] | None) -> list[ParamControl]:
        """Return the form controls of the declared parameters on a server with this catalogue."""
        return [param.control_for(object_info) for param in self.params.values()]

    @property
    def shows_prompt(self) -> bool:
        """Tell whether the form asks for a prompt: one the graph takes, or one only recorded (a default, templates)."""
        return 'prompt' in self.bindings or bool(self.defaults.prompt or self.templates)

    @property
    def needs_input_image(self) -> bool:
        """Tell whether a job must name an input image."""
        return 'input_image' in self.bindings

    def required_node_classes(self) -> set[str]:
        """Return the node classes a server must offer to run this workflow."""
        return {node['class_type'] for node in self.graph.values()}

    def check(self, params: GenerateParams, catalogues: list[dict[str, Any]] | None = None) -> GenerateParams:
        """Validate params against this workflow and fill the seed, aspect ratio, steps and declared defaults.

        Declared parameters are checked against their declarations and `catalogues`, the /object_info of the servers
        that may run the job (the first preferred): all values must fit one of them.
        """
        update: dict[str, Any] = {}
        given = dict(params.model_extra or {})
        for name in given:
            if name not in self.params:
                raise ParamError(
                    name, f'this workflow has no parameter {name!r}', reason='param_unknown', values={'name': name}
                )
        update |= check_values(self.params, given, catalogues or [])
        if not params.prompt:
            if 'prompt' in self.bindings:
                raise ParamError('prompt', 'this workflow needs a prompt')
            update['prompt'] = self.defaults.prompt  # recorded with the image only
        if self.aspect_ratios:
            ratio = params.aspect_ratio or self.defaults.aspect_ratio
            if ratio not in self.aspect_ratios:
                raise ParamError(
                    'aspect_ratio', f"unknown aspect ratio '{ratio}'; choose one of {', '.join(self.aspect_ratios)}"
                )
            update['aspect_ratio'] = ratio
        elif params.aspect_ratio is not None:
            raise ParamError('aspect_ratio', "this workflow keeps the input image's size and takes no aspect ratio")
        if params.batch_size > self.max_batch:
            raise ParamError('batch_size', f'this workflow makes at most {self.max_batch} image(s) per job')
        for name in IMAGE_PARAMS:
            label = name.replace('_', ' ')
            if name in self.bindings and getattr(params, name) is None:
                raise ParamError(
                    name,
                    f'this workflow needs an {label}' if name == 'input_image' else f'this workflow needs a {label}',
                )
            if name not in self.bindings and getattr(params, name) is not None:
                raise ParamError(name, f'this workflow takes no {label}')
        if 'steps' in self.bindings:
            if params.steps is None and self.defaults.steps is not None:
                update['steps'] = self.defaults.steps
        elif params.steps is not None:
            raise ParamError('steps', 'this workflow has a fixed number of steps')
        for name in LORA_PARAMS:
            if name not in self.bindings and getattr(params, name) is not None:
                raise ParamError(name, 'this workflow takes no LoRA')
        if params.seed is None:
            update['seed'] = secrets.randbelow(SEED_MAX + 1)
        return params.model_copy(update=update)

    def build(
        self,
        params: GenerateParams,
        *,
        images: dict[str, str] | None = None,
        output_prefix: str | None = None,
        object_info: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Return a fresh API-format graph with the params applied; images maps image params to uploaded names.

        `output_prefix` becomes every SaveImage's filename_prefix: a prefix unique to the run makes ComfyUI re-run
        only the save node of a cached prompt, so every job gets its own new server file. `object_info` is the
        catalogue of the server that runs it (declared values take its types).
        """
        params = self.check(params, [object_info] if object_info else None)
        values: dict[str, Any] = params.model_dump(
            include={'prompt', 'negative_prompt', 'seed', 'batch_size', 'steps', *LORA_PARAMS}
        )
        if params.aspect_ratio is not None:
            values['width'], values['height'] = self.aspect_ratios[params.aspect_ratio]
        for name in IMAGE_PARAMS:
            if name in self.bindings:
                if not (images and images.get(name)):
                    raise ParamError(name, f'the {name.replace("_", " ")} was not uploaded to the server')
                values[name] = images[name]
        graph = copy.deepcopy(self.graph)
        for name, targets in self.bindings.items():
            if values.get(name) is not None:
                for target in targets:
                    graph[target.node]['inputs'][target.input] = target.apply(values[name])
        extra = params.model_extra or {}
        for pid, param in self.params.items():
            for param_target in param.targets:
                graph[param_target.node]['inputs'][param_target.input] = extra[pid]
        if 'lora' in self.bindings and params.lora is None:
            for target in self.bindings['lora']:
                _bypass(graph, target.node)
        if output_prefix is not None:
            for node in graph.values():
                if node['class_type'] == 'SaveImage':
                    node['inputs']['filename_prefix'] = output_prefix
        return graph

    def problems_on(self, object_info: dict[str, Any]) -> list[str]:
        """Return why a server with this /object_info cannot run this workflow (empty when it can)."""
        reasons: list[str] = []
        candidates = self._bound_candidates()
        for node_id, node in self.graph.items():
            class_type = node['class_type']
            info = object_info.get(class_type)
            if not isinstance(info, dict) or not info:
                reasons.append(f"node '{node_id}' uses {class_type}, which the server does not have")
                continue
            where = f"node '{node_id}' ({class_type})"
            required = required_inputs(info)
            specs = node_inputs(info)
            reasons += [
                f"{where} is missing required input '{name}'" for name in required if name not in node['inputs']
            ]
            for name, value in node['inputs'].items():
                spec = specs.get(name)
                if not isinstance(spec, list) or not spec:
                    continue
                if _is_link(value):
                    reason = _check_link(value, spec, object_info, self.graph)
                    reasons += [f"{where} input '{name}' {reason}"] if reason else []
                    continue
                for candidate in candidates.get((node_id, name), [value]):
                    reason = _check_value(candidate, spec)
                    if reason and name in MODEL_INPUTS and combo_options(spec) is not None:
                        reasons.append(f'no {MODEL_INPUTS[name]} {candidate!r}')  # the file a user can name
                        break
                    if reason:
                        reasons.append(f"{where} input '{name}': {reason}")
                        break
        for pid, param in self.params.items():
            reasons += [f"param '{pid}': {reason}" for reason in param.problems_on(object_info, self.graph)]
        return reasons

    def _bound_candidates(self) -> dict[tuple[str, str], list[Any]]:
        """Return, per bound node input, the extreme values a job may put there."""
        sizes = list(self.aspect_ratios.values())
        ranges: dict[str, list[Any]] = {
            'seed': [0, SEED_MAX],
            'batch_size': [1, self.max_batch],
            'steps': [STEPS_MIN, STEPS_MAX],
            'width': [w for w, _ in sizes],
            'height': [h for _, h in sizes],
            'input_image': [],
            'control_image': [],
            'lora': [],
            'lora_strength': [-4, 4],
        }
        result: dict[tuple[str, str], list[Any]] = {}
        for name, targets in self.bindings.items():
            for target in targets:
                if name in ranges:
                    values = ranges[name]
                    if target.modulo:
                        values = [0, min(values[-1], target.modulo - 1)] if values else values
                    result[(target.node, target.input)] = values
        for param in self.params.values():  # checked by the declaration against the server (problems_on)
            for param_target in param.targets:
                result[(param_target.node, param_target.input)] = []
        return result


def _bypass(graph: dict[str, Any], node_id: str) -> None:
    """Remove a LoRA loader, wiring its users to its own model and clip inputs (no LoRA chosen)."""
    node = graph.pop(node_id)
    passthrough = [node['inputs'].get('model'), node['inputs'].get('clip')]
    for other in graph.values():
        for name, value in other['inputs'].items():
            if _is_link(value) and value[0] == node_id and value[1] < len(passthrough) and passthrough[value[1]]:
                other['inputs'][name] = list(passthrough[value[1]])


def _check_link(link: list, spec: list, object_info: dict[str, Any], graph: dict[str, Any]) -> str | None:
    """Return why a link does not fit the input spec, or None."""
    source = object_info.get(graph[link[0]]['class_type'])
    if not isinstance(source, dict) or not source:
        return None  # reported for the source node itself
    outputs = node_outputs(source)
    if link[1] >= len(outputs):
        return f"links to output {link[1]} of node '{link[0]}', which has {len(outputs)} output(s)"
    expected, given = spec[0], outputs[link[1]]
    if isinstance(expected, str) and isinstance(given, str) and '*' not in (expected, given):
        if given not in expected.split(','):
            return f"expects {expected} but node '{link[0]}' output {link[1]} is {given}"
    return None


def _check_value(value: Any, spec: list) -> str | None:
    """Return why a literal value does not fit an /object_info input spec, or None."""
    kind = spec[0]
    meta = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if isinstance(value, dict) and '__value__' in value:
        return None
    options = combo_options(spec)
    if options is not None:
        return None if value in options else f'{value!r} is not available on the server ({len(options)} option(s))'
    if kind in ('INT', 'FLOAT'):
        numeric = isinstance(value, int) or (kind == 'FLOAT' and isinstance(value, float))
        if not numeric or isinstance(value, bool):
            return f'{value!r} is not {"an integer" if kind == "INT" else "a number"}'
        if 'min' in meta and value < meta['min']:
            return f'{value} is below the minimum {meta["min"]}'
        if 'max' in meta and value > meta['max']:
            return f'{value} is above the maximum {meta["max"]}'
    if kind == 'STRING' and not isinstance(value, str):
        return f'{value!r} is not a string'
    if kind == 'BOOLEAN' and not isinstance(value, bool):
        return f'{value!r} is not true or false'
    return None


def _check_file(data: WorkflowFile, graph: dict[str, Any]) -> None:
    """Raise ValueError with a one-line reason when the file's parts do not fit together."""
    for node_id, node in graph.items():
        for name, value in node['inputs'].items():
            if isinstance(value, list) and not _is_link(value):
                raise ValueError(f"node '{node_id}' input '{name}' is a list but not a link [node_id, output_index]")
            if _is_link(value) and value[0] not in graph:
                raise ValueError(
                    f"node '{node_id}' input '{name}' links to node '{value[0]}', which is not in the graph"
                )
            if _is_link(value) and value[1] < 0:
                raise ValueError(f"node '{node_id}' input '{name}' links to a negative output index")
    if not any(node['class_type'] in OUTPUT_NODE_CLASSES for node in graph.values()):
        raise ValueError(f'the graph has no output node ({" or ".join(sorted(OUTPUT_NODE_CLASSES))})')
    for name, targets in data.bindings.items():
        for target in targets:
            if target.node not in graph:
                raise ValueError(f"binding '{name}' points at node '{target.node}' which is not in the graph")
            if target.input not in graph[target.node]['inputs']:
                raise ValueError(
                    f"binding '{name}' points at input '{target.input}' which node '{target.node}' "
                    f'({graph[target.node]["class_type"]}) does not have'
                )
            if _is_link(graph[target.node]['inputs'][target.input]):
                raise ValueError(
                    f"binding '{name}' points at input '{target.input}' of node '{target.node}', which is a link"
                )
    if data.aspect_ratios and not {'width', 'height'} <= data.bindings.keys():
        raise ValueError('aspect ratios need both width and height bindings')
    if data.mode == 'txt2img' and not data.aspect_ratios:
        raise ValueError('a txt2img workflow needs aspect_ratios (and width/height bindings)')
    if data.mode == 'img2img' and 'input_image' not in data.bindings:
        raise ValueError('an img2img workflow needs an input_image binding')
    if data.mode in data.ui.related:
        raise ValueError(f'a {data.mode} workflow cannot link another {data.mode} workflow (ui.related.{data.mode})')
    if data.max_batch > 1 and 'batch_size' not in data.bindings:
        raise ValueError('max_batch above 1 needs a batch_size binding')
    if data.defaults.aspect_ratio is not None and data.defaults.aspect_ratio not in data.aspect_ratios:
        raise ValueError(f"default aspect ratio '{data.defaults.aspect_ratio}' is not in aspect_ratios")
    if data.defaults.steps is not None and 'steps' not in data.bindings:
        raise ValueError('a default for steps needs a steps binding')


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = '.'.join(str(part) for part in first['loc']) or 'file'
    more = f' (and {error.error_count() - 1} more)' if error.error_count() > 1 else ''
    return f'{where}: {first["msg"]}{more}'


RESERVED_PARAMS = frozenset(get_args(ParamName)) | frozenset(GenerateParams.model_fields)


def load_workflow(path: Path) -> Workflow:
    """Read and validate one workflow file; raise ValueError with a one-line reason."""
    content = path.read_bytes()
    try:
        raw = json.loads(content.decode('utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f'not valid JSON: {e}') from e
    try:
        data = WorkflowFile.model_validate(raw)
    except ValidationError as e:
        raise ValueError(_describe(e)) from e
    if data.id != path.stem:
        raise ValueError(f"id '{data.id}' does not match the file name '{path.name}'")
    graph: dict[str, dict[str, Any]] = raw['graph']
    _check_file(data, graph)
    params = load_params(data.params, graph, set(RESERVED_PARAMS))
    return Workflow(
        id=data.id,
        title=data.title,
        description=data.description,
        mode=data.mode,
        mode_label=data.mode_label or {},
        related=dict(data.ui.related),
        params=params,
        order=data.ui.order,
        base_model=data.ui.base_model,
        aspect_ratios=dict(data.aspect_ratios),
        templates=data.templates,
        max_batch=data.max_batch,
        bindings={name: targets for name, targets in data.bindings.items()},
        graph=graph,
        source=path,
        llm_instruction=data.ui.llm_instruction,
        version=hashlib.sha256(content).hexdigest()[:12],
        defaults=data.defaults.model_copy(
            update={'aspect_ratio': data.defaults.aspect_ratio or next(iter(data.aspect_ratios), None)}
        ),
    )


@dataclass(kw_only=True)
class _Loaded:
    workflows: dict[str, Workflow] = field(default_factory=dict)
    problems: list[WorkflowProblem] = field(default_factory=list)
    snapshot: Snapshot = field(default_factory=dict)


class WorkflowRegistry:
    """The workflow files of one folder, reloaded when they change, and where each can run."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.problems: list[WorkflowProblem] = []
        self.changed: Event[[]] = Event()
        self._workflows: dict[str, Workflow] = {}
        self._snapshot: Snapshot = {}
        self._object_info: dict[str, dict[str, Any]] = {}
        self._reasons: dict[str, dict[str, list[str]]] = {}  # server -> workflow id -> reasons
        self._staged: dict[str, tuple[Workflow, str]] = {}  # studio test runs: id -> (unsaved workflow, server)

    def load(self) -> None:
        """(Re)read every workflow file now."""
        self._apply(self._read())

    async def reload(self) -> None:
        """(Re)read every workflow file without blocking the event loop."""
        self._apply(await asyncio.to_thread(self._read))

    async def watch(self, interval: float = 1.0) -> None:
        """Reload whenever a file in the folder is added, removed or changed; runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                if await asyncio.to_thread(self._scan) != self._snapshot:
                    await self.reload()
            except OSError:
                log.exception('could not scan workflow folder %s', self.directory)

    def get(self, workflow_id: str) -> Workflow | None:
        """Return the workflow with this id (a staged test run's too), or None."""
        staged = self._staged.get(workflow_id)
        return self._workflows.get(workflow_id) or (staged[0] if staged else None)

    def stage(self, workflow: Workflow, server: str) -> None:
        """Let the job engine run an unsaved workflow (a studio test run) on this one server; it gets no card."""
        self._staged[workflow.id] = (workflow, server)
        for name, object_info in self._object_info.items():
            self._reasons[name] = self._reasons_on(name, object_info)

    def unstage(self, workflow_id: str) -> None:
        """Forget a staged test-run workflow."""
        self._staged.pop(workflow_id, None)
        for by_workflow in self._reasons.values():
            by_workflow.pop(workflow_id, None)

    def title(self, workflow_id: str, lang: str) -> str:
        """Return the workflow's title in `lang`, or the id of one that is gone."""
        workflow = self._workflows.get(workflow_id)
        return workflow.title_for(lang) if workflow else workflow_id

    def all(self) -> list[Workflow]:
        """Return every loaded workflow, sorted by ui.order then id."""
        return sorted(self._workflows.values(), key=lambda w: (w.order, w.id))

    def aspect_ratios(self) -> list[str]:
        """Return every aspect ratio some workflow offers, sorted."""
        return sorted({ratio for w in self._workflows.values() for ratio in w.aspect_ratios})

    def parents(self) -> list[Workflow]:
        """Return the workflows that get a card: all but those that are only another's linked mode."""
        children = {child for w in self._workflows.values() for child in w.related.values()}
        return [w for w in self.all() if w.id not in children]

    def img2img_for(self, workflow_id: str) -> Workflow | None:
        """Return the edit workflow a workflow links to, or None."""
        return self.modes_of(workflow_id).get('img2img')

    def modes_of(self, workflow_id: str) -> dict[str, Workflow]:
        """Return a card's tabs: its own mode first (itself), then each linked mode's workflow, in the file's order."""
        parent = self.get(workflow_id)
        if parent is None:
            return {}
        linked = {mode: self._workflows[child] for mode, child in parent.related.items() if child in self._workflows}
        return {parent.mode: parent, **linked}

    def for_mode(self, parent: Workflow, mode: str) -> Workflow:
        """Return what a card's workflow runs in a mode: the workflow it links for that mode, else itself."""
        return self.modes_of(parent.id).get(mode) or parent

    def parent_of(self, workflow_id: str) -> Workflow | None:
        """Return the workflow whose card runs this one: itself, or the card that links it as one of its modes."""
        return next((w for w in self.parents() if workflow_id in (w.id, *w.related.values())), None)

    def validate_against(self, server: str, object_info: dict[str, Any]) -> None:
        """Record which workflows this server can run, given its /object_info."""
        self._object_info[server] = object_info
        before = self._reasons.get(server, {})
        self._reasons[server] = self._reasons_on(server, object_info)
        for workflow_id, reasons in self._reasons[server].items():
            if reasons and reasons != before.get(workflow_id) and workflow_id not in self._staged:
                log.warning('workflow %s cannot run on %s: %s', workflow_id, server, '; '.join(reasons))

    def forget_server(self, server: str) -> None:
        """Drop what is known about a server."""
        self._object_info.pop(server, None)
        self._reasons.pop(server, None)

    def availability(self, workflow_id: str) -> dict[str, str | None]:
        """Return, per validated server, None when it can run the workflow, else the reasons joined."""
        result: dict[str, str | None] = {}
        for server, by_workflow in self._reasons.items():
            reasons = by_workflow.get(workflow_id, ['the workflow is not loaded'])
            result[server] = '; '.join(reasons) if reasons else None
        return result

    def is_available(self, workflow_id: str, server: str) -> bool:
        """Tell whether the server is known to run the workflow (False for servers not validated yet)."""
        reasons = self._reasons.get(server, {}).get(workflow_id)
        return reasons is not None and not reasons

    def _reasons_on(self, server: str, object_info: dict[str, Any]) -> dict[str, list[str]]:
        reasons = {w.id: w.problems_on(object_info) for w in self._workflows.values()}
        for workflow_id, (workflow, target) in self._staged.items():
            reasons[workflow_id] = workflow.problems_on(object_info) if server == target else [f'staged for {target}']
        return reasons

    def _scan(self) -> Snapshot:
        snapshot: Snapshot = {}
        for path in self.directory.glob('*.json') if self.directory.is_dir() else []:
            try:
                stat = path.stat()
            except FileNotFoundError:  # deleted while scanning; the next scan sees it gone
                continue
            if not path.name.startswith('.'):
                snapshot[path.name] = (stat.st_mtime_ns, stat.st_size)
        return snapshot

    def _read(self) -> _Loaded:
        loaded = _Loaded(snapshot=self._scan())
        if not self.directory.is_dir():
            loaded.problems.append(WorkflowProblem(file=str(self.directory), reason='the folder does not exist'))
        for name in sorted(loaded.snapshot):
            try:
                workflow = load_workflow(self.directory / name)
            except ValueError as e:
                loaded.problems.append(WorkflowProblem(file=name, reason=str(e)))
            except OSError as e:
                loaded.problems.append(WorkflowProblem(file=name, reason=f'cannot read: {e.strerror or e}'))
            else:
                loaded.workflows[workflow.id] = workflow
        for workflow in list(loaded.workflows.values()):
            for mode, child_id in workflow.related.items():
                child = loaded.workflows.get(child_id)
                if child is None or child.mode != mode:
                    reason = f"ui.related.{mode} names '{child_id}', which is not a loaded {mode} workflow"
                    loaded.problems.append(WorkflowProblem(file=workflow.source.name, reason=reason))
                    del loaded.workflows[workflow.id]
                    break
        return loaded

    def _apply(self, loaded: _Loaded) -> None:
        self._snapshot = loaded.snapshot
        if loaded.workflows == self._workflows and loaded.problems == self.problems:
            return
        for problem in loaded.problems:
            if problem not in self.problems:
                log.warning('skipping workflow file %s: %s', problem.file, problem.reason)
        self._workflows, self.problems = loaded.workflows, loaded.problems
        for server, object_info in self._object_info.items():
            self._reasons[server] = self._reasons_on(server, object_info)
        log.info('loaded %d workflow(s) from %s', len(self._workflows), self.directory)
        self.changed.emit()
