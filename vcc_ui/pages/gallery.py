"""The gallery: the user's generated images newest first, with filters, a lightbox, bulk actions and the trash."""

from __future__ import annotations

import asyncio
import contextlib
import os
from functools import partial

from nicegui import context, ui

from vcc_ui.i18n import language, translate
from vcc_ui.pages.frame import current_user
from vcc_ui.pages.live import JobFeed
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.bulk_bar import BulkBar
from vcc_ui.pages.widgets.gallery_filters import GalleryFilters
from vcc_ui.pages.widgets.gallery_lightbox import GalleryLightbox
from vcc_ui.pages.widgets.image_grid import ImageGrid
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageFilter, ImageProblem, human_bytes
from vcc_ui.services.images import ImagePage
from vcc_ui.services.jobs import JobView


async def page(services: Services, feed: JobFeed) -> None:
    """Build the gallery for the browser's anonymous user, with its first page of images."""
    await GalleryPage(services, current_user(), feed).reload()


class GalleryPage:
    """Filters on top, the bulk bar when something is selected, the grid, and one lightbox."""

    def __init__(self, services: Services, user: str, feed: JobFeed) -> None:
        self.services = services
        self.user = user
        self.lang = language()
        self.t = partial(translate, lang=self.lang)
        with ui.column().classes('w-full gap-3 p-2 sm:p-4') as root:
            with ui.row().classes('w-full items-center gap-2'):
                ui.label(self.t('gallery_title')).classes('text-2xl font-medium')
                ui.space()
                self.usage = ui.label().classes('text-sm text-gray-500').mark('gallery-usage')
                self.view = (
                    ui.toggle(
                        {'active': self.t('gal_view_active'), 'trash': self.t('gal_view_trash')},
                        value='active',
                        on_change=self.reload,
                    )
                    .props('dense no-caps unelevated toggle-color=primary')
                    .mark('gallery-view')
                )
            self.filters = GalleryFilters(services.registry, lang=self.lang, on_change=self.reload)
            self.trash_note = (
                ui.label(self.t('gal_trash_note', days=services.settings.trash_retention_days))
                .classes('text-sm text-gray-500')
                .mark('trash-note')
            )
            self.trash_note.set_visibility(False)
            self.bulk = BulkBar(
                lang=self.lang,
                on_select_all=self._select_all,
                on_delete=lambda: self.delete(sorted(self.grid.selected)),
                on_restore=lambda: self.restore(sorted(self.grid.selected)),
                on_zip=self.download_zip,
            )
            self.grid = ImageGrid(
                lang=self.lang,
                fetch=self.fetch,
                empty_key='gallery_empty',
                on_open=self._open,
            )
        self.grid.on_selection.append(weak(self._selection_changed))
        self.lightbox = GalleryLightbox(
            services,
            user,
            self.grid,
            lang=self.lang,
            base_url=str(context.client.request.base_url),
            on_delete=self.delete,
            on_restore=self.restore,
        )
        self._selection_changed()
        feed.on_jobs_of(user, self._on_job, owner=root)

    def _select_all(self, selected: bool) -> None:
        self.grid.select_all(selected)

    def _selection_changed(self) -> None:
        self.bulk.update(count=len(self.grid.selected), trash=self.view.value == 'trash')

    async def _open(self, index: int) -> None:
        await self.lightbox.open(index)

    # ---- data --------------------------------------------------------------------------------------------------

    def filter(self) -> ImageFilter:
        """The filter the view and the controls describe now."""
        return self.filters.filter(self.view.value or 'active')

    async def fetch(self, page: int, size: int) -> ImagePage:
        """One page of images under the current filters."""
        return await self.services.images.page(self.user, page=page, size=size, filters=self.filter())

    async def reload(self) -> None:
        """Show the first page again under the current view and filters."""
        trash = self.view.value == 'trash'
        self.trash_note.set_visibility(trash)
        empty = 'gal_trash_empty' if trash else 'gal_no_match' if self.filter().narrowed else 'gallery_empty'
        await self.grid.reload(empty)
        self._selection_changed()
        await self.show_usage()

    async def show_usage(self) -> None:
        """Show what the user's images use against their limits."""
        usage = await self.services.images.usage(self.user)
        if usage.max_images:
            parts = [self.t('usage_images_of', n=usage.images, max=usage.max_images)]
        else:
            parts = [self.t('usage_images', n=usage.images)]
        if usage.max_bytes:
            parts.append(self.t('usage_bytes_of', used=human_bytes(usage.bytes), max=human_bytes(usage.max_bytes)))
        else:
            parts.append(human_bytes(usage.bytes))
        self.usage.set_text(self.t('usage_label', text=' · '.join(parts)))

    async def _on_job(self, view: JobView) -> None:
        """Put a finished job's images in front while the unfiltered gallery is shown."""
        if view.status != 'completed' or not view.image_ids:
            return
        if self.view.value != 'active' or self.filter().narrowed:
            return
        rows = await self.services.images.results(self.user, view.image_ids)
        self.grid.prepend(rows)

    # ---- actions -----------------------------------------------------------------------------------------------

    async def delete(self, image_ids: list[str]) -> None:
        """Move images to the trash; they leave the grid at once."""
        await self._bulk(self.services.images.bulk_delete, image_ids, 'gal_deleted')

    async def restore(self, image_ids: list[str]) -> None:
        """Bring images back from the trash; they leave the trash view at once."""
        await self._bulk(self.services.images.bulk_restore, image_ids, 'gal_restored')

    async def _bulk(self, run, image_ids: list[str], done_key: str) -> None:
        if not image_ids:
            return
        try:
            changed = await run(self.user, image_ids)
        except ImageProblem as error:
            ui.notify(self.t('gal_failed', reason=error.message), type='warning')
            return
        self.grid.remove([row.id for row in changed])
        ui.notify(self.t(done_key, count=len(changed)), type='positive')
        await self.show_usage()

    async def download_zip(self) -> None:
        """Send the selected images as one ZIP file."""
        try:
            path = await self.services.images.zip_images(self.user, sorted(self.grid.selected))
        except ImageProblem as error:
            ui.notify(self.t('gal_failed', reason=error.message), type='warning')
            return
        try:
            data = await asyncio.to_thread(path.read_bytes)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        ui.download.content(data, 'images.zip', 'application/zip')
