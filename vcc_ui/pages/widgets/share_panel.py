"""Share links of one image: make an expiring link, copy it, list and revoke the image's links."""

from __future__ import annotations

from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.services.image_meta import ImageProblem
from vcc_ui.services.shares import EXPIRY_CHOICES, Shares


class SharePanel:
    """Lives inside the lightbox; `show(image_id)` switches it to another image."""

    def __init__(self, shares: Shares, user: str, *, lang: str, base_url: str) -> None:
        self.shares = shares
        self.user = user
        self.t = partial(translate, lang=lang)
        self.base_url = base_url.rstrip('/')
        self.image_id: str | None = None
        with ui.column().classes('w-full gap-2').mark('share-panel'):
            with ui.row().classes('w-full items-center gap-2'):
                self.expiry = (
                    ui.toggle({key: self.t(f'share_{key}') for key in EXPIRY_CHOICES}, value='1d')
                    .props('dense no-caps unelevated toggle-color=primary')
                    .mark('share-expiry')
                )
                ui.button(self.t('share_create'), icon='link', on_click=self.create).props(
                    'unelevated dense no-caps'
                ).mark('share-create')
            self.strip = (
                ui.checkbox(self.t('share_strip'), value=True)
                .props('dense')
                .classes('text-sm')
                .tooltip(self.t('share_strip_hint'))
                .mark('share-strip')
            )
            self.rows = ui.column().classes('w-full gap-1').mark('share-links')

    async def show(self, image_id: str) -> None:
        """List the links of one image."""
        self.image_id = image_id
        links = await self.shares.links(self.user, image_id)
        if self.image_id != image_id:
            return
        self.rows.clear()
        with self.rows:
            if not links:
                ui.label(self.t('share_none')).classes('text-xs text-gray-500')
            for link in links:
                info = self.shares.as_dict(link)
                url = self.base_url + info['url']
                with ui.row().classes('w-full items-center no-wrap gap-1 text-xs').mark('share-link'):
                    ui.link(url, url, new_tab=True).classes('truncate min-w-0 grow font-mono')
                    state = self.t(f'share_state_{info["state"]}', time=local_time(info['expires_at']))
                    ui.label(state).classes('shrink-0 text-gray-500').mark(f'share-state-{info["state"]}')
                    if info['state'] == 'active':
                        ui.button(icon='content_copy', on_click=lambda u=url: self._copy(u)).props(
                            'flat round dense size=sm'
                        ).tooltip(self.t('share_copy')).mark('share-copy')
                        ui.button(icon='link_off', on_click=lambda i=link.id: self.revoke(i)).props(
                            'flat round dense size=sm color=negative'
                        ).tooltip(self.t('share_revoke')).mark('share-revoke')

    async def create(self) -> None:
        """Make a link with the chosen expiry, copy it and list it."""
        if self.image_id is None:
            return
        try:
            link = await self.shares.create(
                self.user, self.image_id, self.expiry.value or '1d', strip_metadata=bool(self.strip.value)
            )
        except ImageProblem as error:
            ui.notify(self.t('gal_failed', reason=error.message), type='warning')
            return
        ui.clipboard.write(self.base_url + self.shares.url(link))
        ui.notify(self.t('share_made'), type='positive')
        await self.show(self.image_id)

    async def revoke(self, link_id: str) -> None:
        """Turn one link off."""
        try:
            await self.shares.revoke(self.user, link_id)
        except ImageProblem as error:
            ui.notify(self.t('gal_failed', reason=error.message), type='warning')
        if self.image_id:
            await self.show(self.image_id)

    def _copy(self, url: str) -> None:
        ui.clipboard.write(url)
        ui.notify(self.t('lb_copied'))
