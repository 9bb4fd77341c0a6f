"""The admin dashboard: health banner, counters, 24 h charts, who is connected and every job live."""

from __future__ import annotations

from functools import partial

from nicegui import Client, app, events, ui

from vcc_ui.i18n import language, translate
from vcc_ui.models import utcnow
from vcc_ui.pages.admin_login import admin_header
from vcc_ui.pages.live import JobFeed, on
from vcc_ui.pages.widgets.health_panel import HealthPanel
from vcc_ui.pages.widgets.helper_hours import HelperHours
from vcc_ui.pages.widgets.job_board import JobBoard
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.pages.widgets.visitor_list import VisitorList
from vcc_ui.services import Services
from vcc_ui.services.stats import Sample

COUNTERS = [
    ('queued', 'dash_queued', 'hourglass_top', 'text-slate-700'),
    ('running', 'dash_running', 'play_circle', 'text-blue-700'),
    ('done_hour', 'dash_done_hour', 'check_circle', 'text-green-700'),
    ('failed_hour', 'dash_failed_hour', 'error', 'text-red-700'),
]


def page(services: Services, feed: JobFeed) -> None:
    """Build the dashboard for an admin."""
    admin_header('/admin')
    Dashboard(services, language(), feed)


def track_presence(services: Services) -> None:
    """Feed `services.presence` from the app's connect, disconnect and delete hooks (call once per app)."""
    watched: set[str] = set()

    def connected(client: Client) -> None:
        if client.request is None:
            return
        router = client.sub_pages_router
        services.presence.connected(
            client.id,
            user=getattr(client.request.state, 'user', ''),
            path=router.current_path,
            since=client.created,
            admin=services.admin.is_admin(client.request.cookies),
        )
        if client.id not in watched:
            watched.add(client.id)
            client_id = client.id  # not the client: it holds its router, and that cycle kept a closed tab's page
            router.on_path_changed(lambda path: services.presence.moved(client_id, path))

    def deleted(client: Client) -> None:
        watched.discard(client.id)
        services.presence.disconnected(client.id)

    app.on_connect(connected)
    app.on_disconnect(lambda client: services.presence.disconnected(client.id))
    app.on_delete(deleted)


