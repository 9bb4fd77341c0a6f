"""The shell's nickname button: a tester names themselves, and admins see that name instead of the anonymous id."""

from __future__ import annotations

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.services.users import NICKNAME_MAX, NicknameError, UserDirectory


class NicknameButton:
    """A header button with the nickname (or a person icon); it opens a small dialog to set or clear it."""

    def __init__(self, users: UserDirectory, user_id: str) -> None:
        self.users, self.user_id = users, user_id
        self.button = (
            ui.button(icon='badge', on_click=self.open)
            .props('flat dense no-caps color=white')
            .classes('max-w-40 truncate')
            .mark('nickname-button')
        )
        self.button.tooltip(t('nick_button'))
        self._show()

    def _show(self) -> None:
        self.button.set_text(self.users.names.get(self.user_id, ''))

    def open(self) -> None:
        """Open the nickname dialog."""
        with ui.dialog() as dialog, ui.card().classes('w-full max-w-sm gap-3').mark('nickname-dialog'):
            ui.label(t('nick_title')).classes('text-lg font-medium')
            ui.label(t('nick_hint')).classes('text-sm text-gray-600')
            name = (
                ui.input(t('nick_label'), value=self.users.names.get(self.user_id, ''))
                .props(f'outlined dense autofocus maxlength={NICKNAME_MAX + 10} counter')
                .classes('w-full')
                .mark('nickname-input')
            )

            async def save() -> None:
                try:
                    stored = await self.users.set_name(self.user_id, name.value)
                except NicknameError as error:
                    name.props(f'error error-message="{t(error.reason)}"')
                    return
                dialog.close()
                self._show()
                ui.notify(t('nick_saved' if stored else 'nick_cleared'), type='positive')

            name.on('keydown.enter', save)
            name.on_value_change(lambda: name.props(remove='error error-message'))
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('admin_cancel'), on_click=dialog.close).props('flat no-caps')
                ui.button(t('admin_save'), on_click=save).props('unelevated no-caps').mark('nickname-save')
        dialog.open()
