"""FairQueue: per-user limits, round-robin across users, FIFO within a user, positions and ETAs."""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol, TypeVar

from vcc_ui.services.jobs.types import JobView, SubmitError

DEFAULT_DURATION = 20.0

T = TypeVar('T')


QUEUE_FULL = 'You already have {queued} jobs waiting (the limit). Wait for one to finish or cancel one.'
QUEUE_FULL_ONE = 'You already have 1 job waiting (the limit). Wait for it to finish or cancel it.'


class Limits(Protocol):
    """The per-user limits, read at each check so a changed setting applies at once."""

    max_per_user_queue: int
    max_per_user_concurrent: int
    max_queued_jobs: int


class Durations:
    """Measured run times, smoothed per (workflow, server) and per workflow."""

    def __init__(self) -> None:
        self._by_server: dict[tuple[str, str], float] = {}
        self._by_workflow: dict[str, float] = {}

    def record(self, workflow_id: str, server: str, took: float) -> None:
        """Fold one completed run's seconds into the averages."""
        key = (workflow_id, server)
        self._by_server[key] = _smoothed(self._by_server.get(key), took)
        self._by_workflow[workflow_id] = _smoothed(self._by_workflow.get(workflow_id), took)

    def expected(self, workflow_id: str, server: str = '') -> float:
        """Seconds a run of this workflow (on this server) is expected to take."""
        return self._by_server.get((workflow_id, server)) or self._by_workflow.get(workflow_id) or DEFAULT_DURATION


class FairQueue:
    """The waiting jobs of every user and how many each has running; serves the least recently served user first."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.durations = Durations()
        self._queued: dict[str, list[JobView]] = {}  # owner -> waiting jobs by (priority, queued_at)
        self._running: dict[str, int] = {}  # owner -> jobs on a server
        self._served: dict[str, int] = {}  # owner -> turn number of their last dispatch (-1: moved to the front)
        self._serve_counter = 0

    def queued(self, owner: str) -> int:
        """How many jobs of this user wait."""
        return len(self._queued.get(owner, []))

    def running(self, owner: str) -> int:
        """How many jobs of this user are on a server."""
        return self._running.get(owner, 0)

    def total(self) -> int:
        """How many jobs wait, of every user."""
        return sum(len(jobs) for jobs in self._queued.values())

    def check(self, owner: str) -> None:
        """Raise SubmitError('limit') when this user, or anyone (the queue is full), may not queue one more job."""
        if refusal := limit_refusal(self.limits, self.queued(owner), self.running(owner), self.total()):
            raise refusal

    def push(self, view: JobView) -> None:
        """Queue a job behind its owner's jobs of the same or a lower priority value."""
        bisect.insort(self._queued.setdefault(view.owner, []), view, key=_rank)

    def remove(self, view: JobView) -> bool:
        """Take a waiting job out of the queue; False if it was not waiting."""
        jobs = self._queued.get(view.owner, [])
        found = view in jobs
        if found:
            jobs.remove(view)
        if not jobs:
            self._queued.pop(view.owner, None)
        return found

    def move_to_front(self, view: JobView) -> bool:
        """Let a waiting job go before its owner's other jobs, and its owner first in the round."""
        jobs = self._queued.get(view.owner, [])
        if view not in jobs:
            return False
        view.priority = min(j.priority for j in jobs) - 1
        jobs.remove(view)
        jobs.insert(0, view)
        self._served[view.owner] = -1
        return True

    def take(self, place: Callable[[JobView], T | None]) -> tuple[JobView, T] | None:
        """Take out the next job in turn that `place` finds room for, with that room; None if there is none.

        Users at their concurrency limit and jobs that `place` answers None for are passed over. The caller counts
        the job as running with `started`.
        """
        for owner in sorted(self._queued, key=lambda o: (self._served.get(o, 0), self._queued[o][0].queued_at)):
            if self.running(owner) >= self.limits.max_per_user_concurrent:
                continue
            view = self._queued[owner][0]
            found = place(view)
            if found is None:
                continue
            self._serve_counter += 1
            self._served[owner] = self._serve_counter
            self.remove(view)
            return view, found
        return None

    def started(self, owner: str) -> None:
        """Count one more running job of this user (taken from the queue or recovered after a restart)."""
        self._running[owner] = self._running.get(owner, 0) + 1

    def ended(self, owner: str) -> None:
        """Count one running job of this user less."""
        left = self._running.get(owner, 0) - 1
        if left > 0:
            self._running[owner] = left
        else:
            self._running.pop(owner, None)

    def order(self) -> list[JobView]:
        """The waiting jobs in the order they would be dispatched: the round-robin simulated with a heap."""
        return list(self._walk())

    def _walk(self) -> Iterator[JobView]:
        """Yield the waiting jobs in dispatch order (the round-robin simulated with a heap), as far as asked."""
        turns = [(self._served.get(o, 0), jobs[0].queued_at, o) for o, jobs in self._queued.items()]
        heapq.heapify(turns)
        next_index = dict.fromkeys(self._queued, 0)
        counter = self._serve_counter
        while turns:
            _, _, owner = heapq.heappop(turns)
            jobs, index = self._queued[owner], next_index[owner]
            yield jobs[index]
            next_index[owner] = index + 1
            counter += 1
            if index + 1 < len(jobs):
                heapq.heappush(turns, (counter, jobs[index + 1].queued_at, owner))

    def estimate(self, backlog: float, slots: int) -> list[JobView]:
        """Set positions and ETAs of the waiting jobs behind `backlog` seconds of running work; return the changed."""
        changed: list[JobView] = []
        expected: dict[str, float] = {}  # NOTE: per workflow once, and each bindable field read once: a busy queue
        for position, view in enumerate(self._walk(), 1):  # is walked often
            own = self._expected(view.workflow_id, expected)
            if _shown(view, position, backlog / slots + own):
                changed.append(view)
            backlog += own
        return changed

    def place(self, view: JobView, backlog: float, slots: int) -> bool:
        """Set one waiting job's position and ETA as `estimate` does, walking the order only as far as that job;
        return whether they changed (False too when it does not wait)."""
        expected: dict[str, float] = {}
        for position, queued in enumerate(self._walk(), 1):
            own = self._expected(queued.workflow_id, expected)
            if queued is view:
                return _shown(view, position, backlog / slots + own)
            backlog += own
        return False

    def _expected(self, workflow_id: str, known: dict[str, float]) -> float:
        """The expected seconds of a run of the workflow, looked up once per walk (`known`)."""
        own = known.get(workflow_id)
        if own is None:
            own = known[workflow_id] = self.durations.expected(workflow_id)
        return own


