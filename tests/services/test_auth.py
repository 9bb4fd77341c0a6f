"""The beta gate's password checks, cookies and grants, and the login rate limiter."""

from __future__ import annotations

import pytest

from vcc_ui.services import auth
from vcc_ui.services.auth import BetaGate, LoginThrottle, RateLimiter, safe_next


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


def test_the_cookie_dies_with_a_new_password_or_secret() -> None:
    cookie = BetaGate('one', 'secret').cookie_value()
    assert BetaGate('one', 'secret').is_open(cookie)
    assert not BetaGate('two', 'secret').is_open(cookie)
    assert not BetaGate('one', 'other secret').is_open(cookie)
    assert not BetaGate('one', 'secret').is_open(cookie[:-2] + 'xx')
    assert not BetaGate('one', 'secret').is_open(None)
    assert BetaGate('', 'secret').is_open(None)  # gate off


def test_a_grant_is_redeemed_once() -> None:
    gate = BetaGate('pw', 'secret')
    token = gate.grant()
    assert gate.redeem(token)
    assert not gate.redeem(token)
    assert not gate.redeem('forged')
    assert not BetaGate('new pw', 'secret').redeem(BetaGate('pw', 'secret').grant())


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
