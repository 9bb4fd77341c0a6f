"""The prompt helper beside one prompt field: translate or improve, the answer streams into a suggestion box."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from functools import partial

from nicegui import background_tasks, ui

from vcc_ui.i18n import translate
from vcc_ui.services.llm import MAX_PROMPT_CHARS, Action, HelperError, PromptHelper

ACTIONS: list[tuple[Action, str, str]] = [
    ('translate', 'translate', 'llm_translate'),
    ('improve', 'auto_fix_high', 'llm_improve'),
]


class SuggestionBox(ui.card):
    """A card whose deletion (leaving the page, closing the tab) cancels the suggestion streaming into it."""

    def __init__(self) -> None:
        super().__init__()
        self.task: asyncio.Task | None = None

    def _handle_delete(self) -> None:
        if self.task is not None:
            self.task.cancel()
        super()._handle_delete()


class PromptHelperBox:
    """Actions for one field; the user accepts (fills the field), edits or discards what streams in."""

    def __init__(
        self,
        helper: PromptHelper,
        user: str,
        field: ui.textarea,
        *,
        lang: str,
        negative: bool = False,
        instruction: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.helper = helper
        self.user = user
        self.field = field
        self.negative = negative
        self.instruction = instruction
        self.t = partial(translate, lang=lang)
        self.original: str | None = None  # the user's own text before the first accepted suggestion
        self.actions: list[Action] = []
        self.action: Action = 'translate'
        self.requested = ''
        kind = 'negative' if negative else 'prompt'
        with ui.row().classes('w-full justify-end gap-1 -mt-2').mark(f'llm-actions-{kind}') as self.row:
            self.buttons = [
                ui.button(self.t(label), icon=icon, on_click=partial(self.ask, action))
                .props('flat dense no-caps size=sm color=primary')
                .tooltip(self.t(f'{label}_hint'))
                .props(f'data-role=llm-{action}-{kind}')
                .mark(f'llm-{action}-{kind}')
                for action, icon, label in ACTIONS
            ]
        with SuggestionBox().classes('w-full p-2 gap-1 bg-blue-50').mark(f'llm-box-{kind}') as self.box:
            with ui.row().classes('w-full items-center gap-2 no-wrap'):
                ui.icon('auto_awesome', color='primary')
                ui.label(self.t('llm_suggestion_negative' if negative else 'llm_suggestion')).classes('font-medium')
                self.spinner = ui.spinner(size='sm')
                self.state = ui.label().classes('text-xs text-gray-600 grow').mark(f'llm-state-{kind}')
            self.text = ui.textarea().props('outlined dense autogrow bg-color=white').classes('w-full')
            self.text.props(f'data-role=llm-text-{kind}').mark(f'llm-text-{kind}')
            self.error = ui.label().classes('text-negative text-sm').mark(f'llm-error-{kind}')
            with ui.row().classes('w-full justify-end gap-1'):
                self.stop_button = ui.button(self.t('llm_stop'), icon='stop', on_click=self.stop).props(
                    'flat dense no-caps color=negative'
                )
                self.stop_button.props(f'data-role=llm-stop-{kind}').mark(f'llm-stop-{kind}')
                self.discard_button = ui.button(self.t('llm_discard'), icon='close', on_click=self.discard).props(
                    'flat dense no-caps'
                )
                self.discard_button.mark(f'llm-discard-{kind}')
                self.accept_button = ui.button(self.t('llm_accept'), icon='check', on_click=self.accept).props(
                    'unelevated dense no-caps color=primary'
                )
                self.accept_button.props(f'data-role=llm-accept-{kind}').mark(f'llm-accept-{kind}')
        self.box.set_visibility(False)

    @property
    def streaming(self) -> bool:
        """Tell whether a suggestion is streaming in now."""
        return self.box.task is not None and not self.box.task.done()

    def ask(self, action: Action) -> None:
        """Start a suggestion for the field's text (a running one is cancelled first)."""
        if self.streaming:
            assert self.box.task is not None
            self.box.task.cancel()
        self.action, self.requested = action, self.field.value or ''
        self.text.set_value('')
        self.error.set_text('')
        self.box.set_visibility(True)
        self._busy(True, self.t('llm_streaming'))
        run = self._run(action, self.requested)
        self.box.task = background_tasks.create(run, name='prompt-helper', context=self.box)

    async def _run(self, action: Action, prompt: str) -> None:
        try:
            suggestion = await self.helper.suggestion(
                self.user,
                action,
                prompt,
                negative=self.negative,
                workflow_instruction=self.instruction(),
                on_text=self.text.set_value,
            )
        except HelperError as error:
            self._failed(error)
            return
        except asyncio.CancelledError:
            if not self.box.is_deleted:
                self._busy(False, self.t('llm_stopped') if self.text.value else '')
            raise
        self.text.set_value(suggestion.text)
        self._busy(False, '')

    def stop(self) -> None:
        """Cancel the suggestion streaming in; what was written so far stays in the box."""
        if self.box.task is not None:
            self.box.task.cancel()

    def accept(self) -> None:
        """Put the suggestion into the field and remember the user's original text."""
        text = (self.text.value or '').strip()
        if not text or self.streaming:
            return
        if self.original is None:
            self.original = self.requested
        self.actions.append(self.action)
        self.field.set_value(text)
        self.box.set_visibility(False)
        ui.notify(self.t('llm_accepted'), type='positive')

    def discard(self) -> None:
        """Close the box; the field keeps its text."""
        self.stop()
        self.box.set_visibility(False)

    def forget(self) -> None:
        """Drop the remembered original (the field was filled anew: a workflow, template or draft)."""
        self.original, self.actions = None, []
        self.discard()

    def helped(self) -> tuple[str, list[str]] | None:
        """Return (original text, actions) when an accepted suggestion still shapes the field, else None."""
        value = (self.field.value or '').strip()
        if self.original is None or not value or value == self.original.strip() or not self.original.strip():
            return None
        prefix = 'negative:' if self.negative else ''
        return self.original, [prefix + action for action in self.actions]

    def _failed(self, error: HelperError) -> None:
        if self.box.is_deleted:
            return
        if error.code == 'rate_limited' and error.retry_after:
            message = self.t('llm_error_rate_limited_wait', seconds=math.ceil(error.retry_after))
        else:
            message = self.t(f'llm_error_{error.code}', max=MAX_PROMPT_CHARS)
        self.error.set_text(message)
        self._busy(False, '')
        self.text.set_visibility(bool(self.text.value))
        self.accept_button.set_visibility(False)

    def _busy(self, busy: bool, state: str) -> None:
        self.spinner.set_visibility(busy)
        self.stop_button.set_visibility(busy)
        self.accept_button.set_visibility(not busy)
        self.text.set_visibility(True)
        if busy:
            self.text.props('readonly')
        else:
            self.text.props(remove='readonly')
        self.state.set_text(state)
