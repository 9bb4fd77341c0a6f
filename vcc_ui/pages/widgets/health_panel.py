"""The admin health banner of the runbook: OK/FAIL, each check with its value, a refresh button."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from nicegui import background_tasks, ui

from vcc_ui.i18n import translate
from vcc_ui.pages.live import on
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.services import Services
from vcc_ui.services.servers import ServerHealth

GB = 1024**3
SHARED_SECONDS = 2.0  # a dashboard opening shows checks this old at most; the refresh button runs them anew


class HealthPanel:
    """Servers follow `pool.changed` live (the FAIL shows within one health round); DB and disk on refresh."""

    def __init__(self, services: Services, *, lang: str) -> None:
        self.services = services
        self.t = partial(translate, lang=lang)
        self.db: dict = {}
        self.disk: dict = {}
        self.llm: dict = {}
        self.servers: set[int] = set()
        with ui.card().classes('w-full p-0 gap-0 overflow-hidden').mark('admin-health') as self.card:
            with ui.row().classes('w-full items-center no-wrap gap-2 px-4 py-2 text-white') as self.banner:
                self.icon = ui.icon('check_circle').classes('text-2xl')
                self.status = ui.label().classes('font-medium grow min-w-0 break-words').mark('health-status')
                self.checked = ui.label().classes('text-xs opacity-80 gt-xs whitespace-nowrap')
                self.button = (
                    ui.button(icon='refresh', on_click=self.refresh)
                    .props('flat round dense color=white')
                    .tooltip(self.t('dash_refresh'))
                    .mark('health-refresh')
                )
            with ui.column().classes('w-full gap-1 px-4 py-2 text-sm') as self.rows:
                with ui.row().classes('w-full items-center no-wrap gap-2').mark('check-db'):
                    self.db_icon = ui.icon('hourglass_empty').classes('text-lg')
                    ui.label(self.t('dash_check_db')).classes('font-medium w-32 shrink-0')
                    self.db_value = ui.label('…').classes('text-gray-600 min-w-0 break-words').mark('check-db-value')
                with ui.row().classes('w-full items-center no-wrap gap-2').mark('check-disk'):
                    self.disk_icon = ui.icon('hourglass_empty').classes('text-lg')
                    ui.label(self.t('dash_check_disk')).classes('font-medium w-32 shrink-0')
                    self.disk_value = ui.label('…').classes('text-gray-600 min-w-0').mark('check-disk-value')
                with ui.row().classes('w-full items-center no-wrap gap-2').mark('check-llm'):
                    self.llm_icon = ui.icon('hourglass_empty').classes('text-lg')
                    ui.label(self.t('dash_check_llm')).classes('font-medium w-32 shrink-0')
                    self.llm_value = ui.label('…').classes('text-gray-600 min-w-0 break-words').mark('check-llm-value')
        for entry in services.pool.entries.values():
            self._on_server(entry.health)
        on(services.pool.changed, self._on_server, owner=self.card)
        self._show()
        background_tasks.create(self._opened(), name='admin-health', context=self.card)

    async def _opened(self) -> None:
        """Show the checks of a run at most SHARED_SECONDS old (dashboards opened together share one)."""
        self.button.props('loading')
        _, checks, checked = await self.services.health.recent(SHARED_SECONDS)
        self._show_checks(checks, checked)

    async def refresh(self) -> None:
        """Run every /healthz check now and show the values."""
        self.button.props('loading')
        _, checks = await self.services.health.run()
        self._show_checks(checks, datetime.now(UTC))

    def _show_checks(self, checks: dict, checked: datetime) -> None:
        if self.card.is_deleted:
            return
        self.button.props(remove='loading')
        self.db, self.disk = checks['db'], checks['disk']
        db_ok, disk_ok = self.db.get('ok', False), self.disk.get('ok', False)
        self.db_value.set_text(f'{self.db["ms"]} ms' if db_ok else self.db.get('error', '?'))
        if self.disk.get('backend') == 's3':
            self.disk_value.set_text(self.t('dash_disk_s3' if disk_ok else 'dash_disk_s3_down'))
        else:
            free, least = self.disk.get('free_mb', '?'), self.disk.get('min_free_mb', '?')
            self.disk_value.set_text(self.t('dash_disk_value', free=free, min=least))
        _mark(self.db_icon, db_ok)
        _mark(self.disk_icon, disk_ok)
        self._show_llm(checks['llm'])
        self.checked.set_text(self.t('dash_checked_at', time=local_time(checked, '%H:%M:%S')))
        self._show()

    def _show_llm(self, llm: dict) -> None:
        self.llm = llm
        state = llm.get('state')
        if state == 'ok':
            text = self.t('dash_llm_ok', model=llm.get('model', '?'), ms=llm.get('latency_ms', '?'))
        elif state == 'off':
            text = self.t('dash_llm_off')
        else:
            text = llm.get('error') or llm.get('code') or '?'
        self.llm_value.set_text(text)
        if state == 'off':
            self.llm_icon.set_name('remove_circle_outline')
            self.llm_icon.set_text_color('grey')
        else:
            _mark(self.llm_icon, state == 'ok')

    def _on_server(self, health: ServerHealth) -> None:
        if self.card.is_deleted:
            return
        if health.id not in self.servers:
            self.servers.add(health.id)
            self._server_row(health)
        self._show()

    def _server_row(self, health: ServerHealth) -> None:
        with self.rows, ui.row().classes('w-full items-start no-wrap gap-2').mark('check-server') as row:
            row.move(target_index=len(self.servers) - 1)
            row.bind_visibility_from(health, 'enabled')
            ui.icon('').classes('text-lg').bind_name_from(health, 'reachable', backward=_icon).bind_text_color_from(
                health, 'reachable', backward=_color
            )
            ui.label(f'ComfyUI {health.name}').classes('font-medium w-32 shrink-0 truncate').tooltip(health.url)
            with ui.column().classes('gap-0 min-w-0 text-gray-600'):
                with ui.row().classes('gap-x-3 gap-y-0 items-center'):
                    ui.label().bind_text_from(
                        health, 'reachable', backward=lambda r: self.t('dash_reachable' if r else 'dash_unreachable')
                    ).mark('check-server-state')
                    ui.label().bind_text_from(
                        health,
                        'queue_remaining',
                        backward=lambda _: self.t(
                            'dash_server_load',
                            queue=health.queue_remaining,
                            inflight=health.inflight,
                            max=health.max_inflight,
                        ),
                    ).mark('check-server-load')
                    ui.label().bind_text_from(
                        health,
                        'vram_free',
                        backward=lambda free: self.t(
                            'dash_vram', free=f'{free / GB:.1f}', total=f'{health.vram_total / GB:.1f}'
                        ),
                    ).bind_visibility_from(health, 'vram_total', backward=bool).mark('check-server-vram')
                ui.label().classes('text-negative break-all').bind_text_from(health, 'last_error').bind_visibility_from(
                    health, 'last_error', backward=bool
                ).mark('check-server-error')

    def _show(self) -> None:
        """Colour the banner and name what fails."""
        reasons = []
        if not self.services.pool.any_reachable():
            reasons.append(self.t('dash_fail_comfy'))
        if self.db and not self.db.get('ok'):
            reasons.append(self.t('dash_fail_db'))
        if self.disk and not self.disk.get('ok'):
            reasons.append(self.t('dash_fail_disk'))
        if self.llm and not self.llm.get('ok'):
            reasons.append(self.t('dash_fail_llm'))
        text = self.t('dash_health_fail', reasons='; '.join(reasons)) if reasons else self.t('dash_health_ok')
        if self.status.text != text:
            self.status.set_text(text)
            self.icon.set_name('error' if reasons else 'check_circle')
            self.banner.classes(
                add='bg-red-700' if reasons else 'bg-green-700', remove='bg-green-700' if reasons else 'bg-red-700'
            )
            self.banner.props(f'data-health={"fail" if reasons else "ok"}')


def _icon(ok: bool) -> str:
    return 'check_circle' if ok else 'error'


def _color(ok: bool) -> str:
    return 'positive' if ok else 'negative'


def _mark(icon: ui.icon, ok: bool) -> None:
    icon.set_name(_icon(ok))
    icon.set_text_color(_color(ok))
