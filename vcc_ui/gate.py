"""The beta gate on every HTTP and WebSocket request, and the /beta-login routes for scripts and the login page."""

from __future__ import annotations

import logging
import math
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Form, Query
from nicegui import Client
from nicegui.version import __version__
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from vcc_ui.services import Services
from vcc_ui.services.auth import GATE_COOKIE, GATE_MAX_AGE, GRANT_PATH, LOGIN_PATH, BetaGate, client_ip, safe_next
from vcc_ui.services.shares import PUBLIC_PREFIXES as SHARE_PREFIXES

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({LOGIN_PATH, GRANT_PATH, '/favicon.ico', '/healthz'})
# NiceGUI's own code and styles (never user content) and share links, which are meant for people without the password
OPEN_PREFIXES = (f'/_nicegui/{__version__}/', *SHARE_PREFIXES)
SOCKET_PREFIX = '/_nicegui_ws/'
LOCKED_MESSAGE = f'The beta is password protected: log in at {LOGIN_PATH} first'


def install(app: FastAPI, services: Services) -> None:
    """Add the gate middleware (outside the identity middleware) and the login routes."""
    gate = services.gate
    if gate.enabled:
        log.info('beta gate is on: every page and API route needs the BETA_PASSWORD')
    else:
        log.warning('BETA_PASSWORD is not set: the beta gate is OFF, anyone who reaches this app can use it')
    app.add_middleware(GateMiddleware, gate=gate)

    @app.post(LOGIN_PATH, include_in_schema=False)
    async def beta_login(
        request: Request,
        password: Annotated[str, Form(max_length=1000)] = '',
        next: Annotated[str, Form(max_length=2000)] = '/',
    ) -> Response:
        """Check the password: 303 to `next` with the gate cookie, 401 when wrong, 429 when limited."""
        if not gate.enabled:
            return RedirectResponse(safe_next(next), status_code=303)
        attempt = await gate.attempt(password, client_ip(request))
        if attempt.retry_after:
            seconds = math.ceil(attempt.retry_after)
            return JSONResponse(
                {
                    'detail': {
                        'code': 'rate_limited',
                        'message': f'Too many wrong passwords, retry in {seconds} s',
                        'field': 'password',
                    }
                },
                status_code=429,
                headers={'Retry-After': str(seconds)},
            )
        if not attempt.ok:
            return JSONResponse(
                {'detail': {'code': 'wrong_password', 'message': 'Wrong password', 'field': 'password'}},
                status_code=401,
            )
        return unlocked(RedirectResponse(safe_next(next), status_code=303), gate, services.settings.cookie_secure)

    @app.get(GRANT_PATH, include_in_schema=False)
    async def beta_grant(
        token: Annotated[str, Query(max_length=500)] = '', next: Annotated[str, Query(max_length=2000)] = '/'
    ) -> Response:
        """Exchange the login page's one-time token for the gate cookie."""
        if not gate.redeem(token):
            return RedirectResponse(f'{LOGIN_PATH}?next={quote(safe_next(next))}', status_code=303)
        return unlocked(RedirectResponse(safe_next(next), status_code=303), gate, services.settings.cookie_secure)


def unlocked(response: Response, gate: BetaGate, secure: bool) -> Response:
    """Set the gate cookie on a response."""
    response.set_cookie(
        GATE_COOKIE, gate.cookie_value(), max_age=GATE_MAX_AGE, httponly=True, samesite='lax', secure=secure, path='/'
    )
    return response


class GateMiddleware:
    """Answer locked requests before they reach any route, page or socket."""

    def __init__(self, app: ASGIApp, gate: BetaGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] not in {'http', 'websocket'} or not self.gate.enabled:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if self.gate.is_open(conn.cookies.get(GATE_COOKIE)) or self._allowed_while_locked(scope):
            await self.app(scope, receive, send)
            return
        if scope['type'] == 'websocket':
            await send({'type': 'websocket.close', 'code': 1008})
            return
        await locked_response(conn)(scope, receive, send)

    @staticmethod
    def _allowed_while_locked(scope: Scope) -> bool:
        path: str = scope['path']
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return True
        if path.startswith(SOCKET_PREFIX):
            # NOTE: only a socket of a login page client may connect; NiceGUI's handshake rejects any other
            # client id than the one in this query (Client.accept_handshake), so a locked browser reaches no page.
            query = parse_qs(scope.get('query_string', b'').decode('latin-1'))
            client = Client.instances.get((query.get('client_id') or [''])[0])
            return client is not None and client.page.path == LOGIN_PATH
        return False


def locked_response(conn: HTTPConnection) -> Response:
    """303 to the login page for a browser opening a page, else 401 JSON."""
    path = conn.url.path
    is_page = (
        conn.scope.get('method') in {'GET', 'HEAD'}
        and 'text/html' in conn.headers.get('accept', '')
        and not path.startswith(('/api/', '/outputs/', '/_nicegui'))
    )
    if is_page:
        target = path + (f'?{conn.url.query}' if conn.url.query else '')
        return RedirectResponse(f'{LOGIN_PATH}?next={quote(safe_next(target))}', status_code=303)
    return JSONResponse({'detail': {'code': 'beta_locked', 'message': LOCKED_MESSAGE, 'field': None}}, status_code=401)
