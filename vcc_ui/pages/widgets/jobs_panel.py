"""The user's jobs, newest first: live cards that survive a reload and follow jobs started in other tabs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.pages.first_loads import load
from vcc_ui.pages.live import JobFeed
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.job_card import JobCard
from vcc_ui.pages.widgets.submit_bar import refusal
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageView
from vcc_ui.services.jobs import JobView, SubmitError

log = logging.getLogger(__name__)

HISTORY_LIMIT = 30
SHOWN_FINISHED = 8  # older finished jobs wait behind a button (a phone stacks the list under the form)


class JobsPanel:
    """Adds a card per job of `user`; a progress step never rebuilds anything, a finish swaps one card's body."""

    def __init__(
        self,
        services: Services,
        user: str,
        feed: JobFeed,
        *,
        lang: str,
        on_open: Callable[[list[ImageView], int], None],
        on_images: Callable[[list[ImageView]], None],
        is_admin: bool = False,
    ) -> None:
        self.services = services
        self.feed = feed
        self.is_admin = is_admin
        self.user = user
        self.on_open = weak(on_open)
        self.on_images = weak(on_images)
        self.lang = lang
        self.t = partial(translate, lang=lang)
        self.cards: dict[str, JobCard] = {}
        self.images: dict[str, ImageView] = {}
        self.absent: set[str] = set()  # ids looked up and not found (purged, or never the user's)
        self.asked: dict[str, asyncio.Event] = {}  # ids being looked up, each with the event its query sets
        self.batch: asyncio.Event | None = None  # the query that ids asked for now join
        self.show_all = False
        self.older: list[JobView] = []  # finished history jobs behind the button: their cards are built on its press
        with ui.column().classes('w-full gap-2') as self.root:
            self.empty = ui.label(self.t('jobs_empty')).classes('text-sm text-gray-500').mark('jobs-empty')
            self.column = ui.column().classes('w-full gap-2').mark('jobs-panel')
            self.more = (
                ui.button(on_click=self._show_all)
                .props('flat no-caps color=primary')
                .classes('self-center')
                .mark('jobs-more')
            )
        self.more.set_visibility(False)
        self._place(services.jobs.jobs_of(user))
        feed.on_jobs_of(user, self._on_changed, owner=self.root)
        load(self._load_history(), name='jobs-history', context=self.root)

    def remember(self, images: list[ImageView]) -> None:
        """Cache images so result cards need no extra lookups."""
        self.images.update((image.id, image) for image in images)

    def add(self, view: JobView, *, fold: bool = True) -> JobCard:
        """Show a card for a job (once), placed by its queue time, newest first."""
        if view.id in self.cards:
            return self.cards[view.id]
        self.older = [v for v in self.older if v.id != view.id]
        workflow = self.services.registry.get(view.workflow_id)
        title = workflow.title_for(self.lang) if workflow else view.workflow_id
        with self.column:
            card = JobCard(
                view,
                lang=self.lang,
                title=title,
                feed=self.feed,
                load_images=self._images_for,
                on_cancel=self._cancel,
                on_open=self.on_open,
                on_retry=self._retry,
                is_admin=self.is_admin,
            )
        newer = sum(1 for c in self.cards.values() if c.view.queued_at > view.queued_at)
        card.card.move(target_index=newer)
        self.cards[view.id] = card
        self.empty.set_visibility(False)
        if fold:
            self._fold()
        return card

    def _fold(self) -> None:
        """Show every live job and the newest finished ones; the button tells how many more there are."""
        finished = sorted(
            (c for c in self.cards.values() if c.view.finished), key=lambda c: c.view.queued_at, reverse=True
        )
        hidden = 0 if self.show_all else max(0, len(finished) - SHOWN_FINISHED)
        for index, card in enumerate(finished):
            card.card.set_visibility(index < len(finished) - hidden)
        for card in self.cards.values():
            if not card.view.finished:
                card.card.set_visibility(True)
        self.more.set_text(self.t('jobs_show_older', n=hidden + len(self.older)))
        self.more.set_visibility(hidden + len(self.older) > 0)

    def _show_all(self) -> None:
        self.show_all = True
        older, self.older = self.older, []
        for view in older:
            self.add(view, fold=False)
        self._fold()

    def _on_changed(self, view: JobView) -> None:
        card = self.cards.get(view.id) or self.add(view)
        card.follow(view)
        if view.finished and not card.showing_result:
            card.show_result_later()
            self._fold()

    async def _load_history(self) -> None:
        views = await self.services.jobs.history(self.user, limit=HISTORY_LIMIT)
        known = set(self.cards) | {v.id for v in self.older}
        views = [v for v in views if v.id not in known]
        # every history job's images in one query before the cards ask for them, the newest job's first
        await self._fetch([i for view in views for i in view.image_ids])
        if self.root.is_deleted:
            return
        self._place(views)
        self.empty.set_visibility(not self.cards and not self.older)

    def _place(self, views: list[JobView]) -> None:
        """Build the cards of live jobs and of the newest finished ones; older finished jobs wait behind the button."""
        finished = sorted(
            [v for v in views if v.finished and v.id not in self.cards] + self.older,
            key=lambda v: v.queued_at,
            reverse=True,
        )
        room = max(0, SHOWN_FINISHED - sum(1 for card in self.cards.values() if card.view.finished))
        self.older = [] if self.show_all else finished[room:]
        waiting = {v.id for v in self.older}
        for view in sorted(views, key=lambda v: v.queued_at, reverse=True):  # the newest job's images ask first
            if view.id not in waiting:
                self.add(view, fold=False)
        for view in finished[:room] if not self.show_all else []:
            self.add(view, fold=False)  # an older one that moved up (no-op for those built above)
        self._fold()

    async def _fetch(self, ids: list[str]) -> None:
        """Look up the ids not known yet: the cards asking in the same tick share one query (first asked, first)."""
        unknown = [i for i in dict.fromkeys(ids) if i not in self.images and i not in self.absent]
        waits = {self.asked[i] for i in unknown if i in self.asked}
        if new := [i for i in unknown if i not in self.asked]:
            if self.batch is None:
                self.batch = asyncio.Event()
                load(self._read(self.batch), name='jobs-images', context=self.root)
            self.asked.update((i, self.batch) for i in new)
            waits.add(self.batch)
        for done in waits:
            await done.wait()

    async def _read(self, done: asyncio.Event) -> None:
        await asyncio.sleep(0)  # the other cards built in this tick ask too
        self.batch = None
        wanted = [i for i, batch in self.asked.items() if batch is done]
        try:
            read = partial(self.services.images.many, self.user, wanted)
            found = await self.feed.shared(('images', self.user, *wanted), read)  # the user's other tabs ask too
            self.images.update(found)
            self.absent.update(i for i in wanted if i not in found)
            if fetched := [found[i] for i in wanted if i in found]:
                self.on_images(fetched)
        finally:
            for image_id in wanted:
                del self.asked[image_id]
            done.set()

    async def _images_for(self, ids: list[str]) -> list[ImageView]:
        await self._fetch(ids)
        return [self.images[i] for i in ids if i in self.images and self.images[i].status == 'active']

    async def _retry(self, view: JobView) -> None:
        """Queue the job again with the same params (its seed included); a refusal is said."""
        try:
            again = await self.services.jobs.submit(self.user, view.workflow_id, view.params)
        except SubmitError as error:
            ui.notify(refusal(error), type='warning', position='top')
            return
        self.add(again)
        ui.notify(self.t('gen_queued'), type='positive', position='top')

    async def _cancel(self, view: JobView) -> None:
        if await self.services.jobs.cancel(view.id, owner=self.user) is None:
            ui.notify(self.t('job_cancel_failed'), type='warning')
