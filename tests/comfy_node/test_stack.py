"""The LoRA stack walker: nested, cyclic, malformed and single-value inputs."""

from __future__ import annotations

from pathlib import Path

from comfy_node.stack import walk


class Lora:
    """A LoRA as an object with attributes, like some custom nodes emit."""

    def __init__(self, path: str, strength: float, stack: list | None = None) -> None:
        self.path = path
        self.strength = strength
        self.stack = stack or []


def names(value: object) -> list[tuple[str | None, str | None, float | None]]:
    return [(ref.name, ref.path, ref.strength) for ref in walk(value).loras]


def test_nested_wanvideo_stack_in_order() -> None:
    stack = {
        'path': '/m/loras/base.safetensors',
        'strength': 0.85,
        'stack': [
            {'path': '/m/loras/a.safetensors', 'name': 'a', 'strength': 0.5},
            {'loras': [{'chain': [{'items': [{'children': [{'path': '/m/loras/deep.safetensors', 'weight': 1}]}]}]}]},
        ],
    }
    assert names(stack) == [
        ('base', '/m/loras/base.safetensors', 0.85),
        ('a', '/m/loras/a.safetensors', 0.5),
        ('deep', '/m/loras/deep.safetensors', 1.0),
    ]


def test_single_values() -> None:
    assert names('sub/char_b.safetensors') == [('sub/char_b.safetensors', None, None)]
    assert names('/abs/x.safetensors') == [('x', '/abs/x.safetensors', None)]
    assert names(Path('/abs/y.safetensors')) == [('y', '/abs/y.safetensors', None)]
    assert names({'lora_name': 'z.safetensors', 'strength_model': 0.7}) == [('z.safetensors', None, 0.7)]
    assert names(Lora('/abs/o.safetensors', 0.3)) == [('o', '/abs/o.safetensors', 0.3)]


def test_lora_stack_tuples_and_objects_mixed() -> None:
    value = [('a.safetensors', 0.8, 0.6), Lora('/abs/b.safetensors', 1.0, stack=[('c.safetensors', 0.2)]), ['d.pt']]
    assert names(value) == [
        ('a.safetensors', None, 0.8),
        ('b', '/abs/b.safetensors', 1.0),
        ('c.safetensors', None, 0.2),
        ('d.pt', None, None),
    ]


def test_dedupes_by_path_and_name() -> None:
    entry = {'path': '/abs/a.safetensors', 'name': 'a', 'strength': 1.0}
    value = [
        entry,
        dict(entry, strength=0.5),
        {'path': '/abs/a.safetensors', 'name': 'other'},
        'a.safetensors',
        'a.safetensors',
    ]
    assert names(value) == [
        ('a', '/abs/a.safetensors', 1.0),
        ('other', '/abs/a.safetensors', None),
        ('a.safetensors', None, None),
    ]


def test_cycles_terminate_and_count() -> None:
    outer: dict = {'path': '/abs/outer.safetensors', 'stack': []}
    inner: dict = {'path': '/abs/inner.safetensors', 'children': [outer]}
    outer['stack'].append(inner)
    looped: list = ['/abs/l.safetensors']
    looped.append(looped)
    result = walk([outer, looped])
    assert [ref.name for ref in result.loras] == ['outer', 'inner', 'l']
    assert result.cycles == 2
    assert result.skipped == 0


def test_malformed_entries_are_skipped_and_counted() -> None:
    value = [42, {'strength': 1.0}, '', '   ', object(), {'stack': [True, {'path': '/abs/ok.safetensors'}]}, None]
    result = walk(value)
    assert [ref.name for ref in result.loras] == ['ok']
    assert result.skipped == 6


def test_too_deep_nesting_is_cut() -> None:
    value: object = '/abs/bottom.safetensors'
    for _ in range(100):
        value = {'stack': [value]}
    result = walk(value)
    assert result.loras == []
    assert result.skipped == 1
