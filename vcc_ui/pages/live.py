"""Service events followed by page elements: a subscription lasts exactly as long as the element that owns it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import Event, ui


class _Subscription(ui.element):
    """An invisible child of the owner; NiceGUI deletes it with the owner, and that ends the subscription."""

    def __init__(self, event: Event, handler: Callable[..., Any]) -> None:
        super().__init__()
        self.event = event
        self.handler = handler
        self.set_visibility(False)

    def _handle_delete(self) -> None:
        self.event.unsubscribe(self.handler)
        super()._handle_delete()


def on(event: Event, handler: Callable[..., Any], *, owner: ui.element) -> None:
    """Call handler on every event until owner is deleted (by a page change, its parent's clear(), or the tab closing).

    The owner must be an element whose content is never cleared: clearing it ends the subscription too.
    """
    event.subscribe(handler, unsubscribe_on_delete=False)  # the _Subscription ends it, also when the client goes
    with owner:
        _Subscription(event, handler)
