"""One tile of the admin's all-images grid: the thumbnail links the file; owner, date, size, kind; delete or restore."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.services.admin import admin_url
from vcc_ui.services.image_meta import AdminImageView, human_bytes


class AdminImageTile(ui.element, component='admin_image_tile.js'):
    """The tile drawn in the browser from props, its delete or restore button too: one element per tile of 48.

    The button's click reaches the element's click listener; the tile is marked `image-delete-<id>` or
    `image-restore-<id>` by what its button does.
    """

    def __init__(self, row: AdminImageView, *, owner: str) -> None:
        super().__init__()
        trashed = row.status == 'trash'
        self._props.update(
            {
                'href': admin_url(row.url),
                'src': admin_url(row.thumb_url or row.url),
                'alt': row.prompt or row.id,
                'owner': owner,
                'owner-id': row.owner,  # the full id on hover, as a native title (no tooltip element)
                'when': f'{local_time(row.created_at)} · {human_bytes(row.bytes)}',
                'kind': t(f'img_kind_{row.kind}'),
                'trashed': trashed,
                'trash-label': t('img_trash'),
                'action-icon': 'restore_from_trash' if trashed else 'delete',
                'action-title': t('img_restore' if trashed else 'img_delete'),  # its native title and accessible name
                'action-color': 'primary' if trashed else 'negative',
            }
        )


def admin_image_tile(row: AdminImageView, *, owner: str, on_change: Callable[[str, bool], Awaitable[None]]) -> None:
    """Add the tile of one image (`owner`: how to name its owner); its button calls on_change(image id, restore)."""
    restore = row.status == 'trash'
    AdminImageTile(row, owner=owner).mark(
        f'image-{row.id} image-owner image-{"restore" if restore else "delete"}-{row.id}'
    ).on('click', lambda: on_change(row.id, restore))
