"""A plain <img> element: no spinner or fade on source changes, unlike ui.image (QImg)."""

from __future__ import annotations

from nicegui.elements.mixins.source_element import SourceElement

DRAG_TYPE = 'application/x-vcc-image'


class Img(SourceElement):
    """A plain HTML image whose `source` can be bound."""

    def __init__(self, source: str = '', *, alt: str = '') -> None:
        super().__init__(tag='img', source=source)
        self._props['alt'] = alt
        self._props['loading'] = 'lazy'


def draggable(img: Img, image_id: str) -> Img:
    """Let the image be dragged onto an input slot; the drop carries the image id."""
    img.props('draggable=true')
    img.on(
        'dragstart',
        js_handler=f'(e) => {{ e.dataTransfer.setData("{DRAG_TYPE}", "{image_id}"); '
        f'e.dataTransfer.setData("text/plain", "{image_id}"); '
        'e.dataTransfer.effectAllowed = "copy"; }',
    )
    return img
