"""The input image slot: drop a thumbnail or a file, upload, preview and clear."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from nicegui import events, ui

from vcc_ui.i18n import translate
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.img import DRAG_TYPE, Img
from vcc_ui.services.image_meta import ImageView

ACCEPT = '.png,.jpg,.jpeg,.webp,image/png,image/jpeg,image/webp'
_HOVER = 'ring-2 ring-primary'
_DROP_JS = f'''(e) => {{
  e.currentTarget.classList.remove({', '.join(repr(c) for c in _HOVER.split())});
  const id = e.dataTransfer.getData("{DRAG_TYPE}");
  if (id) emit(id);
}}'''


class ImageSlot:
    """Holds at most one image; thumbnails dropped here arrive as ids, files through the uploader."""

    def __init__(
        self,
        *,
        lang: str,
        max_bytes: int,
        on_image_id: Callable[[str], Awaitable[None]],
        on_file: Callable[[bytes, str], Awaitable[None]],
    ) -> None:
        self.lang = lang
        self.t = partial(translate, lang=lang)
        self.max_bytes = max_bytes
        self.image: ImageView | None = None
        self.on_image_id = weak(on_image_id)
        self.on_file = weak(on_file)
        with (
            ui.element('div')
            .classes('w-full rounded-lg border-2 border-dashed border-gray-300 p-3 transition-all')
            .mark('input-slot') as self.zone
        ):
            self.zone.props('data-role=input-slot')
            self.zone.on(
                'dragover.prevent',
                js_handler=f'(e) => e.currentTarget.classList.add({", ".join(repr(c) for c in _HOVER.split())})',
            )
            self.zone.on(
                'dragleave',
                js_handler=f'(e) => e.currentTarget.classList.remove({", ".join(repr(c) for c in _HOVER.split())})',
            )
            self.zone.on('drop.prevent', self._dropped, js_handler=_DROP_JS)
            with ui.row().classes('w-full items-center no-wrap gap-3') as self.filled:
                self.preview = (
                    Img(alt=self.t('slot_preview'))
                    .classes('w-24 h-24 object-cover rounded')
                    .mark('input-preview')
                    .props('data-role=input-preview')
                )
                with ui.column().classes('gap-0 min-w-0 grow'):
                    self.caption = ui.label().classes('text-sm truncate w-full')
                    self.size = ui.label().classes('text-xs text-gray-500')
                ui.button(self.t('slot_clear'), icon='backspace', on_click=self.clear).props('flat dense no-caps').mark(
                    'input-clear'
                )
            with ui.column().classes('w-full items-center gap-1') as self.empty:
                ui.icon('add_photo_alternate', size='md').classes('text-gray-400')
                ui.label(self.t('slot_hint')).classes('text-sm text-gray-500 text-center')
                self.upload_box = ui.element('div').classes('w-full max-w-sm')
                self.upload: ui.upload | None = None
            self.error = ui.label().classes('text-sm text-negative').mark('input-error')
            self.error.set_visibility(False)
        self._render()

    def offer_upload(self) -> None:
        """Build the uploader (once), when the slot is first shown: each uploader registers an HTTP route of its own."""
        if self.upload is not None:
            return
        with self.upload_box:
            self.upload = (
                ui.upload(
                    auto_upload=True, max_file_size=self.max_bytes, on_upload=self._uploaded, on_rejected=self._rejected
                )
                .props(f'accept="{ACCEPT}" flat bordered hide-upload-btn')
                .classes('vcc-uploader w-full')
                .mark('input-upload')
            )
        self.upload.props['label'] = self.t('slot_upload')

    def set(self, image: ImageView) -> None:
        """Show an image as the selected input."""
        self.image = image
        self.show_error('')
        self._render()

    def clear(self) -> None:
        """Remove the selected input."""
        self.image = None
        if self.upload is not None:
            self.upload.reset()
        self._render()

    def show_error(self, message: str) -> None:
        """Show (or hide with '') an inline error under the slot."""
        self.error.set_text(message)
        self.error.set_visibility(bool(message))

    def _render(self) -> None:
        has = self.image is not None
        self.filled.set_visibility(has)
        self.empty.set_visibility(not has)
        if self.image:
            self.preview.set_source(self.image.thumb_url or self.image.url)
            self.caption.set_text(self.image.original_filename or self.t(f'kind_{self.image.kind}'))
            self.size.set_text(f'{self.image.width} x {self.image.height}')

    async def _dropped(self, e: events.GenericEventArguments) -> None:
        image_id = e.args if isinstance(e.args, str) else None
        if image_id:
            await self.on_image_id(image_id)

    async def _uploaded(self, e: events.UploadEventArguments) -> None:
        await self.on_file(await e.file.read(), e.file.name)
        if self.upload is not None:
            self.upload.reset()

    def _rejected(self) -> None:
        message = self.t('slot_rejected', mb=f'{self.max_bytes / 2**20:g}')
        self.show_error(message)
        ui.notify(message, type='warning')
