"""Moments as the browser's local time with its zone: learned once per tab, UTC (labelled) until it is known."""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nicegui import Client, app, context, ui

log = logging.getLogger(__name__)

ZONE_KEY = 'time_zone'  # app.storage.user (the browser) and the client's own storage (for service events)
ZONE_JS = 'Intl.DateTimeFormat().resolvedOptions().timeZone'
MINUTES = '%Y-%m-%d %H:%M'
SECONDS = '%Y-%m-%d %H:%M:%S'
DAY = '%Y-%m-%d'


def zone_named(name: object) -> ZoneInfo | None:
    """Return the IANA zone of this name, or None for anything else (not a string, unknown, a path)."""
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def current_zone() -> tzinfo:
    """Return this browser's zone as learned, else UTC.

    Service events reach a page outside any request, where the browser's storage cannot be read; there the zone the
    tab remembered answers.
    """
    try:
        name = app.storage.user.get(ZONE_KEY)
    except RuntimeError:
        try:
            name = context.client.storage.get(ZONE_KEY)
        except RuntimeError:
            name = None
    return zone_named(name) or UTC


def format_moment(value: datetime | str | None, zone: tzinfo, fmt: str = MINUTES, *, label: bool = True) -> str:
    """Return a moment (naive ones are UTC) in a zone, with the zone's name unless `label` is off; '' for none."""
    if not value:
        return ''
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return f'{local:{fmt}} {local.tzname()}' if label else f'{local:{fmt}}'


def local_time(value: datetime | str | None, fmt: str = MINUTES, *, label: bool = True) -> str:
    """Return a moment in this browser's local time with the zone (e.g. '2024-05-01 18:30 KST'), UTC until known."""
    return format_moment(value, current_zone(), fmt, label=label)


def from_timestamp(seconds: float, fmt: str = MINUTES) -> str:
    """Return a Unix time in this browser's local time with the zone."""
    return local_time(datetime.fromtimestamp(seconds, UTC), fmt)


def learn_zone() -> None:
    """Ask this tab's browser for its IANA zone once it is connected and remember a valid answer.

    A connect handler, not a task awaiting `client.connected()`: that await tells NiceGUI to answer the page's GET at
    once, before the page's first loads are in it (first_loads.py). It is handed its client rather than closing over
    it: the client holds its handlers, and that cycle kept a closed tab's page for the collector (housekeeping.py).
    """
    storage = app.storage.user
    if zone_named(storage.get(ZONE_KEY)) is not None:
        context.client.storage[ZONE_KEY] = storage[ZONE_KEY]
    asked = False

    async def ask(client: Client) -> None:
        nonlocal asked
        if asked or client.is_deleted:  # once per page, not again on a reconnect
            return
        asked = True
        with client:
            try:
                name = await ui.run_javascript(ZONE_JS, timeout=5.0)
            except TimeoutError:
                log.info('the browser did not tell its time zone')
                return
        if zone_named(name) is None:
            log.info('the browser named an unknown time zone: %.64r', name)
            return
        storage[ZONE_KEY] = name
        with suppress(RuntimeError):
            client.storage[ZONE_KEY] = name

    context.client.on_connect(ask)
