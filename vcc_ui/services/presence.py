"""Who is connected right now: one entry per open browser tab, fed by the app's connect and disconnect hooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from nicegui import Event


@dataclass(kw_only=True, slots=True)
class Visitor:
    """One connected browser tab."""

    client_id: str
    user: str
    path: str
    since: datetime
    admin: bool = False


class Presence:
    """The connected tabs; `changed` fires whenever one arrives, moves or leaves."""

    def __init__(self) -> None:
        self.visitors: dict[str, Visitor] = {}
        self.changed: Event[[]] = Event()

    def connected(self, client_id: str, *, user: str, path: str, since: float, admin: bool = False) -> None:
        """Record a tab whose socket (re)connected; `since` is when the tab was opened (epoch seconds)."""
        self.visitors[client_id] = Visitor(
            client_id=client_id, user=user, path=_bare(path), admin=admin, since=datetime.fromtimestamp(since, UTC)
        )
        self.changed.emit()

    def moved(self, client_id: str, path: str) -> None:
        """Record that a tab switched to another page."""
        visitor, path = self.visitors.get(client_id), _bare(path)
        if visitor is not None and visitor.path != path:
            visitor.path = path
            self.changed.emit()

    def disconnected(self, client_id: str) -> None:
        """Forget a tab whose socket closed."""
        if self.visitors.pop(client_id, None) is not None:
            self.changed.emit()

    def list(self) -> list[Visitor]:
        """The connected tabs, longest connected first."""
        return sorted(self.visitors.values(), key=lambda v: v.since)


def _bare(path: str) -> str:
    """The path without its query (which may hold tokens)."""
    return path.split('?', 1)[0].split('#', 1)[0] or '/'
