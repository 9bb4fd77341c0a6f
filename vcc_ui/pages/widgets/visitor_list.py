"""The dashboard's "Connected now" list: one row per open tab, changed row by row as tabs come, move and go."""

from __future__ import annotations

from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.services import Services
from vcc_ui.services.presence import Visitor


class VisitorList:
    """Keeps a row per connected tab; a new connection adds one row instead of rebuilding every row."""

    def __init__(self, services: Services, *, lang: str) -> None:
        self.services = services
        self.t = partial(translate, lang=lang)
        self.rows: dict[str, tuple[ui.row, ui.label]] = {}  # client id: its row and the label of its path
        with ui.row().classes('items-center gap-2'):
            ui.label(self.t('dash_connected')).classes('font-medium')
            self.count = ui.badge().props('color=slate-600').mark('connected-count')
        with ui.column().classes('w-full gap-0 text-sm').mark('connected') as self.root:
            self.nobody = ui.label(self.t('dash_nobody')).classes('text-gray-500')
        self.show(services.presence.list())

    def show(self, visitors: list[Visitor]) -> None:
        """Show these tabs in this order: rows of tabs gone are removed, new ones added, moved ones relabelled."""
        present = {visitor.client_id for visitor in visitors}
        for client_id in [c for c in self.rows if c not in present]:
            self.root.remove(self.rows.pop(client_id)[0])
        for visitor in visitors:
            if visitor.client_id in self.rows:
                self.rows[visitor.client_id][1].set_text(visitor.path)
            else:
                self.rows[visitor.client_id] = self._row(visitor)  # added last, where a new tab mostly belongs
        order = [self.rows[visitor.client_id][0] for visitor in visitors]
        if self.root.default_slot.children[1:] != order:  # the first child is the "nobody" label
            for index, row in enumerate(order):
                row.move(target_index=index + 1)
        self.count.set_text(str(len(visitors)))
        self.nobody.set_visibility(not visitors)

    def _row(self, visitor: Visitor) -> tuple[ui.row, ui.label]:
        with self.root, ui.row().classes('w-full items-center no-wrap gap-2 py-0.5').mark('visitor') as row:
            ui.label(self.services.users.label(visitor.user)).classes('text-xs truncate min-w-0').mark('visitor-user')
            if visitor.admin:
                ui.badge(self.t('dash_admin_badge')).props('color=slate-700')
            path = ui.label(visitor.path).classes('font-mono text-xs text-blue-800 shrink-0')
            ui.space()
            ui.label(self.t('dash_since', time=local_time(visitor.since, '%H:%M'))).classes(
                'text-xs text-gray-500 shrink-0 whitespace-nowrap'
            )
        return row, path