def limit_refusal(limits: Limits, queued: int, active: int, total: int) -> SubmitError | None:
    """Why a user with `queued` waiting and `active` running jobs may not queue one more (`total` wait in all)."""
    cap = limits.max_queued_jobs
    if cap and total >= cap:
        return SubmitError(
            'limit',
            f'The queue is full ({cap} jobs are waiting). Try again in a few minutes.',
            reason='server_full',
            values={'limit': cap},
        )
    max_queue, max_active = limits.max_per_user_queue, limits.max_per_user_concurrent
    if queued + active < max_queue + max_active:
        return None
    if max_queue == 0 or queued == 0:
        return SubmitError(
            'limit',
            f'You already have {active} job(s) running (limit {max_active}). Wait for one to finish or cancel it.',
            reason='running_full',
            values={'active': active, 'limit': max_active},
        )
    return SubmitError(
        'limit',
        QUEUE_FULL_ONE if queued == 1 else QUEUE_FULL.format(queued=queued),
        reason='queue_full',
        values={'queued': queued},
    )


def _shown(view: JobView, position: int, eta: float) -> bool:
    """Give a waiting job its position and ETA when either moved (the ETA by a second or more); whether they did."""
    shown = view.eta_seconds
    if view.position != position or shown is None or abs(shown - eta) >= 1:
        view.position, view.eta_seconds = position, eta
        return True
    return False


def _rank(view: JobView) -> tuple[float, datetime]:
    return view.priority, view.queued_at


def _smoothed(old: float | None, took: float) -> float:
    return took if old is None else 0.7 * old + 0.3 * took
