"""/beta-login: the plain HTML login page and its form post (scripts posting the form get JSON answers)."""

from __future__ import annotations

import math
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from vcc_ui.i18n import translate
from vcc_ui.services.auth import GATE_COOKIE, GATE_MAX_AGE, LOGIN_PATH, client_ip, safe_next
from vcc_ui.web.deps import ServicesDep
from vcc_ui.web.errors import ApiError
from vcc_ui.web.login_pages import page_language, password_form, render, signed_in

router = APIRouter(include_in_schema=False)


def login_page(request: Request, target: str, *, error: str = '', status: int = 200) -> Response:
    """The beta login page in the visitor's language."""
    lang = page_language(request)
    form = password_form(LOGIN_PATH, lang, next_path=target, submit=translate('login_submit', lang), error=error)
    body = f'<p>{escape(translate("login_intro", lang))}</p>{form}'
    return render(request, lang, body, status=status, title=translate('login_title', lang))


@router.get(LOGIN_PATH)
async def beta_login_page(
    request: Request, services: ServicesDep, next: Annotated[str, Query(max_length=2000)] = '/'
) -> Response:
    """The login form; a browser already let in goes straight on."""
    target = safe_next(next)
    if services.gate.is_open(request.cookies.get(GATE_COOKIE)):
        return RedirectResponse(target, status_code=303)
    return login_page(request, target)


@router.post(LOGIN_PATH)
async def beta_login(
    request: Request,
    services: ServicesDep,
    password: Annotated[str, Form(max_length=1000)] = '',
    next: Annotated[str, Form(max_length=2000)] = '/',
) -> Response:
    """Check the password: 303 to `next` with the gate cookie, 401 when wrong, 429 when limited (HTML for browsers)."""
    gate = services.gate
    target = safe_next(next)
    if not gate.enabled:
        return RedirectResponse(target, status_code=303)
    browser = 'text/html' in request.headers.get('accept', '')
    attempt = await gate.attempt(password, client_ip(request))
    if attempt.retry_after:
        seconds = math.ceil(attempt.retry_after)
        if browser:
            text = translate('login_limited', page_language(request), seconds=seconds)
            response = login_page(request, target, error=text, status=429)
            response.headers['Retry-After'] = str(seconds)
            return response
        raise ApiError(
            429,
            'rate_limited',
            f'Too many wrong passwords, retry in {seconds} s',
            'password',
            headers={'Retry-After': str(seconds)},
        )
    if not attempt.ok:
        if browser:
            return login_page(request, target, error=translate('login_wrong', page_language(request)), status=401)
        raise ApiError(401, 'wrong_password', 'Wrong password', 'password')
    secure = services.settings.cookie_secure
    return signed_in(target, GATE_COOKIE, services.gate.cookie_value(), max_age=GATE_MAX_AGE, secure=secure)
