"""One LoRA as a card: preview, names, base model, trigger words (click to copy), description, tags, file and hash."""

from __future__ import annotations

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.services.lora_filter import MatchState, match_state
from vcc_ui.services.lora_meta import civitai_url, plain_text
from vcc_ui.services.loras import LoraView, unified

PREVIEW_URL = '/lora-previews'
BADGE_COLORS: dict[MatchState, str] = {'matched': 'green', 'unmatched': 'grey', 'pending': 'orange', 'unhashed': 'grey'}


def lora_card(view: LoraView) -> None:
    """Add the card of one LoRA."""
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
            state = match_state(view)
            status = f'lora_{state}'
            with ui.row().classes('gap-1 items-center'):
                badge = ui.badge(t(status), color=BADGE_COLORS[state]).mark(f'lora-status-{status}')
                if state == 'pending':
                    badge.tooltip(t('lora_pending_tip'))
                if view.sha256 and not view.hash_verified:
                    ui.badge(t('lora_unverified'), color='deep-orange-9').props('outline').tooltip(
                        t('lora_unverified_tip')
                    ).mark('lora-unverified')
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
