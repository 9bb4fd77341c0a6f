"""One tile of the admin's all-images grid: the thumbnail links the file; owner, date, size, kind; delete or restore."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.widgets.bare import IconButton
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.services.admin import admin_url
from vcc_ui.services.image_meta import AdminImageView, human_bytes

# NOTE: Quasar's own q-badge classes (an outlined and a filled grey badge) on plain spans: the static parts of a tile
# are one HTML element each, as 48 tiles build a page (a NiceGUI element per line and badge cost a third of its build);
# the card is QCard's own classes on a div, the button a bare QBtn
OUTLINED = 'q-badge flex inline items-center no-wrap q-badge--single-line q-badge--outline text-grey-7'
FILLED = 'q-badge flex inline items-center no-wrap q-badge--single-line bg-grey-7 text-white'


def admin_image_tile(row: AdminImageView, *, owner: str, on_change: Callable[[str, bool], Awaitable[None]]) -> None:
    """Add the tile of one image (`owner`: how to name its owner); its button calls on_change(image id, restore)."""
    trashed = row.status == 'trash'
    faded = ' opacity-70' if trashed else ''
    with (
        ui.element('div')
        .classes('q-card nicegui-card nicegui-card-tight w-full min-w-0' + faded)
        .mark(f'image-{row.id}')
    ):
        ui.html(
            f'<a href="{escape(admin_url(row.url))}" target="_blank" class="block w-full">'
            f'<img src="{escape(admin_url(row.thumb_url or row.url))}" alt="{escape(row.prompt or row.id)}" '
            'loading="lazy" class="w-full aspect-square object-cover bg-slate-100"></a>',
            sanitize=False,
        ).classes('w-full')
        named = ui.label(owner).classes('truncate w-full text-gray-600 text-xs px-2 pt-2').mark('image-owner')
        named.props['title'] = row.owner  # a native title, not a tooltip element: 48 tiles build a page
        with ui.row().classes('w-full items-end gap-1 no-wrap text-xs px-2 pb-2'):
            badges = f'<span class="{OUTLINED}" role="status">{escape(t(f"img_kind_{row.kind}"))}</span>'
            if trashed:
                badges += f'<span class="{FILLED}" role="status">{escape(t("img_trash"))}</span>'
            ui.html(
                f'<div class="text-gray-500">{escape(local_time(row.created_at))} · {human_bytes(row.bytes)}</div>'
                f'<div class="flex items-center gap-1 pt-1">{badges}</div>',
                sanitize=False,
            ).classes('min-w-0 grow')
            if trashed:
                IconButton(
                    'restore_from_trash',
                    title=t('img_restore'),
                    color='primary',
                    on_click=lambda: on_change(row.id, True),
                ).mark(f'image-restore-{row.id}')
            else:
                IconButton(
                    'delete', title=t('img_delete'), on_click=lambda: on_change(row.id, False), color='negative'
                ).mark(f'image-delete-{row.id}')
