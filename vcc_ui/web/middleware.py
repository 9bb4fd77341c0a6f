"""The beta gate in front of every HTTP and WebSocket request, and the anonymous identity of every browser."""

from __future__ import annotations

import logging
import math
import re
from urllib.parse import quote, urlsplit

from nicegui.version import __version__
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vcc_ui.i18n import best_language, translate
from vcc_ui.services import Services
from vcc_ui.services.admin import AdminAuth
from vcc_ui.services.auth import (
    ANON_COOKIE,
    GATE_COOKIE,
    LOGIN_PATH,
    ONE_YEAR,
    BetaGate,
    client_ip,
    safe_next,
)
from vcc_ui.services.shares import SHARE_PATH
from vcc_ui.services.tokens import ApiTokens, Refusal
from vcc_ui.web.deps import ADMIN_CHECKED, TOKEN_STATE
from vcc_ui.web.errors import ApiError

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({LOGIN_PATH, '/favicon.ico', '/healthz'})
# NiceGUI's own code and styles (never user content) and share links, which are meant for people without the password
NICEGUI_STATIC = f'/_nicegui/{__version__}/'
# a share link is one path segment of signed-token characters (and its /image): nothing below /s/ builds a page
SHARE_LINK = re.compile(re.escape(SHARE_PATH) + r'[A-Za-z0-9_.-]{1,400}(/image)?')
LOCKED_MESSAGE = f'The beta is password protected: log in at {LOGIN_PATH} first'
TOKEN_PATHS = ('/api/', '/outputs/')  # where `Authorization: Bearer <token>` decides who the caller is


