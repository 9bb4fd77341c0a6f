"""Declared workflow parameters: any node input exposed with a label, bounds and a control (workflows/README.md).

The type, bounds and choices of a parameter come from a server's `/object_info` for its first target's node class
and input; a declaration may only narrow them. Without a catalogue (no server known yet) the default's type decides.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator

from vcc_ui.services.comfy.protocol import combo_options, input_spec

PARAM_ID_PATTERN = r'^[a-z][a-z0-9_]{0,31}$'
TEXT_MAX = 4000
CHOICES_SHOWN = 60  # an error lists at most this many of a server's choices
Control = Literal['number', 'slider', 'select', 'toggle', 'text', 'multiline']
Kind = Literal['INT', 'FLOAT', 'NUMBER', 'COMBO', 'BOOLEAN', 'STRING']  # NUMBER: numeric, no catalogue to say which
CONTROLS: dict[str, tuple[Control, ...]] = {
    'INT': ('number', 'slider'),
    'FLOAT': ('number', 'slider'),
    'NUMBER': ('number', 'slider'),
    'COMBO': ('select',),
    'BOOLEAN': ('toggle',),
    'STRING': ('text', 'multiline'),
}
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
Number = StrictInt | StrictFloat


class ParamError(ValueError):
    """A parameter this workflow cannot accept, with a message fit for the user.

    `reason` and `values` name the case for pages and the API to say it in the user's language (i18n
    `gen_invalid_params_<reason>`; a label is given in both languages).
    """

    def __init__(self, field: str, message: str, *, reason: str = '', values: dict[str, Any] | None = None) -> None:
        super().__init__(f'{field}: {message}')
        self.field = field
        self.message = message
        self.reason = reason
        self.values = values or {}


class _Model(BaseModel):
    model_config = ConfigDict(extra='forbid')


class ParamTarget(_Model):
    """One node input a declared parameter sets."""

    node: str
    input: str


class ParamDecl(_Model):
    """One entry of a workflow file's `params`, as written."""

    targets: Annotated[list[ParamTarget], Field(min_length=1)]
    label: dict[str, str]
    default: Scalar | None = None
    min: Number | None = None
    max: Number | None = None
    step: Annotated[float, Field(gt=0)] | None = None
    advanced: bool = False
    control: Control | None = None
    choices: Annotated[list[StrictStr | StrictInt | StrictFloat], Field(min_length=1)] | None = None

    @field_validator('targets', mode='before')
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator('label')
    @classmethod
    def _both_languages(cls, value: dict[str, str]) -> dict[str, str]:
        if not (value.get('en', '').strip() and value.get('ko', '').strip()):
            raise ValueError('a label needs both "en" and "ko"')
        return value


