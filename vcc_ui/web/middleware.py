"""The beta gate in front of every HTTP and WebSocket request, and the anonymous identity of every browser."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote

from nicegui import Client
from nicegui.version import __version__
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from vcc_ui.services import Services
from vcc_ui.services.auth import ANON_COOKIE, GATE_COOKIE, GRANT_PATH, LOGIN_PATH, ONE_YEAR, BetaGate, safe_next
from vcc_ui.services.shares import PUBLIC_PREFIXES as SHARE_PREFIXES
from vcc_ui.web.errors import ApiError

OPEN_PATHS = frozenset({LOGIN_PATH, GRANT_PATH, '/favicon.ico', '/healthz'})
# NiceGUI's own code and styles (never user content) and share links, which are meant for people without the password
OPEN_PREFIXES = (f'/_nicegui/{__version__}/', *SHARE_PREFIXES)
SOCKET_PREFIX = '/_nicegui_ws/'
LOCKED_MESSAGE = f'The beta is password protected: log in at {LOGIN_PATH} first'


class IdentityMiddleware(BaseHTTPMiddleware):
    """Give every browser a signed anonymous id cookie and put the id on request.state.user."""

    def __init__(self, app: Any, services: Services) -> None:
        super().__init__(app)
        self.services = services

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Read or mint the id; a fresh one goes out as the cookie."""
        identity = self.services.identity
        user = identity.read(request.cookies.get(ANON_COOKIE))
        fresh = user is None
        request.state.user = user or identity.new_id()
        if not fresh and self._passed_gate(request):  # a first visit is recorded by the root page
            self.services.users.touch(request.state.user)
        response = await call_next(request)
        if fresh:
            response.set_cookie(
                ANON_COOKIE,
                identity.cookie_for(request.state.user),
                max_age=ONE_YEAR,
                httponly=True,
                samesite='lax',
                secure=self.services.settings.cookie_secure,
            )
        return response

    def _passed_gate(self, request: Request) -> bool:
        """Whether the request is the app's own use: the gate let it in, and it is no open path or share link."""
        path = request.url.path
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return False
        gate = self.services.gate
        return not gate.enabled or gate.is_open(request.cookies.get(GATE_COOKIE))


class GateMiddleware:
    """Answer locked requests before they reach any route, page or socket."""

    def __init__(self, app: ASGIApp, gate: BetaGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass open requests on; close a locked socket; answer a locked request."""
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
    return ApiError(401, 'beta_locked', LOCKED_MESSAGE).response()
