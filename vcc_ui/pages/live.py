"""Service events followed by page elements: a subscription lasts exactly as long as the element that owns it.

Job changes take a cheaper road (`JobFeed`): page handlers are called only for their own user's jobs, and the live
state of a job (step, bar, time left, queue position, preview) is serialized once per change and sent in one
socket.io emit to the tabs that show the job, instead of a per-element diff built and sent for each tab. Which of
them get a step when a job is watched by many is `feed_rounds.Rounds`'s answer (a budget of tab messages a second).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Any, TypeVar

from nicegui import Event, background_tasks, ui

from vcc_ui.models import JobStatus
from vcc_ui.pages.feed_rounds import Rounds, fan_out
from vcc_ui.services.jobs import JobView

T = TypeVar('T')


class _Subscription(ui.element):
    """An invisible child of the owner; NiceGUI deletes it with the owner, and that ends the subscription."""

    def __init__(self, end: Callable[[], None]) -> None:
        super().__init__()
        self.end = end
        self.set_visibility(False)

    def _handle_delete(self) -> None:
        self.end()
        super()._handle_delete()


def on(event: Event, handler: Callable[..., Any], *, owner: ui.element) -> None:
    """Call handler on every event until owner is deleted (by a page change, its parent's clear(), or the tab closing).

    The owner must be an element whose content is never cleared: clearing it ends the subscription too.
    """
    event.subscribe(handler, unsubscribe_on_delete=False)  # the _Subscription ends it, also when the client goes
    with owner:
        _Subscription(partial(event.unsubscribe, handler))


def live_state(view: JobView) -> dict[str, Any]:
    """What a job's live part shows, as sent to the browser."""
    return {
        'id': view.id,
        'step': view.step,
        'steps': view.steps,
        'progress': round(view.progress, 4),
        'eta': None if view.eta_seconds is None else round(view.eta_seconds),
        'position': view.position,
        'waiting': view.waiting,
        'preview': 0 if view.finished else view.preview_seq,
    }


class JobFeed:
    """Routes `jobs.changed` to the tabs that show a job: handlers by owner, one fanned-out message per change."""

    def __init__(self, changed: Event[JobView], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._owners: dict[str, Event[JobView]] = {}  # user -> the event their pages' handlers follow
        self._watchers: dict[str, dict[str, int]] = {}  # job id -> {client id: live elements showing it}
        self._rounds: dict[str, Rounds] = {}  # job id -> its tabs in the order they were last sent its state
        self._states: dict[str, dict[str, Any]] = {}  # job id -> the newest state sent, with its sequence number
        self._pending: dict[str, JobView] = {}  # job id -> its newest view not sent yet
        self._soon: set[str] = set()  # jobs whose flush runs in this loop iteration
        self._statuses: dict[str, str] = {}  # unfinished job -> the status its owner's handlers last got
        self._reads: dict[Hashable, asyncio.Future[Any]] = {}  # reads in flight that tabs asking the same share
        self._sent = 0  # states sent so far: a state's sequence number, never reused, so a browser keeps the newer
        changed.subscribe(self._on_changed, unsubscribe_on_delete=False)

    def on_jobs_of(self, user: str, handler: Callable[[JobView], Any], *, owner: ui.element) -> None:
        """Call handler when one of `user`'s jobs comes or changes its status, until owner is deleted (see `on`)."""
        event = self._owners.get(user)
        if event is None:
            event = self._owners[user] = Event()
        event.subscribe(handler, unsubscribe_on_delete=False)
        with owner:
            _Subscription(partial(self._unsubscribe, user, handler))

    def watch(self, view: JobView, client_id: str) -> None:
        """Count one more live element of the client showing the job; it gets every change from now on."""
        clients = self._watchers.setdefault(view.id, {})
        clients[client_id] = clients.get(client_id, 0) + 1
        if view.id not in self._states:
            self._states[view.id] = {**live_state(view), 'seq': self._sent}
        rounds = self._rounds.get(view.id)
        if rounds is None:
            rounds = self._rounds[view.id] = Rounds(partial(self._fan_out, view.id), self._clock)
        rounds.add(client_id, self._states[view.id]['seq'])

    def unwatch(self, job_id: str, client_id: str) -> None:
        """Count one live element less; a client with none gets nothing more of the job."""
        clients = self._watchers.get(job_id, {})
        left = clients.get(client_id, 0) - 1
        if left > 0:
            clients[client_id] = left
            return
        clients.pop(client_id, None)
        if (rounds := self._rounds.get(job_id)) is not None:
            rounds.ring.pop(client_id, None)
        if not clients:
            for kept in (self._watchers, self._rounds, self._states):
                kept.pop(job_id, None)

    def state(self, view: JobView) -> dict[str, Any]:
        """The newest state of a watched job (its sequence number lets a browser keep the newer of two)."""
        return self._states.get(view.id) or {**live_state(view), 'seq': self._sent}

    def watchers(self, job_id: str) -> set[str]:
        """The clients that get the job's changes."""
        return set(self._watchers.get(job_id, ()))

    def counts(self) -> tuple[int, int]:
        """(users with handlers, jobs with watchers): both go back to where they were when pages go."""
        return len(self._owners), len(self._watchers)

    async def shared(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """Await read() once for all the tabs asking with the same key while it runs: every tab of a user shows a
        finished job's images, and 500 tabs made 500 queries for the same rows."""
        future = self._reads.get(key)
        if future is None:
            future = self._reads[key] = asyncio.ensure_future(read())
            future.add_done_callback(partial(self._read_done, key))
        return await asyncio.shield(future)  # a tab that goes cancels its own wait, not the others' read

    def _read_done(self, key: Hashable, future: asyncio.Future[Any]) -> None:
        del self._reads[key]
        if not future.cancelled():
            future.exception()  # retrieved: each tab that waited got it raised

    def _unsubscribe(self, user: str, handler: Callable[[JobView], Any]) -> None:
        event = self._owners.get(user)
        if event is not None:
            event.unsubscribe(handler)
            if not event.callbacks:
                del self._owners[user]

    def _on_changed(self, view: JobView) -> None:
        if self._statuses.get(view.id) != view.status:  # a progress step reaches the tabs by the feed message alone
            if view.finished:
                self._statuses.pop(view.id, None)
            else:
                self._statuses[view.id] = view.status
            event = self._owners.get(view.owner)
            if event is not None:
                event.emit(view)
        if view.id not in self._watchers:
            return
        self._pending[view.id] = view  # changes until the flush go out as one message: the newest state
        if view.id not in self._soon:
            self._soon.add(view.id)
            asyncio.get_running_loop().call_soon(self._flush, view.id)

    def _flush(self, job_id: str) -> None:
        self._soon.discard(job_id)
        view = self._pending.pop(job_id, None)
        rounds = self._rounds.get(job_id)
        if view is None or rounds is None:
            return
        self._sent += 1
        self._states[job_id].update(live_state(view), seq=self._sent)
        rounds.publish(self._sent, everyone=view.status != JobStatus.RUNNING or view.step >= view.steps)

    def _fan_out(self, job_id: str, clients: list[str]) -> None:
        if (state := self._states.get(job_id)) is not None:
            background_tasks.create(fan_out(dict(state), clients), name='job-feed')