class IdentityMiddleware:
    """Give every browser a signed anonymous id cookie and put the id on request.state.user (a pure ASGI middleware:
    no task or body stream per request, as Starlette's BaseHTTPMiddleware costs)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read or mint the id; a fresh one goes out as the cookie on the answer."""
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        state = scope.setdefault('state', {})
        if (token := state.get(TOKEN_STATE)) is not None:
            state['user'] = token.owner  # a token's request acts as its user: no cookie is read or minted
            self.services.users.touch(token.owner)
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        identity = self.services.identity
        user = identity.read(conn.cookies.get(ANON_COOKIE))
        # NOTE: a new id is handed out (and counted per client address) only where one is used: public paths get a
        # throwaway id and no cookie, so they cannot be used to collect ids past the limit
        path: str = scope['path']
        public = self._public(path)
        fresh = user is None and not public
        if fresh and not self.services.users.admit_new_id(client_ip(conn)):
            lang = best_language(conn.headers.get('accept-language'))
            await ApiError(429, 'limit', translate('new_ids_limit', lang)).response()(scope, receive, send)
            return
        state['user'] = user or identity.new_id()
        if user is not None and self._passed_gate(path, conn):  # a first visit is recorded by the root page
            self.services.users.touch(user)
        if not fresh:
            await self.app(scope, receive, send)
            return
        cookie = self._cookie_header(state['user'])

        async def send_with_cookie(message: Message) -> None:
            if message['type'] == 'http.response.start':
                message = {**message, 'headers': [*message.get('headers', []), cookie]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie_header(self, user: str) -> tuple[bytes, bytes]:
        """The Set-Cookie header carrying a fresh id (Starlette's own cookie formatting)."""
        carrier = Response()
        carrier.set_cookie(
            ANON_COOKIE,
            self.services.identity.cookie_for(user),
            max_age=ONE_YEAR,
            httponly=True,
            samesite='lax',
            secure=self.services.settings.cookie_secure,
        )
        return next((name, value) for name, value in carrier.raw_headers if name == b'set-cookie')

    @staticmethod
    def _public(path: str) -> bool:
        """Paths that need no anonymous id of their own: login, health, NiceGUI's static files."""
        return path in OPEN_PATHS or path.startswith(f'/_nicegui/{__version__}/')

    def _passed_gate(self, path: str, conn: HTTPConnection) -> bool:
        """Whether the request is the app's own use: the gate let it in, and it is no open path or share link."""
        if self._public(path) or SHARE_LINK.fullmatch(path):
            return False
        gate = self.services.gate
        return not gate.enabled or gate.is_open(conn.cookies.get(GATE_COOKIE))


class GateMiddleware:
    """Answer locked requests before they reach any route, page or socket."""

    def __init__(self, app: ASGIApp, gate: BetaGate, admin: AdminAuth) -> None:
        self.app = app
        self.gate = gate
        self.admin = admin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass open requests on; close a locked socket; answer a locked request."""
        if scope['type'] not in {'http', 'websocket'} or not self.gate.enabled:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        if (
            self.gate.is_open(conn.cookies.get(GATE_COOKIE))
            or TOKEN_STATE in scope.get('state', {})  # TokenMiddleware checked the request's token
            or self._allowed_while_locked(scope)
        ):
            await self.app(scope, receive, send)
            return
        if (admin := await self.admin.basic(conn.headers.get('authorization'), client_ip(conn))) is not None:
            if admin.ok:  # scripts with the admin's HTTP Basic credentials need no beta login
                scope.setdefault('state', {})[ADMIN_CHECKED] = True  # checked once: require_admin takes it
                await self.app(scope, receive, send)
                return
            if admin.retry_after:
                await rate_limited(admin.retry_after, 'Too many wrong admin logins')(scope, receive, send)
                return
        if scope['type'] == 'websocket':
            await send({'type': 'websocket.close', 'code': 1008})
            return
        await locked_response(conn)(scope, receive, send)

    @staticmethod
    def _allowed_while_locked(scope: Scope) -> bool:
        path: str = scope['path']
        # NOTE: NiceGUI's socket (/_nicegui_ws) is never open here: the login pages are plain HTML forms, so nothing a
        # locked browser may see needs one, and no event reaches NiceGUI's handlers without the password
        return path in OPEN_PATHS or path.startswith(NICEGUI_STATIC) or bool(SHARE_LINK.fullmatch(path))


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header, else None."""
    scheme, _, value = (header or '').partition(' ')
    return value.strip() if scheme.lower() == 'bearer' else None


class TokenMiddleware:
    """Let a personal API token (`Authorization: Bearer`) decide who calls /api and /outputs: its user, no cookie.

    A token that does not work answers 401 with the reason; such a request never falls back to the cookies it
    carries. A working one is put on request.state (TOKEN_STATE) for the gate, the identity middleware and routes.
    """

    def __init__(self, app: ASGIApp, tokens: ApiTokens) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a Bearer token on the token paths; answer 401 when it does not work."""
        if scope['type'] == 'http' and scope['path'].startswith(TOKEN_PATHS):
            conn = HTTPConnection(scope)
            if (token := bearer_token(conn.headers.get('authorization'))) is not None:
                checked = await self.tokens.check(token)
                if isinstance(checked, Refusal):
                    log.info('refused an API token (%s) for %s %s', checked.reason, scope['method'], scope['path'][:99])
                    lang = best_language(conn.headers.get('accept-language'))
                    await token_refused(checked, lang)(scope, receive, send)
                    return
                scope.setdefault('state', {})[TOKEN_STATE] = checked
        await self.app(scope, receive, send)


def token_refused(refusal: Refusal, lang: str) -> Response:
    """401 naming why the token does not work (`token_<reason>`), with a Bearer challenge."""
    at = refusal.at.strftime('%Y-%m-%d %H:%M UTC') if refusal.at else ''
    return ApiError(
        401,
        f'token_{refusal.reason}',
        translate(f'token_{refusal.reason}', lang, at=at),
        headers={'WWW-Authenticate': 'Bearer error="invalid_token"'},
    ).response()


def rate_limited(retry_after: float, message: str) -> Response:
    """429 with Retry-After in whole seconds."""
    seconds = math.ceil(retry_after)
    return ApiError(
        429, 'rate_limited', f'{message}, retry in {seconds} s', headers={'Retry-After': str(seconds)}
    ).response()


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


CHANGING_METHODS = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})
CROSS_ORIGIN_MESSAGE = 'This request came from another site and was refused'


class OriginMiddleware:
    """Refuse state-changing requests that a browser sent from another site (the CSRF defence beyond SameSite=Lax).

    A browser names the page's origin in Origin (or, when it leaves that out, Referer) on every POST/PUT/PATCH/DELETE,
    forms and multipart uploads included; it must be this app's host (the Host header, which nginx passes on). The
    scheme is not compared: behind a TLS proxy the app itself may be spoken to over plain HTTP. A request without
    either header is not from a page (curl, scripts with HTTP Basic or a cookie jar) and passes. So does a request
    with a Bearer token on the token paths: the token alone says who it is (TokenMiddleware ignores its cookies).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 403 to a cross-site state change, pass everything else on."""
        if scope['type'] == 'http' and scope['method'] in CHANGING_METHODS:
            conn = HTTPConnection(scope)
            source = conn.headers.get('origin') or conn.headers.get('referer')
            by_token = scope['path'].startswith(TOKEN_PATHS) and bearer_token(conn.headers.get('authorization'))
            if source is not None and not by_token and not same_host(source, conn.headers.get('host', '')):
                log.warning('refused %s %s from origin %r', scope['method'], scope['path'], source[:200])
                await ApiError(403, 'cross_origin', CROSS_ORIGIN_MESSAGE).response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def same_host(source: str, host: str) -> bool:
    """Whether an Origin or Referer value names this host (an opaque 'null' origin never does)."""
    parsed = urlsplit(source)
    return parsed.scheme in {'http', 'https'} and bool(host) and parsed.netloc.lower() == host.lower()


# NOTE: NiceGUI's page is inline script and Vue compiles templates at run time ('unsafe-inline', 'unsafe-eval');
# everything it loads (Vue, Quasar, Tailwind, fonts) comes from /_nicegui on this origin
def content_security_policy(*image_origins: str) -> str:
    """The CSP; `image_origins` may serve images too (the S3 endpoint that presigned URLs point to)."""
    return '; '.join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
            "style-src 'self' 'unsafe-inline'",
            ' '.join(["img-src 'self' data: blob:", *image_origins]),
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


HSTS = 'max-age=31536000'


class SecurityHeadersMiddleware:
    """Add CSP, nosniff, Referrer-Policy, X-Frame-Options and (behind HTTPS) HSTS to every HTTP answer."""

    def __init__(self, app: ASGIApp, *, secure: bool, image_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.headers = [
            (b'content-security-policy', content_security_policy(*image_origins).encode()),
            (b'x-content-type-options', b'nosniff'),
            (b'referrer-policy', b'same-origin'),
            (b'x-frame-options', b'DENY'),
        ] + ([(b'strict-transport-security', HSTS.encode())] if secure else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; put the headers on its answer."""
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message['type'] == 'http.response.start':
                names = {name.lower() for name, _ in message.get('headers', [])}
                extra = [(name, value) for name, value in self.headers if name not in names]
                message = {**message, 'headers': [*message.get('headers', []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


JSON_MAX_BYTES = 1 << 20  # any body but a multipart upload: JSON and forms are small
FORM_OVERHEAD = 64 * 1024  # multipart boundaries, headers and the other fields around the file
BODILESS_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS'})


class BodyTooLarge(Exception):
    """The request body went past its limit."""


class BodyLimitMiddleware:
    """Stop reading a request body at its limit and answer 413: a declared Content-Length before reading, a
    chunked or understated body as soon as the bytes received pass the limit (nothing past it is read)."""

    def __init__(self, app: ASGIApp, *, upload_max: int) -> None:
        self.app = app
        self.upload_max = upload_max + FORM_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass bodies within the limit on; answer 413 to the others without reading the rest."""
        if scope['type'] != 'http' or scope['method'] in BODILESS_METHODS:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        limit = self.upload_max if conn.headers.get('content-type', '').startswith('multipart/') else JSON_MAX_BYTES
        too_large = ApiError(413, 'too_large', f'The request body is larger than {limit} bytes').response()
        declared = conn.headers.get('content-length', '')
        if declared.isdigit() and int(declared) > limit:
            await too_large(scope, receive, send)
            return
        received = 0
        started = exceeded = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            received += len(message.get('body', b''))
            if received > limit:
                exceeded = True
                raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app made of the cut body (a parse error), the answer is 413
                if not started:
                    started = True
                    await too_large(scope, receive, send)
                return
            started = started or message['type'] == 'http.response.start'
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await too_large(scope, receive, send)


class UnknownPathMiddleware:
    """Answer a plain 404 to a path that no route and no page serves, before NiceGUI builds its root page for it."""

    def __init__(self, app: ASGIApp, *, routes: Starlette, pages: frozenset[str]) -> None:
        self.app = app
        self.routes = routes
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass known paths on; 404 JSON for the rest (no client, no page, no user row)."""
        if scope['type'] != 'http' or self._known(scope):
            await self.app(scope, receive, send)
            return
        log.info('404 for %s %s: no route or page serves it', scope['method'], scope['path'][:200])
        await ApiError(404, 'not_found', 'Not found').response()(scope, receive, send)

    def _known(self, scope: Scope) -> bool:
        if (scope['path'].rstrip('/') or '/') in self.pages:
            return True
        return any(route.matches(scope)[0] is not Match.NONE for route in self.routes.router.routes)
