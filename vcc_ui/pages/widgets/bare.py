"""Quasar buttons as bare NiceGUI elements, for parts a page builds dozens of times (grid tiles, history cards).

A `ui.button` carries bindable text, icon, colour and enabled state, each costing at build time; a tile's delete
button or a finished job's retry needs none of them. These render the same Quasar component from props.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui


class IconButton(ui.element):
    """A round dense icon button (QBtn, flat unless `look` says otherwise) with a native title, its accessible name.

    `look`: more QBtn props, e.g. color='negative', or unelevated=True, flat=False, size='sm'.
    """

    def __init__(
        self, icon: str, *, title: str, on_click: Callable[[], Awaitable[None] | None], **look: object
    ) -> None:
        super().__init__('q-btn')
        self._props.update({'icon': icon, 'flat': True, 'round': True, 'dense': True} | look)
        self._props.update({'title': title, 'aria-label': title})
        self.on('click', on_click)


class TextButton(ui.element):
    """A flat dense primary button (QBtn) with an icon and a label; a click calls `on_click` or follows `href`."""

    def __init__(
        self,
        label: str,
        *,
        icon: str,
        on_click: Callable[[], Awaitable[None] | None] | None = None,
        href: str | None = None,
    ) -> None:
        super().__init__('q-btn')
        self._props.update({'label': label, 'icon': icon, 'flat': True, 'dense': True, 'no-caps': True})
        self._props['color'] = 'primary'
        if href is not None:
            self._props['href'] = href
        if on_click is not None:
            self.on('click', on_click)
