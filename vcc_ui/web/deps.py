"""What routes depend on: the services, the caller's anonymous id, the readiness wait and the admin check."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, Request

from vcc_ui.services import Services
from vcc_ui.services.auth import client_ip
from vcc_ui.services.tokens import Bearer
from vcc_ui.web.errors import ApiError

ADMIN_OFF_MESSAGE = 'Admin pages are off: set ADMIN_PASSWORD in .env and restart the app'
ADMIN_CHECKED = 'admin_basic_ok'  # request.state flag: the gate found this request's Basic credentials right
TOKEN_STATE = 'api_token'  # request.state: the checked Bearer token the request acts by (web.middleware)
REALM = 'Basic realm="VCC UI admin", charset="UTF-8"'


async def get_services(request: Request) -> Services:
    """The services of the app serving this request (`install` keeps them on app.state).

    Async, like every dependency here: FastAPI runs a plain function in a worker thread, two thread hops a request.
    """
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_user(request: Request) -> str:
    """The caller's anonymous id, which the identity middleware put on the request."""
    return request.state.user


UserDep = Annotated[str, Depends(get_user)]


def get_token(request: Request) -> Bearer | None:
    """The personal API token the request acts by, None for a browser's (cookie) request."""
    return getattr(request.state, TOKEN_STATE, None)


TokenDep = Annotated[Bearer | None, Depends(get_token)]


async def wait_ready(services: ServicesDep) -> None:
    """Hold the request until the services have started."""
    await services.ready.wait()


async def require_admin(request: Request, services: ServicesDep) -> None:
    """Let admins in (session cookie, HTTP Basic, admin token); 401 with a Basic challenge, 429 limited, 403 off."""
    auth = services.admin
    if not auth.enabled:
        raise ApiError(403, 'admin_off', ADMIN_OFF_MESSAGE)
    if (token := get_token(request)) is not None:  # a token request: only the token counts, never a cookie
        if token.admin:
            return
        raise ApiError(403, 'admin_required', 'This API token has no admin access: an admin makes one that has')
    if getattr(request.state, ADMIN_CHECKED, False) or auth.is_admin(request.cookies):
        return
    attempt = await auth.basic(request.headers.get('authorization'), client_ip(request))
    if attempt is not None and attempt.retry_after:
        seconds = math.ceil(attempt.retry_after)
        raise ApiError(
            429,
            'rate_limited',
            f'Too many wrong admin logins, retry in {seconds} s',
            headers={'Retry-After': str(seconds)},
        )
    if attempt is None or not attempt.ok:
        raise ApiError(401, 'admin_required', 'Admin login required', headers={'WWW-Authenticate': REALM})


# router-level dependencies: `APIRouter(dependencies=[AdminDep, ReadyDep])`
ReadyDep = Depends(wait_ready)
AdminDep = Depends(require_admin)
