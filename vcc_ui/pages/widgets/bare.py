"""A Quasar button as a bare NiceGUI element, for a part a page builds dozens of times (one per grid tile).

A `ui.button` carries bindable text, icon, colour and enabled state, each costing at build time; a tile's delete or
restore button needs none of them. This renders the same Quasar component from props.
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
