"""The dashboard's job filters (status, user, server, workflow) and which jobs they let through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nicegui import ui

from vcc_ui.models import JobStatus
from vcc_ui.pages.weak import weak
from vcc_ui.services.jobs import JobView

STATUS_GROUPS: dict[str, frozenset[str]] = {
    'queued': frozenset({JobStatus.QUEUED}),
    'running': frozenset({JobStatus.DISPATCHED, JobStatus.RUNNING, JobStatus.SAVING}),
    'completed': frozenset({JobStatus.COMPLETED}),
    'failed': frozenset({JobStatus.FAILED, JobStatus.TIMED_OUT}),
    'cancelled': frozenset({JobStatus.CANCELLED}),
}


@dataclass(slots=True)
class JobFilter:
    """What the admin narrowed the job list to; '' lets everything through."""

    status: str = ''
    user: str = ''
    server: str = ''
    workflow: str = ''

    def matches(self, view: JobView) -> bool:
        """Whether a job passes every chosen filter."""
        return (
            (not self.status or view.status in STATUS_GROUPS[self.status])
            and (not self.user or view.owner == self.user)
            and (not self.server or view.server == self.server)
            and (not self.workflow or view.workflow_id == self.workflow)
        )


class FilterBar:
    """Four selects; every change calls on_change. The user, server and workflow choices grow as jobs appear."""

    def __init__(self, t: Callable[..., str], on_change: Callable[[], None]) -> None:
        self.t = t
        self.value = JobFilter()
        self.on_change = weak(on_change)
        everything = {'': t('dash_filter_all')}
        statuses = everything | {name: t(f'dash_filter_{name}') for name in STATUS_GROUPS}
        with ui.row().classes('w-full items-center gap-2').mark('job-filters'):
            self.options: dict[str, dict[str, str]] = {
                'status': statuses,
                'user': dict(everything),
                'server': dict(everything),
                'workflow': dict(everything),
            }
            self.selects = {name: self._select(name) for name in self.options}

    def _select(self, name: str) -> ui.select:
        return (
            ui.select(
                self.options[name],
                value='',
                label=self.t(f'dash_filter_by_{name}'),
                on_change=lambda e: self._set(name, e.value),
            )
            .props('outlined dense options-dense')
            .classes('min-w-32 grow sm:grow-0')
            .mark(f'filter-{name}')
        )

    def offer(self, name: str, key: str, label: str) -> None:
        """Add a choice to the user, server or workflow select (once)."""
        options = self.options[name]
        if key and key not in options:
            options[key] = label
            self.selects[name].set_options(options, value=self.selects[name].value)

    def _set(self, name: str, value: str | None) -> None:
        setattr(self.value, name, value or '')
        self.on_change()
