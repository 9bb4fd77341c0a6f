"""A compact live LoRA sync control for one server: counts, metadata status, last sync, sync button and progress."""

from __future__ import annotations

from nicegui import ui

from vcc_ui.i18n import language, t, translate
from vcc_ui.pages.widgets.time_text import from_timestamp
from vcc_ui.services import Services
from vcc_ui.services.loras import LoraSyncStatus


def stage_text(status: LoraSyncStatus, lang: str) -> str:
    """Return the stage with its counts, e.g. 'Hashing 12/40', or 'Synced · metadata pending (Civitai unreachable)'."""
    text = translate(f'lora_stage_{status.stage}', lang)
    if status.running and status.total:
        text += f' {status.done}/{status.total}'
    elif status.stage == 'error' and status.error:
        text += f': {status.error}'
    elif status.stage == 'done' and status.metadata_note:
        text += ' · ' + translate(f'lora_metadata_pending_{status.metadata_note}', lang)
    return text


def summary_text(status: LoraSyncStatus, lang: str) -> str:
    """Return the counts (listed, hashed, on / not on Civitai, pending, unverified) and the last sync time."""
    text = translate(
        'lora_counts',
        lang,
        count=status.lora_count,
        hashed=status.hashed,
        matched=status.matched,
        not_found=status.not_found,
    )
    if status.pending:
        text += ' · ' + translate('lora_counts_pending', lang, pending=status.pending)
    if status.unverified:
        text += ' · ' + translate('lora_counts_unverified', lang, unverified=status.unverified)
    if status.last_sync:
        text += ' · ' + from_timestamp(status.last_sync)
    return text


def lora_sync_widget(services: Services, server_id: int) -> None:
    """Add the control; its labels are bound to the server's sync status, so they follow a sync live."""
    status = services.loras.status_of(server_id)
    lang = language()  # the labels follow a sync task, outside any page context
    with ui.column().classes('gap-1 min-w-56').mark(f'lora-sync-{server_id}'):
        with ui.row().classes('items-center gap-2 no-wrap'):
            ui.button(icon='sync', on_click=lambda: services.loras.sync(server_id)).props(
                'flat round dense'
            ).bind_enabled_from(status, 'stage', backward=lambda _: not status.running).mark(
                f'lora-sync-button-{server_id}'
            )
            ui.label().bind_text_from(status, 'stage', backward=lambda _: stage_text(status, lang)).classes(
                'text-sm'
            ).mark(f'lora-stage-{server_id}')
        ui.linear_progress(show_value=False).props('size=4px').bind_value_from(
            status, 'done', backward=lambda d: d / status.total if status.total else 0
        ).bind_visibility_from(status, 'stage', backward=lambda _: status.running)
        ui.label().bind_text_from(status, 'matched', backward=lambda _: summary_text(status, lang)).classes(
            'text-xs text-gray-500'
        )
        ui.label(t('lora_node_missing_short')).classes('text-xs text-amber-700').bind_visibility_from(
            status, 'node_installed', backward=lambda v: v is False
        )
