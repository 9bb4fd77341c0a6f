"""The gallery: the browser's generated images, newest first (a first, small version)."""

from __future__ import annotations

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.frame import current_user
from vcc_ui.services import Services
from vcc_ui.services.images import image_dict

PAGE_SIZE = 60


async def page(services: Services) -> None:
    """List the user's newest images as thumbnails."""
    ui.label(t('gallery_title')).classes('text-2xl font-medium px-4 pt-4')
    await thumbnails(services, current_user(), kind='generated', empty_key='gallery_empty')


async def thumbnails(services: Services, user: str, *, kind: str, empty_key: str) -> None:
    """Show one page of the user's images of one kind, each linking to the full file."""
    result = await services.images.page(user, size=PAGE_SIZE, kind=kind)
    if not result.items:
        ui.label(t(empty_key)).classes('text-gray-500 px-4').mark('images-empty')
        return
    ui.label(t('gallery_count', count=result.total)).classes('text-sm text-gray-500 px-4')
    with ui.element('div').classes('grid grid-cols-3 sm:grid-cols-4 md:grid-cols-6 gap-2 w-full p-4'):
        for item in map(image_dict, result.items):
            with ui.link(target=item['url'], new_tab=True).mark('image-thumb'):
                image = ui.image(item['thumb_url'] or item['url']).classes('w-full aspect-square rounded') \
                    .props('fit=cover')
                image.props['alt'] = item['prompt'] or item['id']
