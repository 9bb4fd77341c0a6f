"""The gallery's filters: search, dates, aspect ratio, workflow, tag and favourites (folded away on phones)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from functools import partial

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.services.image_meta import ImageFilter
from vcc_ui.services.workflows import WorkflowRegistry

SEARCH_DEBOUNCE_MS = 400


def parse_day(value: str | None) -> date | None:
    """A yyyy-mm-dd input value as a date (None when empty or malformed)."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


class GalleryFilters:
    """One grid of filter controls; every change calls on_change."""

    def __init__(self, registry: WorkflowRegistry, *, lang: str, on_change: Callable[[], Awaitable[None]]) -> None:
        t = partial(translate, lang=lang)
        workflows = {w.id: w.title_for(lang) for w in registry.all()}
        with (
            ui.element('div')
            .classes('w-full grid grid-cols-2 sm:grid-cols-3 lg:grid-cols-8 gap-2 items-center')
            .mark('gallery-filters')
        ):
            self.search = (
                ui.input(t('gal_search'), on_change=on_change)
                .props(f'dense outlined clearable debounce={SEARCH_DEBOUNCE_MS} type=search')
                .classes('col-span-2 sm:col-span-3 lg:col-span-2')
                .mark('filter-search')
            )
            # on a phone the other filters fold away behind a button in the search field
            more = (
                ui.element('div')
                .classes('gt-xs col-span-2 grid grid-cols-2 gap-2 items-center sm:contents')
                .mark('filters-more')
            )
            with self.search.add_slot('append'):
                ui.button(icon='tune', on_click=lambda: more.classes(toggle='gt-xs')).props(
                    f'flat round dense aria-label="{t("gal_filters")}"'
                ).classes('lt-sm').mark('filters-toggle')
        with more:
            self.from_date = (
                ui.input(t('gal_from'), on_change=on_change)
                .props('dense outlined type=date stack-label')
                .mark('filter-from')
            )
            self.to_date = (
                ui.input(t('gal_to'), on_change=on_change)
                .props('dense outlined type=date stack-label')
                .mark('filter-to')
            )
            self.aspect = (
                ui.select(registry.aspect_ratios(), label=t('gal_aspect'), clearable=True, on_change=on_change)
                .props('dense outlined')
                .mark('filter-aspect')
            )
            self.workflow = (
                ui.select(workflows, label=t('gal_workflow'), clearable=True, on_change=on_change)
                .props('dense outlined')
                .mark('filter-workflow')
            )
            self.tag = (
                ui.input(t('gal_tag'), on_change=on_change)
                .props(f'dense outlined clearable debounce={SEARCH_DEBOUNCE_MS}')
                .mark('filter-tag')
            )
            with ui.row().classes('items-center no-wrap gap-0 whitespace-nowrap'):
                self.favorite = (
                    ui.switch(t('gal_favorites'), on_change=on_change).props('dense').mark('filter-favorite')
                )
                ui.button(icon='filter_alt_off', on_click=self.clear).props('flat round dense').tooltip(
                    t('gal_clear_filters')
                ).mark('filter-clear')

    def filter(self, status: str) -> ImageFilter:
        """The filter the controls describe now, over generated images of this status."""
        return ImageFilter(
            kind='generated',
            status=status,
            q=self.search.value or None,
            from_date=parse_day(self.from_date.value),
            to_date=parse_day(self.to_date.value),
            aspect_ratio=self.aspect.value or None,
            workflow_id=self.workflow.value or None,
            tag=(self.tag.value or '').strip() or None,
            favorite=True if self.favorite.value else None,
        )

    def clear(self) -> None:
        """Reset every filter (each change calls on_change)."""
        for element in (self.search, self.from_date, self.to_date, self.aspect, self.workflow, self.tag):
            element.set_value(None)
        self.favorite.set_value(False)
