"""One tile of an image grid as ONE element: thumbnail, box, favourite star and trash dates drawn in the browser.

A grid builds 48 tiles with its page; as NiceGUI elements (a box, an image, a checkbox, an icon, a label each) they
were most of the gallery's build time. The tile's markers name what it shows, as its parts did: `image-tile`,
`image-thumb` (a click opens it), `image-select` (`set_value` selects it), `image-favorite`, `trash-dates`.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import events, ui

from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.time_text import DAY, local_time
from vcc_ui.services.image_meta import ImageView


class GridTile(ui.element, component='grid_tile.js'):
    """A click on the thumbnail calls `on_open`, the box `on_select(selected)`; extras go inside (`with tile:`)."""

    def __init__(
        self,
        item: ImageView,
        *,
        alt: str,
        trash_text: Callable[[str, str], str],
        selectable: bool,
        selected: bool,
        on_open: Callable[[], object],
        on_select: Callable[[bool], None],
    ) -> None:
        super().__init__()
        self.trash_text = trash_text
        self.on_select = weak(on_select)
        self.value = selected
        self._props.update({'data-image-id': item.id, 'selectable': selectable, 'selected': selected})
        self.show(item, alt=alt)
        self.on('click', on_open)
        self.on('select', self._ticked, [None])

    def show(self, item: ImageView, *, alt: str) -> None:
        """Show the image as it is now (its favourite star and trash dates follow)."""
        trash = ''
        if item.status == 'trash':
            trash = self.trash_text(
                local_time(item.trashed_at, DAY, label=False), local_time(item.purge_at, DAY, label=False)
            )
        self._props.update({'src': item.thumb_url or item.url, 'alt': alt, 'favorite': item.favorite, 'trash': trash})
        markers = ['image-tile', 'image-thumb']
        if self._props['selectable']:
            markers.append('image-select')
        if item.favorite:
            markers.append('image-favorite')
        if trash:
            markers.append('trash-dates')
        self.mark(*markers)

    def set_value(self, selected: bool) -> None:
        """Select the image or not (as ticking its box does)."""
        if selected == self.value:
            return
        self.value = selected
        self._props['selected'] = selected
        self.on_select(selected)

    def _ticked(self, event: events.GenericEventArguments) -> None:
        self.set_value(bool(event.args))
