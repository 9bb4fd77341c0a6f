"""Personal API tokens: made, listed and revoked per user, checked on every Bearer request (only hashes are kept).

A token reads `vcc_<id>_<secret part>`: the id is public (it names the token on its owner's page), the whole token
is hashed with sha256 and only the hash is stored. A check finds the token by its id and compares the hashes in
constant time; the token itself is never stored, logged or shown again after its creation. The database is the
truth (several app instances may share it): a check keeps what it read for FRESH_FOR seconds, so a token made or
revoked on another instance counts there within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlmodel import Session, col, delete, or_, select

from vcc_ui.models import ApiToken, utcnow
from vcc_ui.services.auth import RateLimiter
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.image_meta import ImageProblem

log = logging.getLogger(__name__)

TOKEN_PREFIX = 'vcc_'
TOKEN_RE = re.compile(r'vcc_([0-9a-f]{16})_[A-Za-z0-9_-]{43}')
NAME_MAX = 60
EXPIRY_DAYS_MAX = 365
MAX_LIVE_TOKENS = 20  # unrevoked, unexpired tokens one user may hold
CREATE_LIMIT = 10  # tokens one user may make per CREATE_WINDOW
CREATE_WINDOW = 3600.0
FRESH_FOR = 5.0  # seconds a check trusts what it last read about a token
USE_WRITE_INTERVAL = timedelta(minutes=1)  # a token's last use is written at most this often
MAX_CACHED = 10_000  # tokens a check remembers (the oldest read is forgotten first)
KEEP_ENDED = timedelta(days=30)  # a revoked or expired token is forgotten this long after it ended
_CONTROL = re.compile(r'[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]')
_DUMMY_DIGEST = hashlib.sha256(b'no such token').hexdigest()
_MESSAGES = {
    'token_name_missing': 'Give the token a name.',
    'token_name_too_long': f'A token name has at most {NAME_MAX} characters.',
    'token_name_bad_chars': 'A token name cannot contain control or direction characters.',
    'token_bad_expiry': f'A token expires after 1 to {EXPIRY_DAYS_MAX} days, or never.',
    'token_too_many': f'You have {MAX_LIVE_TOKENS} tokens already. Revoke one you no longer use first.',
    'token_create_limited': f'You made {CREATE_LIMIT} tokens within the last hour. Try again later.',
    'token_not_found': 'No such token.',
    'token_unavailable': 'The token could not be stored. Try again later.',
}
_CODES = {
    'token_too_many': 'limit',
    'token_create_limited': 'limit',
    'token_not_found': 'not_found',
    'token_unavailable': 'unavailable',
}


class TokenError(ImageProblem):
    """A token request that is refused; `reason` names the case (an i18n key), `message` says it in English."""

    def __init__(self, reason: str) -> None:
        super().__init__(_CODES.get(reason, 'invalid'), _MESSAGES[reason])
        self.reason = reason


@dataclass(slots=True)
class TokenInfo:
    """What is known about one token (never its secret)."""

    id: str
    owner: str
    name: str
    digest: str
    admin: bool
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    used_written: datetime | None = None  # when last_used_at was last written to the database
    read_at: float = 0.0  # when the row was read (monotonic)

    @property
    def hint(self) -> str:
        """The token's public beginning, as its owner's page shows it."""
        return f'{TOKEN_PREFIX}{self.id}_…'

    def expired(self, now: datetime) -> bool:
        """Whether the token's expiry has passed."""
        return self.expires_at is not None and self.expires_at <= now

    def ended_at(self) -> datetime | None:
        """When the token stopped working (revoked or expired), as far as that is decided."""
        return self.revoked_at or self.expires_at

    @classmethod
    def of(cls, row: ApiToken) -> TokenInfo:
        """The record of a stored token."""
        return cls(
            id=row.id,
            owner=row.owner,
            name=row.name,
            digest=row.digest,
            admin=row.admin,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            used_written=row.last_used_at,
        )


@dataclass(frozen=True, slots=True)
class Bearer:
    """The token a request carried, checked: whom it acts as and whether it reaches the admin API."""

    token_id: str
    owner: str
    admin: bool


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a token does not work: 'malformed', 'unknown', 'revoked' or 'expired' (with when)."""

    reason: str
    at: datetime | None = None


def digest_of(token: str) -> str:
    """The sha256 of a token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def clean_name(text: str | None) -> str:
    """The token name as stored (spaces trimmed and collapsed); raise TokenError if refused."""
    if text is not None and _CONTROL.search(text):
        raise TokenError('token_name_bad_chars')
    name = ' '.join((text or '').split())
    if not name:
        raise TokenError('token_name_missing')
    if len(name) > NAME_MAX:
        raise TokenError('token_name_too_long')
    return name


