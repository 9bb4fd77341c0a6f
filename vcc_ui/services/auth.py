"""Anonymous ids, the beta gate, its login paths, revocable sessions and login rate limiting (no UI here)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlmodel import Session, col, delete, select
from starlette.requests import HTTPConnection

from vcc_ui.models import WebSession
from vcc_ui.services.bus import Bus
from vcc_ui.services.dbwriter import DbWriter, read

log = logging.getLogger(__name__)

ANON_COOKIE = 'vcc_anon'
ANON_RE = re.compile(r'^anon-[0-9a-f]{16,64}$')
ONE_YEAR = 365 * 24 * 3600
LOGIN_PATH = '/beta-login'
SESSIONS_TOPIC = 'sessions'  # the bus topic of session opens and revocations


def client_ip(conn: HTTPConnection) -> str:
    """The peer address that login attempts are counted against.

    uvicorn rewrites it from X-Forwarded-For only for a peer listed in TRUSTED_PROXIES (Settings.uvicorn_proxy_options),
    so a client cannot choose the address its attempts are counted against.
    """
    return conn.client.host if conn.client else 'unknown'


def safe_next(target: str | None) -> str:
    """Return `target` when it is a path on this site, else '/' (no open redirects)."""
    if (
        not target
        or not target.startswith('/')
        or target.startswith('//')
        or '\\' in target
        or any(ord(ch) < 32 for ch in target)
        or target.startswith(LOGIN_PATH)
    ):
        return '/'
    return target


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


WRONG_PASSWORD_DELAY = 0.75  # seconds a wrong password waits before its answer
GATE_COOKIE = 'vcc_beta'
GATE_MAX_AGE = 30 * 24 * 3600
BETA_SESSION = 'beta'


class RateLimiter:
    """Counts events per key in a sliding window; a key over the limit must wait (in memory, one process)."""

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """Return the seconds until `key` may try again, 0 when it may now."""
        hits = self._prune(key)
        if len(hits) < self.limit:
            return 0.0
        return max(hits[0] + self.window - self._clock(), 0.001)

    def hit(self, key: str) -> None:
        """Count one event for `key`."""
        if key not in self._hits and len(self._hits) >= self._max_keys:
            self._hits.pop(next(iter(self._hits)))
        self._hits.setdefault(key, deque()).append(self._clock())

    def _prune(self, key: str) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        horizon = self._clock() - self.window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if not hits:
            del self._hits[key]
        return hits


class LoginThrottle:
    """Slows password guessing per source (an IP) without locking a right password out of that source.

    Wrong attempts are counted per source in a sliding window. Within the budget every attempt is checked. Over the
    budget the source is not locked: one attempt per `probe_interval` is still checked (a right one gets in, a wrong
    one is counted) and the attempts in between are refused unchecked with the wait until the next check. A brute
    force from one source so gets `budget` guesses and then one per interval, a few a minute; testers behind one
    office NAT who used up the budget with typos delay a colleague's right password by one interval at most instead
    of locking it out for the whole window. Keys per (source, password) would not do: a brute force never repeats a
    password, so it would never be slowed. Checking a right password even when refused would not do either: the
    refusal would then tell a guesser "wrong" at full speed.
    """

    def __init__(
        self,
        budget: int,
        window: float,
        *,
        probe_interval: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.failures = RateLimiter(budget, window, clock=clock, max_keys=max_keys)
        self.probes = RateLimiter(1, probe_interval, clock=clock, max_keys=max_keys)

    def admit(self, source: str) -> float:
        """Return 0 when an attempt from `source` may be checked now (over budget: taking the probe), else the wait."""
        if not self.failures.retry_after(source):
            return 0.0
        wait = self.probes.retry_after(source)
        if not wait:
            self.probes.hit(source)
        return wait

    def failed(self, source: str) -> None:
        """Count one wrong attempt from `source`."""
        self.failures.hit(source)

    async def take(self, source: str) -> float:
        """`admit` as the login paths call it (a shared throttle asks Redis)."""
        return self.admit(source)

    async def count_failure(self, source: str) -> None:
        """`failed` as the login paths call it (a shared throttle counts in Redis)."""
        self.failed(source)

    async def close(self) -> None:
        """Release what the throttle holds (nothing in memory)."""


class RedisLoginThrottle(LoginThrottle):
    """The same rules counted in Redis, so attempts on every instance count together (REDIS_URL set).

    Wrong attempts are a sorted set of times per source (trimmed to the window); the probe over budget is a key set
    with NX and the probe interval as its expiry, so one instance takes it and the others see how long it lives.
    While Redis cannot be reached the instance counts in its own memory, as a single instance does.
    """

    def __init__(
        self,
        url: str,
        name: str,
        budget: int,
        window: float,
        *,
        probe_interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(budget, window, probe_interval=probe_interval)
        self.budget, self.window, self.probe_interval = budget, window, probe_interval
        self._redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = f'vcc:login:{name}:'
        self._clock = clock

    async def take(self, source: str) -> float:
        """Return 0 when an attempt from `source` may be checked now (over budget: taking the probe), else the wait."""
        failures, probe = f'{self._prefix}failures:{source}', f'{self._prefix}probe:{source}'
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(failures, '-inf', self._clock() - self.window)
                pipe.zcard(failures)
                _, count = await pipe.execute()
            if count < self.budget:
                return 0.0
            if await self._redis.set(probe, b'1', nx=True, px=max(int(self.probe_interval * 1000), 1)):
                return 0.0
            return max(await self._redis.pttl(probe) / 1000, 0.001)
        except (RedisError, OSError) as error:
            log.warning('login throttle: Redis unavailable (%s); counting in memory', error)
            return self.admit(source)

    async def count_failure(self, source: str) -> None:
        """Count one wrong attempt from `source` for every instance."""
        failures, now = f'{self._prefix}failures:{source}', self._clock()
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zadd(failures, {secrets.token_hex(8): now})
                pipe.pexpire(failures, max(int(self.window * 1000), 1))
                await pipe.execute()
        except (RedisError, OSError) as error:
            log.warning('login throttle: Redis unavailable (%s); counting in memory', error)
            self.failed(source)

    async def close(self) -> None:
        """Close the Redis connections."""
        await self._redis.aclose()


def login_throttle(redis_url: str, name: str, budget: int, window: float, *, probe_interval: float) -> LoginThrottle:
    """The throttle the settings ask for: counted in Redis when REDIS_URL is set, else in this process."""
    if redis_url:
        return RedisLoginThrottle(redis_url, name, budget, window, probe_interval=probe_interval)
    return LoginThrottle(budget, window, probe_interval=probe_interval)


class SessionStore:
    """The live admin and beta session ids: a set in memory that the checks ask, kept in the `websession` table.

    Opening, revoking and expiring change the memory at once and write the table behind (the one write path); a
    restart loads the live rows back. Without a writer (unit tests) the sessions live in memory only. On a shared
    bus (REDIS_URL) every open and revocation is published on `sessions` and applied by the other instances, so a
    session is good on every instance and a revocation ends it everywhere.
    """

    def __init__(
        self, writer: DbWriter | None = None, *, clock: Callable[[], float] = time.time, bus: Bus | None = None
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._bus = bus or Bus()
        self._live: dict[str, tuple[str, float]] = {}  # id -> (kind, expiry as a unix time)
        if writer is not None:
            now = datetime.fromtimestamp(clock(), UTC)
            rows = read(writer.engine, lambda db: db.exec(select(WebSession).where(WebSession.expires_at > now)).all())
            self._live = {row.id: (row.kind, row.expires_at.timestamp()) for row in rows}
            self._write(lambda db: db.exec(delete(WebSession).where(col(WebSession.expires_at) <= now)))
        self._bus.subscribe(SESSIONS_TOPIC, self._apply)

    def open(self, kind: str, max_age: float) -> str:
        """Start a session of `kind` that lives `max_age` seconds (unless revoked) and return its id."""
        now = self._clock()
        self._live = {sid: entry for sid, entry in self._live.items() if entry[1] > now}
        sid = secrets.token_urlsafe(24)
        self._live[sid] = (kind, now + max_age)
        row = WebSession(
            id=sid,
            kind=kind,
            created_at=datetime.fromtimestamp(now, UTC),
            expires_at=datetime.fromtimestamp(now, UTC) + timedelta(seconds=max_age),
        )
        self._write(lambda db: db.add(row))
        self._bus.publish(SESSIONS_TOPIC, {'open': sid, 'kind': kind, 'expires': now + max_age})
        return sid

    def is_live(self, sid: object, kind: str) -> bool:
        """Whether `sid` is an unexpired, unrevoked session of `kind`."""
        entry = self._live.get(sid) if isinstance(sid, str) else None
        return entry is not None and entry[0] == kind and entry[1] > self._clock()

    def revoke(self, sid: object) -> None:
        """End one session (ids this instance does not know are still ended on the others)."""
        if not isinstance(sid, str):
            return
        known = self._live.pop(sid, None) is not None
        if known or self._bus.shared:
            self._write(lambda db: db.exec(delete(WebSession).where(col(WebSession.id) == sid)))
            self._bus.publish(SESSIONS_TOPIC, {'revoke': sid})

    def revoke_all(self, kind: str) -> int:
        """End every session of `kind` on every instance; return how many this instance knew as live."""
        ended = self._drop_kind(kind)
        self._write(lambda db: db.exec(delete(WebSession).where(col(WebSession.kind) == kind)))
        self._bus.publish(SESSIONS_TOPIC, {'revoke_all': kind})
        log.info('revoked all %d %s sessions', ended, kind)
        return ended

    def _drop_kind(self, kind: str) -> int:
        ended = [sid for sid, entry in self._live.items() if entry[0] == kind]
        for sid in ended:
            del self._live[sid]
        return len(ended)

    def _apply(self, payload: dict[str, Any]) -> None:
        """Apply another instance's open or revocation to this instance's memory (its rows are written there)."""
        if isinstance(sid := payload.get('open'), str):
            self._live[sid] = (str(payload.get('kind')), float(payload.get('expires') or 0))
        elif isinstance(sid := payload.get('revoke'), str):
            self._live.pop(sid, None)
        elif isinstance(kind := payload.get('revoke_all'), str):
            self._drop_kind(kind)

    def _write(self, fn: Callable[[Session], object]) -> None:
        if self._writer is not None:
            self._writer.write_later(fn)


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one password attempt: ok, or wrong, or refused for `retry_after` seconds."""

    ok: bool
    retry_after: float = 0.0


