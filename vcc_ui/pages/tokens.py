"""Personal API tokens: make one (name, expiry, admin reach for admins), see its secret once, list and revoke."""

from __future__ import annotations

from nicegui import context, ui

from vcc_ui.i18n import t
from vcc_ui.pages.frame import current_user
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.services import Services
from vcc_ui.services.tokens import TokenError, TokenInfo

EXPIRY_DAYS = (7, 30, 90, 365)


async def page(services: Services) -> None:
    """Build the tokens page for the browser's user, with its tokens."""
    await TokensPage(
        services, current_user(), is_admin=services.admin.is_admin(context.client.request.cookies)
    ).render()


def facts(info: TokenInfo, *, expired: bool) -> str:
    """Like 'Created 2026-11-30 10:00 KST · Never used · Expires 2027-02-28 10:00 KST'."""
    used = t('tok_last_used', when=local_time(info.last_used_at)) if info.last_used_at else t('tok_never_used')
    if info.expires_at is None:
        ends = t('tok_no_expiry')
    else:
        ends = t('tok_expired_at' if expired else 'tok_expires_at', when=local_time(info.expires_at))
    return ' · '.join([t('tok_created_at', when=local_time(info.created_at)), used, ends])


class TokensPage:
    """The form on top, then one card per token that was not revoked, newest first."""

    def __init__(self, services: Services, user: str, *, is_admin: bool) -> None:
        self.tokens = services.tokens
        self.user = user
        with ui.column().classes('w-full gap-3 p-2 sm:p-4'):
            ui.label(t('tok_title')).classes('text-2xl font-medium')
            ui.label(t('tok_intro')).classes('text-gray-600')
            with ui.card().classes('w-full').props('flat bordered'), ui.row().classes('w-full items-start gap-3'):
                self.name = (
                    ui.input(t('tok_name'), placeholder=t('tok_name_hint'))
                    .props('outlined dense maxlength=60')
                    .classes('grow min-w-[14rem]')
                    .mark('token-name')
                )
                options = {0: t('tok_expiry_never')} | {n: t('tok_expiry_days', n=n) for n in EXPIRY_DAYS}
                self.expiry = (
                    ui.select(options, value=90, label=t('tok_expiry'))
                    .props('outlined dense')
                    .classes('w-40')
                    .mark('token-expiry')
                )
                self.admin = ui.checkbox(t('tok_admin')).mark('token-admin') if is_admin else None
                ui.button(t('tok_create'), icon='key', on_click=self.create).props('unelevated no-caps').classes(
                    'self-center'
                ).mark('token-create')
            self.message = ui.label().classes('text-sm text-negative').mark('token-message')
            self.message.set_visibility(False)
            self.list = ui.column().classes('w-full gap-2').mark('token-list')

    async def create(self) -> None:
        """Make a token from the form and show its secret once."""
        days = self.expiry.value or None
        try:
            info, secret = await self.tokens.create(
                self.user, self.name.value, days=days, admin=bool(self.admin and self.admin.value)
            )
        except TokenError as error:
            self.message.set_text(t(error.reason))
            self.message.set_visibility(True)
            return
        self.message.set_visibility(False)
        self.name.set_value('')
        await self.render()
        self.show_secret(info, secret)

    def show_secret(self, info: TokenInfo, secret: str) -> None:
        """A dialog with the new token, a copy button and the warning that it is shown only now."""
        with ui.dialog().props('persistent') as dialog, ui.card().classes('w-full max-w-xl').mark('token-secret'):
            ui.label(t('tok_created_title', name=info.name)).classes('text-lg font-medium')
            ui.label(t('tok_created_once')).classes('text-sm text-orange-800')
            ui.label(secret).classes('w-full font-mono text-sm break-all select-all p-2 rounded bg-slate-100').mark(
                'token-secret-value'
            )
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('tok_copy'), icon='content_copy', on_click=lambda: self.copy(secret)).props(
                    'flat no-caps'
                ).mark('token-copy')
                ui.button(t('tok_done'), on_click=lambda: self.close(dialog)).props('unelevated no-caps').mark(
                    'token-done'
                )
        dialog.open()

    @staticmethod
    def copy(secret: str) -> None:
        """Put the secret on the clipboard."""
        ui.clipboard.write(secret)
        ui.notify(t('tok_copied'), type='positive')

    @staticmethod
    def close(dialog: ui.dialog) -> None:
        """Close a dialog and drop it (a token's secret with it) from the page."""
        dialog.close()
        dialog.delete()

    async def render(self) -> None:
        """Show the user's tokens again."""
        tokens = await self.tokens.of(self.user)
        now = self.tokens.clock()
        self.list.clear()
        with self.list:
            if not tokens:
                ui.label(t('tok_empty')).classes('text-gray-500').mark('token-empty')
            for info in tokens:
                self.card(info, expired=info.expired(now))

    def card(self, info: TokenInfo, *, expired: bool) -> None:
        """One token: its name and beginning, when it was made, last used and expires, and the revoke button."""
        with (
            ui.card().classes('w-full').props('flat bordered').mark('token-card'),
            ui.row().classes('w-full items-center gap-3 no-wrap'),
        ):
            ui.icon('key', color='grey-5' if expired else 'primary').classes('text-2xl')
            with ui.column().classes('grow gap-0 min-w-0'):
                with ui.row().classes('items-center gap-2'):
                    ui.label(info.name).classes('font-medium break-all')
                    if info.admin:
                        ui.badge(t('tok_admin_badge'), color='deep-orange')
                ui.label(info.hint).classes('text-xs font-mono text-gray-500')
                ui.label(facts(info, expired=expired)).classes('text-xs text-gray-600').mark('token-facts')
            ui.button(t('tok_revoke'), icon='block', on_click=lambda: self.confirm(info)).props(
                'flat no-caps color=negative'
            ).mark('token-revoke')

    def confirm(self, info: TokenInfo) -> None:
        """Ask before revoking."""
        with ui.dialog().props('persistent') as dialog, ui.card().mark('token-confirm'):
            ui.label(t('tok_revoke_confirm', name=info.name))
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('tok_cancel'), on_click=lambda: self.close(dialog)).props('flat no-caps').mark('token-keep')
                ui.button(t('tok_revoke'), on_click=lambda: self.revoke(info, dialog)).props(
                    'unelevated no-caps color=negative'
                ).mark('token-revoke-yes')
        dialog.open()

    async def revoke(self, info: TokenInfo, dialog: ui.dialog) -> None:
        """Revoke the token and show the list without it."""
        self.close(dialog)
        try:
            await self.tokens.revoke(self.user, info.id)
        except TokenError as error:
            ui.notify(t(error.reason), type='warning')
        else:
            ui.notify(t('tok_revoked', name=info.name), type='positive')
        await self.render()
