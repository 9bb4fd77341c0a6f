"""weak(): a parent's method handed to a child widget, held without keeping the parent alive."""

from __future__ import annotations

import gc
import inspect
import weakref

from nicegui import helpers

from vcc_ui.pages.weak import weak


class Parent:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def pick(self, image_id: str) -> str:
        self.seen.append(image_id)
        return f'picked {image_id}'

    async def upload(self, data: bytes, name: str) -> str:
        return f'{name}: {len(data)} bytes'

    def refresh(self) -> None:
        self.seen.append('refreshed')


async def test_a_parents_method_is_called_while_the_parent_lives_and_does_not_keep_it() -> None:
    parent = Parent()
    pick, upload = weak(parent.pick), weak(parent.upload)
    assert pick('a1') == 'picked a1'
    assert await upload(b'abc', 'x.png') == 'x.png: 3 bytes'
    assert parent.seen == ['a1']
    gone = weakref.ref(parent)
    gc.disable()  # reference counting alone frees it: the handles are no cycle
    try:
        del parent
        assert gone() is None
    finally:
        gc.enable()
    assert pick('a2') is None  # a late call of a page that is gone does nothing
    assert await upload(b'abc', 'x.png') is None


def test_nicegui_sees_what_the_method_takes() -> None:
    # NiceGUI passes event arguments only to a handler that takes some
    parent = Parent()
    assert inspect.signature(weak(parent.pick)) == inspect.signature(parent.pick)
    assert helpers.expects_arguments(weak(parent.pick))
    assert not helpers.expects_arguments(weak(parent.refresh))


def test_a_function_or_a_lambda_is_kept_as_it_is() -> None:
    def title(workflow_id: str) -> str:
        return workflow_id.upper()

    assert weak(title) is title
    assert weak(str) is str


async def test_handles_of_two_parents_of_a_class_call_their_own_parent() -> None:
    # what a handle takes is worked out once per method of a class; the parent is each handle's own
    first, second = Parent(), Parent()
    assert weak(first.pick)('a') == 'picked a'
    assert weak(second.pick)('b') == 'picked b'
    assert await weak(second.upload)(b'ab', 'y.png') == 'y.png: 2 bytes'
    assert (first.seen, second.seen) == (['a'], ['b'])
