"""Walk LoRA stacks of any shape (WanVideo, LORA_STACK entries, single names) into a flat, deduplicated list."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

STACK_KEYS = ('stack', 'loras', 'children', 'items', 'chain')
PATH_KEYS = ('path', 'lora_path', 'file', 'file_path', 'full_path')
NAME_KEYS = ('name', 'lora_name', 'lora', 'filename')
STRENGTH_KEYS = ('strength', 'strength_model', 'lora_strength', 'weight', 'model_strength')
MAX_DEPTH = 32

Getter = Callable[[str], object]


@dataclass(slots=True)
class LoraRef:
    """One LoRA found in the input: where it is, what it is called, how strongly it applies."""

    raw: object
    name: str | None
    path: str | None
    strength: float | None

    @property
    def key(self) -> tuple[str, str]:
        """Return the (path, name) pair entries are deduplicated by."""
        return (self.path or '', self.name or '')


@dataclass(slots=True)
class WalkResult:
    """The LoRAs found, in input order, and how many entries were malformed or cyclic."""

    loras: list[LoraRef] = field(default_factory=list)
    skipped: int = 0
    cycles: int = 0


def walk(value: object) -> WalkResult:
    """Return every LoRA in value: nested stacks, single strings, dicts, objects, lists, tuples and stack entries."""
    result = WalkResult()
    seen: set[tuple[str, str]] = set()
    _visit(value, result, seen, active=set(), depth=0)
    return result


def _visit(value: object, result: WalkResult, seen: set[tuple[str, str]], active: set[int], depth: int) -> None:
    if value is None:
        return
    if depth > MAX_DEPTH:
        result.skipped += 1
        return
    if isinstance(value, str | os.PathLike):
        _add(_from_string(value), value, result, seen)
        return
    if isinstance(value, bool | int | float | bytes):
        result.skipped += 1
        return
    if id(value) in active:
        result.cycles += 1
        return
    active.add(id(value))
    try:
        if isinstance(value, tuple | list) and _is_stack_entry(value):
            _add(LoraRef(raw=value, name=value[0].strip(), path=None, strength=_number(value[1])), value, result, seen)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                _visit(item, result, seen, active, depth + 1)
        else:
            _visit_record(value, result, seen, active, depth)
    finally:
        active.discard(id(value))


def _visit_record(value: object, result: WalkResult, seen: set[tuple[str, str]], active: set[int], depth: int) -> None:
    """Take one dict or object: it may be a LoRA, a container of LoRAs, or both."""
    get: Getter = value.get if isinstance(value, Mapping) else (lambda key: getattr(value, key, None))
    children = [child for key in STACK_KEYS if (child := get(key)) is not None]
    ref = _from_fields(value, get)
    if ref is not None:
        _add(ref, value, result, seen)
    elif not children:
        result.skipped += 1
    for child in children:
        _visit(child, result, seen, active, depth + 1)


def _from_fields(raw: object, get: Getter) -> LoraRef | None:
    path = _first_text(get, PATH_KEYS)
    name = _first_text(get, NAME_KEYS)
    if path is None and name is None:
        return None
    strength = next((number for key in STRENGTH_KEYS if (number := _number(get(key))) is not None), None)
    if path is None and name is not None and _looks_like_path(name):
        path, name = name, None
    return LoraRef(raw=raw, name=name or _stem(path), path=path, strength=strength)


def _from_string(value: str | os.PathLike[str]) -> LoraRef | None:
    text = os.fspath(value).strip()
    if not text:
        return None
    if _looks_like_path(text):
        return LoraRef(raw=value, name=_stem(text), path=text, strength=None)
    return LoraRef(raw=value, name=text, path=None, strength=None)


def _add(ref: LoraRef | None, raw: object, result: WalkResult, seen: set[tuple[str, str]]) -> None:
    if ref is None or not (ref.name or ref.path):
        result.skipped += 1
        return
    if ref.key in seen:
        return
    seen.add(ref.key)
    result.loras.append(ref)


def _is_stack_entry(value: Sequence[object]) -> bool:
    """Tell a LORA_STACK entry `(name, strength_model[, strength_clip])`, tuple or JSON list, from a list of LoRAs."""
    return (
        2 <= len(value) <= 3
        and isinstance(value[0], str)
        and value[0].strip() != ''
        and all(_number(item) is not None for item in value[1:])
    )


def _first_text(get: Getter, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        item = get(key)
        if isinstance(item, str | os.PathLike) and os.fspath(item).strip():
            return os.fspath(item).strip()
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _looks_like_path(text: str) -> bool:
    return os.path.isabs(text) or text.startswith(('./', '../', '~'))


def _stem(path: str | None) -> str | None:
    if not path:
        return None
    base = path.replace('\\', '/').rsplit('/', 1)[-1]
    return base.rsplit('.', 1)[0] if '.' in base else base
