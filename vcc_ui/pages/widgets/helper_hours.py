"""The admin dashboard's prompt-helper chart: uses and failures per hour over 24 h, live."""

from __future__ import annotations

from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.pages.live import on
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.services import Services


class HelperHours:
    """A bar chart that follows `llm.changed` (and `stats.changed`, so the hours roll on)."""

    def __init__(self, services: Services, *, lang: str) -> None:
        self.services = services
        t = partial(translate, lang=lang)
        with ui.card().classes('w-full p-3 gap-1') as self.card:
            ui.label(t('dash_chart_llm')).classes('font-medium')
            self.chart = ui.echart(_options(t)).classes('w-full h-56').mark('chart-llm')
        self.update()
        on(services.llm.changed, self.update, owner=self.card)
        on(services.stats.changed, self.update, owner=self.card)

    def update(self) -> None:
        """Show the counts of the last 24 clock hours."""
        if self.card.is_deleted:
            return
        hours = self.services.llm.per_hour()
        options = self.chart.options
        options['xAxis']['data'] = [local_time(h.start, '%H', label=False) for h in hours]
        options['series'][0]['data'] = [h.uses for h in hours]
        options['series'][1]['data'] = [h.failures for h in hours]
        self.chart.update()


def _options(t: partial) -> dict:
    return {
        'grid': {'left': 32, 'right': 12, 'top': 28, 'bottom': 24},
        'tooltip': {'trigger': 'axis'},
        'legend': {'top': 0},
        'xAxis': {'type': 'category', 'data': []},
        'yAxis': {'type': 'value', 'minInterval': 1},
        'series': [
            {'name': t('dash_series_llm_uses'), 'type': 'bar', 'data': [], 'color': '#6d28d9'},
            {'name': t('dash_series_llm_failures'), 'type': 'bar', 'data': [], 'color': '#b91c1c'},
        ],
    }
