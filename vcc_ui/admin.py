"""Who is an admin: the session cookie for pages, HTTP Basic for scripts; the login grant and logout routes."""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response

from vcc_ui.services import Services
from vcc_ui.services.admin import (
    ADMIN_COOKIE,
    ADMIN_GRANT_PATH,
    ADMIN_LOGIN_PATH,
    ADMIN_LOGOUT_PATH,
    ADMIN_MAX_AGE,
    ADMIN_PAGE_PREFIX,
    AdminAuth,
    safe_admin_next,
)
from vcc_ui.services.auth import client_ip

ADMIN_OFF_MESSAGE = 'Admin pages are off: set ADMIN_PASSWORD in .env and restart the app'
REALM = 'Basic realm="VCC UI admin", charset="UTF-8"'


def admin_auth(conn: HTTPConnection) -> AdminAuth:
    """Return the AdminAuth of the app serving this request."""
    return conn.app.state.admin_auth


def _refuse(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status, detail={'code': code, 'message': message, 'field': None}, headers=headers)


async def require_admin(request: Request) -> None:
    """Let admins through (session cookie or HTTP Basic); 401 with a Basic challenge, 429 when limited, 403 off."""
    auth = admin_auth(request)
    if not auth.enabled:
        raise _refuse(403, 'admin_off', ADMIN_OFF_MESSAGE)
    if auth.is_session(request.cookies.get(ADMIN_COOKIE)):
        return
    attempt = await auth.basic(request.headers.get('authorization'), client_ip(request))
    if attempt is not None and attempt.retry_after:
        seconds = math.ceil(attempt.retry_after)
        raise _refuse(
            429, 'rate_limited', f'Too many wrong admin logins, retry in {seconds} s', {'Retry-After': str(seconds)}
        )
    if attempt is None or not attempt.ok:
        raise _refuse(401, 'admin_required', 'Admin login required', {'WWW-Authenticate': REALM})


Admin = Depends(require_admin)


def install(app: FastAPI, services: Services) -> None:
    """Keep the AdminAuth on the app, add the grant and logout routes and the admin API."""
    from vcc_ui import api_admin  # imports this module's dependency

    auth = services.admin
    app.state.admin_auth = auth
    secure = services.settings.cookie_secure

    @app.get(ADMIN_GRANT_PATH, include_in_schema=False)
    async def admin_grant(
        token: Annotated[str, Query(max_length=500)] = '',
        next: Annotated[str, Query(max_length=2000)] = ADMIN_PAGE_PREFIX,
    ) -> Response:
        """Exchange the admin login page's one-time token for the session cookie."""
        target = safe_admin_next(next)
        if not auth.redeem(token):
            return RedirectResponse(f'{ADMIN_LOGIN_PATH}?next={quote(target)}', status_code=303)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            ADMIN_COOKIE,
            auth.cookie_value(),
            max_age=ADMIN_MAX_AGE,
            httponly=True,
            samesite='lax',
            secure=secure,
            path='/',
        )
        return response

    @app.get(ADMIN_LOGOUT_PATH, include_in_schema=False)
    async def admin_logout() -> Response:
        """Forget the admin session of this browser."""
        response = RedirectResponse('/', status_code=303)
        response.delete_cookie(ADMIN_COOKIE, path='/', httponly=True, samesite='lax', secure=secure)
        return response

    app.include_router(api_admin.create_router(services))
