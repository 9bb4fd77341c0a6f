"""Two costs NiceGUI pays on every page build, made smaller (`install`, from the root page's setup).

Signatures: every NiceGUI element makes three observable collections (its classes, style and props), and each asks
`nicegui.helpers.expects_arguments` about its bound `_update` method: one `inspect.signature` per collection, about a
sixth of a page build's CPU with a full history (py-spy, issue 16 item 4). Whether a bound method expects arguments
depends on its function only, so the answer is kept per function (weakly: a function that goes takes its answer
along); every other kind of callable is asked as before.

The page's HTML escape: `Client.build_response` escapes the JSON of every element with `str.translate` and a dict
table, a dict lookup per character: 5-6 ms for a 44 KB gallery page. The same table as a list indexed by code point
(characters past its end are kept, as the dict keeps them) gives the same text in under a third of the time.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable

from nicegui import client, helpers


def install() -> None:
    """Put both in place (once per process; a second call changes nothing)."""
    cache_handler_signatures()
    index_html_escapes()


def index_html_escapes() -> None:
    """Make NiceGUI's page HTML escape table a list by code point (the same escapes)."""
    table = client.HTML_ESCAPE_TABLE
    if isinstance(table, dict):
        by_code = [table.get(code, chr(code)) for code in range(max(table) + 1)]
        client.HTML_ESCAPE_TABLE = by_code  # type: ignore[assignment]  # str.translate takes any table by code point


def cache_handler_signatures() -> None:
    """Make `helpers.expects_arguments` answer a bound method from its function's kept answer (once per process)."""
    asked: Callable[[Callable], bool] = helpers.expects_arguments
    if isinstance(asked, _Cached):
        return
    helpers.expects_arguments = _Cached(asked)


class _Cached:
    """`expects_arguments` with one answer kept per function of a bound method."""

    def __init__(self, asked: Callable[[Callable], bool]) -> None:
        self.asked = asked
        self.answers: weakref.WeakKeyDictionary[types.FunctionType, bool] = weakref.WeakKeyDictionary()

    def __call__(self, func: Callable) -> bool:
        """Whether calling `func` needs arguments (the kept answer for a bound method's function)."""
        if not (isinstance(func, types.MethodType) and isinstance(func.__func__, types.FunctionType)):
            return self.asked(func)
        answer = self.answers.get(func.__func__)
        if answer is None:
            answer = self.answers[func.__func__] = self.asked(func)
        return answer
