"""Admin: the ComfyUI servers with live load; add (after a connection test), edit, disable (drain) and remove."""

from __future__ import annotations

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.admin_login import admin_header
from vcc_ui.pages.live import on
from vcc_ui.pages.widgets.server_card import ServerCard
from vcc_ui.pages.widgets.server_form import ServerForm
from vcc_ui.services import Services
from vcc_ui.services.servers import ServerHealth


def page(services: Services) -> None:
    """Build the servers page."""
    ServersPage(services)


class ServersPage:
    """The add form on top, then one card per server; the list is rebuilt only when servers come or go."""

    def __init__(self, services: Services) -> None:
        self.services, self.pool = services, services.pool
        self.shown: list[int] = []
        admin_header('/admin/servers')
        with ui.column().classes('w-full gap-3 p-2 sm:p-4') as self.root:
            ui.label(t('srv_title')).classes('text-2xl font-medium')
            ServerForm(self.pool, on_added=self._render)
            self.list = ui.column().classes('w-full gap-3').mark('server-list')
        self._render()
        on(self.pool.changed, self._on_change, owner=self.root)

    async def _remove_skipped(self, row_id: int) -> None:
        await self.pool.remove_skipped(row_id)
        self._render()

    def _on_change(self, _: ServerHealth) -> None:
        if list(self.pool.entries) != self.shown:
            self._render()

    def _removed(self, name: str) -> None:
        """Say a server was removed from the page's own context (the card that asked is deleted by then)."""
        with self.root:
            ui.notify(t('srv_removed', name=name))
        if list(self.pool.entries) != self.shown:
            self._render()

    def _render(self) -> None:
        self.shown = list(self.pool.entries)
        self.list.clear()
        with self.list:
            for row_id, row in self.pool.skipped.items():
                with ui.card().classes('w-full p-3 gap-2 bg-red-50').mark(f'server-skipped-{row_id}'):
                    ui.label(t('srv_skipped', name=row.name, url=repr(row.base_url))).classes(
                        'text-sm text-negative break-all'
                    )
                    ui.button(t('srv_remove'), icon='delete', on_click=lambda i=row_id: self._remove_skipped(i)).props(
                        'flat dense no-caps color=negative'
                    )
            if not self.shown and not self.pool.skipped:
                ui.label(t('srv_none')).classes('text-gray-600').mark('server-none')
            for entry in self.pool.entries.values():
                ServerCard(self.services, entry, on_removed=self._removed)
