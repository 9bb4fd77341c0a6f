"""A horizontal strip of the user's recent images: drag one onto the input slot or tap it to use it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.pages.widgets.img import Thumb, draggable
from vcc_ui.services.image_meta import ImageView


class ThumbStrip:
    """Shows images newest first; each thumbnail is draggable and clickable."""

    def __init__(self, *, lang: str, on_pick: Callable[[str], Awaitable[None]], limit: int = 24) -> None:
        self.lang = lang
        self.t = partial(translate, lang=lang)
        self.on_pick = on_pick
        self.limit = limit
        self.ids: list[str] = []
        with ui.column().classes('w-full gap-1') as self.root:
            ui.label(self.t('strip_title')).classes('text-xs text-gray-500')
            self.row = ui.row().classes('w-full no-wrap gap-2 overflow-x-auto pb-1').mark('thumb-strip')
            self.empty = ui.label(self.t('strip_empty')).classes('text-xs text-gray-400')

    def add(self, image: ImageView, *, front: bool = True) -> None:
        """Add one image (at the front by default) unless it is already shown."""
        if image.id in self.ids:
            return
        with self.row:
            thumb = (
                Thumb(image.thumb_url or image.url, alt=self.t(f'kind_{image.kind}'))
                .classes('w-16 h-16 shrink-0 object-cover rounded cursor-grab border border-gray-200')
                .mark('strip-thumb')
            )
        thumb.props.update({'title': self.t('strip_tip'), 'data-role': 'strip-thumb', 'data-image-id': image.id})
        draggable(thumb, image.id)
        thumb.on('click', lambda: self.on_pick(image.id))
        if front:
            thumb.move(target_index=0)
            self.ids.insert(0, image.id)
        else:
            self.ids.append(image.id)
        while len(self.ids) > self.limit:
            gone = self.ids.pop()
            for child in list(self.row):
                if child.props.get('data-image-id') == gone:
                    child.delete()
        self.empty.set_visibility(not self.ids)
