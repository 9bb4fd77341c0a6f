"""The studio's fields for one declared parameter's value: default, bounds, step, control, COMBO choices, advanced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.services.studio import InputType
from vcc_ui.services.workflow_params import CONTROLS

FIELD = 'dense outlined'


class ParamFields:
    """Edit a declaration in place; an emptied field drops its key (the server's or the graph's value then holds)."""

    def __init__(
        self, declaration: dict[str, Any], kind: InputType, marker: str, on_change: Callable[[], None]
    ) -> None:
        self.declaration, self.on_change = declaration, on_change
        number = int if kind.kind == 'INT' else float if kind.kind == 'FLOAT' else None
        with ui.row().classes('w-full items-end gap-2 pl-8').mark(f'{marker}-fields'):
            self._default(kind, number, marker)
            if number is not None:
                for key in ('min', 'max', 'step'):
                    ui.number(
                        t(f'studio_{key}'),
                        value=declaration.get(key),
                        on_change=lambda e, key=key, cast=number: self._set(
                            key, None if e.value is None else cast(e.value)
                        ),
                    ).props(FIELD).classes('w-24').mark(f'{marker}-{key}')
            controls = CONTROLS.get(kind.kind or '', ())
            if len(controls) > 1:
                ui.select(
                    {c: t(f'studio_control_{c}') for c in controls},
                    value=declaration.get('control') if declaration.get('control') in controls else None,
                    label=t('studio_control'),
                    clearable=True,
                    on_change=lambda e: self._set('control', e.value),
                ).props(FIELD).classes('w-40').mark(f'{marker}-control')
            ui.checkbox(
                t('studio_advanced'),
                value=bool(declaration.get('advanced')),
                on_change=lambda e: self._set('advanced', e.value or None),
            ).props('dense').mark(f'{marker}-advanced')
        if kind.kind == 'COMBO':
            chosen = [c for c in declaration.get('choices') or [] if c in kind.options]
            ui.select(
                kind.options,
                value=chosen,
                label=t('studio_choices'),
                multiple=True,
                with_input=True,
                on_change=lambda e: self._set('choices', list(e.value or []) or None),
            ).props(f'{FIELD} use-chips').classes('w-full pl-8').mark(f'{marker}-choices')

    def _default(self, kind: InputType, number: type | None, marker: str) -> None:
        value = self.declaration.get('default')
        label = t('studio_default')
        if number is not None:
            ui.number(
                label,
                value=value,
                on_change=lambda e: self._set('default', None if e.value is None else number(e.value)),
            ).props(FIELD).classes('w-28').mark(f'{marker}-default')
        elif kind.kind in ('COMBO', 'BOOLEAN'):
            options: Any = kind.options if kind.kind == 'COMBO' else {True: t('studio_on'), False: t('studio_off')}
            ui.select(
                options,
                value=value if value in options else None,
                label=label,
                clearable=True,
                with_input=kind.kind == 'COMBO',
                on_change=lambda e: self._set('default', e.value),
            ).props(FIELD).classes('w-48').mark(f'{marker}-default')
        else:
            ui.input(label, value='' if value is None else str(value)).props(FIELD).classes('w-48').mark(
                f'{marker}-default'
            ).on_value_change(lambda e: self._set('default', e.value or None))

    def _set(self, key: str, value: Any) -> None:
        if value is None:
            self.declaration.pop(key, None)
        else:
            self.declaration[key] = value
        self.on_change()
