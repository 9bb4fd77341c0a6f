"""The beta gate's password checks, cookies and sessions, and the login rate limiter."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcc_ui.db import make_engine, migrate
from vcc_ui.services import auth
from vcc_ui.services.auth import BetaGate, LoginThrottle, RateLimiter, SessionStore, safe_next
from vcc_ui.services.dbwriter import DbWriter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def no_delay(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(auth, 'WRONG_PASSWORD_DELAY', 0.6)
    monkeypatch.setattr(auth.asyncio, 'sleep', sleep)
    return slept


def test_the_limiter_allows_ten_a_minute_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 60.0, clock=clock)
    for _ in range(10):
        assert limiter.retry_after('1.2.3.4') == 0
        limiter.hit('1.2.3.4')
        clock.now += 1
    assert limiter.retry_after('1.2.3.4') == pytest.approx(50.0)
    assert limiter.retry_after('5.6.7.8') == 0
    clock.now += 50.5  # the first hit left the window
    assert limiter.retry_after('1.2.3.4') == 0


def test_the_limiter_forgets_the_oldest_key_when_full() -> None:
    limiter = RateLimiter(1, 60.0, clock=Clock(), max_keys=2)
    for key in ['a', 'b', 'c']:
        limiter.hit(key)
    assert limiter.retry_after('a') == 0 and limiter.retry_after('c') > 0


def test_over_budget_a_source_gets_one_check_per_interval() -> None:
    clock = Clock()
    throttle = LoginThrottle(2, 60.0, probe_interval=15.0, clock=clock)
    for _ in range(2):
        assert throttle.admit('nat') == 0
        throttle.failed('nat')
    assert throttle.admit('nat') == 0  # over budget: this one is checked (a right password gets in) ...
    assert throttle.admit('nat') == pytest.approx(15.0)  # ... and the next waits for the next check
    clock.now += 15
    assert throttle.admit('nat') == 0
    assert throttle.admit('elsewhere') == 0


async def test_a_wrong_password_is_slowed_and_counted(no_delay: list[float]) -> None:
    gate = BetaGate('right', 'secret', limiter=LoginThrottle(2, 60.0, probe_interval=15.0, clock=Clock()))
    assert (await gate.attempt('right', 'ip')).ok and no_delay == []
    assert not (await gate.attempt('wrong', 'ip')).ok and no_delay == [0.6]
    await gate.attempt('wronger', 'ip')
    await gate.attempt('wrongest', 'ip')  # the one check over budget
    refused = await gate.attempt('right', 'ip')
    assert not refused.ok and refused.retry_after > 0
    assert (await gate.attempt('right', 'other-ip')).ok


def test_the_cookie_dies_with_a_new_password_or_secret_or_its_session() -> None:
    sessions = SessionStore()
    cookie = BetaGate('one', 'secret', sessions=sessions).cookie_value()
    assert BetaGate('one', 'secret', sessions=sessions).is_open(cookie)
    assert not BetaGate('two', 'secret', sessions=sessions).is_open(cookie)
    assert not BetaGate('one', 'other secret', sessions=sessions).is_open(cookie)
    assert not BetaGate('one', 'secret', sessions=sessions).is_open(cookie[:-2] + 'xx')
    assert not BetaGate('one', 'secret', sessions=sessions).is_open(None)
    assert not BetaGate('one', 'secret').is_open(cookie)  # a session this store never opened
    assert BetaGate('', 'secret').is_open(None)  # gate off
    BetaGate('one', 'secret', sessions=sessions).revoke_all()
    assert not BetaGate('one', 'secret', sessions=sessions).is_open(cookie)


@pytest.mark.parametrize(
    ('target', 'expected'),
    [
        ('/gallery?page=2', '/gallery?page=2'),
        ('', '/'),
        ('//evil.example', '/'),
        ('https://evil.example', '/'),
        ('/\\evil.example', '/'),
        ('/beta-login', '/'),
        ('/a\nb', '/'),
    ],
)
def test_next_stays_on_the_site(target: str, expected: str) -> None:
    assert safe_next(target) == expected


async def test_sessions_survive_a_restart_and_revocations_too(tmp_path: Path) -> None:
    engine = make_engine(f'sqlite:///{tmp_path / "app.db"}')
    migrate(engine)
    writer = DbWriter(engine)
    writer.start()
    store = SessionStore(writer)
    kept, ended = store.open('beta', 60), store.open('admin', 60)
    other = store.open('beta', 60)
    store.revoke(ended)
    await writer.stop()
    again = SessionStore(DbWriter(engine))
    assert again.is_live(kept, 'beta') and again.is_live(other, 'beta')
    assert not again.is_live(ended, 'admin') and not again.is_live(kept, 'admin')
    assert again.revoke_all('beta') == 2 and not again.is_live(kept, 'beta')
    engine.dispose()


def test_a_session_expires_and_only_its_kind_counts() -> None:
    clock = Clock()
    store = SessionStore(clock=clock)
    sid = store.open('admin', 10)
    assert store.is_live(sid, 'admin') and not store.is_live(sid, 'beta') and not store.is_live(None, 'admin')
    clock.now += 11
    assert not store.is_live(sid, 'admin')
