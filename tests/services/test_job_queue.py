"""FairQueue and Durations on their own: no servers, no database, no event loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from tests.fixtures import USER_A, USER_B, USER_C
from vcc_ui.i18n import translate
from vcc_ui.services.jobs import JobView, SubmitError
from vcc_ui.services.jobs.queue import DEFAULT_DURATION, Durations, FairQueue

START = datetime(2025, 1, 1, 12, 0)


@dataclass
class Limits:
    max_per_user_queue: int = 10
    max_per_user_concurrent: int = 1
    max_queued_jobs: int = 0


def job(owner: str, number: int, workflow_id: str = 'wf') -> JobView:
    """A waiting job queued `number` seconds after START."""
    return JobView(
        id=f'{owner[-1]}{number}',
        owner=owner,
        workflow_id=workflow_id,
        mode='txt2img',
        params={},
        queued_at=START + timedelta(seconds=number),
    )


def drain(queue: FairQueue) -> list[str]:
    """Dispatch everything, each job ending before the next is taken; the ids in dispatch order."""
    taken = []
    while found := queue.take(lambda view: 'server'):
        view, _ = found
        queue.started(view.owner)
        queue.ended(view.owner)
        taken.append(view.id)
    return taken


def test_round_robin_across_users_and_fifo_within_a_user() -> None:
    queue = FairQueue(Limits())
    for view in (job(USER_A, 1), job(USER_A, 2), job(USER_A, 3), job(USER_B, 4), job(USER_B, 5), job(USER_C, 6)):
        queue.push(view)
    expected = ['a1', 'b4', 'c6', 'a2', 'b5', 'a3']
    assert [v.id for v in queue.order()] == expected  # the simulation agrees with the dispatcher
    assert drain(queue) == expected
    assert queue.order() == [] and queue.queued(USER_A) == 0


def test_a_user_served_recently_waits_for_the_others() -> None:
    queue = FairQueue(Limits())
    queue.push(job(USER_A, 1))
    assert drain(queue) == ['a1']
    for view in (job(USER_A, 2), job(USER_B, 3), job(USER_C, 4)):
        queue.push(view)
    assert [v.id for v in queue.order()] == ['b3', 'c4', 'a2']
    assert drain(queue) == ['b3', 'c4', 'a2']


def test_a_user_at_the_concurrency_limit_is_passed_over() -> None:
    queue = FairQueue(Limits(max_per_user_concurrent=1))
    for view in (job(USER_A, 1), job(USER_A, 2), job(USER_B, 3)):
        queue.push(view)
    taken = queue.take(lambda view: 'server')
    assert taken is not None and taken[0].id == 'a1'
    queue.started(USER_A)
    taken = queue.take(lambda view: 'server')
    assert taken is not None and taken[0].id == 'b3'
    queue.started(USER_B)
    assert queue.take(lambda view: 'server') is None
    assert (queue.running(USER_A), queue.queued(USER_A)) == (1, 1)
    queue.ended(USER_A)
    taken = queue.take(lambda view: 'server')
    assert taken is not None and taken[0].id == 'a2'


def test_a_job_without_a_server_does_not_block_the_others() -> None:
    queue = FairQueue(Limits())
    queue.push(job(USER_A, 1, workflow_id='nowhere'))
    queue.push(job(USER_B, 2))
    found = queue.take(lambda view: None if view.workflow_id == 'nowhere' else 'gpu-1')
    assert found is not None and (found[0].id, found[1]) == ('b2', 'gpu-1')
    assert queue.take(lambda view: None if view.workflow_id == 'nowhere' else 'gpu-1') is None
    assert queue.queued(USER_A) == 1


def test_limits_refuse_with_code_reason_and_figures() -> None:
    limits = Limits(max_per_user_queue=2, max_per_user_concurrent=1)
    queue = FairQueue(limits)
    queue.started(USER_A)
    queue.push(job(USER_A, 1))
    queue.check(USER_A)
    queue.push(job(USER_A, 2))
    with pytest.raises(SubmitError) as full:
        queue.check(USER_A)
    assert (full.value.code, full.value.reason, full.value.values) == ('limit', 'queue_full', {'queued': 2})
    assert full.value.message == 'You already have 2 jobs waiting (the limit). Wait for one to finish or cancel one.'
    queue.check(USER_B)  # other users are not affected

    limits.max_per_user_queue = 0  # read at each check
    busy = FairQueue(limits)
    busy.started(USER_B)
    with pytest.raises(SubmitError) as running:
        busy.check(USER_B)
    assert (running.value.code, running.value.reason, running.value.values) == (
        'limit',
        'running_full',
        {'active': 1, 'limit': 1},
    )
    assert running.value.message == (
        'You already have 1 job(s) running (limit 1). Wait for one to finish or cancel it.'
    )
    busy.ended(USER_B)
    busy.check(USER_B)
    assert busy.running(USER_B) == 0


def test_move_to_front_goes_first_for_its_owner_and_in_the_round() -> None:
    queue = FairQueue(Limits())
    queue.push(job(USER_A, 1))
    assert drain(queue) == ['a1']  # A was served, so B would go first
    a2, a3, b4 = job(USER_A, 2), job(USER_A, 3), job(USER_B, 4)
    for view in (a2, a3, b4):
        queue.push(view)
    assert [v.id for v in queue.order()] == ['b4', 'a2', 'a3']
    assert queue.move_to_front(a3)
    assert a3.priority < a2.priority
    assert [v.id for v in queue.order()] == ['a3', 'b4', 'a2']
    assert drain(queue) == ['a3', 'b4', 'a2']
    assert not queue.move_to_front(a3)  # no longer waiting


def test_remove_takes_a_waiting_job_out() -> None:
    queue = FairQueue(Limits())
    a1, a2 = job(USER_A, 1), job(USER_A, 2)
    queue.push(a1)
    queue.push(a2)
    assert queue.remove(a1) and not queue.remove(a1)
    assert [v.id for v in queue.order()] == ['a2']
    assert queue.remove(a2) and queue.queued(USER_A) == 0 and queue.order() == []


def test_positions_and_etas_follow_the_backlog_and_report_only_changes() -> None:
    queue = FairQueue(Limits())
    a1, a2, b3 = job(USER_A, 1), job(USER_A, 2), job(USER_B, 3)
    for view in (a1, a2, b3):
        queue.push(view)
    changed = queue.estimate(backlog=40.0, slots=2)
    assert [v.id for v in changed] == ['a1', 'b3', 'a2']
    assert [(v.position, v.eta_seconds) for v in (a1, b3, a2)] == [
        (1, 40 / 2 + DEFAULT_DURATION),
        (2, (40 + DEFAULT_DURATION) / 2 + DEFAULT_DURATION),
        (3, (40 + 2 * DEFAULT_DURATION) / 2 + DEFAULT_DURATION),
    ]
    assert queue.estimate(backlog=40.5, slots=2) == []  # less than a second moved: nothing to tell
    queue.remove(a1)
    assert [(v.id, v.position) for v in queue.estimate(backlog=40.0, slots=2)] == [('a2', 1)]  # b3 stays 2nd
    assert b3.position == 2


def test_durations_are_smoothed_per_server_and_per_workflow() -> None:
    durations = Durations()
    assert durations.expected('wf') == DEFAULT_DURATION
    durations.record('wf', 'gpu-1', 10.0)
    assert durations.expected('wf', 'gpu-1') == durations.expected('wf') == 10.0
    durations.record('wf', 'gpu-2', 20.0)
    assert durations.expected('wf', 'gpu-2') == 20.0
    assert durations.expected('wf') == pytest.approx(0.7 * 10.0 + 0.3 * 20.0)
    assert durations.expected('wf', 'gpu-3') == durations.expected('wf')  # an unmeasured server: the workflow's
    assert durations.expected('other') == DEFAULT_DURATION


def test_a_full_queue_is_said_naturally_with_the_jobs_waiting_now() -> None:
    queue = FairQueue(Limits(max_per_user_queue=3, max_per_user_concurrent=1))
    for number in range(4):  # nothing runs yet, so a fourth job may wait in the running job's place
        queue.check(USER_A)
        queue.push(job(USER_A, number))
    with pytest.raises(SubmitError) as full:
        queue.check(USER_A)
    assert full.value.values == {'queued': 4}
    assert full.value.message == 'You already have 4 jobs waiting (the limit). Wait for one to finish or cancel one.'
    assert translate('gen_limit_queue_full', 'en', **full.value.values) == full.value.message
    assert translate('gen_limit_queue_full', 'ko', **full.value.values) == (
        '이미 작업 4개가 대기 중입니다 (최대). 작업이 끝나거나 하나를 취소한 뒤 다시 시도하세요.'
    )
    single = FairQueue(Limits(max_per_user_queue=1, max_per_user_concurrent=0))
    single.push(job(USER_B, 1))
    with pytest.raises(SubmitError) as one:
        single.check(USER_B)
    assert one.value.message == 'You already have 1 job waiting (the limit). Wait for it to finish or cancel it.'
