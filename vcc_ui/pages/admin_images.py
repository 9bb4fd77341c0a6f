"""Admin: everyone's images with user, trash and date filters; delete or restore any; purge the trash."""

from __future__ import annotations

import math
from datetime import date

from nicegui import ui

from vcc_ui.admin import admin_url
from vcc_ui.i18n import t
from vcc_ui.models import Image
from vcc_ui.pages.admin_login import admin_header
from vcc_ui.pages.widgets.img import Img
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageProblem, human_bytes
from vcc_ui.services.images import ImagePage

PAGE_SIZE = 48


async def page(services: Services) -> None:
    """Build the all-images page with its first page."""
    view = ImagesPage(services)
    await view.load_users()
    await view.reload()


def parse_date(value: str | None) -> date | None:
    """A yyyy-mm-dd input value as a date (None when empty or malformed)."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


class ImagesPage:
    """Filters on top, a pager, a grid of tiles; the purge button asks first and names what goes."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.data = services.admin_data
        self.retention = services.settings.trash_retention_days
        self.result: ImagePage | None = None
        admin_header('/admin/images')
        with ui.column().classes('w-full gap-3 p-2 sm:p-4'):
            with ui.row().classes('w-full items-center gap-2'):
                ui.label(t('img_title')).classes('text-2xl font-medium')
                self.total = ui.label().classes('text-gray-600').mark('images-total')
                ui.space()
                ui.button(t('img_purge'), icon='delete_forever', on_click=self._ask_purge).props(
                    'outline no-caps color=negative'
                ).mark('images-purge')
            with ui.row().classes('w-full items-end gap-2'):
                self.user = (
                    ui.select(
                        {'': t('img_all_users')},
                        value='',
                        label=t('img_user'),
                        with_input=True,
                        on_change=self._first_page,
                    )
                    .props('outlined dense')
                    .classes('w-full sm:w-72')
                    .mark('images-user')
                )
                self.include = (
                    ui.toggle(
                        {'active': t('img_active'), 'trash': t('img_trash'), 'all': t('img_all')},
                        value='active',
                        on_change=self._first_page,
                    )
                    .props('no-caps dense unelevated toggle-color=primary')
                    .mark('images-include')
                )
                self.from_date = (
                    ui.input(t('img_from'))
                    .props('outlined dense type=date stack-label')
                    .classes('w-40')
                    .on('change', self._first_page)
                    .mark('images-from')
                )
                self.to_date = (
                    ui.input(t('img_to'))
                    .props('outlined dense type=date stack-label')
                    .classes('w-40')
                    .on('change', self._first_page)
                    .mark('images-to')
                )
            self.pager = (
                ui.pagination(1, 1, direction_links=True, on_change=self.reload)
                .props('dense boundary-numbers max-pages=7')
                .mark('images-pager')
            )
            self.grid = ui.element('div').classes('w-full grid gap-2 admin-grid').mark('images-grid')
        ui.add_css(
            '.admin-grid { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); }'
            '@media (max-width: 599px) { .admin-grid { grid-template-columns: repeat(2, minmax(0, 1fr)); } }'
        )

    async def load_users(self) -> None:
        """Fill the user filter."""
        options = {'': t('img_all_users')}
        for user in await self.data.users():
            label = f'{user.display_name} ({user.id[:13]}…)' if user.display_name else user.id
            options[user.id] = f'{label} · {user.images + user.trash_images}'
        self.user.set_options(options, value=self.user.value if self.user.value in options else '')

    async def _first_page(self) -> None:
        if self.pager.value != 1:
            self.pager.set_value(1)  # its on_change reloads
        else:
            await self.reload()

    async def reload(self) -> None:
        """Read the current page with the current filters and show it."""
        self.result = await self.data.images_page(
            user_id=self.user.value or None,
            page=int(self.pager.value or 1),
            size=PAGE_SIZE,
            include=self.include.value,
            from_date=parse_date(self.from_date.value),
            to_date=parse_date(self.to_date.value),
        )
        pages = max(1, math.ceil(self.result.total / PAGE_SIZE))
        self.pager.max = pages
        self.pager.set_visibility(pages > 1)
        self.pager.update()
        self.total.set_text(t('img_total', n=self.result.total))
        self.grid.clear()
        with self.grid:
            if not self.result.items:
                ui.label(t('img_none')).classes('text-gray-600 col-span-full').mark('images-none')
            for row in self.result.items:
                self._tile(row)

    def _tile(self, row: Image) -> None:
        trashed = row.status == 'trash'
        faded = ' opacity-70' if trashed else ''
        with ui.card().tight().classes('w-full min-w-0 gap-0' + faded).mark(f'image-{row.id}'):
            with ui.link(target=admin_url(row.rel_path) or '', new_tab=True).classes('block w-full'):
                Img(admin_url(row.thumb_path or row.rel_path) or '', alt=row.prompt or row.id).classes(
                    'w-full aspect-square object-cover bg-slate-100'
                )
            with ui.column().classes('w-full gap-0 p-2 text-xs'):
                ui.label(row.owner).classes('truncate w-full text-gray-600').tooltip(row.owner)
                ui.label(f'{row.created_at:%Y-%m-%d %H:%M} · {human_bytes(row.bytes)}').classes('text-gray-500')
                with ui.row().classes('w-full items-center gap-1 no-wrap'):
                    ui.badge(t(f'img_kind_{row.kind}'), color='grey-7').props('outline')
                    if trashed:
                        ui.badge(t('img_trash'), color='grey-7')
                    ui.space()
                    if trashed:
                        ui.button(
                            icon='restore_from_trash', on_click=lambda r=row: self._change(r.id, restore=True)
                        ).props('flat round dense color=primary').tooltip(t('img_restore')).mark(
                            f'image-restore-{row.id}'
                        )
                    else:
                        ui.button(icon='delete', on_click=lambda r=row: self._change(r.id, restore=False)).props(
                            'flat round dense color=negative'
                        ).tooltip(t('img_delete')).mark(f'image-delete-{row.id}')

    async def _change(self, image_id: str, *, restore: bool) -> None:
        try:
            if restore:
                await self.data.restore_image(image_id)
            else:
                await self.data.delete_image(image_id)
        except ImageProblem as error:
            ui.notify(error.message, type='negative')
        await self.reload()

    async def _ask_purge(self) -> None:
        with ui.dialog() as dialog, ui.card().classes('w-full max-w-md gap-3').mark('purge-dialog'):
            ui.label(t('img_purge_title')).classes('text-lg font-medium')
            days = (
                ui.number(t('img_purge_days'), value=self.retention, min=0, max=3650, step=1, precision=0)
                .props('outlined dense')
                .classes('w-48')
                .mark('purge-days')
            )
            summary = ui.label().classes('text-gray-800').mark('purge-summary')
            counted: dict[str, float] = {}

            async def count() -> None:
                older = float(days.value or 0)
                images, size = await self.services.images.trash_summary(older_than_days=older)
                counted.update(days=older, images=images)
                summary.set_text(t('img_purge_summary', n=images, size=human_bytes(size), days=f'{older:g}'))
                confirm.set_enabled(images > 0)

            async def purge() -> None:
                images, size = await self.services.images.purge(older_than_days=counted.get('days', self.retention))
                dialog.close()
                ui.notify(t('img_purged', n=images, size=human_bytes(size)), type='positive')
                await self.load_users()
                await self.reload()

            days.on('change', count)
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('admin_cancel'), on_click=dialog.close).props('flat no-caps')
                confirm = (
                    ui.button(t('img_purge_confirm'), on_click=purge)
                    .props('unelevated no-caps color=negative')
                    .mark('purge-confirm')
                )
        await count()
        dialog.open()
