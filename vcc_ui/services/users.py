"""UserDirectory: the User rows of anonymous browsers, with first and last seen times."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from sqlmodel import Session

from vcc_ui.models import User, utcnow
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.settings import Settings

TOUCH_INTERVAL = 60.0  # seconds between two last_seen writes of one user
NEW_ID_WINDOW = 3600.0  # seconds over which new anonymous ids per client address are counted
BLOCKED_MESSAGE = 'An administrator has blocked this browser from generating and uploading. Ask them to unblock it.'


class UserDirectory:
    """Records each user's first and last visit without making a request wait on the database."""

    def __init__(
        self, writer: DbWriter, *, settings: Settings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.writer = writer
        self.settings = settings
        self._clock = clock
        self._touched: dict[str, float] = {}
        self._minted: dict[str, deque[float]] = {}  # client address -> when it was given its recent new ids

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

    async def refusal(self, user_id: str) -> str | None:
        """The submit and upload hook: why a blocked user may not generate or upload, or None."""
        row = await self.get(user_id)
        return BLOCKED_MESSAGE if row is not None and row.blocked else None


def _upsert(db: Session, user_id: str) -> None:
    row = db.get(User, user_id)
    if row is None:
        now = utcnow()
        db.add(User(id=user_id, created_at=now, last_seen=now))
    else:
        row.last_seen = utcnow()
        db.add(row)