class BetaGate:
    """The shared beta password: checks attempts and mints the signed cookie that unlocks the app."""

    def __init__(
        self,
        password: str,
        secret: str,
        *,
        limiter: LoginThrottle | None = None,
        sessions: SessionStore | None = None,
        redis_url: str = '',
    ) -> None:
        self.enabled = bool(password)
        self.sessions = sessions or SessionStore()
        self._password = hashlib.sha256(password.encode()).digest()
        self._fingerprint = hmac.new(secret.encode(), b'beta:' + password.encode(), hashlib.sha256).hexdigest()[:32]
        self._cookie = URLSafeTimedSerializer(secret, salt='vcc-beta-gate')
        self.limiter = limiter or login_throttle(redis_url, 'beta', 10, 60.0, probe_interval=15.0)

    def is_open(self, cookie: str | None) -> bool:
        """Whether a request carrying this cookie may pass (always, when the gate is off)."""
        if not self.enabled:
            return True
        if not cookie:
            return False
        try:
            value = self._cookie.loads(cookie, max_age=GATE_MAX_AGE)
        except BadSignature:  # also SignatureExpired
            return False
        return (
            isinstance(value, dict)
            and hmac.compare_digest(str(value.get('v', '')), self._fingerprint)
            and self.sessions.is_live(value.get('s'), BETA_SESSION)
        )

    def cookie_value(self) -> str:
        """Return the signed cookie of a new session; it dies with a password change or a revocation."""
        return self._cookie.dumps({'v': self._fingerprint, 's': self.sessions.open(BETA_SESSION, GATE_MAX_AGE)})

    def revoke_all(self) -> int:
        """Sign out every beta tester (each needs the password again); return how many sessions were live."""
        return self.sessions.revoke_all(BETA_SESSION)

    async def attempt(self, password: str, client: str) -> Attempt:
        """Check a password from `client` (an IP); wrong ones are slowed and counted against the client."""
        wait = await self.limiter.take(client)
        if wait:
            return Attempt(ok=False, retry_after=wait)
        if self.enabled and hmac.compare_digest(hashlib.sha256(password.encode()).digest(), self._password):
            return Attempt(ok=True)
        await self.limiter.count_failure(client)
        log.info('wrong beta password from %s', client)
        await asyncio.sleep(WRONG_PASSWORD_DELAY)
        return Attempt(ok=False)
