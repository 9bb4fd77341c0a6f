"""POST /api/v1/jobs with an Idempotency-Key: a retried submit gets the first job back instead of a second one."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from tests.api.test_api import client_for, stack  # noqa: F401 (the fixture)
from vcc_ui.db import session
from vcc_ui.models import Job, utcnow

BODY = {'workflow_id': 'sd15_txt2img', 'params': {'prompt': 'a red fox', 'seed': 7, 'steps': 100}}


def job_rows(app) -> list[Job]:
    with session(app.engine) as db:
        return list(db.exec(select(Job)).all())


async def test_a_retry_with_the_same_key_returns_the_first_job(stack) -> None:  # noqa: F811
    app, _ = stack
    app.settings.max_per_user_queue = 0  # the retry must not be refused by the limit its first job fills
    async with client_for(app) as http:
        first = await http.post('/api/v1/jobs', json=BODY, headers={'Idempotency-Key': 'req-1'})
        again = await http.post('/api/v1/jobs', json=BODY, headers={'Idempotency-Key': 'req-1'})
        assert (first.status_code, again.status_code) == (201, 200), again.text
        assert again.json()['id'] == first.json()['id']
        other = await http.post('/api/v1/jobs', json=BODY, headers={'Idempotency-Key': 'req-2'})
        assert other.status_code == 429  # a new key is a new job, under the limits as always
    assert [row.idempotency_key for row in job_rows(app)] == ['req-1']


async def test_concurrent_submits_with_one_key_make_one_job(stack) -> None:  # noqa: F811
    app, _ = stack
    async with client_for(app) as http:
        await http.get('/api/v1/jobs')  # the anonymous id cookie first, so all four come from one user
        answers = await asyncio.gather(
            *(http.post('/api/v1/jobs', json=BODY, headers={'Idempotency-Key': 'same'}) for _ in range(4))
        )
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()['id'] for a in answers}) == 1
    assert len(job_rows(app)) == 1


async def test_keys_are_per_user_and_last_24_hours(stack) -> None:  # noqa: F811
    app, _ = stack
    async with client_for(app) as alice, client_for(app) as bob:
        mine = (await alice.post('/api/v1/jobs', json=BODY, headers={'Idempotency-Key': 'k'})).json()
        theirs = await bob.post('/api/v1/jobs', json=BODY, headers={'Idempotency-Key': 'k'})
        assert theirs.status_code == 201 and theirs.json()['id'] != mine['id']
        await alice.post(f'/api/v1/jobs/{mine["id"]}/cancel')
        with session(app.engine) as db:
            db.exec(update(Job).where(Job.id == mine['id']).values(queued_at=utcnow() - timedelta(hours=25)))
            db.commit()
        later = await alice.post('/api/v1/jobs', json=BODY, headers={'Idempotency-Key': 'k'})
        assert later.status_code == 201 and later.json()['id'] != mine['id']


@pytest.mark.parametrize('key', ['', 'x' * 129, 'has space', 'tab\tkey', 'caf\xe9'.encode('latin-1')])
async def test_a_malformed_key_is_refused_and_nothing_is_queued(stack, key: str | bytes) -> None:  # noqa: F811
    app, _ = stack
    async with client_for(app) as http:
        answer = await http.post('/api/v1/jobs', json=BODY, headers={'Idempotency-Key': key})
    assert answer.status_code == 422, answer.text
    assert job_rows(app) == []
