"""LoRA management (admin): per server LoRA cards with Civitai data, filters, live sync, and a server diff."""

from __future__ import annotations

from datetime import datetime

from nicegui import app, ui

from vcc_ui.i18n import language, t, translate
from vcc_ui.pages.admin_login import admin_header
from vcc_ui.pages.live import on
from vcc_ui.services import Services
from vcc_ui.services.lora_meta import civitai_url, plain_text
from vcc_ui.services.loras import LoraSyncStatus, LoraView, unified

PREVIEW_URL = '/lora-previews'
ALL = ''


def install(services: Services) -> None:
    """Serve the downloaded Civitai preview thumbnails."""
    services.loras.preview_dir.mkdir(parents=True, exist_ok=True)
    app.add_static_files(PREVIEW_URL, services.loras.preview_dir)


def stage_text(status: LoraSyncStatus, lang: str) -> str:
    """Return the stage with its counts, e.g. 'Hashing 12/40'."""
    text = translate(f'lora_stage_{status.stage}', lang)
    if status.running and status.total:
        text += f' {status.done}/{status.total}'
    elif status.stage == 'error' and status.error:
        text += f': {status.error}'
    return text


def summary_text(status: LoraSyncStatus, lang: str) -> str:
    """Return count, matches and last sync time."""
    text = translate('lora_counts', lang, count=status.lora_count, matched=status.matched)
    if status.last_sync:
        text += ' · ' + datetime.fromtimestamp(status.last_sync).strftime('%Y-%m-%d %H:%M')
    return text


def lora_sync_widget(services: Services, server_id: int) -> None:
    """A compact live sync control for one server: counts, metadata status, last sync, sync button and progress."""
    status = services.loras.status_of(server_id)
    lang = language()  # the labels follow a sync task, outside any page context
    with ui.column().classes('gap-1 min-w-56').mark(f'lora-sync-{server_id}'):
        with ui.row().classes('items-center gap-2 no-wrap'):
            ui.button(icon='sync', on_click=lambda: services.loras.sync(server_id)).props(
                'flat round dense'
            ).bind_enabled_from(
                status,
                'stage',
                backward=lambda s: s not in ('listing', 'checking_node', 'hashing', 'fetching_metadata'),
            ).mark(f'lora-sync-button-{server_id}')
            ui.label().bind_text_from(status, 'stage', backward=lambda _: stage_text(status, lang)).classes(
                'text-sm'
            ).mark(f'lora-stage-{server_id}')
        ui.linear_progress(show_value=False).props('size=4px').bind_value_from(
            status, 'done', backward=lambda d: d / status.total if status.total else 0
        ).bind_visibility_from(status, 'stage', backward=lambda _: status.running)
        ui.label().bind_text_from(status, 'matched', backward=lambda _: summary_text(status, lang)).classes(
            'text-xs text-gray-500'
        )
        ui.label(t('lora_node_missing')).classes('text-xs text-amber-700').bind_visibility_from(
            status, 'node_installed', backward=lambda v: v is False
        )


def matches(view: LoraView, search: str, base_model: str, match: str, tag: str) -> bool:
    """Whether a LoRA passes the page's search and filters."""
    civ = view.civitai
    found = bool(civ and civ.found)
    if (match == 'matched' and not found) or (match == 'unmatched' and found):
        return False
    if base_model and not (civ and civ.base_model == base_model):
        return False
    if tag and not (civ and tag in civ.tags):
        return False
    if search:
        words = [view.name] + (
            [civ.model_name or '', civ.version_name or '', *civ.trained_words, *civ.tags] if civ else []
        )
        return search.lower() in ' '.join(words).lower()
    return True


