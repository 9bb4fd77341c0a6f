"""One job of the user: status, queue position, ETA, progress and live preview; the results or the error at the end."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.models import JobStatus
from vcc_ui.pages.first_loads import load
from vcc_ui.pages.live import JobFeed
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.bare import TextButton
from vcc_ui.pages.widgets.img import Img, Thumb, draggable
from vcc_ui.pages.widgets.job_live import JobLive
from vcc_ui.services.image_meta import ImageView
from vcc_ui.services.job_form import without_addresses
from vcc_ui.services.jobs import JobView

STATUS_COLOR = {
    'queued': 'grey-7',
    'dispatched': 'blue-grey',
    'running': 'primary',
    'saving': 'teal',
    'completed': 'positive',
    'failed': 'negative',
    'cancelled': 'grey',
    'timed_out': 'orange-9',
}

ImagesLoader = Callable[[list[str]], Awaitable[list[ImageView]]]


class JobCard:
    """A card that follows a live JobView (`follow`); only the body is swapped once when the job finishes."""

    def __init__(
        self,
        view: JobView,
        *,
        lang: str,
        title: str,
        feed: JobFeed,
        load_images: ImagesLoader,
        on_cancel: Callable[[JobView], Awaitable[None]],
        on_open: Callable[[list[ImageView], int], None],
        on_retry: Callable[[JobView], Awaitable[None]] | None = None,
        is_admin: bool = False,
    ) -> None:
        self.on_retry = None if on_retry is None else weak(on_retry)
        self.view = view
        self.feed = feed
        self.is_admin = is_admin
        self.lang = lang
        self.t = partial(translate, lang=lang)
        self.load_images = load_images
        self.on_open = weak(on_open)
        self.showing_result = False
        self.images_deleted = False  # a finished job whose images were all trashed or purged
        self.shown_status = ''  # the status the badge and the cancel button show
        with ui.card().classes('w-full p-3 gap-2 shadow-sm').mark('job-card') as self.card:
            self.card.props(f'data-job-id={view.id}')
            with ui.row().classes('w-full items-center no-wrap gap-2'):
                self.badge = ui.badge().mark('job-status')
                with ui.column().classes('gap-0 min-w-0 grow'):
                    ui.label(title).classes('text-sm font-medium truncate w-full')
                    ui.label(view.params.get('prompt', '')).classes('text-xs text-gray-500 truncate w-full')
                self.cancel: ui.button | None = None  # a finished job (most of a history) never needs one
                if not view.finished:
                    self.cancel = (
                        ui.button(icon='close', on_click=lambda: on_cancel(view))
                        .props('flat round dense')
                        .tooltip(self.t('job_cancel'))
                        .mark('job-cancel')
                    )
            self.follow(view)
            # the live part (a JobLive the feed updates in the browser) until the job ends, then the outcome
            self.body = ui.card_section().classes('w-full p-0 column gap-1')
        if view.finished:
            self.show_result_later()
        else:
            self._live_body()

    def follow(self, view: JobView) -> None:
        """Show the job's status if it changed; the page calls this on every change of the job.

        Not a binding: a binding's creation propagates to every other binding of the same view attribute, so 500
        tabs building the card of one job cost 500 x 500 propagations.
        """
        if view.status == self.shown_status:
            return
        self.shown_status = view.status
        self.badge.set_text(self._status_text(view.status))
        self.badge.set_background_color(self._status_color(view.status))
        if self.cancel is not None:
            self.cancel.set_visibility(not JobStatus(view.status).finished)

    def _status_text(self, status: str) -> str:
        return self.t('job_status_deleted' if self.images_deleted else f'job_status_{status}')

    def _status_color(self, status: str) -> str:
        return 'grey-6' if self.images_deleted else STATUS_COLOR.get(status, 'grey')

    def _live_body(self) -> None:
        with self.body:
            JobLive(self.view, self.feed, lang=self.lang, preview_base='/api/v1/jobs', on_zoom=self._zoom).classes(
                'w-full'
            ).mark('job-live')

    def _zoom(self) -> None:
        """Open the live preview full size in a dialog that follows it; Escape or a click closes it."""
        with self.card, ui.dialog() as dialog, ui.card().classes('p-2 max-w-5xl w-full').mark('job-preview-full'):
            Img(alt=self.t('job_preview')).classes('max-h-[85vh] max-w-full mx-auto object-contain').bind_source_from(
                self.view, 'preview_seq', backward=self._preview_url
            ).on('click', dialog.close)
        dialog.on('hide', dialog.delete)
        dialog.open()

    def _preview_url(self, seq: int) -> str:
        return f'/api/v1/jobs/{self.view.id}/preview?v={seq}' if seq else ''

    def show_result_later(self) -> None:
        """Swap the live body for the outcome once; images are fetched in the background."""
        if self.showing_result:
            return
        self.showing_result = True
        self.body.clear()
        load(self._result_body(), name=f'job-result-{self.view.id}', context=self.card)

    async def _result_body(self) -> None:
        view = self.view
        images = await self.load_images(view.image_ids) if view.image_ids else []
        if self.body.is_deleted:
            return
        gone = len(view.image_ids) - len(images) if view.status == JobStatus.COMPLETED else 0
        with self.body:
            if gone and not images:
                self.images_deleted = True
                self.badge.set_text(self._status_text(view.status))
                self.badge.set_background_color(self._status_color(view.status))
                ui.label(self.t('job_images_deleted')).classes('text-sm text-gray-500').mark('job-deleted')
            elif gone:
                ui.label(self.t('job_some_deleted', n=gone)).classes('text-xs text-gray-500').mark('job-deleted')
            if images:
                with ui.row().classes('w-full gap-2').mark('job-results'):
                    for index, image in enumerate(images):
                        thumb = (
                            Thumb(image.thumb_url or image.url, alt=image.prompt or '')
                            .classes('w-24 h-24 sm:w-28 sm:h-28 object-cover rounded cursor-pointer hover:opacity-90')
                            .mark('job-thumb')
                        )
                        thumb.props.update({'data-role': 'job-thumb', 'data-image-id': image.id})
                        draggable(thumb, image.id)
                        thumb.on('click', lambda i=index: self.on_open(images, i))
            elif view.error:
                error = view.error if self.is_admin else without_addresses(view.error)
                ui.label(error).classes('text-sm text-negative break-words w-full').mark('job-error')
            with ui.row().classes('w-full gap-1'):
                if self.on_retry is not None:
                    retry = self.on_retry
                    TextButton(self.t('job_retry'), icon='replay', on_click=lambda: retry(view)).mark('job-retry')
                if images:
                    TextButton(self.t('job_open_gallery'), icon='photo_library', href='/gallery').mark('job-gallery')
