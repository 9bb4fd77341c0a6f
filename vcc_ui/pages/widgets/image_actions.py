"""Uses of a gallery image elsewhere: copy its prompt, use it as an input image, or generate it again."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageProblem, ImageView, QuotaExceeded


class ImageActions:
    """A row of buttons acting on the image shown; those that do not apply to it are hidden."""

    def __init__(self, services: Services, user: str, *, lang: str, image: Callable[[], ImageView | None]) -> None:
        self.services = services
        self.user = user
        self.t = partial(translate, lang=lang)
        self.current = image
        with ui.row().classes('w-full gap-1') as self.row:
            self._button('content_copy', 'lb_copy_prompt', self.copy_prompt, 'lightbox-copy-prompt')
            self.use_input = self._button('input', 'lb_use_input', self.use_as_input, 'lightbox-use-input')
            self.again = self._button('replay', 'lb_again', self.generate_again, 'lightbox-again')

    def _button(self, icon: str, key: str, handler: Callable, marker: str) -> ui.button:
        return ui.button(self.t(key), icon=icon, on_click=handler).props('outline dense no-caps').mark(marker)

    def show(self, image: ImageView) -> None:
        """Offer the actions that apply to this image."""
        self.use_input.set_visibility(image.kind != 'input')
        self.again.set_visibility(image.kind == 'generated' and bool(image.workflow_id))

    def copy_prompt(self) -> None:
        """Put the image's prompt on the clipboard."""
        if (image := self.current()) and image.prompt:
            ui.clipboard.write(image.prompt)
            ui.notify(self.t('lb_copied'))

    async def use_as_input(self) -> None:
        """Copy the image into the inputs library and open Generate with it as the input image."""
        if (image := self.current()) is None:
            return
        try:
            row = await self.services.images.copy_to_inputs(self.user, image.id)
        except QuotaExceeded as error:
            ui.notify(self.t('gal_quota', reason=error.message), type='negative', multi_line=True)
            return
        except ImageProblem as error:
            ui.notify(self.t('gal_failed', reason=error.message), type='warning')
            return
        ui.notify(self.t('lb_used_input'), type='positive')
        ui.navigate.to(f'/?input={row.id}')  # NOTE: generate.prefill reads it

    def generate_again(self) -> None:
        """Open Generate with this image's settings."""
        if image := self.current():
            ui.navigate.to(f'/?from={image.id}')  # NOTE: generate.prefill reads it
