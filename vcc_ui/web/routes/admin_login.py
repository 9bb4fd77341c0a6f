"""/admin/login/grant and /admin/logout: the admin session cookie in and out."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from vcc_ui.services.admin import (
    ADMIN_COOKIE,
    ADMIN_GRANT_PATH,
    ADMIN_LOGIN_PATH,
    ADMIN_LOGOUT_PATH,
    ADMIN_MAX_AGE,
    ADMIN_PAGE_PREFIX,
    safe_admin_next,
)
from vcc_ui.web.deps import ServicesDep

router = APIRouter(include_in_schema=False)


@router.get(ADMIN_GRANT_PATH)
async def admin_grant(
    services: ServicesDep,
    token: Annotated[str, Query(max_length=500)] = '',
    next: Annotated[str, Query(max_length=2000)] = ADMIN_PAGE_PREFIX,
) -> Response:
    """Exchange the admin login page's one-time token for the session cookie."""
    target = safe_admin_next(next)
    if not services.admin.redeem(token):
        return RedirectResponse(f'{ADMIN_LOGIN_PATH}?next={quote(target)}', status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        ADMIN_COOKIE,
        services.admin.cookie_value(),
        max_age=ADMIN_MAX_AGE,
        httponly=True,
        samesite='lax',
        secure=services.settings.cookie_secure,
        path='/',
    )
    return response


@router.get(ADMIN_LOGOUT_PATH)
async def admin_logout(request: Request, services: ServicesDep) -> Response:
    """End this browser's admin session (revoked server-side, so a copied cookie dies too) and drop the cookie."""
    services.admin.log_out(request.cookies.get(ADMIN_COOKIE))
    response = RedirectResponse('/', status_code=303)
    response.delete_cookie(
        ADMIN_COOKIE, path='/', httponly=True, samesite='lax', secure=services.settings.cookie_secure
    )
    return response
