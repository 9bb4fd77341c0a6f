"""Who is an admin: the session cookie for pages, HTTP Basic for scripts; the login grant and logout routes."""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response

from vcc_ui.gate import client_ip
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_COOKIE, ADMIN_MAX_AGE, AdminAuth

ADMIN_PAGE_PREFIX = '/admin'
ADMIN_API_PREFIX = '/api/v1/admin'
ADMIN_LOGIN_PATH = '/admin/login'
ADMIN_GRANT_PATH = '/admin/login/grant'
ADMIN_LOGOUT_PATH = '/admin/logout'
# NOTE: the only /admin routes a non-admin may reach; tests/api/test_admin_api.py checks every other one refuses
ADMIN_OPEN_PATHS = frozenset({ADMIN_LOGIN_PATH, ADMIN_GRANT_PATH, ADMIN_LOGOUT_PATH})
ADMIN_OFF_MESSAGE = 'Admin pages are off: set ADMIN_PASSWORD in .env and restart the app'
REALM = 'Basic realm="VCC UI admin", charset="UTF-8"'


def admin_auth(conn: HTTPConnection) -> AdminAuth:
    """Return the AdminAuth of the app serving this request."""
    return conn.app.state.admin_auth


def is_admin(request: HTTPConnection) -> bool:
    """Whether this request carries a live admin session cookie."""
    return admin_auth(request).is_session(request.cookies.get(ADMIN_COOKIE))


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


def admin_url(url: str) -> str:
    """The admin-only URL of any user's stored file, from its /outputs URL (an image view's url or thumb_url)."""
    return ADMIN_API_PREFIX + url


def safe_admin_next(target: str | None) -> str:
    """Return `target` when it is an admin page path, else the admin start page."""
    if (
        not target
        or not target.startswith(ADMIN_PAGE_PREFIX)
        or target.startswith(ADMIN_LOGIN_PATH)
        or '\\' in target
        or '//' in target
        or any(ord(ch) < 32 for ch in target)
    ):
        return ADMIN_PAGE_PREFIX
    return target


def is_admin_page(path: str) -> bool:
    """Whether a path is one of the protected admin pages (the login page is not)."""
    return (path == ADMIN_PAGE_PREFIX or path.startswith(ADMIN_PAGE_PREFIX + '/')) and path not in ADMIN_OPEN_PATHS


def page_redirect(request: Request) -> Response | None:
    """A 303 to the admin login for a non-admin opening a protected admin page (admin on), else None."""
    path = request.url.path.rstrip('/') or '/'
    if not is_admin_page(path) or not admin_auth(request).enabled or is_admin(request):
        return None
    target = path + (f'?{request.url.query}' if request.url.query else '')
    return RedirectResponse(f'{ADMIN_LOGIN_PATH}?next={quote(target)}', status_code=303)


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
