"""The Generate page's prompt, negative prompt and template chips; Ctrl/Cmd+Enter in either field submits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.widgets.prompt_helper import PromptHelperBox
from vcc_ui.services.llm import PromptHelper
from vcc_ui.services.workflows import Template, Workflow


class PromptFields:
    """The two prompts of a job and the workflow's templates that fill them."""

    def __init__(
        self, *, lang: str, on_submit: Callable[[], Awaitable[None]], helper: PromptHelper | None = None, user: str = ''
    ) -> None:
        self.lang = lang
        self.instruction: str | None = None
        self.helpers: list[PromptHelperBox] = []
        self.prompt = (
            ui.textarea(t('gen_prompt'))
            .props('outlined autogrow clearable')
            .classes('w-full')
            .mark('prompt')
            .on('keydown.ctrl.enter', on_submit)
            .on('keydown.meta.enter', on_submit)
        )
        if helper is not None and helper.enabled:
            self.helpers.append(PromptHelperBox(helper, user, self.prompt, lang=lang, instruction=self._instruction))
        self.negative = (
            ui.textarea(t('gen_negative'))
            .props('outlined autogrow dense')
            .classes('w-full')
            .mark('negative')
            .on('keydown.ctrl.enter', on_submit)
            .on('keydown.meta.enter', on_submit)
        )
        if helper is not None and helper.enabled:
            negative = PromptHelperBox(helper, user, self.negative, lang=lang, negative=True)
            negative.row.bind_visibility_from(self.negative, 'visible')
            self.helpers.append(negative)
        with ui.column().classes('w-full gap-1'):
            ui.label(t('gen_templates')).classes('text-xs text-gray-500')
            self.templates = ui.row().classes('w-full gap-1').mark('templates')

    def show_for(self, workflow: Workflow) -> None:
        """Load the workflow's default prompts and its templates."""
        self.instruction = workflow.llm_instruction
        self.forget()
        self.prompt.set_value(workflow.defaults.prompt)
        self.negative.set_value(workflow.defaults.negative_prompt)
        self.negative.set_visibility(workflow.accepts('negative_prompt'))
        self.templates.clear()
        with self.templates:
            for template in workflow.templates:
                ui.chip(
                    template.title_for(self.lang), icon='lightbulb', on_click=lambda tp=template: self.fill(tp)
                ).props('clickable outline color=primary').mark('template')

    def fill(self, template: Template) -> None:
        """Put a template's prompt and negative prompt into the fields."""
        self.set(template.prompt, template.negative_prompt)

    def set(self, prompt: str, negative: str) -> None:
        """Put both prompts into the fields."""
        self.forget()
        self.prompt.set_value(prompt)
        self.negative.set_value(negative)

    def draft(self) -> dict:
        """The prompts as typed."""
        helped = [(box.original, box.actions) for box in self.helpers]
        return {'prompt': self.prompt.value, 'negative': self.negative.value, 'helped': helped}

    def restore(self, draft: dict) -> None:
        """Put a draft's prompts back (an empty prompt keeps the workflow's default)."""
        self.prompt.set_value(draft.get('prompt') or self.prompt.value)
        self.negative.set_value(draft.get('negative') or '')
        for box, (original, actions) in zip(self.helpers, draft.get('helped') or [], strict=False):
            box.original, box.actions = original, actions

    def helped(self) -> dict[str, str]:
        """The job params that record accepted suggestions: the original prompts and the helper's actions."""
        params: dict[str, str] = {}
        actions: list[str] = []
        for box, name in zip(self.helpers, ('prompt_original', 'negative_prompt_original'), strict=False):
            if (found := box.helped()) and box.field.visible:
                params[name], done = found
                actions += done
        if actions:
            params['llm_action'] = ','.join(actions[-10:])
        return params

    def forget(self) -> None:
        """Forget accepted suggestions: the fields are being filled anew."""
        for box in self.helpers:
            box.forget()

    def _instruction(self) -> str | None:
        return self.instruction
