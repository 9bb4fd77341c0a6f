"""Admin: everyone's images with user, trash and date filters; delete or restore any; purge the trash."""

from __future__ import annotations

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.admin_login import admin_header
from vcc_ui.pages.widgets.admin_image_tile import admin_image_tile
from vcc_ui.pages.widgets.gallery_filters import parse_day
from vcc_ui.pages.widgets.purge_dialog import ask_purge
from vcc_ui.services import Services
from vcc_ui.services.image_meta import AdminImageView, ImageProblem
from vcc_ui.services.images import ImagePage

PAGE_SIZE = 48


async def page(services: Services) -> None:
    """Build the all-images page with its first page."""
    view = ImagesPage(services)
    await view.load_users()
    await view.reload()


class ImagesPage:
    """Filters on top, a pager, a grid of tiles; the purge button asks first and names what goes."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.data = services.admin_data
        self.names = services.users
        self.result: ImagePage[AdminImageView] | None = None
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
            from_date=parse_day(self.from_date.value),
            to_date=parse_day(self.to_date.value),
        )
        self.pager.max = self.result.pages
        self.pager.set_visibility(self.result.pages > 1)
        self.pager.update()
        key = 'img_total_capped' if self.result.total_capped else 'img_total'
        self.total.set_text(t(key, n=f'{self.result.total:,}'))
        self.grid.clear()
        with self.grid:
            if not self.result.items:
                ui.label(t('img_none')).classes('text-gray-600 col-span-full').mark('images-none')
            for row in self.result.items:
                admin_image_tile(row, owner=self.names.label(row.owner), on_change=self._change)

    async def _change(self, image_id: str, restore: bool) -> None:
        try:
            if restore:
                await self.data.restore_image(image_id)
            else:
                await self.data.delete_image(image_id)
        except ImageProblem as error:
            ui.notify(error.message, type='negative')
        await self.reload()

    async def _ask_purge(self) -> None:
        await ask_purge(self.services, on_purged=self._purged)

    async def _purged(self) -> None:
        await self.load_users()
        await self.reload()
