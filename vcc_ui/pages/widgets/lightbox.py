"""A full-size image viewer with its metadata; left/right keys browse, Escape closes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from nicegui import context, events, ui

from vcc_ui.i18n import translate
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.img import Img
from vcc_ui.pages.widgets.time_text import SECONDS, local_time
from vcc_ui.services.image_meta import ImageView, download_name


class Lightbox:
    """One dialog per page, opened with a list of images; built on the first open (most visits never open it)."""

    dialog: ui.dialog

    def __init__(
        self,
        *,
        lang: str,
        workflow_title: Callable[[str], str] = str,
        on_use: Callable[[ImageView], Awaitable[None]] | None = None,
    ) -> None:
        self.lang = lang
        self.workflow_title = weak(workflow_title)
        self.t = partial(translate, lang=lang)
        self.images: list[ImageView] = []
        self.index = 0
        self.on_use = None if on_use is None else weak(on_use)
        self.slot = context.slot  # where the page placed the lightbox: the dialog is built there
        self.built = False

    def _build(self) -> None:
        on_use = self.on_use
        self.built = True
        with (
            self.slot,
            ui.dialog().props('maximized=false') as self.dialog,
            ui.card().classes('p-2 sm:p-4 w-full max-w-5xl gap-2').mark('lightbox'),
        ):
            with ui.row().classes('w-full items-center no-wrap'):
                self.counter = ui.label().classes('text-sm text-gray-500')
                ui.space()
                if on_use is not None:
                    ui.button(self.t('lb_use_input'), icon='input', on_click=lambda: on_use(self.image)).props(
                        'outline dense no-caps'
                    ).mark('lightbox-use-input')
                self.download = (
                    ui.button(icon='download').props('flat round dense').tooltip(self.t('lightbox_download'))
                )
                ui.button(icon='close', on_click=self.dialog.close).props('flat round dense').tooltip(
                    self.t('lightbox_close')
                ).mark('lightbox-close')
            with ui.row().classes('w-full no-wrap items-center gap-1'):
                self.prev = (
                    ui.button(icon='chevron_left', on_click=lambda: self.step(-1))
                    .props('flat round')
                    .mark('lightbox-prev')
                )
                self.img = (
                    Img().classes('max-h-[70vh] max-w-full mx-auto object-contain rounded').mark('lightbox-image')
                )
                self.next = (
                    ui.button(icon='chevron_right', on_click=lambda: self.step(1))
                    .props('flat round')
                    .mark('lightbox-next')
                )
            self.meta = ui.column().classes('w-full gap-1 text-sm').mark('lightbox-meta')
        with self.slot:
            ui.keyboard(on_key=self._on_key, ignore=['input', 'select', 'button', 'textarea'])

    def open(self, images: list[ImageView], index: int = 0) -> None:
        """Show images[index] and let the user browse the others."""
        if not images:
            return
        self.images, self.index = images, max(0, min(index, len(images) - 1))
        if not self.built:
            self._build()
        self._show()
        self.dialog.open()

    @property
    def image(self) -> ImageView:
        """The image shown now."""
        return self.images[self.index]

    def step(self, delta: int) -> None:
        """Show the previous (-1) or next (+1) image, wrapping around."""
        if self.images:
            self.index = (self.index + delta) % len(self.images)
            self._show()

    def _show(self) -> None:
        image = self.images[self.index]
        self.img.set_source(image.url)
        self.download.props(f'href="/api/v1/images/{image.id}/download" download="{download_name(image)}"')
        many = len(self.images) > 1
        self.prev.set_visibility(many)
        self.next.set_visibility(many)
        self.counter.set_text(f'{self.index + 1} / {len(self.images)}' if many else '')
        self.meta.clear()
        with self.meta:
            for key, value in _meta_rows(image, self.workflow_title):
                with ui.row().classes('w-full no-wrap gap-2'):
                    ui.label(self.t(key)).classes('text-gray-500 shrink-0 w-24')
                    ui.label(value).classes('break-words min-w-0').mark(f'meta-{key}')

    def _on_key(self, e: events.KeyEventArguments) -> None:
        if not self.dialog.value or not e.action.keydown:
            return
        if e.key.arrow_left:
            self.step(-1)
        elif e.key.arrow_right:
            self.step(1)
        elif e.key.escape:
            self.dialog.close()


def _meta_rows(image: ImageView, workflow_title: Callable[[str], str]) -> list[tuple[str, str]]:
    """Return (label key, value) pairs of the metadata worth showing."""
    rows: list[tuple[str, object]] = [
        ('meta_prompt', image.prompt),
        ('meta_negative', image.negative_prompt),
        ('meta_seed', image.seed),
        ('meta_size', f'{image.width} x {image.height}'),
        ('meta_workflow', workflow_title(image.workflow_id) if image.workflow_id else None),
        ('meta_created', local_time(image.created_at, SECONDS)),
    ]
    return [(key, str(value)) for key, value in rows if value not in (None, '')]
