"""The admin's purge of the trash: choose the age, see how many images and bytes go, confirm."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.services import Services
from vcc_ui.services.image_meta import human_bytes

DEBOUNCE_MS = 300


async def ask_purge(services: Services, *, on_purged: Callable[[], Awaitable[None]]) -> None:
    """Open the dialog with the count for the retention period; a purge calls on_purged."""
    retention = services.settings.trash_retention_days
    with ui.dialog() as dialog, ui.card().classes('w-full max-w-md gap-3').mark('purge-dialog'):
        ui.label(t('img_purge_title')).classes('text-lg font-medium')
        days = (
            ui.number(t('img_purge_days'), value=retention, min=0, max=3650, step=1, precision=0)
            .props(f'outlined dense debounce={DEBOUNCE_MS}')  # the count follows typing, once it pauses
            .classes('w-48')
            .mark('purge-days')
        )
        summary = ui.label().classes('text-gray-800').mark('purge-summary')
        counted: dict[str, float] = {}

        async def count() -> None:
            older = float(days.value or 0)
            images, size = await services.images.trash_summary(older_than_days=older)
            if float(days.value or 0) != older:
                return  # the field changed while counting: the newer count answers
            counted.update(days=older, images=images)
            summary.set_text(t('img_purge_summary', n=images, size=human_bytes(size), days=f'{older:g}'))
            confirm.set_enabled(images > 0)

        async def purge() -> None:
            images, size = await services.images.purge(older_than_days=counted.get('days', retention))
            dialog.close()
            ui.notify(t('img_purged', n=images, size=human_bytes(size)), type='positive')
            await on_purged()

        days.on_value_change(count)
        with ui.row().classes('w-full justify-end gap-2'):
            ui.button(t('admin_cancel'), on_click=dialog.close).props('flat no-caps')
            confirm = (
                ui.button(t('img_purge_confirm'), on_click=purge)
                .props('unelevated no-caps color=negative')
                .mark('purge-confirm')
            )
    await count()
    dialog.open()
