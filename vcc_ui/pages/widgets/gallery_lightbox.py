"""The gallery's lightbox: browse with buttons, arrow keys or swipes; metadata, favourite, tags, share and actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from nicegui import context, events, ui

from vcc_ui.i18n import translate
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.compare_view import CompareView, input_of
from vcc_ui.pages.widgets.image_actions import ImageActions
from vcc_ui.pages.widgets.image_grid import ImageGrid
from vcc_ui.pages.widgets.image_meta import ImageMeta
from vcc_ui.pages.widgets.img import Img
from vcc_ui.pages.widgets.share_panel import SharePanel
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageProblem, ImageView, download_name

SWIPE_PX = 50
SWIPE_JS = f"""(e) => {{
  const dx = e.clientX - Number(e.currentTarget.dataset.sx ?? e.clientX);
  if (Math.abs(dx) > {SWIPE_PX}) emit(dx);
}}"""


class GalleryLightbox:
    """One dialog per gallery page, browsing the grid's images (it loads the next page at the end).

    The dialog is built on the first open, where the page placed the lightbox: most visits never open it, and its
    thirty elements were a tenth of the gallery's build.
    """

    dialog: ui.dialog

    def __init__(
        self,
        services: Services,
        user: str,
        grid: ImageGrid,
        *,
        lang: str,
        base_url: str,
        on_delete: Callable[[list[str]], Awaitable[None]],
        on_restore: Callable[[list[str]], Awaitable[None]],
    ) -> None:
        self.services = services
        self.user = user
        self.grid = grid
        self.t = partial(translate, lang=lang)
        self.on_delete = weak(on_delete)
        self.on_restore = weak(on_restore)
        self.index = 0
        self.comparing = False
        self.lang, self.base_url = lang, base_url
        self.slot = context.slot
        self.built = False

    def _build(self) -> None:
        services, user, lang, base_url = self.services, self.user, self.lang, self.base_url
        self.built = True
        with (
            self.slot,
            ui.dialog() as self.dialog,
            ui.card().classes('p-2 sm:p-4 w-full max-w-6xl gap-2').mark('gallery-lightbox'),
        ):
            with ui.row().classes('w-full items-center no-wrap gap-1'):
                self.counter = ui.label().classes('text-sm text-gray-500').mark('lightbox-counter')
                ui.space()
                self.compare_button = (
                    ui.button(icon='compare', on_click=self.toggle_compare)
                    .props('flat round dense')
                    .tooltip(self.t('cmp_open'))
                    .mark('lightbox-compare')
                )
                self.favorite = (
                    ui.button(icon='star_border', on_click=self.toggle_favorite)
                    .props('flat round dense color=amber-8')
                    .tooltip(self.t('lb_favorite'))
                    .mark('lightbox-favorite')
                )
                self.download = (
                    ui.button(icon='download')
                    .props('flat round dense')
                    .tooltip(self.t('lightbox_download'))
                    .mark('lightbox-download')
                )
                ui.button(icon='close', on_click=self.dialog.close).props('flat round dense').tooltip(
                    self.t('lightbox_close')
                ).mark('lightbox-close')
            with ui.element('div').classes('w-full grid grid-cols-1 md:grid-cols-3 gap-3 items-start'):
                with ui.column().classes('md:col-span-2 w-full gap-0'):
                    self.compare = CompareView(lang=lang)
                with ui.row().classes('md:col-span-2 w-full no-wrap items-center gap-0 justify-center') as self.stage:
                    self.prev = (
                        ui.button(icon='chevron_left', on_click=lambda: self.step(-1))
                        .props('flat round')
                        .tooltip(self.t('lb_prev'))
                        .mark('lightbox-prev')
                    )
                    self.img = (
                        Img()
                        .classes('max-h-[60vh] md:max-h-[75vh] max-w-full min-w-0 object-contain rounded select-none')
                        .style('touch-action: pan-y')
                        .mark('lightbox-image')
                    )
                    self.img.props('draggable=false')
                    self.img.on('pointerdown', js_handler='(e) => { e.currentTarget.dataset.sx = e.clientX; }')
                    self.img.on('pointerup', self._swipe, js_handler=SWIPE_JS)
                    self.next = (
                        ui.button(icon='chevron_right', on_click=lambda: self.step(1))
                        .props('flat round')
                        .tooltip(self.t('lb_next'))
                        .mark('lightbox-next')
                    )
                with ui.column().classes('w-full gap-2 min-w-0'):
                    self.actions = ImageActions(services, user, lang=lang, image=lambda: self.image)
                    self.delete = (
                        ui.button(self.t('gal_delete'), icon='delete', on_click=self.remove)
                        .props('outline dense no-caps color=negative')
                        .mark('lightbox-delete')
                    )
                    self.restore = (
                        ui.button(self.t('gal_restore'), icon='restore_from_trash', on_click=self.bring_back)
                        .props('unelevated dense no-caps')
                        .mark('lightbox-restore')
                    )
                    self.tags = (
                        ui.input_chips(self.t('lb_tags'), new_value_mode='add-unique', on_change=self._tags_changed)
                        .props('dense outlined')
                        .classes('w-full')
                        .mark('lightbox-tags')
                    )
                    self.meta = ImageMeta(
                        lang=lang,
                        workflow_title=lambda w: services.registry.title(w, lang),
                        workflow=services.registry.get,
                    )
                    with (
                        ui.expansion(self.t('lb_share'), icon='share')
                        .classes('w-full border rounded')
                        .props('dense') as self.share_section
                    ):
                        self.share = SharePanel(services.shares, user, lang=lang, base_url=base_url)
        with self.slot:
            ui.keyboard(on_key=self._on_key, ignore=['input', 'select', 'textarea'])

    @property
    def image(self) -> ImageView | None:
        """The image shown now."""
        return self.grid.items[self.index] if 0 <= self.index < len(self.grid.items) else None

    async def open(self, index: int) -> None:
        """Show the grid's image at `index`."""
        if not self.grid.items:
            return
        self.index = max(0, min(index, len(self.grid.items) - 1))
        if not self.built:
            self._build()
        self.dialog.open()
        await self._show()

    async def step(self, delta: int) -> None:
        """Show the previous (-1) or next (+1) image; past the last one shown, the grid loads its next page."""
        if not self.dialog.value or not self.grid.items:
            return
        target = self.index + delta
        if target >= len(self.grid.items) and self.grid.has_more:
            await self.grid.load_more()
        target = max(0, min(target, len(self.grid.items) - 1))
        if target != self.index:
            self.index = target
            await self._show()

    async def _show(self) -> None:
        image = self.image
        if image is None:
            self.dialog.close()
            return
        trashed = image.status == 'trash'
        self.img.props['alt'] = image.prompt or self.t(f'kind_{image.kind}')
        self.img.set_source(image.url)
        self.download.props(f'href="/api/v1/images/{image.id}/download" download="{download_name(image)}"')
        self.counter.set_text(f'{self.index + 1} / {self.grid.total}')
        self.prev.set_enabled(self.index > 0)
        self.next.set_enabled(self.index < len(self.grid.items) - 1 or self.grid.has_more)
        self.favorite.props(f'icon={"star" if image.favorite else "star_border"}')
        for element in (self.favorite, self.actions.row, self.delete, self.tags, self.share_section):
            element.set_visibility(not trashed)
        self.restore.set_visibility(trashed)
        self.actions.show(image)
        self.tags.set_value(list(image.tags))
        self.meta.show(image)
        await self._show_compare(image)
        if not trashed:
            await self.share.show(image.id)

    async def toggle_compare(self) -> None:
        """Switch between the result alone and the before/after view."""
        self.comparing = not self.comparing
        if image := self.image:
            await self._show_compare(image)

    async def _show_compare(self, image: ImageView) -> None:
        source_id = input_of(image)
        source = await self.services.images.get(self.user, source_id) if source_id else None
        self.compare_button.set_visibility(source is not None)
        self.compare_button.props(f'color={"primary" if self.comparing else "grey-8"}')
        if source is not None and self.comparing:
            self.compare.show(source, image)
            self.stage.set_visibility(False)
        else:
            self.compare.hide()
            self.stage.set_visibility(True)

    async def _swipe(self, e: events.GenericEventArguments) -> None:
        dx = e.args[0] if isinstance(e.args, list) and e.args else e.args
        if isinstance(dx, (int, float)) and abs(dx) > SWIPE_PX:
            await self.step(-1 if dx > 0 else 1)

    async def _on_key(self, e: events.KeyEventArguments) -> None:
        if not self.dialog.value or not e.action.keydown:
            return
        if e.key.arrow_left:
            await self.step(-1)
        elif e.key.arrow_right:
            await self.step(1)
        elif e.key.escape:
            self.dialog.close()

    # ---- actions -----------------------------------------------------------------------------------------------

    async def _apply(self, change: Awaitable[ImageView]) -> None:
        try:
            changed = await change
        except ImageProblem as error:
            ui.notify(self.t('gal_failed', reason=error.message), type='warning')
            return
        self.grid.replace(changed)
        await self._show()

    async def toggle_favorite(self) -> None:
        """Mark or unmark the image as a favourite."""
        if image := self.image:
            await self._apply(self.services.images.set_favorite(self.user, image.id, not image.favorite))

    async def _tags_changed(self, e: events.ValueChangeEventArguments) -> None:
        image = self.image
        if image is None or list(e.value or []) == list(image.tags):
            return
        await self._apply(self.services.images.set_tags(self.user, image.id, list(e.value or [])))

    async def remove(self) -> None:
        """Move the image to the trash; the next one takes its place."""
        if image := self.image:
            await self.on_delete([image.id])
            await self._after_removal()

    async def bring_back(self) -> None:
        """Restore the image from the trash."""
        if image := self.image:
            await self.on_restore([image.id])
            await self._after_removal()

    async def _after_removal(self) -> None:
        if not self.grid.items:
            self.dialog.close()
            return
        self.index = min(self.index, len(self.grid.items) - 1)
        await self._show()
