"""One server on the admin servers page: live status and load, enable switch, edit, remove, its recent jobs."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.live import on
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.lora_sync import lora_sync_widget
from vcc_ui.pages.widgets.time_text import local_time
from vcc_ui.services import Services
from vcc_ui.services.image_meta import human_bytes
from vcc_ui.services.servers import ServerEntry, ServerHealth, ServerProblem

HISTORY = 10
STATUS_COLORS = {'ok': 'positive', 'down': 'negative', 'disabled': 'grey-7', 'draining': 'warning'}


class ServerCard:
    """One server: status, load bound live to its ServerHealth, actions and its recent jobs."""

    def __init__(self, services: Services, entry: ServerEntry, *, on_removed: Callable[[str], None]) -> None:
        self.services, self.entry, self.pool = services, entry, services.pool
        self.on_removed = weak(on_removed)
        h = entry.health
        with ui.card().classes('w-full p-3 gap-2').mark(f'server-{entry.id}') as self.card:
            with ui.row().classes('w-full items-center gap-2'):
                ui.icon('dns').classes('text-xl text-slate-600')
                ui.label().bind_text_from(h, 'name').classes('text-lg font-medium').mark('server-card-name')
                self.chip = ui.badge().props('rounded').mark(f'server-status-{entry.id}')
                if h.simulated:
                    ui.badge(t('srv_simulated'), color='light-blue-8').props('rounded outline').mark(
                        f'server-sim-{entry.id}'
                    )
                elif h.from_env:
                    ui.badge(t('srv_env_badge'), color='teal-7').props('rounded outline').mark(f'server-env-{entry.id}')
                else:
                    ui.badge(t('srv_admin_badge'), color='indigo-7').props('rounded outline').mark(
                        f'server-admin-{entry.id}'
                    )
                ui.space()
                self.toggle = ui.switch(t('srv_enabled'), value=h.enabled, on_change=self._toggle).mark(
                    f'server-enabled-{entry.id}'
                )
                if h.simulated and not h.enabled and self.pool.simulator is None:  # not started: cannot be switched on
                    self.toggle.disable()
                    self.toggle.tooltip(t('srv_err_sim_off'))
            ui.label().bind_text_from(h, 'url').classes('text-sm text-gray-600 break-all')
            source = 'srv_source_sim' if h.simulated else 'srv_source_env' if h.from_env else 'srv_source_admin'
            ui.label(t(source)).classes('text-xs text-gray-500').mark(f'server-source-{entry.id}')
            with ui.row().classes('w-full gap-x-6 gap-y-1 text-sm'):
                with ui.row().classes('items-center gap-1 no-wrap'):
                    ui.label(t('srv_load'))
                    ui.label().bind_text_from(h, 'inflight').classes('font-medium').mark(f'server-inflight-{entry.id}')
                    ui.label('/')
                    ui.label().bind_text_from(h, 'max_inflight').classes('font-medium')
                with ui.row().classes('items-center gap-1 no-wrap'):
                    ui.label(t('srv_queue'))
                    ui.label().bind_text_from(h, 'queue_remaining').classes('font-medium')
                with ui.row().classes('items-center gap-1 no-wrap'):
                    ui.label(t('srv_vram'))
                    ui.label().bind_text_from(h, 'vram_free', backward=lambda _: self._vram()).classes('font-medium')
            self.error = ui.label().bind_text_from(h, 'last_error').classes('text-sm text-negative break-all')
            lora_sync_widget(services, entry.id)
            with ui.row().classes('items-center gap-2'):
                ui.button(t('srv_edit'), icon='edit', on_click=self._edit).props('flat dense no-caps').mark(
                    f'server-edit-{entry.id}'
                )
                ui.button(t('srv_remove'), icon='delete', on_click=self._confirm_remove).props(
                    'flat dense no-caps color=negative'
                ).mark(f'server-remove-{entry.id}')
            with (
                ui.expansion(t('srv_history', n=HISTORY), icon='history', on_value_change=self._history)
                .classes('w-full')
                .props('dense')
                .mark(f'server-history-{entry.id}')
            ):
                self.history = ui.column().classes('w-full gap-1 text-sm')
        self.update(h)
        on(self.pool.changed, self.update, owner=self.card)

    def _vram(self) -> str:
        h = self.entry.health
        return f'{human_bytes(h.vram_free)} / {human_bytes(h.vram_total)}' if h.vram_total else '-'

    def update(self, health: ServerHealth) -> None:
        """Follow the status of this server."""
        if health is not self.entry.health:
            return
        status = health.status
        self.chip.set_text(t(f'srv_status_{status}'))
        self.chip.props(f'color={STATUS_COLORS[status]}')
        if self.toggle.value != health.enabled:
            self.toggle.set_value(health.enabled)
        self.error.set_visibility(bool(health.last_error) and health.enabled)

    async def _toggle(self, event: object) -> None:
        enabled = bool(self.toggle.value)
        if enabled == self.entry.health.enabled:
            return
        try:
            await self.pool.set_enabled(self.entry.id, enabled)
        except ServerProblem as error:
            self.toggle.set_value(self.entry.health.enabled)
            ui.notify(t(error.key, **error.values), type='negative', multi_line=True)
            return
        if not enabled and self.entry.health.inflight:
            ui.notify(t('srv_draining', n=self.entry.health.inflight))

    async def _history(self, event: object) -> None:
        self.history.clear()
        jobs = await self.services.admin_data.server_history(self.entry.id, limit=HISTORY)
        with self.history:
            if not jobs:
                ui.label(t('srv_no_history')).classes('text-gray-600')
            for job in jobs:
                with ui.row().classes('w-full items-center gap-2 no-wrap').mark('server-job'):
                    ui.label(job.status).classes('w-24 font-medium')
                    ui.label(job.workflow_id).classes('truncate')
                    ui.space()
                    ui.label(t('seconds', n=f'{job.duration:.1f}') if job.duration is not None else '-').classes(
                        'text-gray-600'
                    )
                    ui.label(local_time(job.queued_at, '%m-%d %H:%M')).classes('text-gray-500 gt-xs')

    def _edit(self) -> None:
        h = self.entry.health
        with ui.dialog() as dialog, ui.card().classes('w-full max-w-md gap-3').mark('server-edit-dialog'):
            ui.label(t('srv_edit_title', name=h.name)).classes('text-lg font-medium')
            name = ui.input(t('srv_name'), value=h.name).props('outlined dense').classes('w-full').mark('edit-name')
            url = ui.input(t('srv_url'), value=h.url).props('outlined dense').classes('w-full').mark('edit-url')
            url.set_enabled(not h.simulated and not h.from_env)
            size = (
                ui.number(t('srv_max'), value=h.max_inflight, min=1, max=64, step=1, precision=0)
                .props('outlined dense')
                .classes('w-32')
                .mark('edit-max')
            )
            size.set_enabled(not h.from_env)
            if h.from_env:
                ui.label(t('srv_err_env_field')).classes('text-xs text-gray-500')

            async def save() -> None:
                try:
                    await self.pool.update_server(
                        self.entry.id, name=name.value, url=url.value, max_inflight=int(size.value or 1)
                    )
                except ServerProblem as error:
                    ui.notify(t(error.key, **error.values), type='negative')
                    return
                dialog.close()
                ui.notify(t('srv_saved'), type='positive')

            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('admin_cancel'), on_click=dialog.close).props('flat no-caps')
                ui.button(t('admin_save'), on_click=save).props('unelevated no-caps').mark('edit-save')
        dialog.open()

    def _confirm_remove(self) -> None:
        h = self.entry.health
        with ui.dialog() as dialog, ui.card().classes('w-full max-w-md gap-3').mark('server-remove-dialog'):
            ui.label(t('srv_remove_title', name=h.name)).classes('text-lg font-medium')
            ui.label(t('srv_remove_body')).classes('text-gray-700')

            async def remove() -> None:
                try:
                    await self.pool.remove_server(self.entry.id)
                except ServerProblem as error:
                    ui.notify(t(error.key, **error.values), type='negative', multi_line=True)
                    return
                dialog.close()
                self.on_removed(h.name)  # this card and its dialog are gone now: the page says it

            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('admin_cancel'), on_click=dialog.close).props('flat no-caps')
                ui.button(t('srv_remove'), on_click=remove).props('unelevated no-caps color=negative').mark(
                    'remove-confirm'
                )
        dialog.open()
