"""Every job in the system by user or by server: queued, running with live preview, finished in the last hour."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial

from nicegui import background_tasks, ui

from vcc_ui.i18n import translate
from vcc_ui.models import JobStatus, utcnow
from vcc_ui.pages.live import on
from vcc_ui.pages.widgets.img import Img
from vcc_ui.pages.widgets.job_card import STATUS_COLOR
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_API_PREFIX, admin_url
from vcc_ui.services.images import ImageNotFound
from vcc_ui.services.jobs import JobView

SECTIONS = ('running', 'queued', 'finished')
RECENT = timedelta(hours=1)


def section_of(view: JobView) -> str:
    """Which part of a group a job belongs in now."""
    if view.status == JobStatus.QUEUED:
        return 'queued'
    return 'finished' if view.finished else 'running'


class JobRow:
    """One job, bound to its live view: nothing is rebuilt on a progress step."""

    def __init__(
        self,
        view: JobView,
        *,
        t: Callable[..., str],
        title: str,
        owner: str,
        on_cancel: Callable[[JobView], Awaitable[None]],
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
                ui.linear_progress(value=view.progress, show_value=False, size='8px').props('rounded').bind_value_from(
                    view, 'progress'
                ).classes('w-full').mark('admin-job-progress')
                ui.label().classes('text-xs text-gray-500 self-end').bind_text_from(
                    view, 'step', backward=lambda s: f'{s} / {view.steps}' if view.steps else ''
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
        url = view.preview_path(f'{ADMIN_API_PREFIX}/jobs')
        if url:
            self._set_preview(url)
        elif view.status == JobStatus.COMPLETED and view.image_ids and self.preview.visible and not self.result_asked:
            self.result_asked = True  # the last frame stays until the result's thumbnail replaces it
            background_tasks.create(self._show_result(load_result), name='admin-job-result', context=self.element)
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


class Group:
    """A card of one user's or one server's jobs: running, then queued, then finished."""

    def __init__(self, key: str, title: str, icon: str) -> None:
        with ui.card().classes('w-full p-3 gap-0').mark('admin-job-group') as self.card:
            self.card.props(f'data-group="{key}"')
            with ui.row().classes('w-full items-center no-wrap gap-2 pb-1'):
                ui.icon(icon).classes('text-slate-500')
                ui.label(title).classes('font-medium font-mono truncate min-w-0').mark('admin-group-title')
            self.sections = {name: ui.column().classes('w-full gap-0') for name in SECTIONS}

    @property
    def empty(self) -> bool:
        """Whether no job row is left in the group."""
        return not any(column.default_slot.children for column in self.sections.values())


class JobBoard:
    """Follows `jobs.changed`: a row is added when a job appears, moved when it changes section, pruned after 1 h."""

    def __init__(self, services: Services, *, lang: str, group_by: str = 'user') -> None:
        self.services = services
        self.lang = lang
        self.t = partial(translate, lang=lang)
        self.group_by = group_by
        self.views: dict[str, JobView] = {}
        self.rows: dict[str, JobRow] = {}
        self.placed: dict[str, tuple[str, str]] = {}
        self.groups: dict[str, Group] = {}
        with ui.column().classes('w-full gap-3') as self.root:
            self.empty = ui.label(self.t('dash_no_jobs')).classes('text-sm text-gray-500').mark('admin-no-jobs')
            self.column = ui.column().classes('w-full gap-3').mark('job-board')
        for view in sorted(services.jobs.views.values(), key=lambda v: (v.position, v.queued_at)):
            if not view.finished:
                self.show(view)
        on(services.jobs.changed, self.show, owner=self.root)
        background_tasks.create(self._load_recent(), name='admin-recent-jobs', context=self.root)

    def show(self, view: JobView) -> None:
        """Add, move or reorder the row of one job."""
        if self.root.is_deleted:
            return
        self.views[view.id] = view
        key, section = self._key(view), section_of(view)
        before = self.placed.get(view.id)
        if before != (key, section):
            group = self.groups.get(key) or self._add_group(key)
            target = group.sections[section]
            index = 0 if section == 'finished' else -1
            row = self.rows.get(view.id)
            if row is None:
                with target:
                    row = self.rows[view.id] = JobRow(
                        view,
                        t=self.t,
                        title=self._title(view),
                        owner=self.services.users.label(view.owner),
                        on_cancel=self._cancel,
                        on_front=self._front,
                    )
                if index == 0:
                    row.element.move(target, 0)
            else:
                row.element.move(target, index)
            self.placed[view.id] = (key, section)
            if before and before[0] != key:
                self._drop_if_empty(before[0])
        self.rows[view.id].show_preview(self._result_thumb)
        if section == 'queued':
            self._order(key)
        self.empty.set_visibility(not self.rows)

    def regroup(self, group_by: str) -> None:
        """Group by 'user' or 'server' (rebuilds the rows once)."""
        if group_by == self.group_by:
            return
        self.group_by = group_by
        self.column.clear()
        self.groups.clear()
        self.rows.clear()
        self.placed.clear()
        for view in sorted(self.views.values(), key=_display_order):
            self.show(view)

    def prune(self) -> None:
        """Drop rows of jobs that finished more than an hour ago."""
        cutoff = utcnow() - RECENT
        for job_id, view in list(self.views.items()):
            if view.finished and (view.finished_at or view.queued_at) < cutoff:
                self.views.pop(job_id)
                self.rows.pop(job_id).element.delete()
                key, _ = self.placed.pop(job_id)
                self._drop_if_empty(key)
        self.empty.set_visibility(not self.rows)

    async def _load_recent(self) -> None:
        views = await self.services.stats.recent_jobs(hours=RECENT.total_seconds() / 3600)
        if self.root.is_deleted:
            return
        for view in sorted(views, key=lambda v: v.finished_at or v.queued_at):
            if view.id not in self.views:
                self.show(view)
        self.empty.set_visibility(not self.rows)

    async def _result_thumb(self, image_id: str) -> str:
        try:
            image = await self.services.admin_data.image(image_id)
        except ImageNotFound:
            return ''
        return admin_url(image.thumb_url or image.url)

    def _key(self, view: JobView) -> str:
        return view.owner if self.group_by == 'user' else view.server

    def _title(self, view: JobView) -> str:
        workflow = self.services.registry.get(view.workflow_id)
        return workflow.title_for(self.lang) if workflow else view.workflow_id

    def _add_group(self, key: str) -> Group:
        with self.column:
            by_user = self.group_by == 'user'
            title = self.services.users.label(key) if by_user else key or self.t('dash_no_server')
            group = self.groups[key] = Group(key, title, 'person' if by_user else 'dns')
        return group

    def _drop_if_empty(self, key: str) -> None:
        group = self.groups.get(key)
        if group is not None and group.empty:
            group.card.delete()
            del self.groups[key]

    def _order(self, key: str) -> None:
        column = self.groups[key].sections['queued']
        rows = [self.rows[job_id] for job_id, placed in self.placed.items() if placed == (key, 'queued')]
        for index, row in enumerate(sorted(rows, key=lambda r: (r.view.position, r.view.queued_at))):
            if column.default_slot.children.index(row.element) != index:
                row.element.move(column, index)

    async def _cancel(self, view: JobView) -> None:
        if view.finished or await self.services.jobs.cancel(view.id) is None:
            ui.notify(self.t('dash_cancel_failed'), type='warning')

    def _front(self, view: JobView) -> None:
        if self.services.jobs.move_to_front(view.id):
            ui.notify(self.t('dash_front_done'), type='positive')
        else:
            ui.notify(self.t('dash_front_failed'), type='warning')


def _status_is(status: str, value: str) -> bool:
    return value == status


def _display_order(view: JobView) -> tuple:
    return (SECTIONS.index(section_of(view)), view.position, view.finished_at or view.queued_at)
