"""Quasar components as bare NiceGUI elements, for parts a page builds dozens of times (one per grid tile).

A `ui.button` or `ui.checkbox` carries bindable text, value, icon, colour and enabled state, each costing at build
time; a tile's delete button or selection box needs none of them. These render the same Quasar components from props.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import events, ui


class IconButton(ui.element):
    """A flat round dense icon button (QBtn) with a native title, also its accessible name."""

    def __init__(self, icon: str, *, title: str, color: str, on_click: Callable[[], Awaitable[None] | None]) -> None:
        super().__init__('q-btn')
        self._props.update(
            {'icon': icon, 'flat': True, 'round': True, 'dense': True, 'color': color, 'title': title}
            | {'aria-label': title}
        )
        self.on('click', on_click)


class TickBox(ui.element):
    """A dense checkbox (QCheckbox) whose value the page keeps: `on_change(value)` runs when it changes."""

    def __init__(self, value: bool, *, on_change: Callable[[bool], None]) -> None:
        super().__init__('q-checkbox')
        self.value = value
        self.on_change = on_change
        self._props.update({'model-value': value, 'dense': True, 'color': 'primary'})
        self.on('update:model-value', self._changed, [None])

    def set_value(self, value: bool) -> None:
        """Tick or untick the box (as a click would)."""
        if value == self.value:
            return
        self.value = value
        self._props['model-value'] = value
        self.on_change(value)

    def _changed(self, event: events.GenericEventArguments) -> None:
        self.set_value(bool(event.args))
