"""The inputs library: uploads and copies (and control images), upload by drop or picker, delete and restore."""

from __future__ import annotations

from functools import partial

from nicegui import events, ui

from vcc_ui.i18n import language, translate
from vcc_ui.pages.frame import current_user
from vcc_ui.pages.widgets.bare import IconButton
from vcc_ui.pages.widgets.image_grid import ImageGrid
from vcc_ui.pages.widgets.lightbox import Lightbox
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageFilter, ImageProblem, ImageView, QuotaExceeded, UploadRejected
from vcc_ui.services.images import ImagePage

ACCEPT = '.png,.jpg,.jpeg,.webp,image/png,image/jpeg,image/webp'
KINDS = {'all': ('input', 'control'), 'input': ('input',), 'control': ('control',)}
REJECT_KEYS = {
    'too_large': 'inp_too_large',
    'not_an_image': 'inp_not_image',
    'type_not_allowed': 'inp_type',
    'bomb': 'inp_bomb',
}


async def page(services: Services) -> None:
    """Build the inputs library for the browser's anonymous user, with its first page of images."""
    await InputsPage(services, current_user()).reload()


class InputsPage:
    """The uploader on top, the kind and trash switches, then the grid; each tile deletes or restores itself."""

    def __init__(self, services: Services, user: str) -> None:
        self.services = services
        self.user = user
        self.lang = language()
        self.t = partial(translate, lang=self.lang)
        self.max_bytes = services.settings.controls_max_bytes
        lang = self.lang  # the lightbox's title lookup holds the registry, not this page (weak.py)
        self.lightbox = Lightbox(
            lang=lang, workflow_title=lambda w: services.registry.title(w, lang), on_use=self.use_as_input
        )
        with ui.column().classes('w-full gap-3 p-2 sm:p-4'):
            with ui.row().classes('w-full items-center gap-2'):
                ui.label(self.t('inputs_title')).classes('text-2xl font-medium')
                ui.space()
                self.kind = (
                    ui.toggle(
                        {
                            'all': self.t('inp_kind_all'),
                            'input': self.t('kind_input'),
                            'control': self.t('kind_control'),
                        },
                        value='all',
                        on_change=self.reload,
                    )
                    .props('dense no-caps unelevated toggle-color=primary')
                    .mark('inputs-kind')
                )
                self.view = (
                    ui.toggle(
                        {'active': self.t('gal_view_active'), 'trash': self.t('gal_view_trash')},
                        value='active',
                        on_change=self.reload,
                    )
                    .props('dense no-caps unelevated toggle-color=primary')
                    .classes('ml-2')
                    .mark('inputs-view')
                )
            self.upload = (
                ui.upload(
                    label=self.t('inp_upload'),
                    multiple=True,
                    auto_upload=True,
                    max_file_size=self.max_bytes,
                    on_upload=self._uploaded,
                    on_rejected=self._rejected,
                )
                .props(f'accept="{ACCEPT}" flat bordered hide-upload-btn')
                .classes('vcc-uploader w-full')
                .mark('inputs-upload')
            )
            self.message = ui.label().classes('text-sm text-negative whitespace-pre-line').mark('inputs-message')
            self.message.set_visibility(False)
            self.grid = ImageGrid(
                lang=self.lang,
                fetch=self.fetch,
                empty_key='inputs_empty',
                on_open=self._open,
                extras=self._tile_button,
                selectable=False,
            )

    async def fetch(self, page: int, size: int) -> ImagePage[ImageView]:
        """One page of the library under the current kind and view."""
        filters = ImageFilter(kind=KINDS[self.kind.value or 'all'], status=self.view.value or 'active')
        return await self.services.images.page(self.user, page=page, size=size, filters=filters)

    async def reload(self) -> None:
        """Show the first page again."""
        await self.grid.reload('gal_trash_empty' if self.view.value == 'trash' else 'inputs_empty')

    def _open(self, index: int) -> None:
        self.lightbox.open(self.grid.items, index)

    def _tile_button(self, item: ImageView) -> None:
        # NOTE: a native title, not a tooltip element: 48 tiles build a page
        restore = item.status == 'trash'
        colors = {'color': 'primary'} if restore else {'color': 'white', 'text-color': 'negative'}
        IconButton(
            'restore_from_trash' if restore else 'delete',
            title=self.t('gal_restore' if restore else 'gal_delete'),
            on_click=lambda: self.change(item.id, restore=restore),
            flat=False,
            unelevated=True,
            size='sm',
            **colors,
        ).classes('absolute top-1 right-1').mark('input-restore' if restore else 'input-delete')

    async def change(self, image_id: str, *, restore: bool) -> None:
        """Delete an image to the trash or restore it; it leaves the current view at once."""
        images = self.services.images
        try:
            row = await (images.restore if restore else images.delete)(self.user, image_id)
        except ImageProblem as error:
            ui.notify(self.t('gal_failed', reason=error.message), type='warning')
            return
        ui.notify(self.t('gal_restored' if restore else 'gal_deleted', count=1), type='positive')
        self.grid.remove([row.id])  # last: the clicked button goes with its tile, and with it this slot

    async def use_as_input(self, image: ImageView) -> None:
        """Open Generate with this image as the input image (a control image is copied to the inputs first)."""
        try:
            row = await self.services.images.as_input(self.user, image.id)
        except QuotaExceeded as error:
            ui.notify(self.t('gal_quota', reason=error.message), type='negative', multi_line=True)
            return
        except ImageProblem as error:
            ui.notify(self.t('gal_failed', reason=error.message), type='warning')
            return
        if row is None:
            ui.notify(self.t('gen_image_missing'), type='warning')
            return
        ui.navigate.to(f'/?input={row.id}')  # NOTE: generate.prefill reads it

    # ---- upload ------------------------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.message.set_text(text)
        self.message.set_visibility(bool(text))
        if text:
            ui.notify(text, type='warning', multi_line=True)

    def _rejected(self) -> None:
        self._say(self.t('inp_too_large', name='', mb=self._mb()).lstrip(': '))

    def _mb(self) -> str:
        return f'{self.max_bytes / 2**20:g}'

    async def _uploaded(self, e: events.UploadEventArguments) -> None:
        name = e.file.name or 'upload'
        data = await e.file.read()
        try:
            await self.services.images.upload_input(self.user, data, name)
        except UploadRejected as error:
            self._say(self.t(REJECT_KEYS.get(error.code, 'inp_not_image'), name=name, mb=self._mb()))
            return
        except QuotaExceeded as error:
            self._say(self.t('gal_quota', reason=error.message))
            return
        except ImageProblem as error:
            self._say(self.t('gal_failed', reason=error.message))
            return
        finally:
            self.upload.reset()
        self._say('')
        ui.notify(self.t('inp_uploaded', name=name), type='positive')
        if self.view.value == 'active' and self.kind.value in ('all', 'input'):
            await self.reload()
