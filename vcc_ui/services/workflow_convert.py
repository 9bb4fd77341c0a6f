"""ComfyUI's frontend save format (what the editor's Save writes) -> the API format a /prompt takes.

The save format, as the ComfyUI frontend defines it (github.com/Comfy-Org/ComfyUI_frontend):

- `src/platform/workflow/validation/schemas/workflowSchema.ts`: `nodes` (`id`, `type`, `mode`, `inputs` /
  `outputs` with link ids, `widgets_values`), `links` (schema 0.4: `[id, origin_id, origin_slot, target_id,
  target_slot, type]`; schema 1: objects with the same names), `groups`, and `extra`, which carries App Mode:
  `extra.linearMode` (bool: the file opens as an app) and `extra.linearData` = `{inputs: [[node id or widget id,
  widget name, config?], ...], outputs: [node id, ...]}`.
- `src/stores/appModeStore.ts` (`pruneLinearData`, `upgradeAndValidateInput`): an input's first item is a node id
  (frontend 1.41.13 and later) or a widget id `graphId:nodeId:name` with URI-encoded parts (later frontends).
- `src/utils/executionUtil.ts` (`graphToPrompt`): muted (mode 2) and bypassed (mode 4) nodes and virtual nodes
  (notes, reroutes, primitives) are not sent; inputs linked to a node that is not sent are dropped.
- `src/lib/litegraph/src/subgraph/ExecutableNodeDTO.ts` (`resolveOutput`): a bypassed node passes on the input with
  the output's slot index when its type fits, else the first input of the same type, else the first that fits;
  a reroute passes on its one input.
- `src/renderer/extensions/vueNodes/widgets/composables/useIntWidget.ts`: an INT input gets an extra
  "control_after_generate" widget when its spec asks (`control_after_generate`) or, unasked, when it is named
  `seed` or `noise_seed`; `widgets_values` lists every widget's value in the order of the node's inputs in
  `/object_info` (required, then optional), extras right after their input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from vcc_ui.services.comfy.protocol import combo_options, node_inputs

MODE_MUTED = 2  # LGraphEventMode.NEVER
MODE_BYPASS = 4  # LGraphEventMode.BYPASS
NOTE_TYPES = frozenset({'Note', 'MarkdownNote'})
REROUTE = 'Reroute'
PRIMITIVE = 'PrimitiveNode'
WIDGET_TYPES = frozenset({'INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO'})
SEED_NAMES = ('seed', 'noise_seed')
UPLOAD_FLAGS = ('image_upload', 'video_upload', 'audio_upload', 'animated_image_upload')
CONTROL_WIDGET = 'control_after_generate'


class ConvertError(ValueError):
    """A save-format file that cannot be converted, with a one-line reason."""


@dataclass(kw_only=True, slots=True, frozen=True)
class AppInput:
    """One input App Mode chose for its form."""

    node: str
    input: str


@dataclass(kw_only=True)
class Conversion:
    """An API-format graph, what App Mode chose, and what the conversion dropped."""

    graph: dict[str, dict[str, Any]]
    app_inputs: list[AppInput] = field(default_factory=list)
    app_outputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_save_format(data: Any) -> bool:
    """Tell whether a parsed JSON document is a frontend save-format workflow."""
    return isinstance(data, dict) and isinstance(data.get('nodes'), list)


def _types(kind: Any) -> set[str]:
    return {part.strip().upper() for part in str(kind).split(',')} if kind not in (None, '', 0, '*') else set()


def _fits(a: Any, b: Any) -> bool:
    """Tell whether two slot types connect (litegraph's isValidConnection: '*' or a shared comma-separated part)."""
    left, right = _types(a), _types(b)
    return not left or not right or bool(left & right)


def _widget_names(info: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Return the node's widget slots in `widgets_values` order, with and without upload buttons.

    Slots named CONTROL_WIDGET (or `<input>#upload`) hold values the API graph does not take.
    """
    specs = node_inputs(info)
    order = info.get('input_order')
    names = (
        [n for part in ('required', 'optional') for n in (order.get(part) or []) if n in specs]
        if isinstance(order, dict)
        else list(specs)
    )
    full: list[str] = []
    bare: list[str] = []
    for name in names:
        spec = specs[name]
        if not isinstance(spec, list) or not spec:
            continue
        meta = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
        combo = combo_options(spec) is not None or spec[0] == 'COMBO'
        if meta.get('forceInput') or not (combo or spec[0] in WIDGET_TYPES):
            continue
        full.append(name)
        bare.append(name)
        control = meta.get(CONTROL_WIDGET)
        if control or (control is None and spec[0] == 'INT' and name in SEED_NAMES):
            full.append(CONTROL_WIDGET)
            bare.append(CONTROL_WIDGET)
        if combo and any(meta.get(flag) for flag in UPLOAD_FLAGS):
            full.append(f'{name}#upload')
    return full, bare


def _links(data: dict[str, Any]) -> dict[int, tuple[str, int, Any]]:
    """Return link id -> (origin node id, origin slot, type), from either link spelling."""
    result: dict[int, tuple[str, int, Any]] = {}
    for link in data.get('links') or []:
        if isinstance(link, list) and len(link) >= 6:
            link_id, origin, slot, kind = link[0], link[1], link[2], link[5]
        elif isinstance(link, dict):
            link_id, origin, slot, kind = (
                link.get('id'),
                link.get('origin_id'),
                link.get('origin_slot'),
                link.get('type'),
            )
        else:
            raise ConvertError(f'a link is neither [id, origin, slot, target, slot, type] nor an object: {link!r}')
        try:
            result[int(link_id)] = (str(origin), int(slot), kind)
        except (TypeError, ValueError) as e:
            raise ConvertError(f'link {link_id!r} has no usable id or slot') from e
    return result


class _Converter:
    def __init__(self, data: dict[str, Any], object_info: dict[str, Any]) -> None:
        self.object_info = object_info
        self.links = _links(data)
        self.nodes: dict[str, dict[str, Any]] = {}
        for node in data['nodes']:
            if not isinstance(node, dict) or 'id' not in node or not isinstance(node.get('type'), str):
                raise ConvertError(f'a node has no id or type: {str(node)[:80]}')
            self.nodes[str(node['id'])] = node
        self.notes: list[str] = []

    def label(self, node_id: str) -> str:
        node = self.nodes[node_id]
        title = node.get('title')
        return f"node '{node_id}' ({node['type']}{f', {title!r}' if title else ''})"

    def input_link(self, node: dict[str, Any], slot: int) -> int | None:
        inputs = node.get('inputs') or []
        link = inputs[slot].get('link') if 0 <= slot < len(inputs) and isinstance(inputs[slot], dict) else None
        return int(link) if isinstance(link, int) else None

    def fed_by(self, node_id: str) -> list[tuple[str, str]]:
        """Return the (node, input) pairs a node's outputs are linked to (what a primitive node sets)."""
        fed: list[tuple[str, str]] = []
        for target_id, target in self.nodes.items():
            for spec in target.get('inputs') or []:
                link = spec.get('link') if isinstance(spec, dict) else None
                if isinstance(link, int) and link in self.links and self.links[link][0] == node_id:
                    fed.append((target_id, str(spec.get('name'))))
        return fed

    def resolve(self, link_id: int, want: Any, seen: frozenset[int] = frozenset()) -> tuple[str, Any]:
        """Follow a link through reroutes and bypassed nodes: ('link', [id, slot]) | ('value', v) | ('gone', why)."""
        if link_id in seen:
            return 'gone', 'the links form a loop'
        if link_id not in self.links:
            return 'gone', f'link {link_id} is not in the links list'
        origin_id, slot, _ = self.links[link_id]
        origin = self.nodes.get(origin_id)
        if origin is None:
            return 'gone', f"node '{origin_id}' is not in the graph"
        seen = seen | {link_id}
        kind = origin['type']
        if kind == PRIMITIVE:
            values = origin.get('widgets_values') or []
            return ('value', values[0]) if values else ('gone', f'{self.label(origin_id)} holds no value')
        if kind == REROUTE:
            upstream = self.input_link(origin, 0)
            return self.resolve(upstream, want, seen) if upstream is not None else ('gone', 'a reroute leads nowhere')
        if origin.get('mode') == MODE_MUTED:
            return 'gone', f'{self.label(origin_id)} is muted'
        if origin.get('mode') == MODE_BYPASS:
            index = self.bypass_slot(origin, slot, want)
            upstream = self.input_link(origin, index) if index is not None else None
            if upstream is None:
                return 'gone', f'{self.label(origin_id)} is bypassed and has no input of type {want} to pass on'
            return self.resolve(upstream, want, seen)
        return 'link', [origin_id, slot]

    def bypass_slot(self, node: dict[str, Any], slot: int, want: Any) -> int | None:
        """Pick the input a bypassed node passes on for an output slot (ExecutableNodeDTO.#getBypassSlotIndex)."""
        inputs = [i for i in node.get('inputs') or [] if isinstance(i, dict)]
        outputs = node.get('outputs') or []
        produced = outputs[slot].get('type') if slot < len(outputs) and isinstance(outputs[slot], dict) else want
        if want in ('*', '', None):
            return slot if len(inputs) > slot else (0 if inputs else None)
        if slot < len(inputs) and _fits(inputs[slot].get('type'), produced) and _fits(inputs[slot].get('type'), want):
            return slot
        exact = next((i for i, spec in enumerate(inputs) if spec.get('type') == want), None)
        if exact is not None:
            return exact
        return next(
            (i for i, spec in enumerate(inputs) if _fits(spec.get('type'), produced) and _fits(spec.get('type'), want)),
            None,
        )

    def widget_values(self, node_id: str, info: dict[str, Any]) -> dict[str, Any]:
        """Map a node's `widgets_values` to its input names."""
        node = self.nodes[node_id]
        raw = node.get('widgets_values')
        specs = node_inputs(info)
        if isinstance(raw, dict):
            return {k: v for k, v in raw.items() if k in specs}
        values = list(raw) if isinstance(raw, list) else []
        full, bare = _widget_names(info)
        if len(values) in (len(full), len(bare)):
            names = full if len(values) == len(full) else bare
        else:
            names = full if len(values) > len(bare) else bare
            self.notes.append(
                f'{self.label(node_id)} has {len(values)} widget value(s) where the server expects {len(full)}; '
                'they were matched in order'
            )
        result: dict[str, Any] = {}
        for name, value in zip(names, values, strict=False):
            if name != CONTROL_WIDGET and not name.endswith('#upload'):
                result[name] = value
        for name in (n for n in bare if n != CONTROL_WIDGET and n not in result):
            spec = specs[name]
            meta = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            options = combo_options(spec)
            if 'default' in meta:
                result[name] = meta['default']
            elif options:
                result[name] = options[0]
        return result

    def convert_node(self, node_id: str) -> dict[str, Any]:
        node = self.nodes[node_id]
        info = self.object_info.get(node['type'])
        if not isinstance(info, dict) or not info:
            raise ConvertError(
                f'{self.label(node_id)}: the server does not have this node, so its values cannot be mapped'
            )
        inputs = {
            name: {'__value__': value} if isinstance(value, list) else value
            for name, value in self.widget_values(node_id, info).items()
        }
        for slot, spec in enumerate(node.get('inputs') or []):
            if not isinstance(spec, dict) or not isinstance(spec.get('name'), str):
                continue
            name = spec['name']
            link = self.input_link(node, slot)
            if link is None:
                continue
            outcome, value = self.resolve(link, spec.get('type'))
            if outcome == 'link':
                inputs[name] = value
            elif outcome == 'value':
                inputs[name] = {'__value__': value} if isinstance(value, list) else value
            elif name in inputs:  # a widget turned input: the frontend sends the widget's own value then
                self.notes.append(f"{self.label(node_id)} keeps its own '{name}' value: {value}")
            else:
                self.notes.append(f"{self.label(node_id)} loses its input '{name}': {value}")
        return {'class_type': node['type'], 'inputs': inputs, '_meta': {'title': node.get('title') or node['type']}}

    def run(self) -> dict[str, dict[str, Any]]:
        graph: dict[str, dict[str, Any]] = {}
        for node_id, node in self.nodes.items():
            kind, mode = node['type'], node.get('mode', 0)
            if kind in NOTE_TYPES or kind in (REROUTE, PRIMITIVE):
                continue
            if mode == MODE_MUTED:
                self.notes.append(f'{self.label(node_id)} is muted and was left out')
                continue
            if mode == MODE_BYPASS:
                self.notes.append(f'{self.label(node_id)} is bypassed: its inputs pass through')
                continue
            graph[node_id] = self.convert_node(node_id)
        return graph


def _app_input(item: Any) -> tuple[str, str] | None:
    """Return (node id, widget name) of one `linearData.inputs` entry, in either id spelling."""
    if not isinstance(item, list) or len(item) < 2 or not isinstance(item[1], str):
        return None
    first = item[0]
    if isinstance(first, str) and first.count(':') == 2:  # a widget id: graphId:nodeId:name, parts URI-encoded
        _, node, name = first.split(':')
        return unquote(node), unquote(name)
    if isinstance(first, int | str) and not isinstance(first, bool) and ':' not in str(first):
        return str(first), item[1]
    return None


def convert(data: dict[str, Any], object_info: dict[str, Any]) -> Conversion:
    """Convert a save-format workflow with one server's /object_info; raise ConvertError with the reason."""
    if not is_save_format(data):
        raise ConvertError('this is not a ComfyUI save-format workflow (it has no "nodes" list)')
    definitions = data.get('definitions')
    if isinstance(definitions, dict) and definitions.get('subgraphs'):
        raise ConvertError('the workflow uses subgraphs; unpack them in ComfyUI first (right click > Unpack Subgraph)')
    extra: dict[str, Any] = data['extra'] if isinstance(data.get('extra'), dict) else {}
    if extra.get('groupNodes'):
        raise ConvertError('the workflow uses group nodes; convert them back to nodes in ComfyUI first')
    converter = _Converter(data, object_info)
    graph = converter.run()
    if not graph:
        raise ConvertError('nothing is left to run: every node is a note, muted or bypassed')
    result = Conversion(graph=graph, notes=converter.notes)
    linear: dict[str, Any] = extra['linearData'] if isinstance(extra.get('linearData'), dict) else {}
    for item in linear.get('inputs') or []:
        found = _app_input(item)
        if found is not None and converter.nodes.get(found[0], {}).get('type') == PRIMITIVE:
            result.app_inputs += [AppInput(node=n, input=i) for n, i in converter.fed_by(found[0]) if n in graph]
            continue
        if found is None:
            result.notes.append(f'App Mode input {item!r} names no node and widget; it was skipped')
        elif found[0] not in graph or found[1] not in graph[found[0]]['inputs']:
            result.notes.append(f"App Mode input '{found[1]}' of node '{found[0]}' is not in the converted graph")
        else:
            result.app_inputs.append(AppInput(node=found[0], input=found[1]))
    for node_id in linear.get('outputs') or []:
        if str(node_id) in graph:
            result.app_outputs.append(str(node_id))
        else:
            result.notes.append(f"App Mode output node '{node_id}' is not in the converted graph")
    return result
