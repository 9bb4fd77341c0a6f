"""The admin log page: the newest lines of the JSON log, filtered by job id and minimum level."""

from __future__ import annotations

import json
from functools import partial

from nicegui import background_tasks, events, ui

from vcc_ui.i18n import language, translate
from vcc_ui.pages.admin_login import admin_header
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.services import Services
from vcc_ui.services.logtail import LEVELS, LogEntry

LIMIT = 300
AUTO_SECONDS = 5.0
LEVEL_COLOR = {
    'DEBUG': 'text-gray-400',
    'INFO': 'text-sky-700',
    'WARNING': 'text-amber-700',
    'ERROR': 'text-red-700',
    'CRITICAL': 'text-red-900',
}


def page(services: Services) -> None:
    """Build the log page for an admin."""
    admin_header('/admin/logs')
    LogsPage(services, language())


class LogsPage:
    """Reads the log on open, on a filter change and on refresh; auto refresh is one page timer, off by default."""

    def __init__(self, services: Services, lang: str) -> None:
        self.services = services
        self.t = partial(translate, lang=lang)
        settings = services.settings
        with ui.column().classes('w-full gap-3 p-2 sm:p-4').mark('admin-logs') as self.root:
            if not settings.log_to_file:
                ui.label(self.t('logs_off')).classes(
                    'text-sm text-amber-800 bg-amber-50 rounded px-3 py-2 w-full'
                ).mark('logs-off')
            with ui.row().classes('w-full items-center gap-2'):
                self.job = (
                    ui.input(self.t('logs_job'))
                    .props('dense outlined clearable')
                    .classes('w-full sm:w-80')
                    .mark('logs-job')
                    .on('keydown.enter', self.refresh)
                    .on('clear', self.refresh)
                )
                self.level = (
                    ui.select(
                        {'': self.t('logs_all'), **{level: level for level in LEVELS}},
                        value='',
                        label=self.t('logs_level'),
                        on_change=self.refresh,
                    )
                    .props('dense outlined')
                    .classes('w-40')
                    .mark('logs-level')
                )
                ui.button(self.t('logs_refresh'), icon='refresh', on_click=self.refresh).props(
                    'unelevated no-caps'
                ).mark('logs-refresh')
                ui.switch(self.t('logs_auto'), on_change=self._auto).mark('logs-auto')
            self.source = ui.label().classes('text-xs text-gray-500').mark('logs-source')
            self.lines = (
                ui.column()
                .classes('w-full gap-0 font-mono text-xs bg-slate-50 rounded p-2 overflow-x-auto')
                .mark('logs-lines')
            )
            self.timer = ui.timer(AUTO_SECONDS, self.refresh, active=False)
        background_tasks.create(self.refresh(), name='admin-logs', context=self.root)

    def _auto(self, event: events.ValueChangeEventArguments) -> None:
        if event.value:
            self.timer.activate()
        else:
            self.timer.deactivate()

    async def refresh(self) -> None:
        """Read the newest matching lines and show them, newest at the bottom."""
        entries = await self.services.logs.tail(LIMIT, job_id=self.job.value or '', level=self.level.value or '')
        if self.root.is_deleted:
            return
        self.source.set_text(self.t('logs_source', count=len(entries), path=str(self.services.logs.path)))
        self.lines.clear()
        with self.lines:
            if not entries:
                ui.label(self.t('logs_empty')).classes('text-gray-500 font-sans').mark('logs-empty')
            for entry in entries:
                _line(entry)


def _line(entry: LogEntry) -> None:
    with (
        ui.row()
        .classes('w-full no-wrap items-baseline gap-2 py-0.5 border-b border-slate-100')
        .mark('log-line')
        .props(f'data-level={entry.level or "NONE"}')
    ):
        ui.label(local_time(entry.time, '%H:%M:%S')).classes('text-gray-500 shrink-0').tooltip(entry.time)
        ui.label(entry.level or '·').classes(f'w-16 shrink-0 font-bold {LEVEL_COLOR.get(entry.level, "")}')
        ui.label(entry.logger).classes('text-gray-500 shrink-0 gt-xs')
        text = entry.event + (' ' + json.dumps(entry.fields, ensure_ascii=False, default=str) if entry.fields else '')
        ui.label(text).classes('whitespace-pre-wrap break-all min-w-0').mark('log-text')
