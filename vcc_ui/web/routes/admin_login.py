"""/admin/login and /admin/logout: the plain HTML admin login form and the session cookie in and out."""

from __future__ import annotations

import math
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from vcc_ui.i18n import translate
from vcc_ui.services.admin import ADMIN_COOKIE, ADMIN_LOGIN_PATH, ADMIN_LOGOUT_PATH, ADMIN_MAX_AGE, safe_admin_next
from vcc_ui.services.auth import client_ip
from vcc_ui.web.deps import ServicesDep
from vcc_ui.web.login_pages import page_language, password_form, render, signed_in

router = APIRouter(include_in_schema=False)


def admin_page(request: Request, target: str, *, user: str = '', error: str = '', status: int = 200) -> Response:
    """The admin login form in the visitor's language."""
    lang = page_language(request)
    form = password_form(
        ADMIN_LOGIN_PATH,
        lang,
        next_path=target,
        submit=translate('admin_login_submit', lang),
        error=error,
        user_field=user,
    )
    return render(request, lang, form, status=status, title=translate('admin_login_title', lang))


@router.get(ADMIN_LOGIN_PATH)
async def admin_login_page(
    request: Request, services: ServicesDep, next: Annotated[str, Query(max_length=2000)] = ''
) -> Response:
    """The form; a note when admin pages are off; links on when this browser is an admin already."""
    lang = page_language(request)
    target = safe_admin_next(next)
    if not services.admin.enabled:
        body = f'<p data-marker="admin-off">{escape(translate("admin_off_body", lang))}</p>'
        return render(request, lang, body, title=translate('admin_off_title', lang))
    if services.admin.is_admin(request.cookies):
        body = (
            f'<a class="button" href="{escape(target)}">{escape(translate("admin_open", lang))}</a>'
            f'<a class="button flat" href="{ADMIN_LOGOUT_PATH}" data-marker="admin-logout">'
            f'{escape(translate("admin_logout", lang))}</a>'
        )
        return render(request, lang, body, title=translate('admin_logged_in', lang))
    return admin_page(request, target)


@router.post(ADMIN_LOGIN_PATH)
async def admin_login(
    request: Request,
    services: ServicesDep,
    user: Annotated[str, Form(max_length=200)] = '',
    password: Annotated[str, Form(max_length=1000)] = '',
    next: Annotated[str, Form(max_length=2000)] = '',
) -> Response:
    """Check the credentials: 303 to `next` with a new session cookie, else the form with why not (401/429)."""
    target = safe_admin_next(next)
    lang = page_language(request)
    if not services.admin.enabled:
        return RedirectResponse(ADMIN_LOGIN_PATH, status_code=303)
    attempt = await services.admin.attempt(user, password, client_ip(request))
    if attempt.retry_after:
        seconds = math.ceil(attempt.retry_after)
        text = translate('login_limited', lang, seconds=seconds)
        response = admin_page(request, target, user=user, error=text, status=429)
        response.headers['Retry-After'] = str(seconds)
        return response
    if not attempt.ok:
        return admin_page(request, target, user=user, error=translate('admin_login_wrong', lang), status=401)
    secure = services.settings.cookie_secure
    return signed_in(target, ADMIN_COOKIE, services.admin.cookie_value(), max_age=ADMIN_MAX_AGE, secure=secure)


@router.get(ADMIN_LOGOUT_PATH)
async def admin_logout(request: Request, services: ServicesDep) -> Response:
    """End this browser's admin session (revoked server-side, so a copied cookie dies too) and drop the cookie."""
    services.admin.log_out(request.cookies.get(ADMIN_COOKIE))
    response = RedirectResponse('/', status_code=303)
    response.delete_cookie(
        ADMIN_COOKIE, path='/', httponly=True, samesite='lax', secure=services.settings.cookie_secure
    )
    return response
