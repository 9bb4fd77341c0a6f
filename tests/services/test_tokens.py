"""ApiTokens on SQLite and PostgreSQL: checks, the live cap, restarts, last use and forgetting ended tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from tests.fixtures import USER_A, USER_B
from vcc_ui.services import tokens as tokens_module
from vcc_ui.services.dbwriter import DbWriter
from vcc_ui.services.tokens import MAX_LIVE_TOKENS, ApiTokens, Bearer, Refusal, TokenError

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the tokens' times."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def writer(engine: Engine) -> AsyncIterator[DbWriter]:
    running = DbWriter(engine)
    running.start()
    yield running
    await running.stop()


async def test_a_token_survives_a_restart_and_tells_why_it_stops(writer: DbWriter) -> None:
    clock = Clock()
    tokens = ApiTokens(writer, clock=clock)
    info, token = await tokens.create(USER_A, '  my   script ', days=7)
    assert info.name == 'my script' and await tokens.check(token) == Bearer(info.id, USER_A, False)
    again = ApiTokens(writer, clock=clock)  # a restart reads the stored hashes
    assert await again.check(token) == Bearer(info.id, USER_A, False)
    assert await again.check(token[:-1] + ('A' if token[-1] != 'A' else 'B')) == Refusal('unknown')
    clock.now = T0 + timedelta(days=8)
    assert await again.check(token) == Refusal('expired', T0 + timedelta(days=7))
    clock.now = T0
    await again.revoke(USER_A, info.id)
    assert await again.check(token) == Refusal('revoked', T0)
    assert await ApiTokens(writer, clock=clock).check(token) == Refusal('revoked', T0)
    with pytest.raises(TokenError):
        await again.revoke(USER_A, info.id)


async def test_only_the_owner_revokes_and_lists(writer: DbWriter) -> None:
    tokens = ApiTokens(writer)
    info, _ = await tokens.create(USER_A, 'a')
    with pytest.raises(TokenError) as refused:
        await tokens.revoke(USER_B, info.id)
    assert refused.value.code == 'not_found'
    assert [t.id for t in await tokens.of(USER_A)] == [info.id] and await tokens.of(USER_B) == []


async def test_a_user_holds_at_most_the_live_cap(writer: DbWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens_module, 'CREATE_LIMIT', 10_000)  # only the live cap here
    clock = Clock()
    tokens = ApiTokens(writer, clock=clock)
    for number in range(MAX_LIVE_TOKENS - 1):
        await tokens.create(USER_A, f't{number}')
    await tokens.create(USER_A, 'short', days=1)
    with pytest.raises(TokenError) as refused:
        await tokens.create(USER_A, 'one more')
    assert refused.value.reason == 'token_too_many'
    clock.now = T0 + timedelta(days=2)  # an expired token no longer counts
    await tokens.create(USER_A, 'one more')
    await tokens.create(USER_B, 'someone else')


@pytest.mark.parametrize(
    ('name', 'days', 'reason'),
    [
        ('  ', None, 'token_name_missing'),
        ('x' * 61, None, 'token_name_too_long'),
        ('a\u202eb', None, 'token_name_bad_chars'),
        ('ok', 0, 'token_bad_expiry'),
        ('ok', 366, 'token_bad_expiry'),
    ],
)
async def test_bad_names_and_expiries_are_refused(writer: DbWriter, name: str, days: int | None, reason: str) -> None:
    tokens = ApiTokens(writer)
    with pytest.raises(TokenError) as refused:
        await tokens.create(USER_A, name, days=days)
    assert refused.value.reason == reason and await tokens.of(USER_A) == []


async def test_last_use_is_written_at_most_once_a_minute_and_ended_tokens_are_forgotten(writer: DbWriter) -> None:
    clock = Clock()
    tokens = ApiTokens(writer, clock=clock)
    used, token = await tokens.create(USER_A, 'used')
    gone, gone_token = await tokens.create(USER_A, 'gone')
    await tokens.check(token)
    clock.now = T0 + timedelta(seconds=30)
    await tokens.check(token)  # in memory at once, in the database a minute after the last write
    await writer.write(lambda db: None)  # the writer has run everything queued before
    assert await last_used(ApiTokens(writer, clock=clock), used.id) == T0
    assert await last_used(tokens, used.id) == T0 + timedelta(seconds=30)
    await tokens.revoke(USER_A, gone.id)
    clock.now = T0 + timedelta(days=31)
    later = ApiTokens(writer, clock=clock)  # a start drops what ended KEEP_ENDED ago
    await writer.write(lambda db: None)
    assert await later.check(gone_token) == Refusal('unknown')
    assert [t.id for t in await later.of(USER_A)] == [used.id]


async def last_used(tokens: ApiTokens, token_id: str) -> datetime | None:
    return next(t.last_used_at for t in await tokens.of(USER_A) if t.id == token_id)


async def test_two_app_instances_on_one_database_agree_on_tokens(writer: DbWriter) -> None:
    first, second = ApiTokens(writer), ApiTokens(writer)
    info, token = await first.create(USER_A, 'shared')
    assert await second.check(token) == Bearer(info.id, USER_A, False)  # made on the other instance
    assert [t.id for t in await second.of(USER_A)] == [info.id]
    revoked = await first.revoke(USER_A, info.id)
    second.fresh_for = 0.0  # its cached answer is old now
    assert await second.check(token) == Refusal('revoked', revoked.revoked_at)


async def test_a_token_that_cannot_be_stored_is_refused_and_overwrites_nothing(
    writer: DbWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = ApiTokens(writer)
    first, token = await tokens.create(USER_A, 'first')
    monkeypatch.setattr(tokens_module.secrets, 'token_hex', lambda _: first.id)  # the next id clashes
    with pytest.raises(TokenError) as refused:
        await tokens.create(USER_B, 'clash')
    assert refused.value.code == 'unavailable' and refused.value.reason == 'token_unavailable'
    assert await tokens.check(token) == Bearer(first.id, USER_A, False) and await tokens.of(USER_B) == []
