"""UserDirectory: the User rows of anonymous browsers, with first and last seen times and nicknames."""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable

from nicegui import Event
from sqlmodel import Session, col, select

from vcc_ui.models import User, utcnow
from vcc_ui.services.auth import ANON_RE
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.image_meta import ImageProblem
from vcc_ui.services.queries import owner_admission
from vcc_ui.settings import Settings

TOUCH_INTERVAL = 60.0  # seconds between two last_seen writes of one user
NEW_ID_WINDOW = 3600.0  # seconds over which new anonymous ids per client address are counted
BLOCKED_MESSAGE = 'An administrator has blocked this browser from generating and uploading. Ask them to unblock it.'
NICKNAME_MAX = 30
_CONTROL = re.compile(r'[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]')
_NICK_MESSAGES = {
    'nick_too_long': f'A nickname has at most {NICKNAME_MAX} characters.',
    'nick_bad_chars': 'A nickname cannot contain control or direction characters.',
    'nick_reserved': 'A nickname cannot look like an anonymous id.',
}


class NicknameError(ImageProblem):
    """A nickname that is refused; `reason` names the case (an i18n key), `message` says it in English."""

    def __init__(self, reason: str) -> None:
        super().__init__('invalid', _NICK_MESSAGES[reason])
        self.reason = reason


def clean_nickname(text: str | None) -> str | None:
    """The nickname as stored (spaces trimmed and collapsed), None to clear it; raise NicknameError if refused."""
    if text is not None and _CONTROL.search(text):
        raise NicknameError('nick_bad_chars')
    name = ' '.join((text or '').split())
    if ANON_RE.fullmatch(name.lower()):
        raise NicknameError('nick_reserved')
    if len(name) > NICKNAME_MAX:
        raise NicknameError('nick_too_long')
    return name or None


class UserDirectory:
    """Records each user's first and last visit without making a request wait on the database; knows nicknames."""

    def __init__(
        self, writer: DbWriter, *, settings: Settings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.writer = writer
        self.settings = settings
        self._clock = clock
        self._touched: dict[str, float] = {}
        self._minted: dict[str, deque[float]] = {}  # client address -> when it was given its recent new ids
        self.names: dict[str, str] = {}  # user id -> nickname, for every user that has one
        self.renamed: Event[str] = Event()  # a user id whose nickname changed

    def admit_new_id(self, source: str) -> bool:
        """Count a new anonymous id for this client address; False once it had MAX_NEW_IDS_PER_SOURCE this hour."""
        cap = self.settings.max_new_ids_per_source if self.settings is not None else 0
        if not cap:
            return True
        now = self._clock()
        for address in [a for a, times in self._minted.items() if now - times[-1] >= NEW_ID_WINDOW]:
            del self._minted[address]  # forget quiet addresses, so the record stays small
        times = self._minted.setdefault(source, deque())
        while times and now - times[0] >= NEW_ID_WINDOW:
            times.popleft()
        if len(times) >= cap:
            return False
        times.append(now)
        return True

    async def load(self) -> None:
        """Read every nickname (once at start; set_name and remember keep them current)."""
        rows = await self.writer.read(
            lambda db: db.exec(select(User.id, User.display_name).where(col(User.display_name).is_not(None))).all()
        )
        self.names = {user_id: name for user_id, name in rows if name}

    def label(self, user_id: str) -> str:
        """What pages show for a user: the nickname, else the id."""
        return self.names.get(user_id) or user_id

    def remember(self, user_id: str, name: str | None) -> None:
        """Note a nickname that was stored (by the user or an admin) and tell the pages."""
        if name:
            self.names[user_id] = name
        else:
            self.names.pop(user_id, None)
        self.renamed.emit(user_id)

    async def set_name(self, user_id: str, text: str | None) -> str | None:
        """Set (or clear, with an empty text) the user's own nickname; returns it as stored."""
        name = clean_nickname(text)
        await self.writer.write(lambda db: _upsert(db, user_id, display_name=name))
        self.remember(user_id, name)
        return name

    def touch(self, user_id: str) -> None:
        """Create the user's row on first sight, else move last_seen (at most once a minute per user)."""
        now = self._clock()
        if now - self._touched.get(user_id, -TOUCH_INTERVAL) < TOUCH_INTERVAL:
            return
        self._touched = {u: t for u, t in self._touched.items() if now - t < TOUCH_INTERVAL}
        self._touched[user_id] = now
        self.writer.write_later(lambda db: _upsert(db, user_id))

    async def get(self, user_id: str) -> User | None:
        """Return the user's row, or None."""
        return await self.writer.read(lambda db: db.get(User, user_id))

    def admission(self, db: Session, user_id: str) -> tuple[str | None, str | None]:
        """The submit hook, run in the write that adds the job: why the user may not generate now, as (blocked,
        over quota) messages or None."""
        assert self.settings is not None, 'the submit hook needs the settings (the default quotas)'
        blocked, usage = owner_admission(db, user_id, self.settings)
        return BLOCKED_MESSAGE if blocked else None, None if usage is None else usage.refusal(add_bytes=1, add_images=1)

    async def refusal(self, user_id: str) -> str | None:
        """The submit and upload hook: why a blocked user may not generate or upload, or None."""
        row = await self.get(user_id)
        return BLOCKED_MESSAGE if row is not None and row.blocked else None


_KEEP = '\x00keep'  # not a nickname clean_nickname lets through


def _upsert(db: Session, user_id: str, *, display_name: str | None = _KEEP) -> None:
    row = db.get(User, user_id)
    now = utcnow()
    if row is None:
        row = User(id=user_id, created_at=now, last_seen=now)
    else:
        row.last_seen = now
    if display_name is not _KEEP:
        row.display_name = display_name
    db.add(row)
