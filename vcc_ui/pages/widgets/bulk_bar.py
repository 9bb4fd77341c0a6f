"""The gallery's bulk bar, shown while images are selected: count, select all or none, delete or restore, ZIP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate


class BulkBar:
    """Buttons that act on the selection; delete in the active view, restore in the trash."""

    def __init__(
        self,
        *,
        lang: str,
        on_select_all: Callable[[bool], None],
        on_delete: Callable[[], Awaitable[None]],
        on_restore: Callable[[], Awaitable[None]],
        on_zip: Callable[[], Awaitable[None]],
    ) -> None:
        self.t = partial(translate, lang=lang)
        with ui.row().classes('w-full items-center gap-2 bg-slate-100 rounded px-3 py-1').mark('bulk-bar') as self.bar:
            self.count = ui.label().classes('text-sm font-medium').mark('bulk-count')
            ui.button(self.t('gal_select_all'), on_click=lambda: on_select_all(True)).props('flat dense no-caps').mark(
                'bulk-select-all'
            )
            ui.button(self.t('gal_select_none'), on_click=lambda: on_select_all(False)).props(
                'flat dense no-caps'
            ).mark('bulk-select-none')
            ui.space()
            self.delete = (
                ui.button(self.t('gal_delete'), icon='delete', on_click=on_delete)
                .props('unelevated dense no-caps color=negative')
                .mark('bulk-delete')
            )
            self.restore = (
                ui.button(self.t('gal_restore'), icon='restore_from_trash', on_click=on_restore)
                .props('unelevated dense no-caps')
                .mark('bulk-restore')
            )
            ui.button(self.t('gal_zip'), icon='folder_zip', on_click=on_zip).props('outline dense no-caps').mark(
                'bulk-zip'
            )

    def update(self, *, count: int, trash: bool) -> None:
        """Show how many are selected (hidden for none); delete in the active view, restore in the trash."""
        self.bar.set_visibility(count > 0)
        self.count.set_text(self.t('gal_selected', count=count))
        self.delete.set_visibility(not trash)
        self.restore.set_visibility(trash)
