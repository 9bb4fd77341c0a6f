"""A horizontal strip of the user's recent images: drag one onto the input slot or tap it to use it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.img import Thumb, draggable
from vcc_ui.services.image_meta import ImageView


class ThumbStrip:
    """Shows images newest first; each thumbnail is draggable and clickable.

    The list of images is kept from the start; the thumbnails are built when the strip is first shown (`reveal`),
    so a form that never needs an input image (txt2img) builds none of them.
    """

    def __init__(self, *, lang: str, on_pick: Callable[[str], Awaitable[None]], limit: int = 24) -> None:
        self.lang = lang
        self.t = partial(translate, lang=lang)
        self.on_pick = weak(on_pick)
        self.limit = limit
        self.images: list[ImageView] = []  # what the strip shows, newest first
        self.shown = False
        with ui.column().classes('w-full gap-1') as self.root:
            ui.label(self.t('strip_title')).classes('text-xs text-gray-500')
            self.row = ui.row().classes('w-full no-wrap gap-2 overflow-x-auto pb-1').mark('thumb-strip')
            self.empty = ui.label(self.t('strip_empty')).classes('text-xs text-gray-400')

    @property
    def ids(self) -> list[str]:
        """The ids of the images in the strip, in order."""
        return [image.id for image in self.images]

    def reveal(self) -> None:
        """Build the thumbnails (once): the strip is about to be seen."""
        if self.shown:
            return
        self.shown = True
        for image in self.images:
            self._thumb(image)

    def add(self, image: ImageView, *, front: bool = True) -> None:
        """Add one image (at the front by default) unless it is already shown."""
        if image.id in self.ids:
            return
        if front:
            self.images.insert(0, image)
        else:
            self.images.append(image)
        if self.shown:
            thumb = self._thumb(image)  # built last in the row
            if front:
                thumb.move(target_index=0)
        while len(self.images) > self.limit:
            gone = self.images.pop().id
            for child in list(self.row) if self.shown else []:
                if child.props.get('data-image-id') == gone:
                    child.delete()
        self.empty.set_visibility(not self.images)

    def _thumb(self, image: ImageView) -> Thumb:
        with self.row:
            thumb = (
                Thumb(image.thumb_url or image.url, alt=self.t(f'kind_{image.kind}'))
                .classes('w-16 h-16 shrink-0 object-cover rounded cursor-grab border border-gray-200')
                .mark('strip-thumb')
            )
        thumb.props.update({'title': self.t('strip_tip'), 'data-role': 'strip-thumb', 'data-image-id': image.id})
        draggable(thumb, image.id)
        thumb.on('click', lambda: self.on_pick(image.id))
        return thumb
