"""The beta login page: one password field; Enter submits; a wrong password says so."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from vcc_ui.i18n import t
from vcc_ui.pages.frame import language_switch
from vcc_ui.pages.widgets.password_form import PasswordForm
from vcc_ui.services import Services
from vcc_ui.services.auth import GATE_COOKIE, GRANT_PATH, client_ip, safe_next


def create(services: Services) -> Callable[..., Response | None]:
    """Return the login page function bound to the services."""
    gate = services.gate

    def login(request: Request, next: str = '/') -> Response | None:
        target = safe_next(next)
        if gate.is_open(request.cookies.get(GATE_COOKIE)):
            return RedirectResponse(target, status_code=303)
        ip = client_ip(request)

        ui.query('body').classes('bg-slate-100')
        with ui.column().classes('w-full min-h-screen items-center justify-center p-4'):
            with ui.card().classes('w-full max-w-sm p-6 gap-4'):
                with ui.row().classes('w-full items-center no-wrap'):
                    ui.label(t('app_name')).classes('text-2xl font-bold')
                    ui.space()
                    language_switch()
                ui.label(t('login_title')).classes('text-lg font-medium -mb-2')
                ui.label(t('login_intro')).classes('text-gray-600')
                PasswordForm(
                    prefix='',
                    submit_label=t('login_submit'),
                    wrong_text=t('login_wrong'),
                    attempt=lambda password: gate.attempt(password, ip),
                    grant_url=lambda: f'{GRANT_PATH}?{urlencode({"token": gate.grant(), "next": target})}',
                )
        return None

    return login
