"""A job's live part (step, bar, time left, position, preview), updated by the JobFeed for all tabs at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from vcc_ui.i18n import translate
from vcc_ui.pages.live import JobFeed
from vcc_ui.services.jobs import JobView


class JobLive(ui.element, component='job_live.js'):
    """Rendered in the browser from the job's newest state; no Python element changes on a progress step.

    layout 'card': position, time left, waiting note and step over the bar, the preview below (the Generate page);
    'row': the bar with the step under it (the admin dashboard).
    """

    def __init__(
        self,
        view: JobView,
        feed: JobFeed,
        *,
        lang: str,
        layout: str = 'card',
        preview_base: str = '',
        on_zoom: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__()
        self.view = view
        self.feed = feed
        self._props['layout'] = layout
        self._props['preview-base'] = f'{preview_base}/{view.id}/preview?v=' if preview_base else ''
        self._props['texts'] = {
            'position': translate('job_position', lang, n='{n}'),
            'eta': translate('job_eta', lang, time='{time}'),
            'seconds': translate('seconds', lang, n='{n}'),
            'waiting': translate('job_waiting_on_server', lang),
            'preview': translate('job_preview', lang),
        }
        if on_zoom is not None:
            self.on('zoom', on_zoom)
        feed.watch(view, self.client.id)

    @property
    def state(self) -> dict[str, Any]:
        """The newest state the tabs showing this job were sent."""
        return self.feed.state(self.view)

    def _to_dict(self) -> dict[str, Any]:
        data = super()._to_dict()
        data['props'] = {**data['props'], 'state': self.state}  # a rebuilt or re-sent element starts from the newest
        return data

    def _handle_delete(self) -> None:
        self.feed.unwatch(self.view.id, self.client.id)
        super()._handle_delete()
