"""The password field, error line and submit button shared by the beta and the admin login pages."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.services.auth import Attempt


class PasswordForm:
    """Enter or the button runs `attempt`; success goes to `grant_url()`, a refusal says why in the error line."""

    def __init__(
        self,
        *,
        prefix: str,
        submit_label: str,
        wrong_text: str,
        attempt: Callable[[str], Awaitable[Attempt]],
        grant_url: Callable[[], str],
    ) -> None:
        self._attempt, self._grant_url, self._wrong_text = attempt, grant_url, wrong_text
        self.password = (
            ui.input(t('login_password'), password=True, password_toggle_button=True)
            .props('outlined autofocus autocomplete=current-password')
            .classes('w-full')
            .on('keydown.enter', self.submit)
            .mark(f'{prefix}password')
        )
        self.error = ui.label().classes('text-negative -mt-2').mark(f'{prefix}login-error')
        self.error.set_visibility(False)
        self.button = (
            ui.button(submit_label, on_click=self.submit)
            .props('unelevated no-caps')
            .classes('w-full')
            .mark(f'{prefix}login-submit')
        )

    async def submit(self) -> None:
        """Check the password and follow the grant, or show why not."""
        if not self.password.value:
            self._show_error(t('login_empty'))
            return
        self.button.props('loading')
        attempt = await self._attempt(self.password.value)
        self.button.props(remove='loading')
        if attempt.ok:
            ui.navigate.to(self._grant_url())
            return
        self.password.set_value('')
        if attempt.retry_after:
            self._show_error(t('login_limited', seconds=math.ceil(attempt.retry_after)))
        else:
            self._show_error(self._wrong_text)

    def _show_error(self, text: str) -> None:
        self.error.set_text(text)
        self.error.set_visibility(True)
        self.password.run_method('focus')
