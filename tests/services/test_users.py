"""UserDirectory: first and last seen of anonymous users, written at most once a minute per user."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import select

from tests.fixtures import USER_A, USER_B
from vcc_ui.models import User
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.users import UserDirectory


async def test_touch_creates_then_moves_last_seen_once_a_minute(engine: Engine) -> None:
    writer = DbWriter(engine)
    writer.start()
    now = [0.0]
    users = UserDirectory(writer, clock=lambda: now[0])
    try:
        users.touch(USER_A)
        await writer.write(lambda db: None)  # the queue is in order: the touch is committed
        first = await users.get(USER_A)
        assert first is not None and first.created_at == first.last_seen
        now[0] = 30.0
        users.touch(USER_A)
        users.touch(USER_B)
        await writer.write(lambda db: None)
        assert (await users.get(USER_A)).last_seen == first.last_seen  # too soon
        assert await users.get(USER_B) is not None
        now[0] = 61.0
        users.touch(USER_A)
        await writer.write(lambda db: None)
        later = await users.get(USER_A)
        assert later.last_seen > first.last_seen and later.created_at == first.created_at
        assert len(await writer.read(lambda db: db.exec(select(User)).all())) == 2
    finally:
        await writer.stop()