class ApiTokens:
    """Tokens in the database, written through the one write path; checks keep what they read for FRESH_FOR s."""

    def __init__(self, writer: DbWriter, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.writer = writer
        self.clock = clock
        self.fresh_for = FRESH_FOR
        self._created = RateLimiter(CREATE_LIMIT, CREATE_WINDOW, clock=time.monotonic)
        self._tokens: dict[str, TokenInfo] = {}  # what checks read lately, by token id
        horizon = clock() - KEEP_ENDED
        self.writer.write_later(lambda db: _drop_ended(db, horizon))

    async def check(self, token: str) -> Bearer | Refusal:
        """Whom a presented token acts as, or why it does not work; a working one has its use noted."""
        match = TOKEN_RE.fullmatch(token)
        if match is None:
            return Refusal('malformed')
        info = await self._get(match[1])
        known = hmac.compare_digest(info.digest if info else _DUMMY_DIGEST, digest_of(token))
        if info is None or not known:
            return Refusal('unknown')
        if info.revoked_at is not None:
            return Refusal('revoked', info.revoked_at)
        now = self.clock()
        if info.expired(now):
            return Refusal('expired', info.expires_at)
        self._used(info, now)
        return Bearer(info.id, info.owner, info.admin)

    async def of(self, owner: str) -> list[TokenInfo]:
        """The user's tokens that were not revoked, newest first."""
        rows: list[ApiToken] = await self.writer.read(partial(_live_of, owner=owner))
        return [self._remember(row) for row in rows]

    async def create(
        self, owner: str, name: str | None, *, days: int | None = None, admin: bool = False
    ) -> tuple[TokenInfo, str]:
        """Make a token (stored once this returns) and return it with its secret, which nobody sees again."""
        clean = clean_name(name)
        if days is not None and not 1 <= days <= EXPIRY_DAYS_MAX:
            raise TokenError('token_bad_expiry')
        now = self.clock()
        if sum(1 for t in await self.of(owner) if not t.expired(now)) >= MAX_LIVE_TOKENS:
            raise TokenError('token_too_many')
        if self._created.retry_after(owner):
            raise TokenError('token_create_limited')
        token_id = secrets.token_hex(8)  # 64 bits: a clash with a stored id fails the insert, nothing is overwritten
        token = f'{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}'
        row = ApiToken(
            id=token_id,
            owner=owner,
            name=clean,
            digest=digest_of(token),
            admin=admin,
            created_at=now,
            expires_at=now + timedelta(days=days) if days else None,
        )
        try:
            await self.writer.write(lambda db: db.add(row))
        except Exception as error:  # the writer logged it; the caller gets a clear refusal, nothing was made
            raise TokenError('token_unavailable') from error
        self._created.hit(owner)
        info = self._remember(row)
        log.info('api token created', extra={'token_id': token_id, 'owner': owner, 'admin': admin, 'days': days})
        return info, token

    async def revoke(self, owner: str, token_id: str) -> TokenInfo:
        """Stop one of the user's tokens at once (stored once this returns; other instances within FRESH_FOR s)."""
        info = await self._get(token_id, fresh=True)
        if info is None or info.owner != owner or info.revoked_at is not None:
            raise TokenError('token_not_found')
        now = self.clock()
        await self.writer.write(lambda db: _set(db, token_id, revoked_at=now))
        info.revoked_at = now
        log.info('api token revoked', extra={'token_id': token_id, 'owner': owner})
        return info

    async def _get(self, token_id: str, *, fresh: bool = False) -> TokenInfo | None:
        """The token as lately read, or as stored now when that is older than fresh_for (or `fresh`)."""
        info = self._tokens.get(token_id)
        if info is not None and not fresh and time.monotonic() - info.read_at < self.fresh_for:
            return info
        row: ApiToken | None = await self.writer.read(lambda db: db.get(ApiToken, token_id))
        if row is None:
            self._tokens.pop(token_id, None)
            return None
        return self._remember(row)

    def _remember(self, row: ApiToken) -> TokenInfo:
        """Keep a row as read now; this instance's newer last use survives the read."""
        info, before = TokenInfo.of(row), self._tokens.get(row.id)
        if (
            before is not None
            and before.last_used_at
            and (not info.last_used_at or before.last_used_at > info.last_used_at)
        ):
            info.last_used_at, info.used_written = before.last_used_at, before.used_written
        info.read_at = time.monotonic()
        if len(self._tokens) >= MAX_CACHED and row.id not in self._tokens:
            self._tokens.pop(next(iter(self._tokens)))
        self._tokens[row.id] = info
        return info

    def _used(self, info: TokenInfo, now: datetime) -> None:
        info.last_used_at = now
        if info.used_written is None or now - info.used_written >= USE_WRITE_INTERVAL:
            info.used_written = now
            self.writer.write_later(lambda db: _set(db, info.id, last_used_at=now))


def _set(db: Session, token_id: str, **fields: object) -> None:
    row = db.get(ApiToken, token_id)
    if row is not None:
        for name, value in fields.items():
            setattr(row, name, value)
        db.add(row)


def _live_of(db: Session, *, owner: str) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.owner == owner, col(ApiToken.revoked_at).is_(None))
    return list(db.exec(query.order_by(col(ApiToken.created_at).desc(), col(ApiToken.id))).all())


def _drop_ended(db: Session, horizon: datetime) -> None:
    db.exec(delete(ApiToken).where(or_(col(ApiToken.revoked_at) <= horizon, col(ApiToken.expires_at) <= horizon)))
