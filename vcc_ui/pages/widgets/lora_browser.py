"""LoRA help for the picker: preview, base model and trigger words of each LoRA, a warning when it does not fit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.widgets.lora_card import PREVIEW_URL


@dataclass(frozen=True, slots=True)
class LoraInfo:
    """What the picker knows about one LoRA it offers."""

    name: str
    label: str
    base_model: str | None = None
    preview: str | None = None  # URL of the Civitai preview thumbnail
    triggers: list[str] = field(default_factory=list)
    mismatch: bool = False

    @classmethod
    def preview_url(cls, preview_path: str | None) -> str | None:
        """The URL of a stored preview thumbnail."""
        return f'{PREVIEW_URL}/{preview_path}' if preview_path else None


def lora_summary(info: LoraInfo, workflow_base: str | None, *, compact: bool = False) -> None:
    """Add the thumbnail, base model, trigger words and (on a mismatch) the warning of one LoRA."""
    size = 'w-12 h-12' if compact else 'w-20 h-20'
    if info.preview:
        ui.image(info.preview).classes(f'{size} rounded shrink-0').props('fit=cover').mark('lora-preview')
    else:
        with ui.element('div').classes(f'{size} rounded shrink-0 bg-slate-100 flex items-center justify-center'):
            ui.icon('extension').classes('text-slate-400 text-2xl')
    with ui.column().classes('gap-0.5 min-w-0 grow'):
        if compact:
            ui.label(info.label).classes('text-sm font-medium break-all')
        with ui.row().classes('items-center gap-1'):
            if info.base_model:
                ui.badge(info.base_model, color='orange-9' if info.mismatch else 'slate-600').props('outline').mark(
                    'lora-base'
                )
            for word in info.triggers:
                ui.badge(word, color='indigo-1', text_color='indigo-10').mark('lora-trigger')
            if not info.triggers:
                ui.label(t('lora_no_triggers')).classes('text-xs text-gray-500')
        if info.mismatch:
            with ui.row().classes('items-center gap-1 no-wrap text-orange-900 text-xs').mark('lora-warning'):
                ui.icon('warning').classes('text-base')
                ui.label(t('lora_mismatch', lora=info.base_model, workflow=workflow_base))


def browse_loras(infos: list[LoraInfo], workflow_base: str | None, on_choose: Callable[[str], None]) -> None:
    """Open a dialog listing every offered LoRA with its help; choosing one calls on_choose(name)."""
    with ui.dialog() as dialog, ui.card().classes('w-full max-w-xl gap-2 p-3').mark('lora-browser'):
        ui.label(t('lora_browse_title')).classes('text-lg font-medium')
        if workflow_base:
            ui.label(t('lora_browse_base', base=workflow_base)).classes('text-sm text-gray-600')
        with ui.scroll_area().classes('w-full h-[60vh]'), ui.column().classes('w-full gap-0'):
            for info in infos:
                with ui.row().classes('w-full items-center no-wrap gap-3 py-2 border-b border-slate-100') as row:
                    row.mark('lora-option').props(f'data-lora="{info.name}"')
                    lora_summary(info, workflow_base, compact=True)

                    def choose(name: str = info.name) -> None:
                        dialog.close()
                        on_choose(name)

                    ui.button(t('lora_choose'), on_click=choose).props('flat dense no-caps').mark('lora-choose')
        with ui.row().classes('w-full justify-end'):
            ui.button(t('admin_cancel'), on_click=dialog.close).props('flat no-caps')
    dialog.on('hide', dialog.delete)
    dialog.open()
