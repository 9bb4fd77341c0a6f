"""Admin login: ADMIN_USER/ADMIN_PASSWORD, the signed `vcc_admin` session cookie, HTTP Basic, the admin paths."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer

from vcc_ui.services import auth
from vcc_ui.services.auth import Attempt, LoginThrottle, SessionStore, login_throttle

log = logging.getLogger(__name__)

ADMIN_COOKIE = 'vcc_admin'
ADMIN_MAX_AGE = 12 * 3600
ADMIN_SESSION = 'admin'
ADMIN_PAGE_PREFIX = '/admin'
ADMIN_API_PREFIX = '/api/v1/admin'
ADMIN_LOGIN_PATH = '/admin/login'
ADMIN_LOGOUT_PATH = '/admin/logout'
# NOTE: the only /admin routes a non-admin may reach; tests/api/test_admin_api.py checks every other one refuses
ADMIN_OPEN_PATHS = frozenset({ADMIN_LOGIN_PATH, ADMIN_LOGOUT_PATH})


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


class AdminAuth:
    """Checks admin credentials and mints the session cookie; it dies when the user or password changes."""

    def __init__(
        self,
        user: str,
        password: str,
        secret: str,
        *,
        limiter: LoginThrottle | None = None,
        sessions: SessionStore | None = None,
        redis_url: str = '',
    ) -> None:
        self.enabled = bool(password)
        self.sessions = sessions or SessionStore()
        self.user = user
        self._user = hashlib.sha256(user.encode()).digest()
        self._password = hashlib.sha256(password.encode()).digest()
        secret_bytes = secret.encode()
        self._fingerprint = hmac.new(
            secret_bytes, b'admin:' + user.encode() + b'\0' + password.encode(), hashlib.sha256
        ).hexdigest()[:32]
        self._cookie = URLSafeTimedSerializer(secret, salt='vcc-admin-session')
        self.limiter = limiter or login_throttle(redis_url, 'admin', 5, 60.0, probe_interval=20.0)

    def check(self, user: str, password: str) -> bool:
        """Whether these are the admin's credentials (constant time; never when admin is off)."""
        user_ok = hmac.compare_digest(hashlib.sha256(user.encode()).digest(), self._user)
        password_ok = hmac.compare_digest(hashlib.sha256(password.encode()).digest(), self._password)
        return self.enabled and user_ok and password_ok

    async def attempt(self, user: str, password: str, client: str) -> Attempt:
        """Check credentials from `client` (an IP); wrong ones are slowed and counted against the client."""
        wait = await self.limiter.take(client)
        if wait:
            return Attempt(ok=False, retry_after=wait)
        if self.check(user, password):
            return Attempt(ok=True)
        await self.limiter.count_failure(client)
        log.warning('wrong admin login from %s', client)
        await asyncio.sleep(auth.WRONG_PASSWORD_DELAY)
        return Attempt(ok=False)

    async def basic(self, header: str | None, client: str) -> Attempt | None:
        """Check an `Authorization: Basic ...` header; None when the header carries no Basic credentials."""
        scheme, _, encoded = (header or '').partition(' ')
        if scheme.lower() != 'basic' or not encoded:
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(':')
        except (binascii.Error, UnicodeDecodeError):
            user, sep, password = '', '', ''
        if not sep:
            return await self.attempt('', secrets.token_hex(8), client)  # malformed: counted like a wrong one
        return await self.attempt(user, password, client)

    def is_session(self, cookie: str | None) -> bool:
        """Whether this cookie is a live (not logged out) admin session for the current credentials."""
        value = self._session(cookie)
        return value is not None and self.sessions.is_live(value.get('s'), ADMIN_SESSION)

    def log_out(self, cookie: str | None) -> None:
        """Revoke the session this cookie carries, so a copy of it no longer works either."""
        if (value := self._session(cookie)) is not None:
            self.sessions.revoke(value.get('s'))

    def _session(self, cookie: str | None) -> dict | None:
        """The payload of a validly signed, unexpired session cookie for the current credentials, else None."""
        if not self.enabled or not cookie:
            return None
        try:
            value = self._cookie.loads(cookie, max_age=ADMIN_MAX_AGE)
        except BadSignature:  # also SignatureExpired
            return None
        if isinstance(value, dict) and hmac.compare_digest(str(value.get('v', '')), self._fingerprint):
            return value
        return None

    def is_admin(self, cookies: Mapping[str, str]) -> bool:
        """Whether a request with these cookies carries a live admin session."""
        return self.is_session(cookies.get(ADMIN_COOKIE))

    def login_redirect(self, path: str, query: str, cookies: Mapping[str, str]) -> str | None:
        """The admin login URL for a non-admin opening a protected admin page (admin on), else None."""
        path = path.rstrip('/') or '/'
        if not is_admin_page(path) or not self.enabled or self.is_admin(cookies):
            return None
        target = path + (f'?{query}' if query else '')
        return f'{ADMIN_LOGIN_PATH}?next={quote(target)}'

    def cookie_value(self) -> str:
        """Return the signed cookie value of a new session."""
        return self._cookie.dumps({'v': self._fingerprint, 's': self.sessions.open(ADMIN_SESSION, ADMIN_MAX_AGE)})
