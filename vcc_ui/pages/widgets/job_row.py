"""One row of the admin dashboard, bound to its job's live view: status, position, preview or result, actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from nicegui import ui

from vcc_ui.models import JobStatus
from vcc_ui.pages.first_loads import load
from vcc_ui.pages.live import JobFeed
from vcc_ui.pages.widgets.img import Img
from vcc_ui.pages.widgets.job_card import STATUS_COLOR
from vcc_ui.pages.widgets.job_live import JobLive
from vcc_ui.services.admin import ADMIN_API_PREFIX
from vcc_ui.services.jobs import JobView


class JobRow:
    """One job, bound to its live view: nothing is rebuilt on a progress step."""

    def __init__(
        self,
        view: JobView,
        feed: JobFeed,
        *,
        lang: str,
        t: Callable[..., str],
        title: str,
        owner: str,
        on_cancel: Callable[[JobView], None],
        on_front: Callable[[JobView], None],
    ) -> None:
        self.view = view
        self.result_asked = False
        queued = partial(_status_is, JobStatus.QUEUED)
        with (
            ui.row()
            .classes('w-full items-center gap-x-3 gap-y-1 py-2 border-b border-slate-100')
            .mark('admin-job') as self.element
        ):
            self.element.props(f'data-job-id={view.id}')
            with ui.column().classes('gap-1 items-center w-20 shrink-0'):
                ui.badge().bind_text_from(
                    view, 'status', backward=lambda s: t(f'job_status_{s}')
                ).bind_background_color_from(view, 'status', backward=lambda s: STATUS_COLOR.get(s, 'grey')).mark(
                    'admin-job-status'
                )
                ui.label().classes('font-mono text-sm font-medium').bind_text_from(
                    view, 'position', backward=lambda p: t('dash_position', n=p)
                ).bind_visibility_from(view, 'status', backward=queued).mark('admin-job-position')
            self.preview = (
                Img(alt=t('job_preview')).classes('w-14 h-14 object-cover rounded shrink-0').mark('admin-job-preview')
            )
            self.preview.set_visibility(False)
            with ui.column().classes('gap-0 min-w-0 grow basis-56'):
                ui.label(title).classes('text-sm font-medium truncate w-full')
                ui.label(view.params.get('prompt', '')).classes('text-xs text-gray-500 truncate w-full')
                ui.label().classes('text-xs text-gray-400 font-mono truncate w-full').bind_text_from(
                    view, 'server', backward=lambda s: ' · '.join(x for x in (owner, s) if x)
                ).mark('admin-job-owner')
                ui.label().classes('text-xs text-negative break-words w-full').bind_text_from(
                    view, 'error'
                ).bind_visibility_from(view, 'error', backward=bool).mark('admin-job-error')
            with (
                ui.column()
                .classes('gap-0 w-36 shrink-0')
                .bind_visibility_from(
                    view, 'status', backward=lambda s: s in (JobStatus.RUNNING, JobStatus.SAVING, JobStatus.DISPATCHED)
                )
            ):
                self.live = (
                    None
                    if view.finished
                    else JobLive(view, feed, lang=lang, layout='row').classes('w-full').mark('admin-job-progress')
                )
            with ui.row().classes('gap-0 no-wrap shrink-0 ml-auto'):
                ui.button(icon='vertical_align_top', on_click=lambda: on_front(view)).props('flat round dense').tooltip(
                    t('dash_front')
                ).mark('admin-job-front').bind_visibility_from(view, 'status', backward=queued)
                ui.button(icon='close', on_click=lambda: on_cancel(view)).props(
                    'flat round dense color=negative'
                ).tooltip(t('dash_cancel')).mark('admin-job-cancel').bind_visibility_from(
                    view, 'status', backward=lambda s: not JobStatus(s).finished
                )

    def show_preview(self, load_result: Callable[[str], Awaitable[str]]) -> None:
        """Show the live frame while the job runs; once it ended the result's thumbnail in its place, or nothing."""
        view = self.view
        if view.finished and self.live is not None:  # its feed ends with it
            self.live.delete()
            self.live = None
        url = view.preview_path(f'{ADMIN_API_PREFIX}/jobs')
        if url:
            self._set_preview(url)
        elif view.status == JobStatus.COMPLETED and view.image_ids and self.preview.visible and not self.result_asked:
            self.result_asked = True  # the last frame stays until the result's thumbnail replaces it
            load(self._show_result(load_result), name='admin-job-result', context=self.element)
        elif view.finished and not self.result_asked:
            self.preview.set_visibility(False)
            self.preview.set_source('')

    async def _show_result(self, load_result: Callable[[str], Awaitable[str]]) -> None:
        url = await load_result(self.view.image_ids[0])
        if not self.element.is_deleted:
            self._set_preview(url)

    def _set_preview(self, url: str) -> None:
        if url and self.preview.source != url:
            self.preview.set_source(url)
        self.preview.set_visibility(bool(url))


def _status_is(status: str, value: str) -> bool:
    return value == status
