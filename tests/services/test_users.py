"""UserDirectory: first and last seen of anonymous users, written at most once a minute per user."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlmodel import select

from tests.fixtures import USER_A, USER_B, make_settings
from vcc_ui.db import session
from vcc_ui.models import Image, User
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.users import NicknameError, UserDirectory


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


@pytest.mark.parametrize(
    ('typed', 'reason'),
    [('x' * 31, 'nick_too_long'), ('tab\there', 'nick_bad_chars'), ('anon-' + 'b' * 32, 'nick_reserved')],
)
async def test_a_bad_nickname_is_refused_with_a_reason_and_changes_nothing(
    engine: Engine, typed: str, reason: str
) -> None:
    writer = DbWriter(engine)
    writer.start()
    users = UserDirectory(writer)
    try:
        await users.load()
        await users.set_name(USER_A, 'Kim')
        with pytest.raises(NicknameError) as refused:
            await users.set_name(USER_A, typed)
        assert refused.value.reason == reason
        assert users.label(USER_A) == 'Kim' and (await users.get(USER_A)).display_name == 'Kim'
    finally:
        await writer.stop()


async def test_a_nickname_is_shown_instead_of_the_id_and_survives_a_restart(engine: Engine) -> None:
    writer = DbWriter(engine)
    writer.start()
    try:
        users = UserDirectory(writer)
        await users.load()
        renamed: list[str] = []
        users.renamed.subscribe(renamed.append, unsubscribe_on_delete=False)
        assert users.label(USER_A) == USER_A  # no nickname: the id
        assert await users.set_name(USER_A, '  Park   Ji  ') == 'Park Ji'
        assert users.label(USER_A) == 'Park Ji' and renamed == [USER_A]
        again = UserDirectory(writer)
        await again.load()
        assert again.label(USER_A) == 'Park Ji' and again.label(USER_B) == USER_B
        assert await again.set_name(USER_A, '') is None and again.label(USER_A) == USER_A  # cleared
    finally:
        await writer.stop()


async def test_a_submit_adds_up_the_users_images_only_when_a_quota_applies(engine: Engine, tmp_path: Path) -> None:
    statements: list[str] = []
    event.listen(engine, 'before_cursor_execute', lambda *args: statements.append(args[2]))
    users = UserDirectory(DbWriter(engine), settings=make_settings(tmp_path))
    with session(engine) as db:
        db.add(User(id=USER_B, quota_max_images=1))
        db.add(
            Image(
                id='b' * 32,
                owner=USER_B,
                kind='generated',
                rel_path='b.png',
                mime='image/png',
                bytes=1,
                width=1,
                height=1,
                sha256='0' * 64,
                tags=[],
                params={},
            )
        )
        db.commit()
        statements.clear()
        assert users.admission(db, USER_A) == (None, None)  # no quota anywhere: nothing to add up
        assert not any('sum(' in sql.lower() for sql in statements)
        assert users.admission(db, USER_B)[1] is not None  # the user's own quota still counts their images
        users.settings.quota_max_images = 5
        assert users.admission(db, USER_A) == (None, None)
    assert any('sum(' in sql.lower() for sql in statements)


async def test_a_submit_reads_its_users_block_and_quota_without_loading_the_row(engine: Engine, tmp_path: Path) -> None:
    users = UserDirectory(DbWriter(engine), settings=make_settings(tmp_path))
    with session(engine) as db:
        db.add(User(id=USER_B, blocked=True, quota_max_images=0))
        db.commit()
    loaded: list[User] = []

    def note(row: User, _context: object) -> None:
        loaded.append(row)

    event.listen(User, 'load', note)
    try:
        with session(engine) as db:
            blocked, over_quota = users.admission(db, USER_B)
            assert blocked is not None and over_quota is None  # blocked; a quota of 0 is unlimited
            assert users.admission(db, USER_A) == (None, None)  # no row: neither
    finally:
        event.remove(User, 'load', note)
    assert not loaded  # read by a plain SELECT: no ORM object built
