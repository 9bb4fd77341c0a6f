"""The gallery: the user's generated images newest first, with filters, a lightbox, bulk actions and the trash."""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import date
from functools import partial

from nicegui import context, ui

from vcc_ui.i18n import language, translate
from vcc_ui.pages.frame import current_user
from vcc_ui.pages.live import on
from vcc_ui.pages.widgets.gallery_lightbox import GalleryLightbox
from vcc_ui.pages.widgets.image_grid import ImageGrid
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageFilter, ImageProblem
from vcc_ui.services.images import ImagePage, image_dict
from vcc_ui.services.jobs import JobView

SEARCH_DEBOUNCE_MS = 400


async def page(services: Services) -> None:
    """Build the gallery for the browser's anonymous user, with its first page of images."""
    await GalleryPage(services, current_user()).reload()


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


class GalleryPage:
    """Filters on top, the bulk bar when something is selected, the grid, and one lightbox."""

    def __init__(self, services: Services, user: str) -> None:
        self.services = services
        self.user = user
        self.lang = language()
        self.t = partial(translate, lang=self.lang)
        with ui.column().classes('w-full gap-3 p-2 sm:p-4') as root:
            with ui.row().classes('w-full items-center gap-2'):
                ui.label(self.t('gallery_title')).classes('text-2xl font-medium')
                ui.space()
                self.view = (
                    ui.toggle(
                        {'active': self.t('gal_view_active'), 'trash': self.t('gal_view_trash')},
                        value='active',
                        on_change=self.reload,
                    )
                    .props('dense no-caps unelevated toggle-color=primary')
                    .mark('gallery-view')
                )
            self._build_filters()
            self.trash_note = (
                ui.label(self.t('gal_trash_note', days=services.settings.trash_retention_days))
                .classes('text-sm text-gray-500')
                .mark('trash-note')
            )
            self.trash_note.set_visibility(False)
            self._build_bulk_bar()
            self.grid = ImageGrid(
                lang=self.lang,
                fetch=self.fetch,
                empty_key='gallery_empty',
                retention_days=services.settings.trash_retention_days,
                on_open=self._open,
            )
        self.grid.on_selection.append(self._selection_changed)
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
        on(services.jobs.changed, self._on_job, owner=root)

    # ---- layout ----------------------------------------------------------------------------------------------

    def _build_filters(self) -> None:
        workflows = {w.id: w.title_for(self.lang) for w in self.services.registry.all()}
        ratios = sorted({ratio for w in self.services.registry.all() for ratio in w.aspect_ratios})
        with (
            ui.element('div')
            .classes('w-full grid grid-cols-2 sm:grid-cols-3 lg:grid-cols-8 gap-2 items-center')
            .mark('gallery-filters')
        ):
            self.search = (
                ui.input(self.t('gal_search'), on_change=self.reload)
                .props(f'dense outlined clearable debounce={SEARCH_DEBOUNCE_MS} type=search')
                .classes('col-span-2 sm:col-span-3 lg:col-span-2')
                .mark('filter-search')
            )
            # on a phone the other filters fold away behind a button in the search field
            more = (
                ui.element('div')
                .classes('gt-xs col-span-2 grid grid-cols-2 gap-2 items-center sm:contents')
                .mark('filters-more')
            )
            with self.search.add_slot('append'):
                ui.button(icon='tune', on_click=lambda: more.classes(toggle='gt-xs')).props(
                    f'flat round dense aria-label="{self.t("gal_filters")}"'
                ).classes('lt-sm').mark('filters-toggle')
        with more:
            self.from_date = (
                ui.input(self.t('gal_from'), on_change=self.reload)
                .props('dense outlined type=date stack-label')
                .mark('filter-from')
            )
            self.to_date = (
                ui.input(self.t('gal_to'), on_change=self.reload)
                .props('dense outlined type=date stack-label')
                .mark('filter-to')
            )
            self.aspect = (
                ui.select(ratios, label=self.t('gal_aspect'), clearable=True, on_change=self.reload)
                .props('dense outlined')
                .mark('filter-aspect')
            )
            self.workflow = (
                ui.select(workflows, label=self.t('gal_workflow'), clearable=True, on_change=self.reload)
                .props('dense outlined')
                .mark('filter-workflow')
            )
            self.tag = (
                ui.input(self.t('gal_tag'), on_change=self.reload)
                .props(f'dense outlined clearable debounce={SEARCH_DEBOUNCE_MS}')
                .mark('filter-tag')
            )
            with ui.row().classes('items-center no-wrap gap-0 whitespace-nowrap'):
                self.favorite = (
                    ui.switch(self.t('gal_favorites'), on_change=self.reload).props('dense').mark('filter-favorite')
                )
                ui.button(icon='filter_alt_off', on_click=self.clear_filters).props('flat round dense').tooltip(
                    self.t('gal_clear_filters')
                ).mark('filter-clear')

    def _build_bulk_bar(self) -> None:
        with ui.row().classes('w-full items-center gap-2 bg-slate-100 rounded px-3 py-1').mark('bulk-bar') as self.bulk:
            self.selected_label = ui.label().classes('text-sm font-medium').mark('bulk-count')
            ui.button(self.t('gal_select_all'), on_click=lambda: self.grid.select_all(True)).props(
                'flat dense no-caps'
            ).mark('bulk-select-all')
            ui.button(self.t('gal_select_none'), on_click=lambda: self.grid.select_all(False)).props(
                'flat dense no-caps'
            ).mark('bulk-select-none')
            ui.space()
            self.bulk_delete = (
                ui.button(self.t('gal_delete'), icon='delete', on_click=lambda: self.delete(sorted(self.grid.selected)))
                .props('unelevated dense no-caps color=negative')
                .mark('bulk-delete')
            )
            self.bulk_restore = (
                ui.button(
                    self.t('gal_restore'),
                    icon='restore_from_trash',
                    on_click=lambda: self.restore(sorted(self.grid.selected)),
                )
                .props('unelevated dense no-caps')
                .mark('bulk-restore')
            )
            ui.button(self.t('gal_zip'), icon='folder_zip', on_click=self.download_zip).props(
                'outline dense no-caps'
            ).mark('bulk-zip')

    def _selection_changed(self) -> None:
        count = len(self.grid.selected)
        self.bulk.set_visibility(count > 0)
        self.selected_label.set_text(self.t('gal_selected', count=count))
        trash = self.view.value == 'trash'
        self.bulk_delete.set_visibility(not trash)
        self.bulk_restore.set_visibility(trash)

    async def _open(self, index: int) -> None:
        await self.lightbox.open(index)

    # ---- data --------------------------------------------------------------------------------------------------

    def filters(self) -> ImageFilter:
        """The filter the controls describe now."""
        return ImageFilter(
            kind='generated',
            status=self.view.value or 'active',
            q=self.search.value or None,
            from_date=_day(self.from_date.value),
            to_date=_day(self.to_date.value),
            aspect_ratio=self.aspect.value or None,
            workflow_id=self.workflow.value or None,
            tag=(self.tag.value or '').strip() or None,
            favorite=True if self.favorite.value else None,
        )

    async def fetch(self, page: int, size: int) -> ImagePage:
        """One page of images under the current filters."""
        return await self.services.images.page(self.user, page=page, size=size, filters=self.filters())

    def _filtered(self) -> bool:
        return any(
            [
                self.search.value,
                self.from_date.value,
                self.to_date.value,
                self.aspect.value,
                self.workflow.value,
                self.tag.value,
                self.favorite.value,
            ]
        )

    async def reload(self) -> None:
        """Show the first page again under the current view and filters."""
        trash = self.view.value == 'trash'
        self.trash_note.set_visibility(trash)
        empty = 'gal_trash_empty' if trash else 'gal_no_match' if self._filtered() else 'gallery_empty'
        await self.grid.reload(empty)
        self._selection_changed()

    async def _on_job(self, view: JobView) -> None:
        """Put a finished job's images in front while the unfiltered gallery is shown."""
        if view.owner != self.user or view.status != 'completed' or not view.image_ids:
            return
        if self.view.value != 'active' or self._filtered():
            return
        rows = [await self.services.images.get(self.user, image_id) for image_id in view.image_ids]
        retention = self.services.settings.trash_retention_days
        self.grid.prepend(
            [
                image_dict(row, retention_days=retention)
                for row in reversed(rows)
                if row is not None and row.status == 'active' and row.kind == 'generated'
            ]
        )

    def clear_filters(self) -> None:
        """Reset every filter (the grid reloads through the change handlers)."""
        for element in (self.search, self.from_date, self.to_date, self.aspect, self.workflow, self.tag):
            element.set_value(None)
        self.favorite.set_value(False)

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
