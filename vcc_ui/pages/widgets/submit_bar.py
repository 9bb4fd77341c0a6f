"""The Generate button: pre-check ComfyUI, queue the job, and say in the browser's language why nothing was queued."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from vcc_ui.i18n import STRINGS, t
from vcc_ui.services import Services
from vcc_ui.services.auth import client_ip
from vcc_ui.services.job_form import unavailable
from vcc_ui.services.jobs import JobView, SubmitError

FIELD_LABELS = {
    'seed': 'gen_seed',
    'steps': 'gen_steps',
    'batch_size': 'gen_batch',
    'prompt': 'gen_prompt',
    'negative_prompt': 'gen_negative',
}


def refusal(error: SubmitError) -> str:
    """Say why a job was not queued in the browser's language (the service's English text where no case fits)."""
    key = f'gen_{error.code}_{error.reason}'
    if error.reason and key in STRINGS:
        one = f'{key}_one'
        return t(one if one in STRINGS and 1 in error.values.values() else key, **error.values)
    if error.code == 'limit':
        return t('gen_limit', reason=error.message)
    if error.code == 'invalid_params':
        key = f'gen_field_{error.reason}'
        if error.field in FIELD_LABELS and key in STRINGS:
            return t('gen_invalid', reason=t(key, field=t(FIELD_LABELS[error.field]), **error.values))
        return t('gen_invalid', reason=error.message)
    return t('gen_refused', reason=error.message)


def unavailable_text(services: Services, workflow_id: str, *, when_down: bool = True) -> str:
    """Say why a workflow cannot run now in the browser's language ('' when it can, or when all are down unasked)."""
    refused = unavailable(services.pool, workflow_id)
    if refused is None or (refused.down and not when_down):
        return ''
    return t('gen_unavailable') if refused.down else t('gen_workflow_unavailable', reason=refused.reason)


class SubmitBar:
    """The button with its shortcut hint, and one line under it for what stops a job."""

    def __init__(self, services: Services, user: str, *, on_click: Callable[[], Awaitable[None]]) -> None:
        self.services = services
        self.user = user
        with ui.row().classes('w-full items-center gap-3'):
            self.button = (
                ui.button(t('gen_submit'), icon='auto_awesome', on_click=on_click)
                .props('unelevated size=lg no-caps')
                .classes('grow sm:grow-0 px-8')
                .mark('generate')
                .props('data-role=generate')
            )
            self.hint = ui.label(t('gen_shortcut')).classes('text-xs text-gray-400 gt-xs').mark('generate-hint')
        self.message = ui.label().classes('text-sm text-negative w-full').mark('generate-message')
        self.message.set_visibility(False)

    def show_hint(self, shown: bool) -> None:
        """Show the Ctrl+Enter hint only on a form with a prompt to press it in."""
        self.hint.set_visibility(shown)

    @property
    def busy(self) -> bool:
        """Whether a submit is under way."""
        return bool(self.button.props.get('loading'))

    def say(self, message: str, *, notify: bool = False) -> None:
        """Show (or hide with '') the line under the button, and optionally a notification."""
        self.message.set_text(message)
        self.message.set_visibility(bool(message))
        if notify and message:
            ui.notify(message, type='warning', position='top')

    async def queue(self, workflow_id: str, params: dict[str, Any]) -> JobView | None:
        """Pre-check that a server can take the workflow, then queue the job; None (and the reason said) if not."""
        self.button.props('loading')
        try:
            if await self.services.pool.precheck(workflow_id):
                self.say(unavailable_text(self.services, workflow_id) or t('gen_unavailable'), notify=True)
                return None
            request = ui.context.client.request
            source = client_ip(request) if request is not None else None
            view = await self.services.jobs.submit(self.user, workflow_id, params, source=source)
        except SubmitError as error:
            self.say(refusal(error), notify=True)
            return None
        finally:
            self.button.props(remove='loading')
        self.say('')
        ui.notify(t('gen_queued'), type='positive', position='top')
        return view