@dataclass(frozen=True, kw_only=True, slots=True)
class Param:
    """A validated declared parameter: where it goes, its label, default, bounds and control."""

    id: str
    targets: tuple[ParamTarget, ...]
    node_class: str  # the first target's class: its /object_info entry gives the type
    label: dict[str, str]
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    advanced: bool = False
    control: Control | None = None
    choices: tuple[Any, ...] | None = None

    def label_for(self, lang: str) -> str:
        """Return the label in the given language, falling back to English."""
        return self.label.get(lang) or self.label['en']

    def spec(self, object_info: dict[str, Any] | None) -> list[Any] | None:
        """Return the first target's input spec on a server, or None."""
        return input_spec(object_info, self.node_class, self.targets[0].input) if object_info else None

    def kind(self, spec: list[Any] | None) -> Kind | None:
        """Return the value type: the server's when a spec is given, else the default's (None: not a value input)."""
        if spec is not None:
            if combo_options(spec) is not None:
                return 'COMBO'
            return spec[0] if spec[0] in ('INT', 'FLOAT', 'BOOLEAN', 'STRING') else None
        if self.choices is not None:
            return 'COMBO'
        if isinstance(self.default, bool):
            return 'BOOLEAN'
        return 'NUMBER' if isinstance(self.default, int | float) else 'STRING'

    def error(self, reason: str, message: str, **values: Any) -> ParamError:
        """Return the refusal of a value for this parameter (labels in both languages for the translations)."""
        return ParamError(
            self.id,
            f'{self.label["en"]} {message}',
            reason=reason,
            values={'label': self.label, **values},
        )

    def bounds(self, spec: list[Any] | None) -> tuple[float | None, float | None]:
        """Return the tighter of the declared and the server's min and max."""
        meta = _meta(spec)
        lows = [v for v in (self.minimum, meta.get('min')) if isinstance(v, int | float)]
        highs = [v for v in (self.maximum, meta.get('max')) if isinstance(v, int | float)]
        return (max(lows) if lows else None), (min(highs) if highs else None)

    def options(self, spec: list[Any] | None) -> list[Any]:
        """Return the choices to offer: the declared ones the server has, or all the server's."""
        offered = combo_options(spec) if spec is not None else None
        if self.choices is None:
            return list(offered or [])
        return [c for c in self.choices if offered is None or c in offered]

    def coerce(self, value: Any, spec: list[Any] | None) -> Any:
        """Return the value as the graph takes it, or raise ParamError saying why it does not fit."""
        kind = self.kind(spec)
        if kind is None:
            raise self.error('param_server', 'cannot be set on this server', value=value)
        if kind == 'BOOLEAN':
            if not isinstance(value, bool):
                raise self.error('param_bool', 'must be true or false', value=value)
            return value
        if kind == 'STRING':
            if not isinstance(value, str):
                raise self.error('param_text', 'must be text', value=value)
            if len(value) > TEXT_MAX:
                raise self.error('param_too_long', f'must be at most {TEXT_MAX} characters', max=TEXT_MAX)
            return value
        if kind == 'COMBO':
            choices = self.options(spec)
            if isinstance(value, bool) or value not in choices:
                shown = ', '.join(str(c) for c in choices[:CHOICES_SHOWN]) + (
                    ', …' if len(choices) > CHOICES_SHOWN else ''
                )
                raise self.error(
                    'param_choice', f'{value!r} is not offered; choose one of: {shown}', value=value, choices=shown
                )
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error('param_number', 'must be a number', value=value)
        if kind == 'INT':
            if isinstance(value, float) and not value.is_integer():
                raise self.error('param_int', 'must be a whole number', value=value)
            value = int(value)
        elif kind == 'FLOAT':
            value = float(value)
        low, high = self.bounds(spec)
        if low is not None and value < low:
            raise self.error('param_min', f'must be at least {low:g}', value=value, min=f'{low:g}')
        if high is not None and value > high:
            raise self.error('param_max', f'must be at most {high:g}', value=value, max=f'{high:g}')
        return value

    def problems_on(self, object_info: dict[str, Any], graph: dict[str, Any]) -> list[str]:
        """Return why this declaration does not fit a server's catalogue (empty when it does)."""
        reasons: list[str] = []
        for target in self.targets:
            class_type = graph[target.node]['class_type']
            if isinstance(object_info.get(class_type), dict) and object_info[class_type]:
                if input_spec(object_info, class_type, target.input) is None:
                    reasons.append(f"{class_type} has no input '{target.input}' on the server")
        spec = self.spec(object_info)
        if reasons or spec is None:
            return reasons
        kind = self.kind(spec)
        if kind is None:
            return [f"input '{self.targets[0].input}' takes a link ({spec[0]}), not a value"]
        if self.control is not None and self.control not in CONTROLS[kind]:
            reasons.append(f"control '{self.control}' does not fit a {kind} input")
        meta = _meta(spec)
        if kind in ('INT', 'FLOAT'):
            if self.minimum is not None and isinstance(meta.get('min'), int | float) and self.minimum < meta['min']:
                reasons.append(f"min {self.minimum:g} is below the server's minimum {meta['min']:g}")
            if self.maximum is not None and isinstance(meta.get('max'), int | float) and self.maximum > meta['max']:
                reasons.append(f"max {self.maximum:g} is above the server's maximum {meta['max']:g}")
        elif self.minimum is not None or self.maximum is not None or self.step is not None:
            reasons.append(f'min, max and step fit INT and FLOAT inputs, not {kind}')
        if self.choices is not None:
            offered = combo_options(spec)
            if offered is None:
                reasons.append(f'choices fit a COMBO input, not {kind}')
            else:
                reasons += [f'choice {c!r} is not offered by the server' for c in self.choices if c not in offered]
        try:
            self.coerce(self.default, spec)
        except ParamError as error:
            reasons.append(f'default {self.default!r}: {error.message.removeprefix(self.label["en"] + " ")}')
        return reasons

    def control_for(self, object_info: dict[str, Any] | None) -> ParamControl:
        """Return what a form shows for this parameter on a server with this catalogue (None: no server known)."""
        spec = self.spec(object_info)
        kind = self.kind(spec) or 'STRING'
        meta = _meta(spec)
        control: Control = CONTROLS[kind][0]
        if self.control is not None and self.control in CONTROLS[kind]:
            control = self.control
        elif kind == 'STRING' and meta.get('multiline'):
            control = 'multiline'
        low, high = self.bounds(spec)
        step = self.step or meta.get('step')
        integer = kind == 'INT' or (kind == 'NUMBER' and isinstance(self.default, int))
        return ParamControl(
            id=self.id,
            label=self.label,
            control=control,
            default=self.default,
            minimum=low,
            maximum=high,
            step=float(step) if isinstance(step, int | float) and step > 0 else (1.0 if integer else None),
            options=self.options(spec) if kind == 'COMBO' else [],
            advanced=self.advanced,
            integer=integer,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ParamControl:
    """What the Generate form shows for one declared parameter."""

    id: str
    label: dict[str, str]
    control: Control
    default: Any
    minimum: float | None
    maximum: float | None
    step: float | None
    options: list[Any]
    advanced: bool
    integer: bool

    def label_for(self, lang: str) -> str:
        """Return the label in the given language, falling back to English."""
        return self.label.get(lang) or self.label['en']


def _meta(spec: list[Any] | None) -> dict[str, Any]:
    return spec[1] if spec is not None and len(spec) > 1 and isinstance(spec[1], dict) else {}


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def load_params(decls: dict[str, ParamDecl], graph: dict[str, Any], reserved: set[str]) -> dict[str, Param]:
    """Validate declarations against the graph; raise ValueError with a one-line reason."""
    params: dict[str, Param] = {}
    for pid, decl in decls.items():
        where = f"param '{pid}'"
        if not re.fullmatch(PARAM_ID_PATTERN, pid):
            raise ValueError(f'{where}: an id is a-z, 0-9 and _ starting with a letter, at most 32 characters')
        if pid in reserved:
            raise ValueError(f'{where}: the name is a built-in parameter; use a binding for it or another name')
        for target in decl.targets:
            node = graph.get(target.node)
            if node is None:
                raise ValueError(f"{where} points at node '{target.node}' which is not in the graph")
            if target.input not in node['inputs']:
                raise ValueError(
                    f"{where} points at input '{target.input}' which node '{target.node}' ({node['class_type']}) "
                    'does not have'
                )
            if _is_link(node['inputs'][target.input]):
                raise ValueError(f"{where} points at input '{target.input}' of node '{target.node}', which is a link")
        first = decl.targets[0]
        default = decl.default if decl.default is not None else graph[first.node]['inputs'][first.input]
        if isinstance(default, dict | list) or default is None:
            raise ValueError(f'{where} needs a default: the graph has no plain value there')
        param = Param(
            id=pid,
            targets=tuple(decl.targets),
            node_class=graph[first.node]['class_type'],
            label=decl.label,
            default=default,
            minimum=decl.min,
            maximum=decl.max,
            step=decl.step,
            advanced=decl.advanced,
            control=decl.control,
            choices=tuple(decl.choices) if decl.choices is not None else None,
        )
        _check_declaration(param, where)
        params[pid] = param
    return params


def _check_declaration(param: Param, where: str) -> None:
    """Raise ValueError when a declaration does not fit together (without a server's catalogue)."""
    kind = param.kind(None) or 'STRING'
    if param.control is not None and param.control not in CONTROLS[kind]:
        raise ValueError(f"{where}: control '{param.control}' does not fit its default {param.default!r}")
    numeric = kind == 'NUMBER'
    if not numeric and (param.minimum is not None or param.maximum is not None or param.step is not None):
        raise ValueError(f'{where}: min, max and step fit a number, not the default {param.default!r}')
    if param.minimum is not None and param.maximum is not None and param.minimum > param.maximum:
        raise ValueError(f'{where}: min {param.minimum:g} is above max {param.maximum:g}')
    try:
        param.coerce(param.default, None)
    except ParamError as error:
        raise ValueError(f'{where}: default {error.message.removeprefix(param.label["en"] + " ")}') from None


def check_values(params: dict[str, Param], given: dict[str, Any], catalogues: list[dict[str, Any]]) -> dict[str, Any]:
    """Return every declared parameter's value (defaults filled) as the graph takes it, or raise ParamError.

    With catalogues (the servers that can run the workflow, the first one preferred), the values must all fit one
    of them; the refusal is the first server's. `given` holds only declared ids (the caller refuses others).
    """
    if not catalogues:
        return {pid: p.coerce(_given(given, p), None) for pid, p in params.items()}
    first: ParamError | None = None
    for object_info in catalogues:
        try:
            return {pid: p.coerce(_given(given, p), p.spec(object_info)) for pid, p in params.items()}
        except ParamError as error:
            first = first or error
    assert first is not None
    raise first


def fits(params: dict[str, Param], values: dict[str, Any], object_info: dict[str, Any]) -> bool:
    """Tell whether a job's declared values fit a server's catalogue."""
    try:
        check_values(params, values, [object_info])
    except ParamError:
        return False
    return True


def _given(given: dict[str, Any], param: Param) -> Any:
    value = given.get(param.id)
    return param.default if value is None else value
