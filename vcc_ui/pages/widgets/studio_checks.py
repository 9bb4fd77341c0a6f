"""The studio's live checks (is the file valid, which servers can run it and why not) and its test run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from vcc_ui.i18n import language, t
from vcc_ui.pages.live import JobFeed, on
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.job_card import JobCard
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageView
from vcc_ui.services.jobs import JobView
from vcc_ui.services.studio import Check, StudioError


class StudioChecks:
    """Re-checks the draft at most twice a second after a change, and runs it once on a chosen server."""

    def __init__(
        self, services: Services, feed: JobFeed, user: str, draft: Callable[[], dict[str, Any] | None]
    ) -> None:
        self.services, self.studio, self.feed, self.user = services, services.studio, feed, user
        self.draft = weak(draft)
        self.lang = language()
        self.dirty = True
        self.card: JobCard | None = None
        with ui.column().classes('w-full gap-2') as self.root:
            ui.label(t('studio_check')).classes('text-lg font-medium')
            self.result = ui.column().classes('w-full gap-1').mark('studio-check')
            ui.label(t('studio_test')).classes('text-lg font-medium mt-2')
            with ui.row().classes('w-full items-end gap-2 no-wrap'):
                self.server = ui.select([], label=t('studio_test_on')).props('dense outlined').classes('grow')
                self.server.mark('studio-test-server')
                ui.button(t('studio_test_button'), icon='play_arrow', on_click=self._run).props('no-caps').mark(
                    'studio-test-run'
                )
            self.job = ui.column().classes('w-full').mark('studio-test-job')
        ui.timer(0.5, self._tick)
        on(services.pool.changed, lambda _: self.changed(), owner=self.root)
        on(services.jobs.changed, self._on_job, owner=self.root)

    def changed(self) -> None:
        """Mark the draft changed; the next tick checks it again."""
        self.dirty = True

    def _tick(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        names = sorted(self.studio.catalogues())
        if names != self.server.options:
            self.server.set_options(
                names, value=self.server.value if self.server.value in names else next(iter(names), None)
            )
        draft = self.draft()
        self.result.clear()
        if draft is not None:
            self._show(self.studio.check(draft))

    def _show(self, check: Check) -> None:
        with self.result:
            if check.error:
                ui.label(t('studio_err_invalid', reason=check.error)).classes('text-sm text-negative break-words').mark(
                    'studio-check-error'
                )
                return
            if not check.servers:
                ui.label(t('studio_no_servers')).classes('text-sm text-gray-600')
            for server, reasons in check.servers.items():
                ok = not reasons
                with ui.row().classes('w-full items-start gap-2 no-wrap').mark(f'studio-check-{"ok" if ok else "bad"}'):
                    ui.icon('check_circle' if ok else 'error').classes('text-positive' if ok else 'text-negative')
                    with ui.column().classes('gap-0 min-w-0'):
                        ui.label(t('studio_check_ok' if ok else 'studio_check_bad', server=server)).classes('text-sm')
                        for reason in reasons:
                            ui.label(reason).classes('text-xs text-gray-600 break-words')

    async def _run(self) -> None:
        draft = self.draft()
        if draft is None or not self.server.value:
            ui.notify(t('studio_err_no_server', reason=''), type='warning')
            return
        try:
            view = await self.studio.test_run(draft, self.server.value, self.user)
        except StudioError as e:
            ui.notify(t(f'studio_err_{e.code}', reason=e.reason), type='negative', multi_line=True)
            return
        self.job.clear()
        with self.job:
            self.card = JobCard(
                view,
                lang=self.lang,
                title=t('studio_test'),
                feed=self.feed,
                load_images=self._images,
                on_cancel=self._cancel,
                on_open=lambda images, index: None,
                is_admin=True,
            )

    def _on_job(self, view: JobView) -> None:
        if self.card is None or view.id != self.card.view.id:
            return
        self.card.follow(view)
        if view.finished:
            self.card.show_result_later()

    async def _images(self, ids: list[str]) -> list[ImageView]:
        found = [await self.services.images.get(self.user, image_id) for image_id in ids]
        return [image for image in found if image is not None]

    async def _cancel(self, view: JobView) -> None:
        await self.services.jobs.cancel(view.id, owner=self.user)
