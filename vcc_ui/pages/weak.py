"""A parent's method handed to a child widget, held without keeping the parent alive.

A page object keeps its child widgets (`self.grid = ImageGrid(fetch=self.fetch)`) and a child kept its parent's
bound method: a cycle, so when NiceGUI removed the page (a navigation, a closed tab) nothing of it went until a full
collection, and a page's first build is frozen (housekeeping.py), so it waited for the next reclaim. A child keeps
`weak(method)` instead. The parent stays alive as long as its page shows through what holds it anyway: its elements'
handlers and its subscriptions (`live.on`, `JobFeed.on_jobs_of`), which end with its elements. Once it is gone, a call
does nothing (a late task of a page that is gone).
"""

from __future__ import annotations

import inspect
import types
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar('F', bound=Callable[..., Any])


def weak(handler: F) -> F:
    """`handler` held weakly when it is a bound method (its object's lifetime is left alone), else as it is."""
    if not isinstance(handler, types.MethodType):
        return handler
    ref = weakref.WeakMethod(handler)
    signature, is_coroutine = _described(handler)
    if is_coroutine:

        async def call_async(*args: Any, **kwargs: Any) -> Any:
            method = ref()
            return None if method is None else await method(*args, **kwargs)

        called: Callable[..., Any] = call_async
    else:

        def call(*args: Any, **kwargs: Any) -> Any:
            method = ref()
            return None if method is None else method(*args, **kwargs)

        called = call
    called.__signature__ = signature  # type: ignore[attr-defined]  # NiceGUI asks what it takes
    return called  # type: ignore[return-value]


def _described(method: types.MethodType) -> tuple[inspect.Signature, bool]:
    """A bound method's signature and whether it is a coroutine function, kept per function.

    Both depend on the function only, and a page makes a handle per grid tile and job card: asking
    `inspect.signature` for each is work a page build repeats (the page bench's `/`: 30.4 -> 29.7 ms of CPU).
    """
    function = method.__func__
    if not isinstance(function, types.FunctionType):
        return inspect.signature(method), inspect.iscoroutinefunction(method)
    described = _DESCRIBED.get(function)
    if described is None:
        described = _DESCRIBED[function] = inspect.signature(method), inspect.iscoroutinefunction(method)
    return described


_DESCRIBED: weakref.WeakKeyDictionary[types.FunctionType, tuple[inspect.Signature, bool]] = weakref.WeakKeyDictionary()
