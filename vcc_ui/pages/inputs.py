"""The inputs library: images the user uploaded or copied as inputs (a first, small version)."""

from __future__ import annotations

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.frame import current_user
from vcc_ui.pages.gallery import thumbnails
from vcc_ui.services import Services


async def page(services: Services) -> None:
    """List the user's input images as thumbnails."""
    ui.label(t('inputs_title')).classes('text-2xl font-medium px-4 pt-4')
    await thumbnails(services, current_user(), kind='input', empty_key='inputs_empty')
