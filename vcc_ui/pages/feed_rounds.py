"""Which tabs of a job get its newest state when (its tabs in a ring, those sent to least recently first), and the
one encoded message that goes to them.

A job watched by many tabs spends at most FEED_BUDGET tab messages a second: each step goes at once, fresh, to as
many of its tabs as the budget allows since the last one (200 for steps 0.1 s apart), so every tab gets a newer step
once a round (tabs / FEED_BUDGET: 0.25 s for 500) and a step's fan-out is a share of the tabs, not all of them every
third step (the last tab of a fan-out waits for every write before its own). FEED_BURST caps one fan-out, also after
a stall. A new status and the last step go to every tab at once; the tabs left behind when steps stop get the newest
state two rounds later, FEED_BURST of them at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from itertools import islice, takewhile
from typing import Any

import engineio.packet
from nicegui import core
from socketio import packet

FEED_MESSAGE = 'vcc_job'  # the socket.io event the job-live component listens to (job_live.js)
FEED_BUDGET = 2000  # tab messages a second per job
FEED_BURST = 200  # tab messages of one fan-out at most


class Rounds:
    """One job's tabs in the order they were last sent its state, and the tab messages the job may still send."""

    def __init__(self, send: Callable[[list[str]], None], clock: Callable[[], float]) -> None:
        self._send = send  # sends the job's newest state to these clients
        self._clock = clock
        self.ring: dict[str, int] = {}  # client id -> seq of the state it was last sent, least recently sent first
        self._seq = 0  # the newest state's sequence number
        self._allowed: tuple[float, float] | None = None  # (tab messages the job may send, counted when)
        self._flushed = 0.0  # when the last message went out
        self._catching_up = False  # a catch-up is scheduled

    def add(self, client_id: str, seq: int) -> None:
        """Take a client whose element shows the state `seq` (JobLive starts from the newest)."""
        self.ring.setdefault(client_id, seq)

    def publish(self, seq: int, *, everyone: bool) -> None:
        """Send the new state `seq`: to every tab, or to as many as the budget allows, least recently sent first."""
        self._seq = seq
        self._send_to(len(self.ring) if everyone else self._allowance())

    def _allowance(self) -> int:
        """How many tab messages the job may send now: FEED_BUDGET a second, at most FEED_BURST at once."""
        allowed, since = self._allowed or (float(len(self.ring)), 0.0)
        return int(min(len(self.ring), FEED_BURST, allowed + FEED_BUDGET * (self._clock() - since)))

    def _send_to(self, count: int, *, again: float | None = None) -> None:
        """Send the newest state to the `count` tabs sent to least recently; catch the rest up later if need be (after
        two rounds, or `again` seconds)."""
        now = self._clock()
        self._allowed = (max(0, self._allowance() - count), now)
        self._flushed = now
        targets = list(islice(self.ring, count))
        for client_id in targets:  # to the end of the ring: the others are next
            del self.ring[client_id]
            self.ring[client_id] = self._seq
        if targets:
            self._send(targets)
        if self._behind() and not self._catching_up:
            self._catching_up = True
            delay = 2 * len(self.ring) / FEED_BUDGET if again is None else again
            asyncio.get_running_loop().call_later(delay, self._catch_up, now)

    def _behind(self) -> int:
        """How many tabs were not sent the newest state (they lead the ring)."""
        return sum(1 for _ in takewhile(lambda sent: sent < self._seq, self.ring.values()))

    def _catch_up(self, flushed: float) -> None:
        """Send the newest state to the tabs still behind once no newer step came for two rounds (a pause): a step
        coming sooner goes to them first, fresh."""
        behind = self._behind()
        if behind and self._flushed > flushed:  # steps still flow and reach the tabs behind first: look again later
            delay = max(0.0, self._flushed + 2 * len(self.ring) / FEED_BUDGET - self._clock())
            asyncio.get_running_loop().call_later(delay, self._catch_up, self._flushed)
            return
        self._catching_up = False
        if behind:  # a share of them if they are many, the next share as soon as the budget allows
            self._send_to(min(behind, self._allowance()), again=FEED_BURST / FEED_BUDGET)


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
