"""Admin: every user with jobs, images, bytes and quota use; set a display name, block, set a per-user quota."""

from __future__ import annotations

from datetime import datetime

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.admin_login import admin_header
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.services import Services
from vcc_ui.services.admin_data import UserSummary
from vcc_ui.services.image_meta import ImageProblem, human_bytes
from vcc_ui.services.users import NicknameError

MB = 1024 * 1024


async def page(services: Services) -> None:
    """Build the users page with the current list."""
    await UsersPage(services).reload()


def quota_text(user: UserSummary) -> str:
    """Like '12 of 100 images, 3.2 MB of 1.0 GB' (or 'no limit')."""
    parts = []
    if user.max_images:
        parts.append(t('usr_quota_images', used=user.images, max=user.max_images))
    if user.max_bytes:
        parts.append(t('usr_quota_bytes', used=human_bytes(user.bytes), max=human_bytes(user.max_bytes)))
    return ', '.join(parts) or t('usr_no_limit')


def duration_text(seconds: float) -> str:
    """Like '42 s', '3 min 12 s' or '2 h 5 min'."""
    whole = round(seconds)
    if whole < 60:
        return t('dur_seconds', s=whole)
    if whole < 3600:
        return t('dur_minutes', m=whole // 60, s=whole % 60)
    return t('dur_hours', h=whole // 3600, m=whole % 3600 // 60)


class UsersPage:
    """A filter box and a list of user cards; each card opens an edit dialog."""

    def __init__(self, services: Services) -> None:
        self.data = services.admin_data
        self.gate = services.gate
        self.users: list[UserSummary] = []
        admin_header('/admin/users')
        with ui.column().classes('w-full gap-3 p-2 sm:p-4'):
            with ui.row().classes('w-full items-center gap-2'):
                ui.label(t('usr_title')).classes('text-2xl font-medium')
                self.count = ui.label().classes('text-gray-600').mark('user-count')
                ui.space()
                self.search = (
                    ui.input(placeholder=t('usr_search'), on_change=self._render)
                    .props('outlined dense clearable')
                    .classes('w-full sm:w-64')
                    .mark('user-search')
                )
                ui.button(icon='refresh', on_click=self.reload).props('flat round').mark('user-refresh')
                ui.button(t('usr_signout_beta'), icon='logout', on_click=self._confirm_sign_out).props(
                    'outline no-caps color=negative'
                ).mark('user-signout-beta')
            self.list = ui.column().classes('w-full gap-2').mark('user-list')

    async def reload(self) -> None:
        """Read the users again and show them."""
        self.users = await self.data.users()
        self._render()

    def _render(self) -> None:
        shown = [user for user in self.users if user.matches(self.search.value or '')]
        self.count.set_text(t('usr_count', n=len(shown)))
        self.list.clear()
        with self.list:
            if not shown:
                ui.label(t('usr_none')).classes('text-gray-600').mark('user-none')
            for user in shown:
                self._card(user)

    def _card(self, user: UserSummary) -> None:
        with ui.card().classes('w-full p-3 gap-1').mark(f'user-{user.id}'):
            with ui.row().classes('w-full items-center gap-x-2 gap-y-0'):
                with ui.row().classes('items-center gap-x-2 gap-y-0 min-w-0'):
                    ui.icon('person').classes('text-xl text-slate-500')
                    ui.label(user.display_name or t('usr_anonymous')).classes('font-medium')
                    if user.blocked:
                        ui.badge(t('usr_blocked'), color='negative').props('rounded').mark(f'user-blocked-{user.id}')
                    ui.label(user.id).classes('text-xs text-gray-500 break-all')
                ui.space()
                with ui.row().classes('items-center gap-1 no-wrap'):
                    ui.button(t('usr_edit'), icon='edit', on_click=lambda u=user: self._edit(u)).props(
                        'flat dense no-caps'
                    ).mark(f'user-edit-{user.id}')
                    ui.button(
                        t('usr_unblock') if user.blocked else t('usr_block'),
                        icon='lock_open' if user.blocked else 'block',
                        on_click=lambda u=user: self._set(u, blocked=not u.blocked),
                    ).props(f'flat dense no-caps color={"primary" if user.blocked else "negative"}').mark(
                        f'user-block-{user.id}'
                    )
            with ui.row().classes('w-full gap-x-5 gap-y-0 text-sm text-gray-700'):
                ui.label(t('usr_jobs', n=user.jobs)).mark(f'user-jobs-{user.id}')
                ui.label(t('usr_jobs_done', n=user.jobs_done))
                ui.label(t('usr_gpu_time', time=duration_text(user.gpu_seconds))).mark(f'user-gpu-{user.id}')
                ui.label(t('usr_images', n=user.images, trash=user.trash_images))
                ui.label(human_bytes(user.bytes))
                ui.label(t('usr_first', when=_when(user.created_at)))
                ui.label(t('usr_last', when=_when(user.last_seen)))
            with ui.row().classes('w-full items-center gap-2 no-wrap text-sm'):
                ui.label(quota_text(user)).classes('whitespace-nowrap').mark(f'user-quota-{user.id}')
                if user.max_images or user.max_bytes:
                    ratio = user.quota_fill
                    ui.linear_progress(ratio, show_value=False, size='6px').props(
                        f'rounded color={"negative" if ratio >= 0.9 else "primary"}'
                    ).classes('max-w-48')

    async def _set(self, user: UserSummary, **fields: object) -> bool:
        try:
            await self.data.update_user(user.id, **fields)
        except ImageProblem as error:
            ui.notify(t(error.reason) if isinstance(error, NicknameError) else error.message, type='negative')
            return False
        await self.reload()
        return True

    def _confirm_sign_out(self) -> None:
        with ui.dialog() as dialog, ui.card().classes('w-full max-w-md gap-3').mark('user-signout-dialog'):
            ui.label(t('usr_signout_beta_confirm'))

            def sign_out() -> None:
                dialog.close()
                ui.notify(t('usr_signout_beta_done', n=self.gate.revoke_all()), type='positive')

            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('admin_cancel'), on_click=dialog.close).props('flat no-caps')
                ui.button(t('usr_signout_beta'), on_click=sign_out).props('unelevated no-caps color=negative').mark(
                    'user-signout-confirm'
                )
        dialog.open()

    def _edit(self, user: UserSummary) -> None:
        with ui.dialog() as dialog, ui.card().classes('w-full max-w-md gap-3').mark('user-edit-dialog'):
            ui.label(t('usr_edit_title')).classes('text-lg font-medium')
            ui.label(user.id).classes('text-xs text-gray-500 break-all -mt-2')
            name = (
                ui.input(t('usr_display_name'), value=user.display_name or '')
                .props('outlined dense maxlength=40')
                .classes('w-full')
                .mark('user-name')
            )
            ui.label(t('usr_quota_hint')).classes('text-sm text-gray-600')
            with ui.row().classes('w-full gap-2 no-wrap'):
                max_mb = (
                    ui.number(
                        t('usr_max_mb'),
                        min=0,
                        step=1,
                        precision=0,
                        value=None if user.quota_max_bytes is None else user.quota_max_bytes // MB,
                    )
                    .props('outlined dense clearable')
                    .classes('w-1/2')
                    .mark('user-max-mb')
                )
                max_images = (
                    ui.number(t('usr_max_images'), min=0, step=1, precision=0, value=user.quota_max_images)
                    .props('outlined dense clearable')
                    .classes('w-1/2')
                    .mark('user-max-images')
                )

            async def save() -> None:
                mb, count = max_mb.value, max_images.value
                if await self._set(
                    user,
                    display_name=name.value,
                    quota_max_bytes=None if mb is None or mb == '' else int(mb) * MB,
                    quota_max_images=None if count is None or count == '' else int(count),
                ):
                    dialog.close()
                    ui.notify(t('usr_saved'), type='positive')

            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('admin_cancel'), on_click=dialog.close).props('flat no-caps')
                ui.button(t('admin_save'), on_click=save).props('unelevated no-caps').mark('user-save')
        dialog.open()


def _when(value: object) -> str:
    return local_time(value) if isinstance(value, datetime) else '-'
