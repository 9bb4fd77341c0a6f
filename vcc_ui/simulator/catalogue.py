"""Node catalogue and prompt validation of the ComfyUI simulator (mirrors execution.validate_prompt of 0.3.64)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcc_ui.services.comfy.protocol import (
    LORA_INPUT,
    combo_options,
    is_combo,
    node_inputs,
    node_outputs,
    required_inputs,
    set_combo_options,
)

OBJECT_INFO_FILE = Path(__file__).with_name('object_info.json')
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.webp', '.bmp', '.gif', '.tif', '.tiff')


def split_annotation(name: str) -> tuple[str, str | None]:
    """Split a ' [output]'-style suffix off a file name (folder_paths.annotated_filepath)."""
    for kind in ('output', 'input', 'temp'):
        suffix = f' [{kind}]'
        if name.endswith(suffix):
            return name[: -len(suffix)], kind
    return name, None


@dataclass(kw_only=True, slots=True)
class Validation:
    """Outcome of validating one prompt."""

    ok: bool
    error: dict[str, Any] | None = None
    outputs: list[str] = field(default_factory=list)
    node_errors: dict[str, Any] = field(default_factory=dict)


def _error(kind: str, message: str, details: str = '', extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {'type': kind, 'message': message, 'details': details, 'extra_info': extra or {}}


class Catalogue:
    """Serve object_info with the simulator's own combo lists and validate graphs against it."""

    def __init__(
        self, *, root: Path, checkpoints: list[str], loras: list[str], list_loras: Callable[[], list[str]] | None = None
    ) -> None:
        self.root = root
        self.checkpoints = checkpoints
        self._loras = loras
        self._list_loras = list_loras
        self._static: dict[str, Any] = json.loads(OBJECT_INFO_FILE.read_text(encoding='utf-8'))

    @property
    def loras(self) -> list[str]:
        """Return the LoRA names: the files of the LoRA folder in folder mode, else the given (mutable) list."""
        return self._list_loras() if self._list_loras is not None else self._loras

    def class_names(self) -> list[str]:
        """Return the supported node class names."""
        return list(self._static)

    def input_files(self) -> list[str]:
        """Return the top-level files of input/, sorted like ComfyUI's LoadImage list."""
        folder = self.root / 'input'
        return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []

    def info(self, class_type: str) -> dict[str, Any] | None:
        """Return one node's object_info entry with live combo lists, or None."""
        if class_type not in self._static:
            return None
        entry = copy.deepcopy(self._static[class_type])
        required = required_inputs(entry)
        if 'ckpt_name' in required:
            set_combo_options(required['ckpt_name'], sorted(self.checkpoints))
        if LORA_INPUT in required:
            set_combo_options(required[LORA_INPUT], sorted(self.loras))
        if class_type == 'LoadImage':
            set_combo_options(required['image'], self.input_files())
        return entry

    def all_info(self) -> dict[str, Any]:
        """Return the whole object_info map."""
        return {name: self.info(name) for name in self._static}

    def restrict(self, class_type: str, input_name: str, options: list[Any]) -> None:
        """Offer only these choices for one combo input (a server with fewer samplers, say); prompts are checked too."""
        set_combo_options(node_inputs(self._static[class_type])[input_name], list(options))

    def is_output(self, class_type: str) -> bool:
        """Tell whether a class is an output node."""
        return bool(self._static.get(class_type, {}).get('output_node'))

    def return_types(self, class_type: str) -> list[str]:
        """Return a class's output types."""
        return list(node_outputs(self._static[class_type]))

    def image_exists(self, value: str) -> bool:
        """Tell whether a LoadImage value names an existing file (custom validation)."""
        name, kind = split_annotation(value)
        base = (self.root / (kind or 'input')).resolve()
        path = (base / name).resolve()
        return path.is_relative_to(base) and path.is_file()

    def validate(self, prompt: dict[str, Any], targets: list[str] | None = None) -> Validation:
        """Validate an API-format graph like ComfyUI 0.3.64 does."""
        for node_id, node in prompt.items():
            if not isinstance(node, dict) or 'class_type' not in node:
                msg = 'Cannot execute because a node is missing the class_type property.'
                return Validation(ok=False, error=_error('invalid_prompt', msg, f"Node ID '#{node_id}'"))
            if node['class_type'] not in self._static:
                msg = f'Cannot execute because node {node["class_type"]} does not exist.'
                return Validation(ok=False, error=_error('invalid_prompt', msg, f"Node ID '#{node_id}'"))
        outputs = [
            node_id
            for node_id, node in prompt.items()
            if self.is_output(node['class_type']) and (targets is None or node_id in targets)
        ]
        if not outputs:
            return Validation(ok=False, error=_error('prompt_no_outputs', 'Prompt has no outputs'))
        validated: dict[str, tuple[bool, list[dict[str, Any]]]] = {}
        good: list[str] = []
        failed: list[tuple[str, list[dict[str, Any]]]] = []
        node_errors: dict[str, Any] = {}
        for out in outputs:
            try:
                valid = self._validate_node(prompt, out, validated)
            except Exception as ex:  # mirrors ComfyUI's exception_during_validation
                reasons = [
                    _error(
                        'exception_during_validation',
                        'Exception when validating node',
                        str(ex),
                        {'exception_type': type(ex).__name__, 'traceback': [repr(ex)]},
                    )
                ]
                validated[out] = (False, reasons)
                valid = False
            if valid:
                good.append(out)
                continue
            failed.append((out, validated[out][1]))
            for node_id, (node_ok, reasons) in validated.items():
                if node_ok or not reasons:
                    continue
                entry = node_errors.setdefault(
                    node_id,
                    {'errors': reasons, 'dependent_outputs': [], 'class_type': prompt[node_id]['class_type']},
                )
                entry['dependent_outputs'].append(out)
        if not good:
            details = '\n'.join(f'{e["message"]}: {e["details"]}' for _, errors in failed for e in errors)
            error = _error('prompt_outputs_failed_validation', 'Prompt outputs failed validation', details)
            return Validation(ok=False, error=error, node_errors=node_errors)
        return Validation(ok=True, outputs=good, node_errors=node_errors)

    def _validate_node(self, prompt: dict[str, Any], node_id: str, validated: dict[str, Any]) -> bool:
        if node_id in validated:
            return validated[node_id][0]
        node = prompt[node_id]
        class_type = node['class_type']
        inputs = node.get('inputs', {})
        spec = self.info(class_type)
        assert spec is not None
        errors: list[dict[str, Any]] = []
        valid = True
        specs = node_inputs(spec)
        required = required_inputs(spec)
        for name, config in specs.items():
            if name not in inputs:
                if name in required:
                    errors.append(
                        _error('required_input_missing', 'Required input is missing', name, {'input_name': name})
                    )
                continue
            value = inputs[name]
            kind = config[0]
            options = config[1] if len(config) > 1 else {}
            if isinstance(value, list):
                if len(value) != 2:
                    errors.append(
                        _error(
                            'bad_linked_input',
                            'Bad linked input, must be a length-2 list of [node_id, slot_index]',
                            name,
                            {'input_name': name, 'input_config': config, 'received_value': value},
                        )
                    )
                    continue
                source_id = str(value[0])
                received = self.return_types(prompt[source_id]['class_type'])[value[1]]
                if not is_combo(config) and received not in (kind, '*') and kind != '*':
                    details = f'{name}, received_type({received}) mismatch input_type({kind})'
                    extra = {
                        'input_name': name,
                        'input_config': config,
                        'received_type': received,
                        'linked_node': value,
                    }
                    message = 'Return type mismatch between linked nodes'
                    errors.append(_error('return_type_mismatch', message, details, extra))
                    continue
                if not self._validate_node(prompt, source_id, validated):
                    valid = False
                continue
            if class_type == 'LoadImage' and name == 'image':
                if not isinstance(value, str) or not self.image_exists(value):
                    details = f'{name} - Invalid image file: {value}'
                    message = 'Custom validation failed for node'
                    errors.append(_error('custom_validation_failed', message, details, {'input_name': name}))
                continue
            errors.extend(self._check_value(name, config, kind, options, value))
        validated[node_id] = (valid and not errors, errors)
        return validated[node_id][0]

    @staticmethod
    def _check_value(
        name: str, config: list[Any], kind: Any, options: dict[str, Any], value: Any
    ) -> list[dict[str, Any]]:
        converters = {'INT': int, 'FLOAT': float, 'STRING': str, 'BOOLEAN': bool}
        choices = combo_options(config)
        if choices is not None:
            if value in choices:
                return []
            if len(choices) > 20:
                list_info, input_config = f'(list of length {len(choices)})', None
            else:
                list_info, input_config = str(choices), config
            extra = {'input_name': name, 'input_config': input_config, 'received_value': value}
            return [_error('value_not_in_list', 'Value not in list', f"{name}: '{value}' not in {list_info}", extra)]
        if kind not in converters:
            return []
        try:
            value = converters[kind](value)
        except (ValueError, TypeError) as ex:
            extra = {'input_name': name, 'input_config': config, 'received_value': value, 'exception_message': str(ex)}
            message = f'Failed to convert an input value to a {kind} value'
            return [_error('invalid_input_type', message, f'{name}, {value}, {ex}', extra)]
        extra = {'input_name': name, 'input_config': config, 'received_value': value}
        if 'min' in options and kind in ('INT', 'FLOAT') and value < options['min']:
            message = f'Value {value} smaller than min of {options["min"]}'
            return [_error('value_smaller_than_min', message, name, extra)]
        if 'max' in options and kind in ('INT', 'FLOAT') and value > options['max']:
            message = f'Value {value} bigger than max of {options["max"]}'
            return [_error('value_bigger_than_max', message, name, extra)]
        return []
