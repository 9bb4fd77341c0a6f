"""The studio's mode details: id, titles, mode and linked modes, sizes, output node, defaults and templates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from vcc_ui.i18n import t, translate
from vcc_ui.pages.weak import weak
from vcc_ui.services.studio import (
    StudioError,
    format_related,
    format_sizes,
    keep_output,
    output_nodes,
    parse_related,
    parse_sizes,
)

INPUT = 'dense outlined'


class StudioForm:
    """Fields bound to the draft; a field that does not parse says why and leaves the draft as it was."""

    def __init__(self, on_change: Callable[[], None], on_graph_change: Callable[[], None]) -> None:
        self.on_change = weak(on_change)
        self.on_graph_change = weak(on_graph_change)  # the output node changed the graph: the node list is rebuilt
        self.draft: dict[str, Any] = {}
        self.column = ui.column().classes('w-full gap-2').mark('studio-form')

    def show(self, draft: dict[str, Any]) -> None:
        """Show a draft's details."""
        self.draft = draft
        self.column.clear()
        with self.column:
            self._field(t('studio_id'), draft, 'id', 'studio-id')
            with ui.row().classes('w-full gap-2 no-wrap'):
                for lang in ('en', 'ko'):
                    self._field(t(f'studio_title_{lang}'), draft.setdefault('title', {}), lang, f'studio-title-{lang}')
            for lang in ('en', 'ko'):
                self._field(t(f'studio_desc_{lang}'), draft.setdefault('description', {}), lang, f'studio-desc-{lang}')
            self._field(t('studio_mode'), draft, 'mode', 'studio-mode')
            with ui.row().classes('w-full gap-2 no-wrap'):
                label = dict(draft.get('mode_label') or {})  # in the file only when given
                for lang in ('en', 'ko'):
                    ui.input(t(f'studio_mode_label_{lang}'), value=label.get(lang, '')).props(INPUT).classes(
                        'w-full'
                    ).mark(f'studio-mode-label-{lang}').on_value_change(
                        lambda e, lang=lang: self._mode_label(label, lang, e.value.strip())
                    )
            ui_meta = draft.setdefault('ui', {})
            self._parsed(
                t('studio_related'), format_related(ui_meta.get('related') or {}), 'studio-related', self._related
            )
            self._parsed(t('studio_sizes'), format_sizes(draft.get('aspect_ratios') or {}), 'studio-sizes', self._sizes)
            with ui.row().classes('w-full gap-2 no-wrap items-end'):
                ui.number(
                    t('studio_max_batch'), value=draft.get('max_batch', 1), min=1, max=16, step=1, format='%d'
                ).props(INPUT).classes('w-40').mark('studio-max-batch').on_value_change(
                    lambda e: self._put(draft, 'max_batch', int(e.value) if e.value else None)
                )
                outputs = output_nodes(draft)
                ui.select(
                    {n: f'#{n} {draft["graph"][n]["class_type"]}' for n in outputs},
                    value=outputs[0] if len(outputs) == 1 else None,
                    label=t('studio_output'),
                    on_change=lambda e: self._output(e.value),
                ).props(INPUT).classes('grow').mark('studio-output')
            self._defaults(draft.setdefault('defaults', {}))
            self._templates(draft.setdefault('templates', []))

    def _field(self, label: str, holder: dict[str, Any], key: str, marker: str) -> None:
        ui.input(label, value=str(holder.get(key) or '')).props(INPUT).classes('w-full').mark(marker).on_value_change(
            lambda e: self._put(holder, key, e.value.strip())
        )

    def _parsed(self, label: str, value: str, marker: str, apply: Callable[[str], None]) -> None:
        def problem(text: str) -> str | None:
            try:
                apply(text)
            except StudioError as e:
                return t('studio_err_bad_name', reason=e.reason)
            self.on_change()
            return None

        ui.input(label, value=value, validation=problem).props(f'{INPUT} hide-bottom-space').classes('w-full').mark(
            marker
        )

    def _mode_label(self, label: dict[str, str], lang: str, text: str) -> None:
        label[lang] = text
        if any(label.values()):
            self.draft['mode_label'] = {k: v for k, v in label.items() if v}
        else:
            self.draft.pop('mode_label', None)
        self.on_change()

    def _related(self, text: str) -> None:
        related = parse_related(text)
        if related:
            self.draft['ui']['related'] = related
        else:
            self.draft['ui'].pop('related', None)

    def _sizes(self, text: str) -> None:
        self.draft['aspect_ratios'] = parse_sizes(text)

    def _put(self, holder: dict[str, Any], key: str, value: Any) -> None:
        if value in (None, ''):
            holder.pop(key, None)
        else:
            holder[key] = value
        self.on_change()

    def _output(self, node_id: str | None) -> None:
        if node_id and len(output_nodes(self.draft)) > 1:
            keep_output(self.draft, node_id)
            self.on_graph_change()

    def _defaults(self, defaults: dict[str, Any]) -> None:
        ui.label(t('studio_defaults')).classes('text-sm font-medium mt-2')
        self._field(t('studio_default_prompt'), defaults, 'prompt', 'studio-default-prompt')
        self._field(t('studio_default_negative'), defaults, 'negative_prompt', 'studio-default-negative')
        with ui.row().classes('w-full gap-2 no-wrap'):
            self._field(t('studio_default_ratio'), defaults, 'aspect_ratio', 'studio-default-ratio')
            ui.number(t('studio_default_steps'), value=defaults.get('steps'), min=1, max=150, format='%d').props(
                INPUT
            ).classes('w-full').mark('studio-default-steps').on_value_change(
                lambda e: self._put(defaults, 'steps', int(e.value) if e.value else None)
            )

    def _templates(self, templates: list[dict[str, Any]]) -> None:
        with ui.row().classes('w-full items-center gap-2 mt-2'):
            ui.label(t('studio_templates')).classes('text-sm font-medium')
            ui.button(t('studio_template_add'), icon='add', on_click=lambda: self._add_template(templates)).props(
                'flat dense no-caps color=primary'
            ).mark('studio-template-add')
        for index, template in enumerate(templates):
            with ui.card().classes('w-full p-2 gap-1').mark(f'studio-template-{index}'):
                with ui.row().classes('w-full gap-2 no-wrap'):
                    for lang in ('en', 'ko'):
                        holder = template.setdefault('title', {})
                        self._field(t(f'studio_title_{lang}'), holder, lang, f'studio-template-{index}-title-{lang}')
                self._field(t('studio_default_prompt'), template, 'prompt', f'studio-template-{index}-prompt')
                self._field(
                    t('studio_default_negative'), template, 'negative_prompt', f'studio-template-{index}-negative'
                )
                ui.button(t('studio_template_remove'), icon='delete', on_click=lambda i=index: self._remove(i)).props(
                    'flat dense no-caps color=negative'
                )

    def _add_template(self, templates: list[dict[str, Any]]) -> None:
        title = {lang: translate('studio_templates', lang) for lang in ('en', 'ko')}
        templates.append({'title': title, 'prompt': ''})
        self.on_change()
        self.show(self.draft)

    def _remove(self, index: int) -> None:
        del self.draft['templates'][index]
        self.on_change()
        self.show(self.draft)
