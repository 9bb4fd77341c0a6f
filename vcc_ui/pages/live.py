"""Service events followed by page elements: a subscription lasts exactly as long as the element that owns it.

Job changes take a cheaper road (`JobFeed`): page handlers are called only for their own user's jobs, and the live
state of a job (step, bar, time left, queue position, preview) is serialized once per change and sent in one
socket.io emit to every tab that shows the job, instead of a per-element diff built and sent for each tab. A job
watched by many tabs spends at most FEED_BUDGET tab messages a second: each step goes at once, fresh, to as many of
its tabs as the budget allows, those sent to least recently first. So every tab gets a newer step once a round
(tabs / FEED_BUDGET: 0.25 s for 500) and no single fan-out is large; a new status and the last step go to every tab,
and the tabs left behind when steps stop get the newest state two rounds later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from itertools import islice, takewhile
from typing import Any

import engineio.packet
from nicegui import Event, background_tasks, core, ui
from socketio import packet

from vcc_ui.models import JobStatus
from vcc_ui.services.jobs import JobView

FEED_MESSAGE = 'vcc_job'  # the socket.io event the job-live component listens to (job_live.js)
FEED_BUDGET = 2000  # tab messages a second per job; a job watched by more tabs sends each step to a share of them
FEED_BURST = 200  # tab messages of one fan-out at most: its last tab waits for every write before its own


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
        self._rings: dict[str, dict[str, int]] = {}  # job id -> {client id: seq it was last sent}, least recent first
        self._states: dict[str, dict[str, Any]] = {}  # job id -> the newest state sent, with its sequence number
        self._pending: dict[str, JobView] = {}  # job id -> its newest view not sent yet
        self._soon: set[str] = set()  # jobs whose flush runs in this loop iteration
        self._catching_up: set[str] = set()  # jobs with tabs behind their newest state and a catch-up scheduled
        self._allowed: dict[str, tuple[float, float]] = {}  # job id -> (tab messages it may send, counted when)
        self._flushed: dict[str, float] = {}  # job id -> when its last message went out
        self._statuses: dict[str, str] = {}  # unfinished job -> the status its owner's handlers last got
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
        ring = self._rings.setdefault(view.id, {})
        if client_id not in ring:  # its element starts from the newest state (JobLive._to_dict)
            ring[client_id] = self._states[view.id]['seq']

    def unwatch(self, job_id: str, client_id: str) -> None:
        """Count one live element less; a client with none gets nothing more of the job."""
        clients = self._watchers.get(job_id, {})
        left = clients.get(client_id, 0) - 1
        if left > 0:
            clients[client_id] = left
            return
        clients.pop(client_id, None)
        self._rings.get(job_id, {}).pop(client_id, None)
        if not clients:
            for kept in (self._watchers, self._rings, self._states, self._flushed, self._allowed):
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
        """Send the job's newest state: a new status or the last step to every tab, a step to as many as the budget
        allows, those that waited longest first."""
        self._soon.discard(job_id)
        view = self._pending.pop(job_id, None)
        ring = self._rings.get(job_id)
        if view is None or not ring:
            return
        self._sent += 1
        self._states[job_id].update(live_state(view), seq=self._sent)
        everyone = view.status != JobStatus.RUNNING or view.step >= view.steps  # the final state: to all at once
        self._send(job_id, len(ring) if everyone else self._allowance(job_id, len(ring)))

    def _allowance(self, job_id: str, tabs: int) -> int:
        """How many tab messages the job may send now: FEED_BUDGET a second, at most FEED_BURST at once."""
        allowed, since = self._allowed.get(job_id, (float(tabs), 0.0))
        return int(min(tabs, FEED_BURST, allowed + FEED_BUDGET * (self._clock() - since)))

    def _send(self, job_id: str, count: int, *, again: float | None = None) -> None:
        """Send the newest state to the `count` tabs sent to least recently; catch the rest up later if need be (after
        two rounds, or `again` seconds)."""
        ring, state = self._rings[job_id], self._states[job_id]
        now, seq = self._clock(), state['seq']
        self._allowed[job_id] = (max(0, self._allowance(job_id, len(ring)) - count), now)
        self._flushed[job_id] = now
        targets = list(islice(ring, count))
        for client_id in targets:  # to the end of the ring: the others are next
            del ring[client_id]
            ring[client_id] = seq
        if targets:
            background_tasks.create(fan_out(dict(state), targets), name='job-feed')
        if self._behind(job_id) and job_id not in self._catching_up:
            self._catching_up.add(job_id)
            delay = 2 * len(ring) / FEED_BUDGET if again is None else again
            asyncio.get_running_loop().call_later(delay, self._catch_up, job_id, now)

    def _behind(self, job_id: str) -> int:
        """How many tabs of the job were not sent its newest state (they lead the ring)."""
        seq = self._states[job_id]['seq'] if job_id in self._states else 0
        return sum(1 for _ in takewhile(lambda sent: sent < seq, self._rings.get(job_id, {}).values()))

    def _catch_up(self, job_id: str, flushed: float) -> None:
        """Send the newest state to the tabs still behind once no newer step came for two rounds (a pause): a step
        coming sooner goes to them first, fresh."""
        behind = self._behind(job_id)
        last = self._flushed.get(job_id, flushed)
        tabs = len(self._rings.get(job_id, ()))
        if behind and last > flushed:  # steps still flow and reach the tabs behind first: look again later
            delay = max(0.0, last + 2 * tabs / FEED_BUDGET - self._clock())
            asyncio.get_running_loop().call_later(delay, self._catch_up, job_id, last)
            return
        self._catching_up.discard(job_id)
        if behind:  # a share of them if they are many, the next share as soon as the budget allows
            self._send(job_id, min(behind, self._allowance(job_id, tabs)), again=FEED_BURST / FEED_BUDGET)


async def fan_out(message: dict[str, Any], clients: list[str]) -> None:
    """Send the message as one socket.io event to the clients (their rooms): encoded once and queued on each socket
    from this one task, where socket.io's emit makes and awaits a task per recipient."""
    encoded = core.sio.packet_class(packet.EVENT, namespace='/', data=[FEED_MESSAGE, message]).encode()
    frames = [engineio.packet.Packet(engineio.packet.MESSAGE, part) for part in _as_list(encoded)]
    for _, eio_sid in core.sio.manager.get_participants('/', clients):
        for frame in frames:
            await core.sio.eio.send_packet(eio_sid, frame)


def _as_list(encoded: Any) -> list[Any]:
    return encoded if isinstance(encoded, list) else [encoded]
