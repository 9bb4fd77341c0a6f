"""LoRA management (admin): per server LoRA cards with Civitai data, filters, live sync, and a server diff."""

from __future__ import annotations

from nicegui import app, events, ui

from vcc_ui.i18n import t
from vcc_ui.pages.admin_login import admin_header
from vcc_ui.pages.live import on
from vcc_ui.pages.widgets.lora_card import PREVIEW_URL, lora_card
from vcc_ui.pages.widgets.lora_sync import lora_sync_widget
from vcc_ui.services import Services
from vcc_ui.services.lora_filter import ALL, MATCH_STATES, LoraFilter, filter_choices, uneven
from vcc_ui.services.loras import LoraSyncStatus, LoraView


def install(services: Services) -> None:
    """Serve the downloaded Civitai preview thumbnails."""
    services.loras.preview_dir.mkdir(parents=True, exist_ok=True)
    app.add_static_files(PREVIEW_URL, services.loras.preview_dir)


class LoraPage:
    """The state of one open LoRA page: chosen server, filters and the loaded LoRAs."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.server_id = next(iter(services.pool.entries), 0)
        self.views: list[LoraView] = []
        self.filter = LoraFilter()

    async def build(self) -> None:
        """Build the page."""
        entries = self.services.pool.entries
        with ui.column().classes('w-full gap-3 p-4').mark('lora-page') as root:
            ui.label(t('lora_title')).classes('text-lg font-medium')
            with ui.row().classes('w-full items-end gap-3'):
                ui.select(
                    {sid: e.health.name for sid, e in entries.items()},
                    label=t('lora_server'),
                    value=self.server_id or None,
                    on_change=self._on_server,
                ).classes('min-w-48').mark('lora-server')
                self.sync_area = ui.row().classes('items-center')
            self.filters = ui.row().classes('w-full items-end gap-3')
            self.node_note = ui.column().classes('w-full')
            self.cards = ui.row().classes('w-full gap-3').mark('lora-cards')
            with ui.expansion(t('lora_diff'), icon='compare_arrows').classes('w-full').mark('lora-diff'):
                self.diff = ui.column().classes('w-full gap-1')
        on(self.services.loras.changed, self._on_changed, owner=root)
        await self._load()

    async def _on_server(self, event: events.ValueChangeEventArguments) -> None:
        self.server_id = int(event.value or 0)
        self.filter = LoraFilter(search=self.filter.search)
        await self._load()

    async def _on_changed(self, status: LoraSyncStatus) -> None:
        if status.stage in ('done', 'error'):
            await self._load()

    async def _load(self) -> None:
        self.views = await self.services.loras.loras(self.server_id) if self.server_id else []
        self.sync_area.clear()
        with self.sync_area:
            if self.server_id:
                lora_sync_widget(self.services, self.server_id)
        self.node_note.clear()
        status = self.services.loras.status_of(self.server_id)
        if status.node_installed is False:
            with self.node_note, ui.card().classes('w-full bg-amber-50').mark('lora-node-missing'):
                ui.label(t('lora_node_missing'))
                ui.label(t('lora_node_install')).classes('text-sm')
                ui.code('cp -r comfy_node ComfyUI/custom_nodes/vcc_lora_hash', language='bash')
        self._build_filters()
        self._render_cards()
        await self._render_diff()

    def _build_filters(self) -> None:
        bases, tags = filter_choices(self.views)
        self.filters.clear()
        with self.filters:
            ui.input(
                t('lora_search'), value=self.filter.search, on_change=lambda e: self._set('search', e.value or '')
            ).props('clearable dense').classes('min-w-64').mark('lora-search')
            ui.select(
                {ALL: t('lora_all'), **{b: b for b in bases}},
                label=t('lora_base_model'),
                value=self.filter.base_model,
                on_change=lambda e: self._set('base_model', e.value),
            ).classes('min-w-40').mark('lora-base')
            ui.select(
                {ALL: t('lora_all'), **{state: t(f'lora_{state}') for state in MATCH_STATES}},
                label=t('lora_match'),
                value=self.filter.match,
                on_change=lambda e: self._set('match', e.value),
            ).classes('min-w-40').mark('lora-match')
            ui.select(
                {ALL: t('lora_all'), **{tag: tag for tag in tags}},
                label=t('lora_tag'),
                value=self.filter.tag,
                on_change=lambda e: self._set('tag', e.value),
            ).classes('min-w-40').mark('lora-tag')

    def _set(self, name: str, value: str | None) -> None:
        setattr(self.filter, name, value or ALL)
        self._render_cards()

    def _render_cards(self) -> None:
        self.cards.clear()
        with self.cards:
            if not self.views:
                ui.label(t('lora_none')).classes('text-gray-500').mark('lora-empty')
            for view in self.views:
                if self.filter.admits(view):
                    lora_card(view)

    async def _render_diff(self) -> None:
        entries = self.services.pool.entries
        differing = uneven(await self.services.loras.presence(), entries)
        self.diff.clear()
        with self.diff:
            if not differing:
                ui.label(t('lora_diff_same')).classes('text-sm text-gray-500')
                return
            columns = [{'name': 'name', 'label': 'LoRA', 'field': 'name', 'align': 'left'}] + [
                {'name': str(sid), 'label': e.health.name, 'field': str(sid)} for sid, e in entries.items()
            ]
            rows = [
                {'name': name, **{str(sid): '✓' if sid in servers else '—' for sid in entries}}
                for name, servers in differing.items()
            ]
            ui.table(columns=columns, rows=rows, row_key='name').props('dense flat').classes('w-full').mark(
                'lora-diff-table'
            )


async def page(services: Services) -> None:
    """Show the LoRA management page."""
    admin_header('/admin/loras')
    await LoraPage(services).build()
