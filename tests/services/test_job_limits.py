"""Limits that do not depend on the anonymous id: a global queue cap and per-source caps on jobs and new ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import make_settings, services
from vcc_ui.services.jobs import SubmitError
from vcc_ui.services.users import UserDirectory

JOB = {'prompt': 'x', 'seed': 1}


def _anon(i: int) -> str:
    return f'anon-{i:032x}'


async def test_fresh_ids_from_one_source_cannot_pass_its_job_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, 'http://127.0.0.1:9', max_queued_per_source=5)
    async with services(settings) as app:
        for i in range(5):
            await app.jobs.submit(_anon(i), 'test_pattern', JOB, source='10.0.0.1')
        with pytest.raises(SubmitError) as refused:
            await app.jobs.submit(_anon(99), 'test_pattern', JOB, source='10.0.0.1')
        assert refused.value.code == 'limit' and refused.value.reason == 'source_full'
        assert refused.value.values == {'limit': 5}
        await app.jobs.submit(_anon(100), 'test_pattern', JOB, source='10.0.0.2')  # another source is not held up
        assert len(app.jobs.views) == 6


async def test_the_queue_has_a_global_cap(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, 'http://127.0.0.1:9', max_queued_jobs=4)
    async with services(settings) as app:
        for i in range(4):
            await app.jobs.submit(_anon(i), 'test_pattern', JOB, source=f'10.0.0.{i}')
        with pytest.raises(SubmitError) as refused:
            await app.jobs.submit(_anon(9), 'test_pattern', JOB, source='10.0.1.1')
        assert refused.value.code == 'limit' and refused.value.reason == 'server_full'
        cancelled = next(iter(app.jobs.views))
        await app.jobs.cancel(cancelled)
        await app.jobs.submit(_anon(9), 'test_pattern', JOB, source='10.0.1.1')


async def test_new_anonymous_ids_per_source_are_limited_per_hour(tmp_path: Path) -> None:
    now = [0.0]
    settings = make_settings(tmp_path, max_new_ids_per_source=3)
    async with services(settings) as app:
        users = UserDirectory(app.writer, settings=settings, clock=lambda: now[0])
        assert [users.admit_new_id('10.0.0.1') for _ in range(4)] == [True, True, True, False]
        assert users.admit_new_id('10.0.0.2')
        now[0] += 3601
        assert users.admit_new_id('10.0.0.1')
