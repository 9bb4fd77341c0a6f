"""The Generate page's input image: the drop slot and the strip of the user's recent images to pick from."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.first_loads import load
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.image_slot import ImageSlot
from vcc_ui.pages.widgets.thumb_strip import ThumbStrip
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageView
from vcc_ui.services.images import ImageProblem
from vcc_ui.services.storage import ImageRejected

STRIP_SIZE = 24
REJECT_KEYS = {
    'too_large': 'gen_upload_too_large',
    'type_not_allowed': 'gen_upload_type',
    'not_an_image': 'gen_upload_not_image',
    'bomb': 'gen_upload_not_image',
}


class InputImage:
    """A thumbnail dropped or tapped, or a file uploaded, becomes the input; every refusal is said in the slot."""

    def __init__(
        self, services: Services, user: str, *, lang: str, on_recent: Callable[[list[ImageView]], None] | None = None
    ) -> None:
        self.services = services
        self.user = user
        self.on_recent = None if on_recent is None else weak(on_recent)  # told the recent images once they are read
        self.recent_asked = False
        with ui.column().classes('w-full gap-2').mark('input-section') as self.section:
            ui.label(t('gen_input_image')).classes('text-sm font-medium')
            self.slot = ImageSlot(
                lang=lang,
                max_bytes=services.settings.controls_max_bytes,
                on_image_id=self.use,
                on_file=self.upload,
            )
            self.strip = ThumbStrip(lang=lang, on_pick=self.use, limit=STRIP_SIZE)

    def show(self, visible: bool) -> None:
        """Show or hide the section; its uploader and recent images are built (and read) the first time it shows."""
        self.section.set_visibility(visible)
        if visible:
            self.slot.offer_upload()
            self.strip.reveal()
            if not self.recent_asked:
                self.recent_asked = True
                load(self._load_recent(), name='input-recent', context=self.strip.root)

    @property
    def image_id(self) -> str | None:
        """The id of the input image chosen now."""
        return self.slot.image.id if self.slot.image else None

    async def use(self, image_id: str) -> None:
        """Put one of the user's images into the slot (an image that is no input is copied to the inputs first)."""
        try:
            row = await self.services.images.as_input(self.user, image_id)
        except (ImageRejected, ImageProblem) as error:
            self.slot.show_error(t('gen_upload_failed', reason=str(error)))
            return
        if row is None:
            self.slot.show_error(t('gen_image_missing'))
            return
        if row.id != image_id:
            self.strip.add(row)
        self.slot.set(row)

    async def upload(self, data: bytes, filename: str) -> None:
        """Store an uploaded file in the inputs library and select it; a bad file gets a clear reason."""
        try:
            row = await self.services.images.upload_input(self.user, data, filename)
        except (ImageRejected, ImageProblem) as error:
            key = REJECT_KEYS.get(getattr(error, 'code', ''))
            message = (
                t(key, mb=f'{self.services.settings.controls_max_bytes / 2**20:.0f}')
                if key
                else t('gen_upload_failed', reason=str(error))
            )
            self.slot.show_error(message)
            ui.notify(message, type='warning')
            return
        self.strip.add(row)
        self.slot.set(row)

    def add_recent(self, images: list[ImageView]) -> None:
        """Put new images at the front of the strip, the first of the list foremost."""
        for image in reversed(images[: self.strip.limit]):  # the ones after would be pushed out at once
            self.strip.add(image)

    async def _load_recent(self) -> None:
        """Fill the strip with the user's newest images (after those already put at its front)."""
        result = await self.services.images.page(self.user, size=STRIP_SIZE)
        if self.strip.root.is_deleted:
            return
        for image in result.items:
            self.strip.add(image, front=False)
        if self.on_recent is not None:
            self.on_recent(result.items)
