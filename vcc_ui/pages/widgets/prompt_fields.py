"""The Generate page's prompt, negative prompt and template chips; Ctrl/Cmd+Enter in either field submits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import app, ui

from vcc_ui.i18n import t
from vcc_ui.pages.widgets.prompt_helper import PromptHelperBox
from vcc_ui.services.job_form import remember_prompt
from vcc_ui.services.llm import PromptHelper
from vcc_ui.services.workflows import Template, Workflow

DRAFTS_KEY = 'prompt_drafts'  # app.storage.user: '<workflow>:<mode>' -> the prompts typed there
HISTORY_KEY = 'prompt_history'  # app.storage.user: the user's last submitted prompts, newest first


class PromptFields:
    """The two prompts of a job and the workflow's templates that fill them."""

    def __init__(
        self, *, lang: str, on_submit: Callable[[], Awaitable[None]], helper: PromptHelper | None = None, user: str = ''
    ) -> None:
        self.lang = lang
        self.instruction: str | None = None
        self.helpers: list[PromptHelperBox] = []
        self.key = ''  # the workflow and mode whose draft the fields hold
        with ui.column().classes('w-full gap-3') as self.section:
            with ui.row().classes('w-full no-wrap items-start gap-1'):
                self.prompt = (
                    ui.textarea(t('gen_prompt'), on_change=self._keep)
                    .props('outlined autogrow clearable')
                    .classes('grow')
                    .mark('prompt')
                    .on('keydown.ctrl.enter', on_submit)
                    .on('keydown.meta.enter', on_submit)
                )
                ui.button(icon='history', on_click=self.show_history).props('flat round').tooltip(
                    t('gen_history')
                ).mark('prompt-history')
            with ui.dialog() as self.history, ui.card().classes('w-full max-w-xl gap-2').mark('history-dialog'):
                ui.label(t('gen_history')).classes('text-lg font-medium')
                self.filter = (
                    ui.input(t('gen_history_filter'), on_change=self._list_history)
                    .props('outlined dense clearable autofocus')
                    .classes('w-full')
                    .mark('history-filter')
                )
                self.items = ui.column().classes('w-full gap-1 max-h-[60vh] overflow-y-auto')
            if helper is not None and helper.enabled:
                self.helpers.append(
                    PromptHelperBox(helper, user, self.prompt, lang=lang, instruction=self._instruction)
                )
            self.negative = (
                ui.textarea(t('gen_negative'), on_change=self._keep)
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

    def show_for(self, workflow: Workflow, mode: str) -> None:
        """Load the workflow's templates and the draft typed for it in this mode, else its default prompts."""
        self.key = ''
        self.instruction = workflow.llm_instruction
        self.forget()
        draft = app.storage.user.get(DRAFTS_KEY, {}).get(f'{workflow.id}:{mode}') or {}
        self.prompt.set_value(draft.get('prompt') or workflow.defaults.prompt)
        self.negative.set_value(draft.get('negative', workflow.defaults.negative_prompt))
        self.key = f'{workflow.id}:{mode}'
        self.section.set_visibility(workflow.shows_prompt)
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

    def _keep(self) -> None:
        """Keep what is typed as the draft of the shown workflow and mode."""
        if self.key:
            drafts = dict(app.storage.user.get(DRAFTS_KEY, {}))
            drafts[self.key] = self.draft()
            app.storage.user[DRAFTS_KEY] = drafts

    def remember(self, prompt: str) -> None:
        """Put a submitted prompt first in the user's history."""
        app.storage.user[HISTORY_KEY] = remember_prompt(app.storage.user.get(HISTORY_KEY, []), prompt)

    def show_history(self) -> None:
        """Open the history of the user's last prompts."""
        self.filter.set_value('')
        self._list_history()
        self.history.open()

    def _list_history(self) -> None:
        needle = (self.filter.value or '').casefold()
        prompts = [p for p in app.storage.user.get(HISTORY_KEY, []) if needle in p.casefold()]
        self.items.clear()
        with self.items:
            if not prompts:
                ui.label(t('gen_history_empty')).classes('text-sm text-gray-500')
            for prompt in prompts:
                ui.label(prompt).classes(
                    'w-full text-sm rounded px-2 py-1 cursor-pointer hover:bg-slate-100 break-words'
                ).props('tabindex=0 role=button').on('click', lambda p=prompt: self._pick(p)).on(
                    'keydown.enter', lambda p=prompt: self._pick(p)
                ).mark('history-item')

    def _pick(self, prompt: str) -> None:
        self.prompt.set_value(prompt)
        self.history.close()
