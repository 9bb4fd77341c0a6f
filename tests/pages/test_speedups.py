"""NiceGUI's page-build costs made smaller: the same answers and the same HTML as NiceGUI's own."""

from __future__ import annotations

import functools

from nicegui import client, helpers
from nicegui.helpers.functions import expects_arguments as asked
from nicegui.testing import User

from vcc_ui.pages import speedups


class Handlers:
    """Bound methods with and without arguments, with defaults and variadics."""

    def bare(self) -> None:
        """Take nothing."""

    def takes(self, event: object) -> None:
        """Take the event."""

    def optional(self, event: object = None) -> None:
        """Take the event if given."""

    def variadic(self, *args: object, **kwargs: object) -> None:
        """Take anything."""


def plain(event: object) -> None:
    """A function, not a method."""


async def test_the_kept_answers_are_the_answers_nicegui_gives(user: User) -> None:
    await user.open('/')  # the app is up: root.create installed the kept answers
    speedups.install()  # a second install keeps the first
    cached = helpers.expects_arguments
    assert cached is not asked
    first, second = Handlers(), Handlers()
    handlers = [
        *(getattr(h, name) for h in (first, second) for name in ('bare', 'takes', 'optional', 'variadic')),
        plain,
        lambda: None,
        lambda e: None,
        functools.partial(plain),
        Handlers,
    ]
    for _ in range(2):  # asked, then kept
        assert [cached(h) for h in handlers] == [asked(h) for h in handlers]
    assert [cached(first.takes), cached(first.bare)] == [True, False]


async def test_the_page_html_is_escaped_as_nicegui_escapes_it(user: User) -> None:
    await user.open('/')
    speedups.install()
    escapes = {ord('&'): '&amp;', ord('<'): '&lt;', ord('>'): '&gt;', ord('`'): '&#96;', ord('$'): '&#36;'}
    assert client.HTML_ESCAPE_TABLE != escapes  # the list by code point is in place
    text = '{"a": "<b>&amp; `x` $1 > \\u00b7 · 한국어 ~\x7f"}' + ''.join(map(chr, range(200)))
    assert text.translate(client.HTML_ESCAPE_TABLE) == text.translate(escapes)
