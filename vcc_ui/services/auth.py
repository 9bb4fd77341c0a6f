"""Anonymous identity: each browser gets a signed `anon-<hex>` id in a cookie; it owns that browser's work."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer

ANON_COOKIE = 'vcc_anon'
ANON_RE = re.compile(r'^anon-[0-9a-f]{16,64}$')
ONE_YEAR = 365 * 24 * 3600


def load_secret(configured: str, folder: Path) -> str:
    """Return SECRET_KEY, or a random secret kept in `folder/secret.key` across restarts."""
    if configured:
        return configured
    path = folder / 'secret.key'
    if path.is_file():
        return path.read_text(encoding='utf-8').strip()
    folder.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(secret, encoding='utf-8')
    return secret


class Identity:
    """Mints and checks the signed anonymous id cookie (a forged or foreign id is never accepted)."""

    def __init__(self, secret: str) -> None:
        self._signer = URLSafeSerializer(secret, salt='vcc-anon-id')

    @staticmethod
    def new_id() -> str:
        """Return a fresh anonymous user id."""
        return f'anon-{secrets.token_hex(16)}'

    def cookie_for(self, anon_id: str) -> str:
        """Return the signed cookie value for an id."""
        return self._signer.dumps(anon_id)

    def read(self, cookie: str | None) -> str | None:
        """Return the id inside a valid cookie, else None."""
        if not cookie:
            return None
        try:
            value = self._signer.loads(cookie)
        except BadSignature:
            return None
        return value if isinstance(value, str) and ANON_RE.fullmatch(value) else None