class Dashboard:
    """Everything updates from service events: jobs.changed, pool.changed, stats.changed, presence.changed."""

    board: JobBoard

    def __init__(self, services: Services, lang: str, feed: JobFeed) -> None:
        self.services = services
        self.lang = lang
        self.t = partial(translate, lang=lang)
        with ui.column().classes('w-full gap-4 p-2 sm:p-4').mark('admin-dashboard') as self.root:
            HealthPanel(services, lang=lang)
            self._counters()
            with ui.element('div').classes('w-full grid grid-cols-1 md:grid-cols-2 gap-4'):
                self.depth_chart = self._chart('dash_chart_depth', 'chart-depth', _depth_options(self.t))
                self.hourly_chart = self._chart('dash_chart_hourly', 'chart-hourly', _hourly_options(self.t))
                if services.llm.enabled:
                    HelperHours(services, lang=lang)
            with ui.element('div').classes('w-full grid grid-cols-1 md:grid-cols-2 gap-4'):
                with ui.card().classes('w-full p-3 gap-1'):
                    ui.label(self.t('dash_durations')).classes('font-medium')
                    self.durations = ui.column().classes('w-full gap-0 text-sm').mark('durations')
                with ui.card().classes('w-full p-3 gap-1'):
                    self.visitors = VisitorList(services, lang=lang)
            with ui.row().classes('w-full items-center gap-3'):
                ui.label(self.t('dash_jobs')).classes('text-lg font-medium')
                ui.space()
                ui.toggle(
                    {'user': self.t('dash_by_user'), 'server': self.t('dash_by_server')},
                    value='user',
                    on_change=self._regroup,
                ).props('dense no-caps unelevated toggle-color=primary').mark('group-toggle')
            self.board = JobBoard(services, feed, lang=lang)
        self._on_stats()
        on(services.stats.changed, self._on_stats, owner=self.root)
        on(services.presence.changed, self._on_presence, owner=self.root)

    def _regroup(self, event: events.ValueChangeEventArguments) -> None:
        self.board.regroup(event.value)

    def _counters(self) -> None:
        counters = self.services.stats.counters
        with ui.element('div').classes('w-full grid grid-cols-2 md:grid-cols-4 gap-3'):
            for name, key, icon, color in COUNTERS:
                with ui.card().classes('p-3 gap-0').mark(f'counter-{name}'):
                    with ui.row().classes('items-center gap-1 no-wrap text-xs text-gray-500'):
                        ui.icon(icon).classes(f'text-base {color}')
                        ui.label(self.t(key))
                    ui.label().classes(f'text-3xl font-semibold {color}').bind_text_from(counters, name, str).mark(
                        f'counter-{name}-value'
                    )

    def _chart(self, title: str, marker: str, options: dict) -> ui.echart:
        with ui.card().classes('w-full p-3 gap-1'):
            ui.label(self.t(title)).classes('font-medium')
            return ui.echart(options).classes('w-full h-56').mark(marker)

    def _on_stats(self) -> None:
        if self.root.is_deleted:
            return
        stats = self.services.stats
        depth = [*stats.series(), Sample(at=utcnow(), queued=stats.counters.queued, running=stats.counters.running)]
        options = self.depth_chart.options  # the last point is now: the steps reach it, and one bucket has a width
        options['series'][0]['data'] = [[s.at.isoformat(), s.queued] for s in depth]
        options['series'][1]['data'] = [[s.at.isoformat(), s.running] for s in depth]
        self.depth_chart.update()
        hours = stats.figures.per_hour
        options = self.hourly_chart.options
        options['xAxis']['data'] = [local_time(h.start, '%H', label=False) for h in hours]
        options['series'][0]['data'] = [h.done for h in hours]
        options['series'][1]['data'] = [h.failed for h in hours]
        self.hourly_chart.update()
        self.durations.clear()
        with self.durations:
            if not stats.figures.durations:
                ui.label(self.t('dash_no_durations')).classes('text-gray-500')
            for workflow_id, seconds in stats.figures.durations.items():
                workflow = self.services.registry.get(workflow_id)
                with ui.row().classes('w-full no-wrap justify-between gap-2').mark('duration'):
                    ui.label(workflow.title_for(self.lang) if workflow else workflow_id).classes('truncate')
                    ui.label(self.t('seconds', n=f'{seconds:.1f}')).classes('font-mono shrink-0')
        self.board.prune()

    def _on_presence(self) -> None:
        if not self.root.is_deleted:
            self.visitors.show(self.services.presence.list())


def _depth_options(t: partial) -> dict:
    return {
        'grid': {'left': 32, 'right': 12, 'top': 28, 'bottom': 24},
        'tooltip': {'trigger': 'axis'},
        'legend': {'top': 0},
        'xAxis': {'type': 'time', 'axisLabel': {'hideOverlap': True}},  # stored buckets have gaps: a time axis
        'yAxis': {'type': 'value', 'minInterval': 1},
        'series': [
            {
                'name': t('dash_queued'),
                'type': 'line',
                'step': 'end',
                'data': [],
                'showSymbol': False,
                'areaStyle': {},
                'color': '#475569',
            },
            {
                'name': t('dash_running'),
                'type': 'line',
                'step': 'end',
                'data': [],
                'showSymbol': False,
                'color': '#1d4ed8',
            },
        ],
    }


def _hourly_options(t: partial) -> dict:
    return {
        'grid': {'left': 32, 'right': 12, 'top': 28, 'bottom': 24},
        'tooltip': {'trigger': 'axis'},
        'legend': {'top': 0},
        'xAxis': {'type': 'category', 'data': []},
        'yAxis': {'type': 'value', 'minInterval': 1},
        'series': [
            {'name': t('dash_series_done'), 'type': 'bar', 'stack': 'jobs', 'data': [], 'color': '#15803d'},
            {'name': t('dash_series_failed'), 'type': 'bar', 'stack': 'jobs', 'data': [], 'color': '#b91c1c'},
        ],
    }
