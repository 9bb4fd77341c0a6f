"""The admin section header and the guard every admin sub page is built through (the login form is web/)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from nicegui import context, ui

from vcc_ui.i18n import t
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_LOGIN_PATH, ADMIN_LOGOUT_PATH, safe_admin_next


def admin_off() -> None:
    """Say that admin pages are off and how to turn them on."""
    with ui.card().classes('w-full max-w-lg mx-auto mt-8 p-6 gap-3').mark('admin-off'):
        with ui.row().classes('items-center gap-2 no-wrap'):
            ui.icon('lock', size='md').classes('text-slate-500')
            ui.label(t('admin_off_title')).classes('text-lg font-medium')
        ui.label(t('admin_off_body')).classes('text-gray-700')
        ui.code('ADMIN_USER=admin\nADMIN_PASSWORD=a-long-random-password', language='bash').classes('w-full')


ADMIN_TABS = [
    ('admin_tab_dashboard', '/admin', 'dashboard'),
    ('admin_tab_servers', '/admin/servers', 'dns'),
    ('admin_tab_users', '/admin/users', 'group'),
    ('admin_tab_images', '/admin/images', 'photo_library'),
    ('admin_tab_logs', '/admin/logs', 'receipt_long'),
    ('lora_title', '/admin/loras', 'extension'),
    ('admin_tab_studio', '/admin/studio', 'account_tree'),
]


def admin_header(active: str) -> None:
    """The admin section's own navigation (scrolls sideways on phones) with the logout link."""
    with ui.row().classes('w-full items-center no-wrap gap-1 px-2 pt-2 overflow-x-auto admin-tabs'):
        for key, path, icon in ADMIN_TABS:
            current = path == active
            with ui.link(target=path).classes('admin-tab' + (' active' if current else '')).mark(f'admin-{key}'):
                ui.icon(icon).classes('text-base')
                ui.label(t(key)).classes('whitespace-nowrap')
        ui.space()
        with ui.link(target=ADMIN_LOGOUT_PATH).classes('admin-tab').mark('admin-logout'):
            ui.icon('logout').classes('text-base')
            ui.label(t('admin_logout')).classes('whitespace-nowrap')
    ui.add_css(CSS)


def protected(services: Services, build: Callable[[], Awaitable[None] | None]) -> Callable[[], Awaitable[None] | None]:
    """Wrap a sub page builder: admins get the page, others the login page, everyone a note when admin is off."""

    def guarded() -> Awaitable[None] | None:
        request = context.client.request
        if not services.admin.enabled:
            admin_off()
            return None
        if not services.admin.is_admin(request.cookies):
            path = context.client.sub_pages_router.current_path
            context.client.open(
                f'{ADMIN_LOGIN_PATH}?next={quote(safe_admin_next(path))}'
            )  # a page load: not a sub page
            return None
        return build()

    return guarded


CSS = """
.admin-tab { display: flex; align-items: center; gap: .3rem; padding: .3rem .7rem; border-radius: 999px;
  color: #334155; text-decoration: none; font-size: .875rem; }
.admin-tab:hover { background: #e2e8f0; }
.admin-tab.active { background: #0f172a; color: white; }
"""
