"""The user's jobs, newest first: live cards that survive a reload and follow jobs started in other tabs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from nicegui import background_tasks, ui

from vcc_ui.i18n import translate
from vcc_ui.pages.live import JobFeed
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
        self.on_open = on_open
        self.on_images = on_images
        self.lang = lang
        self.t = partial(translate, lang=lang)
        self.cards: dict[str, JobCard] = {}
        self.images: dict[str, ImageView] = {}
        self.show_all = False
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
        for view in services.jobs.jobs_of(user):
            self.add(view)
        feed.on_jobs_of(user, self._on_changed, owner=self.root)
        background_tasks.create(self._load_history(), name='jobs-history', context=self.root)

    def remember(self, images: list[ImageView]) -> None:
        """Cache images so result cards need no extra lookups."""
        self.images.update((image.id, image) for image in images)

    def add(self, view: JobView) -> JobCard:
        """Show a card for a job (once), placed by its queue time, newest first."""
        if view.id in self.cards:
            return self.cards[view.id]
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
        self.more.set_text(self.t('jobs_show_older', n=hidden))
        self.more.set_visibility(hidden > 0)

    def _show_all(self) -> None:
        self.show_all = True
        self._fold()

    def _on_changed(self, view: JobView) -> None:
        card = self.cards.get(view.id) or self.add(view)
        if view.finished and not card.showing_result:
            card.show_result_later()
            self._fold()

    async def _load_history(self) -> None:
        views = await self.services.jobs.history(self.user, limit=HISTORY_LIMIT)
        if self.root.is_deleted:
            return
        for view in views:
            self.add(view)
        self.empty.set_visibility(not self.cards)

    async def _images_for(self, ids: list[str]) -> list[ImageView]:
        fetched = []
        for image_id in ids:
            if image_id not in self.images:
                image = await self.services.images.get(self.user, image_id)
                if image is not None:
                    self.images[image_id] = image
                    fetched.append(image)
        if fetched:
            self.on_images(fetched)
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
