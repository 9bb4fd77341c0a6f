"""One tile of the admin's all-images grid: the thumbnail links the file; owner, date, size, kind; delete or restore."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.widgets.img import Img
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.services.admin import admin_url
from vcc_ui.services.image_meta import AdminImageView, human_bytes


def admin_image_tile(row: AdminImageView, *, owner: str, on_change: Callable[[str, bool], Awaitable[None]]) -> None:
    """Add the tile of one image (`owner`: how to name its owner); its button calls on_change(image id, restore)."""
    trashed = row.status == 'trash'
    faded = ' opacity-70' if trashed else ''
    with ui.card().tight().classes('w-full min-w-0 gap-0' + faded).mark(f'image-{row.id}'):
        with ui.link(target=admin_url(row.url), new_tab=True).classes('block w-full'):
            Img(admin_url(row.thumb_url or row.url), alt=row.prompt or row.id).classes(
                'w-full aspect-square object-cover bg-slate-100'
            )
        with ui.column().classes('w-full gap-0 p-2 text-xs'):
            named = ui.label(owner).classes('truncate w-full text-gray-600').mark('image-owner')
            named.props['title'] = row.owner  # a native title, not a tooltip element: 48 tiles build a page
            ui.label(f'{local_time(row.created_at)} · {human_bytes(row.bytes)}').classes('text-gray-500')
            with ui.row().classes('w-full items-center gap-1 no-wrap'):
                ui.badge(t(f'img_kind_{row.kind}'), color='grey-7').props('outline')
                if trashed:
                    ui.badge(t('img_trash'), color='grey-7')
                ui.space()
                if trashed:
                    button = ui.button(icon='restore_from_trash', on_click=lambda: on_change(row.id, True)).props(
                        'flat round dense color=primary'
                    )
                    button.mark(f'image-restore-{row.id}').props.update(title=t('img_restore'))
                else:
                    button = ui.button(icon='delete', on_click=lambda: on_change(row.id, False)).props(
                        'flat round dense color=negative'
                    )
                    button.mark(f'image-delete-{row.id}').props.update(title=t('img_delete'))
                button.props['aria-label'] = button.props['title']