class LoraPage:
    """The state of one open LoRA page: chosen server, filters and the loaded LoRAs."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.server_id = next(iter(services.pool.entries), 0)
        self.views: list[LoraView] = []
        self.search = ''
        self.base_model = ALL
        self.match = ALL
        self.tag = ALL

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

    async def _on_server(self, event: object) -> None:
        self.server_id = int(getattr(event, 'value', 0) or 0)
        self.base_model = self.tag = self.match = ALL
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
        versions = [v.civitai for v in self.views if v.civitai and v.civitai.found]
        bases = sorted({v.base_model for v in versions if v.base_model})
        tags = sorted({tag for v in versions for tag in v.tags})
        self.filters.clear()
        with self.filters:
            ui.input(t('lora_search'), value=self.search, on_change=lambda e: self._set('search', e.value or '')).props(
                'clearable dense'
            ).classes('min-w-64').mark('lora-search')
            ui.select(
                {ALL: t('lora_all'), **{b: b for b in bases}},
                label=t('lora_base_model'),
                value=self.base_model,
                on_change=lambda e: self._set('base_model', e.value),
            ).classes('min-w-40').mark('lora-base')
            ui.select(
                {ALL: t('lora_all'), 'matched': t('lora_matched'), 'unmatched': t('lora_unmatched')},
                label=t('lora_match'),
                value=self.match,
                on_change=lambda e: self._set('match', e.value),
            ).classes('min-w-40').mark('lora-match')
            ui.select(
                {ALL: t('lora_all'), **{tag: tag for tag in tags}},
                label=t('lora_tag'),
                value=self.tag,
                on_change=lambda e: self._set('tag', e.value),
            ).classes('min-w-40').mark('lora-tag')

    def _set(self, name: str, value: str | None) -> None:
        setattr(self, name, value or ALL)
        self._render_cards()

    def _render_cards(self) -> None:
        self.cards.clear()
        shown = [v for v in self.views if matches(v, self.search, self.base_model, self.match, self.tag)]
        with self.cards:
            if not self.views:
                ui.label(t('lora_none')).classes('text-gray-500').mark('lora-empty')
            for view in shown:
                lora_card(view)

    async def _render_diff(self) -> None:
        presence = await self.services.loras.presence()
        entries = self.services.pool.entries
        differing = sorted(name for name, ids in presence.items() if ids != set(entries))
        self.diff.clear()
        with self.diff:
            if not differing:
                ui.label(t('lora_diff_same')).classes('text-sm text-gray-500')
                return
            columns = [{'name': 'name', 'label': 'LoRA', 'field': 'name', 'align': 'left'}] + [
                {'name': str(sid), 'label': e.health.name, 'field': str(sid)} for sid, e in entries.items()
            ]
            rows = [
                {'name': name, **{str(sid): '✓' if sid in presence[name] else '—' for sid in entries}}
                for name in differing
            ]
            ui.table(columns=columns, rows=rows, row_key='name').props('dense flat').classes('w-full').mark(
                'lora-diff-table'
            )


def lora_card(view: LoraView) -> None:
    """One LoRA: preview, names, base model, trigger words (click to copy), description, tags, file and hash."""
    civ = view.civitai
    found = bool(civ and civ.found)
    with ui.card().classes('w-72 p-0 gap-0').mark('lora-card'):
        if civ and civ.preview_path:
            ui.image(f'{PREVIEW_URL}/{civ.preview_path}').classes('w-full h-48 object-cover')
        else:
            with ui.row().classes('w-full h-24 items-center justify-center bg-slate-100'):
                ui.icon('extension', size='lg').classes('text-slate-400')
        with ui.column().classes('p-3 gap-1 w-full'):
            ui.label(
                civ.model_name if found and civ and civ.model_name else unified(view.name).rsplit('/', 1)[-1]
            ).classes('font-medium break-all')
            status = 'lora_matched' if found else ('lora_unhashed' if not view.sha256 else 'lora_unmatched')
            with ui.row().classes('gap-1 items-center'):
                ui.badge(t(status), color='green' if found else 'grey').mark(f'lora-status-{status}')
                if found and civ:
                    if civ.version_name:
                        ui.badge(civ.version_name, color='blue-grey')
                    if civ.base_model:
                        ui.badge(civ.base_model, color='indigo')
            if found and civ:
                with ui.row().classes('gap-1'):
                    for word in civ.trained_words:
                        ui.chip(word, icon='content_copy', on_click=lambda w=word: copy_word(w)).props(
                            'dense clickable'
                        ).mark('lora-trigger')
                if text := plain_text(civ.model_description or civ.description, 240):
                    ui.label(text).classes('text-xs text-gray-600')
                if civ.tags:
                    ui.label(' · '.join(civ.tags)).classes('text-xs text-gray-500')
                if url := civitai_url(civ):
                    ui.link('Civitai', url, new_tab=True).classes('text-sm')
            ui.label(view.name).classes('text-xs font-mono break-all text-gray-500')
            if view.sha256:
                ui.label(view.sha256.upper()[:10] + '…').classes('text-xs font-mono text-gray-400').tooltip(
                    view.sha256.upper()
                )


def copy_word(word: str) -> None:
    """Copy a trigger word to the clipboard."""
    ui.clipboard.write(word)
    ui.notify(t('lora_copied', word=word))


async def page(services: Services) -> None:
    """Show the LoRA management page."""
    admin_header('/admin/loras')
    await LoraPage(services).build()
