"""The studio's node list: each node's literal inputs, a tick to expose one, its name, labels and value fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.weak import weak
from vcc_ui.pages.widgets.studio_param import ParamFields
from vcc_ui.services.studio import BUILTINS, GUESSES, PARAM_ID, Studio, StudioError, expose, exposure, unexpose

PARAM = '_param'


def _default_name(class_type: str, name: str) -> str:
    guess = GUESSES.get((class_type, name)) or (name if name in BUILTINS else None)
    if guess:
        return guess
    base = re.sub(r'[^a-z0-9_]', '_', name.lower()).strip('_')
    return base if PARAM_ID.match(base) and base not in BUILTINS else f'p_{base}'[:32]


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:39] + '…'


class StudioNodes:
    """One card per node; changing a tick or a kind rebuilds that node's card, typing only updates the draft."""

    def __init__(self, studio: Studio, on_change: Callable[[], None]) -> None:
        self.studio = studio
        self.on_change = weak(on_change)
        self.draft: dict[str, Any] = {}
        self.column = ui.column().classes('w-full gap-2').mark('studio-nodes')

    def show(self, draft: dict[str, Any]) -> None:
        """Show a draft's nodes."""
        self.draft = draft
        self.column.clear()
        with self.column:
            for node_id in draft['graph']:
                card = ui.card().classes('w-full p-2 gap-1').mark(f'studio-node-{node_id}')
                self._node(card, node_id)

    def _node(self, card: ui.card, node_id: str) -> None:
        node = self.draft['graph'][node_id]
        card.clear()
        with card:
            title = (node.get('_meta') or {}).get('title') or node['class_type']
            with ui.row().classes('items-baseline gap-2'):
                ui.label(f'#{node_id}').classes('text-xs text-gray-500')
                ui.label(title).classes('font-medium')
                if title != node['class_type']:
                    ui.label(node['class_type']).classes('text-xs text-gray-500')
            for name, value in self.studio.inputs(self.draft, node_id).items():
                self._input(card, node_id, name, value)

    def _input(self, card: ui.card, node_id: str, name: str, value: Any) -> None:
        shown = exposure(self.draft, node_id, name)
        marker = f'studio-input-{node_id}-{name}'
        with ui.row().classes('w-full items-center gap-x-2 gap-y-0 no-wrap'):
            ui.checkbox(value=shown is not None, on_change=lambda e: self._tick(card, node_id, name, e.value)).props(
                f'dense data-role={marker}'
            ).mark(marker)
            ui.label(name).classes('text-sm font-mono')
            ui.label(_short(value)).classes('text-xs text-gray-500 truncate')
        if shown is None:
            return
        options = {PARAM: t('studio_as_param'), **{b: b for b in BUILTINS}}
        with ui.row().classes('w-full items-end gap-2 pl-8'):
            ui.select(
                options,
                value=PARAM if shown.kind == 'param' else shown.name,
                label=t('studio_expose_as'),
                on_change=lambda e: self._kind(card, node_id, name, e.value),
            ).props('dense outlined').classes('w-48').mark(f'{marker}-as')
            if shown.kind == 'param':
                self._param_fields(card, node_id, name, shown.name, marker)
        if shown.kind == 'param':
            kind = self.studio.input_type(self.draft, node_id, name)
            ParamFields(self.draft['params'][shown.name], kind, marker, self.on_change)

    def _param_fields(self, card: ui.card, node_id: str, name: str, param: str, marker: str) -> None:
        declaration = self.draft['params'][param]
        ui.input(t('studio_param_id'), value=param).props('dense outlined').classes('w-32').mark(f'{marker}-id').on(
            'blur', lambda e: self._rename(card, node_id, name, e.sender.value)
        )
        for lang in ('en', 'ko'):
            ui.input(
                t(f'studio_label_{lang}'),
                value=declaration['label'].get(lang, ''),
                on_change=lambda e, lang=lang: self._set(declaration['label'], lang, e.value.strip()),
            ).props('dense outlined').classes('w-40').mark(f'{marker}-{lang}')

    def _set(self, holder: dict[str, Any], key: str, value: Any) -> None:
        if value is None or value == '':
            holder.pop(key, None)
        else:
            holder[key] = value
        self.on_change()

    def _apply(self, card: ui.card, node_id: str, change: Callable[[], None]) -> None:
        try:
            change()
        except StudioError as e:
            ui.notify(t(f'studio_err_{e.code}', reason=e.reason), type='negative')
        self._node(card, node_id)
        self.on_change()

    def _tick(self, card: ui.card, node_id: str, name: str, on: bool) -> None:
        class_type = self.draft['graph'][node_id]['class_type']
        if on:
            self._apply(card, node_id, lambda: expose(self.draft, node_id, name, _default_name(class_type, name)))
        else:
            self._apply(card, node_id, lambda: unexpose(self.draft, node_id, name))

    def _kind(self, card: ui.card, node_id: str, name: str, kind: str) -> None:
        as_name = kind if kind != PARAM else _default_name('', name)
        if as_name in BUILTINS and kind == PARAM:
            as_name = f'p_{as_name}'
        self._apply(card, node_id, lambda: expose(self.draft, node_id, name, as_name))

    def _rename(self, card: ui.card, node_id: str, name: str, new: str) -> None:
        shown = exposure(self.draft, node_id, name)
        if shown is None or shown.name == new.strip():
            return
        old = self.draft['params'][shown.name]
        keep = {k: v for k, v in old.items() if k != 'targets'}
        self._apply(card, node_id, lambda: expose(self.draft, node_id, name, new.strip(), **keep))
