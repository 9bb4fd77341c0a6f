"""Plain <img> elements: no spinner or fade on source changes, unlike ui.image (QImg)."""

from __future__ import annotations

from typing import TypeVar

from nicegui import ui
from nicegui.elements.mixins.source_element import SourceElement

DRAG_TYPE = 'application/x-vcc-image'
ImgT = TypeVar('ImgT', bound=ui.element)


class Img(SourceElement):
    """A plain HTML image whose `source` can be bound."""

    def __init__(self, source: str = '', *, alt: str = '') -> None:
        super().__init__(tag='img', source=source)
        self._props['alt'] = alt
        self._props['loading'] = 'lazy'


class Thumb(ui.element):
    """A plain HTML image whose source never changes: a thumbnail of a grid, a strip or a card.

    About half the cost of an `Img`: no bindable source, no check whether the source is a local file to serve.
    """

    def __init__(self, source: str, *, alt: str = '') -> None:
        super().__init__('img')
        self._props.update(src=source, alt=alt, loading='lazy')


def draggable(img: ImgT, image_id: str) -> ImgT:
    """Let the image be dragged onto an input slot; the drop carries the image id."""
    img.props('draggable=true')
    img.on(
        'dragstart',
        js_handler=f'(e) => {{ e.dataTransfer.setData("{DRAG_TYPE}", "{image_id}"); '
        f'e.dataTransfer.setData("text/plain", "{image_id}"); '
        'e.dataTransfer.effectAllowed = "copy"; }',
    )
    return img
