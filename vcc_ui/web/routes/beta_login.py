"""/beta-login: the password form post for scripts, and the grant the login page exchanges for the gate cookie."""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from vcc_ui.services import Services
from vcc_ui.services.auth import GATE_COOKIE, GATE_MAX_AGE, GRANT_PATH, LOGIN_PATH, client_ip, safe_next
from vcc_ui.web.deps import ServicesDep
from vcc_ui.web.errors import ApiError

router = APIRouter(include_in_schema=False)


def unlocked(target: str, services: Services) -> Response:
    """A 303 to `target` that sets the gate cookie."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        GATE_COOKIE,
        services.gate.cookie_value(),
        max_age=GATE_MAX_AGE,
        httponly=True,
        samesite='lax',
        secure=services.settings.cookie_secure,
        path='/',
    )
    return response


@router.post(LOGIN_PATH)
async def beta_login(
    request: Request,
    services: ServicesDep,
    password: Annotated[str, Form(max_length=1000)] = '',
    next: Annotated[str, Form(max_length=2000)] = '/',
) -> Response:
    """Check the password: 303 to `next` with the gate cookie, 401 when wrong, 429 when limited."""
    gate = services.gate
    if not gate.enabled:
        return RedirectResponse(safe_next(next), status_code=303)
    attempt = await gate.attempt(password, client_ip(request))
    if attempt.retry_after:
        seconds = math.ceil(attempt.retry_after)
        raise ApiError(
            429,
            'rate_limited',
            f'Too many wrong passwords, retry in {seconds} s',
            'password',
            headers={'Retry-After': str(seconds)},
        )
    if not attempt.ok:
        raise ApiError(401, 'wrong_password', 'Wrong password', 'password')
    return unlocked(safe_next(next), services)


@router.get(GRANT_PATH)
async def beta_grant(
    services: ServicesDep,
    token: Annotated[str, Query(max_length=500)] = '',
    next: Annotated[str, Query(max_length=2000)] = '/',
) -> Response:
    """Exchange the login page's one-time token for the gate cookie."""
    if not services.gate.redeem(token):
        return RedirectResponse(f'{LOGIN_PATH}?next={quote(safe_next(next))}', status_code=303)
    return unlocked(safe_next(next), services)
