"""The Generate page's declared parameters: a control each, following the server's types; advanced ones folded away."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.services.workflow_params import ParamControl
from vcc_ui.services.workflows import Workflow


class ParamsForm:
    """The chosen workflow's declared parameters: the main ones in a row, the advanced ones in "Advanced"."""

    def __init__(self, *, lang: str) -> None:
        self.lang = lang
        self.controls: dict[str, ParamControl] = {}
        self.inputs: dict[str, Any] = {}  # id -> its value element
        with ui.column().classes('w-full gap-2').mark('params') as self.section:
            self.main = ui.row().classes('w-full items-end gap-x-4 gap-y-2').mark('params-main')
            with (
                ui.expansion(t('gen_advanced'), icon='tune')
                .props('dense header-class="px-0 text-sm text-gray-600"')
                .classes('w-full')
                .mark('params-advanced') as self.advanced
            ):
                self.folded = ui.row().classes('w-full items-end gap-x-4 gap-y-2 pt-1')

    def show_for(self, workflow: Workflow, object_info: dict[str, Any] | None) -> None:
        """Build the controls of a workflow's parameters from a server's catalogue (None: from their defaults)."""
        self.controls = {c.id: c for c in workflow.controls(object_info)}
        self.inputs = {}
        self.main.clear()
        self.folded.clear()
        for control in self.controls.values():
            with self.folded if control.advanced else self.main:
                self.inputs[control.id] = self._build(control).mark(f'param-{control.id}')
        advanced = any(c.advanced for c in self.controls.values())
        self.main.set_visibility(any(not c.advanced for c in self.controls.values()))
        self.advanced.set_visibility(advanced)
        self.section.set_visibility(bool(self.controls))

    def refresh(self, workflow: Workflow, object_info: dict[str, Any] | None) -> None:
        """Rebuild the controls when a server's catalogue changes what they offer, keeping the values set."""
        if workflow.controls(object_info) != list(self.controls.values()):
            kept = self.values()
            self.show_for(workflow, object_info)
            self.restore(kept)

    def _build(self, control: ParamControl) -> Any:
        label = control.label_for(self.lang)
        step = control.step or (1 if control.integer else None)
        if control.control == 'slider' and control.minimum is not None and control.maximum is not None:
            with ui.column().classes('gap-0 grow min-w-[12rem] max-w-sm'):
                shown = ui.label().classes('text-xs text-gray-500')
                slider = ui.slider(min=control.minimum, max=control.maximum, step=step or 0.01, value=control.default)
                shown.bind_text_from(slider, 'value', backward=lambda v: f'{label}: {v:g}' if v is not None else label)
                return slider.props('dense')
        if control.control in ('slider', 'number'):
            return (
                ui.number(
                    label,
                    value=control.default,
                    min=control.minimum,
                    max=control.maximum,
                    step=step,
                    precision=0 if control.integer else None,
                )
                .props('dense outlined')
                .classes('w-32')
            )
        if control.control == 'select':
            value = control.default if control.default in control.options else next(iter(control.options), None)
            return (
                ui.select(control.options, value=value, label=label)
                .props('dense outlined options-dense')
                .classes('min-w-[10rem]')
            )
        if control.control == 'toggle':
            return ui.switch(label, value=bool(control.default))
        if control.control == 'multiline':
            return ui.textarea(label, value=str(control.default)).props('dense outlined autogrow').classes('w-full')
        return ui.input(label, value=str(control.default)).props('dense outlined').classes('min-w-[12rem]')

    def values(self) -> dict[str, Any]:
        """The values as set (empty controls left out: the workflow's default applies)."""
        found: dict[str, Any] = {}
        for pid, element in self.inputs.items():
            value = element.value
            if value is None or (value == '' and self.controls[pid].control not in ('text', 'multiline')):
                continue
            if isinstance(value, float) and self.controls[pid].integer and value.is_integer():
                value = int(value)
            found[pid] = value
        return found

    def restore(self, values: dict[str, Any]) -> None:
        """Put saved values back where the shown workflow has such a parameter (a choice only if it is offered)."""
        for pid, value in values.items():
            element, control = self.inputs.get(pid), self.controls.get(pid)
            if element is None or control is None or value is None:
                continue
            if control.control == 'select' and value not in control.options:
                continue
            element.set_value(value)
