"""Every job in the system by user or by server: queued, running with live preview, finished in the last hour.

Filters (status, user, server, workflow) and pages of PAGE_SIZE narrow what is shown; rows are hidden, not rebuilt.
"""

from __future__ import annotations

import math
from datetime import timedelta
from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.models import JobStatus, utcnow
from vcc_ui.pages.first_loads import load
from vcc_ui.pages.live import JobFeed, on
from vcc_ui.pages.widgets.job_filters import FilterBar
from vcc_ui.pages.widgets.job_row import JobRow
from vcc_ui.services import Services
from vcc_ui.services.admin import admin_url
from vcc_ui.services.images import ImageNotFound
from vcc_ui.services.jobs import JobView

SECTIONS = ('running', 'queued', 'finished')
RECENT = timedelta(hours=1)
PAGE_SIZE = 15


def section_of(view: JobView) -> str:
    """Which part of a group a job belongs in now."""
    if view.status == JobStatus.QUEUED:
        return 'queued'
    return 'finished' if view.finished else 'running'


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

    def __init__(self, services: Services, feed: JobFeed, *, lang: str, group_by: str = 'user') -> None:
        self.services = services
        self.feed = feed
        self.lang = lang
        self.t = partial(translate, lang=lang)
        self.group_by = group_by
        self.views: dict[str, JobView] = {}
        self.rows: dict[str, JobRow] = {}
        self.placed: dict[str, tuple[str, str]] = {}
        self.groups: dict[str, Group] = {}
        self.page = 1
        with ui.column().classes('w-full gap-3') as self.root:
            self.filters = FilterBar(self.t, self._refilter)
            self.empty = ui.label(self.t('dash_no_jobs')).classes('text-sm text-gray-500').mark('admin-no-jobs')
            self.column = ui.column().classes('w-full gap-3').mark('job-board')
            with ui.row().classes('w-full items-center justify-center gap-3'):
                self.pager = ui.pagination(1, 1, direction_links=True, on_change=self._turn).props(
                    'max-pages=7 boundary-numbers'
                )
                self.pager.mark('job-pager')
                self.shown_label = ui.label().classes('text-sm text-gray-500').mark('job-count')
        for view in sorted(services.jobs.views.values(), key=lambda v: (v.position, v.queued_at)):
            if not view.finished:
                self.show(view)
        self._paginate()
        on(services.jobs.changed, self.show, owner=self.root)
        load(self._load_recent(), name='admin-recent-jobs', context=self.root)

    def show(self, view: JobView) -> None:
        """Add, move or reorder the row of one job."""
        if self.root.is_deleted:
            return
        new = view.id not in self.views
        self.views[view.id] = view
        if new:
            self._offer(view)
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
                        self.feed,
                        lang=self.lang,
                        t=self.t,
                        title=self._title(view),
                        owner=self.services.users.label(view.owner),
                        on_cancel=self._confirm_cancel,
                        on_front=self._front,
                    )
                if index == 0:
                    row.element.move(target, 0)
            else:
                row.element.move(target, index)
            self.placed[view.id] = (key, section)
            if before and before[0] != key:
                self._drop_if_empty(before[0])
            self._paginate()
        self.rows[view.id].show_preview(self._result_thumb)
        if section == 'queued':
            self._order(key)

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
        self._paginate()

    def prune(self) -> None:
        """Drop rows of jobs that finished more than an hour ago."""
        cutoff = utcnow() - RECENT
        for job_id, view in list(self.views.items()):
            if view.finished and (view.finished_at or view.queued_at) < cutoff:
                self.views.pop(job_id)
                self.rows.pop(job_id).element.delete()
                key, _ = self.placed.pop(job_id)
                self._drop_if_empty(key)
        self._paginate()

    async def _load_recent(self) -> None:
        views = await self.services.stats.recent_jobs(hours=RECENT.total_seconds() / 3600)
        if self.root.is_deleted:
            return
        for view in sorted(views, key=lambda v: v.finished_at or v.queued_at):
            if view.id not in self.views:
                self.show(view)
        self._paginate()

    def _offer(self, view: JobView) -> None:
        """Let the user, server and workflow filters choose this job's values."""
        self.filters.offer('user', view.owner, self.services.users.label(view.owner))
        self.filters.offer('server', view.server, view.server)
        self.filters.offer('workflow', view.workflow_id, self._title(view))

    def _refilter(self) -> None:
        self.page = 1
        self._paginate()

    def _turn(self) -> None:
        self.page = int(self.pager.value)
        self._paginate()

    def _paginate(self) -> None:
        """Show the rows of the current page of jobs that pass the filters (running, queued, newest finished)."""
        wanted = self.filters.value
        if wanted.server:
            for view in self.views.values():  # a job gets its server on dispatch: offer it then
                self.filters.offer('server', view.server, view.server)
        matching = sorted((v for v in self.views.values() if wanted.matches(v) and v.id in self.rows), key=_page_order)
        pages = max(1, math.ceil(len(matching) / PAGE_SIZE))
        self.page = min(self.page, pages)
        shown = {v.id for v in matching[(self.page - 1) * PAGE_SIZE : self.page * PAGE_SIZE]}
        for job_id, row in self.rows.items():
            if row.element.visible != (job_id in shown):
                row.element.set_visibility(job_id in shown)
        for key, group in self.groups.items():
            has_rows = any(self.placed[job_id][0] == key for job_id in shown)
            if group.card.visible != has_rows:
                group.card.set_visibility(has_rows)
        if (self.pager.max, self.pager.value) != (pages, self.page):
            self.pager.max, self.pager.value = pages, self.page
        self.pager.set_visibility(pages > 1)
        self.shown_label.set_text(self.t('dash_jobs_shown', n=len(matching), total=len(self.rows)))
        self.empty.set_visibility(not shown)

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

    def _confirm_cancel(self, view: JobView) -> None:
        """Ask before cancelling: the job is another user's, and a running one is interrupted on its server."""
        with self.root, ui.dialog() as dialog, ui.card().classes('w-full max-w-sm gap-3').mark('cancel-dialog'):
            ui.label(self.t('dash_cancel_title')).classes('text-lg font-medium')
            ui.label(
                self.t('dash_cancel_body', user=self.services.users.label(view.owner), workflow=self._title(view))
            ).classes('text-gray-700 break-words')

            async def cancel() -> None:
                dialog.close()
                await self._cancel(view)

            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(self.t('dash_cancel_keep'), on_click=dialog.close).props('flat no-caps').mark('cancel-keep')
                ui.button(self.t('dash_cancel_confirm'), on_click=cancel).props(
                    'unelevated no-caps color=negative'
                ).mark('cancel-confirm')
        dialog.on('hide', dialog.delete)
        dialog.open()

    async def _cancel(self, view: JobView) -> None:
        if view.finished or await self.services.jobs.cancel(view.id) is None:
            with self.root:
                ui.notify(self.t('dash_cancel_failed'), type='warning')

    def _front(self, view: JobView) -> None:
        if self.services.jobs.move_to_front(view.id):
            ui.notify(self.t('dash_front_done'), type='positive')
        else:
            ui.notify(self.t('dash_front_failed'), type='warning')


def _display_order(view: JobView) -> tuple:
    return (SECTIONS.index(section_of(view)), view.position, view.finished_at or view.queued_at)


def _page_order(view: JobView) -> tuple:
    """Running first, then the queue in order, then the newest finished."""
    when = view.finished_at or view.queued_at
    return (SECTIONS.index(section_of(view)), view.position, -when.timestamp())
