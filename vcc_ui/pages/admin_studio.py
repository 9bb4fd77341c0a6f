"""Admin: the workflow studio: import a ComfyUI graph, expose inputs, check on every server, test run, save."""

from __future__ import annotations

from typing import Any

from nicegui import app, events, ui

from vcc_ui.i18n import t
from vcc_ui.pages.admin_login import admin_header
from vcc_ui.pages.frame import current_user
from vcc_ui.pages.live import JobFeed
from vcc_ui.pages.widgets.studio_checks import StudioChecks
from vcc_ui.pages.widgets.studio_form import StudioForm
from vcc_ui.pages.widgets.studio_nodes import StudioNodes
from vcc_ui.services import Services
from vcc_ui.services.studio import StudioError

DRAFT = 'studio_draft'  # app.storage.user: the draft being edited (kept across reloads and the language switch)
MAX_UPLOAD = 2 * 1024 * 1024


def page(services: Services, feed: JobFeed) -> None:
    """Build the studio page."""
    StudioPage(services, feed)


class StudioPage:
    """Source on top; below, the nodes on one side and the details, checks, test run and save on the other."""

    def __init__(self, services: Services, feed: JobFeed) -> None:
        self.services, self.studio = services, services.studio
        self.draft: dict[str, Any] | None = app.storage.user.get(DRAFT)
        admin_header('/admin/studio')
        with ui.column().classes('w-full gap-3 p-2 sm:p-4').mark('studio-page'):
            ui.label(t('studio_title')).classes('text-2xl font-medium')
            ui.label(t('studio_intro')).classes('text-sm text-gray-600')
            self._source()
            self.notes = ui.column().classes('w-full gap-0').mark('studio-notes')
            self.empty = ui.label(t('studio_empty')).classes('text-gray-600').mark('studio-empty')
            with ui.element('div').classes('w-full grid grid-cols-1 lg:grid-cols-2 gap-4') as self.body:
                with ui.column().classes('w-full gap-2 min-w-0'):
                    ui.label(t('studio_nodes')).classes('text-lg font-medium')
                    ui.label(t('studio_nodes_hint')).classes('text-sm text-gray-600')
                    self.nodes = StudioNodes(self.studio, self._changed)
                with ui.column().classes('w-full gap-2 min-w-0'):
                    ui.label(t('studio_details')).classes('text-lg font-medium')
                    self.form = StudioForm(self._changed, self._graph_changed)
                    self.checks = StudioChecks(services, feed, current_user(), self.current_draft)
                    ui.button(t('studio_save'), icon='save', on_click=self._review).props(
                        'no-caps data-role=studio-save'
                    ).mark('studio-save')
        self._show()

    def current_draft(self) -> dict[str, Any] | None:
        """The draft on screen, which the checks run."""
        return self.draft

    def _source(self) -> None:
        with ui.card().classes('w-full p-3 gap-2'):
            self.text = ui.textarea(t('studio_paste')).props('outlined rows=4')
            self.text.classes('w-full font-mono text-xs').props('data-role=studio-paste').mark('studio-paste')
            with ui.row().classes('w-full items-end gap-2'):
                servers = sorted(self.studio.catalogues())
                self.server = ui.select(servers, value=next(iter(servers), None), label=t('studio_convert_on'))
                self.server.props('dense outlined').classes('w-56').mark('studio-convert-server')
                ui.button(t('studio_import'), icon='input', on_click=self._import).props(
                    'no-caps data-role=studio-import'
                ).mark('studio-import')
                ui.upload(
                    label=t('studio_upload'), auto_upload=True, max_file_size=MAX_UPLOAD, on_upload=self._uploaded
                ).props('accept=.json flat bordered dense').classes('w-56 vcc-uploader').mark('studio-upload')
                ui.space()
                self.saved = ui.select(self.studio.files(), label=t('studio_open'), with_input=True).props(
                    'dense outlined'
                )
                self.saved.classes('w-56').mark('studio-open-select')
                ui.button(t('studio_open_button'), icon='folder_open', on_click=self._open).props(
                    'no-caps outline'
                ).mark('studio-open')

    async def _uploaded(self, e: events.UploadEventArguments) -> None:
        data = await e.file.read()
        self.text.set_value(data.decode('utf-8', errors='replace'))
        self._import()

    def _import(self) -> None:
        try:
            imported = self.studio.import_text(self.text.value or '', self.server.value)
        except StudioError as e:
            ui.notify(t(f'studio_err_{e.code}', reason=e.reason), type='negative', multi_line=True)
            return
        self.draft = imported.draft
        self._show(notes=imported.notes)
        ui.notify(t('studio_imported', n=len(self.draft['graph'])), type='positive')

    def _open(self) -> None:
        if not self.saved.value:
            return
        try:
            self.draft = self.studio.open(self.saved.value)
        except StudioError as e:
            ui.notify(t(f'studio_err_{e.code}', reason=e.reason), type='negative')
            return
        self._show()

    def _show(self, notes: list[str] | None = None) -> None:
        self.notes.clear()
        if notes:
            with self.notes:
                ui.label(t('studio_notes')).classes('text-sm font-medium')
                for note in notes:
                    ui.label(f'• {note}').classes('text-xs text-gray-700 break-words')
        self.empty.set_visibility(self.draft is None)
        self.body.set_visibility(self.draft is not None)
        if self.draft is not None:
            self.nodes.show(self.draft)
            self.form.show(self.draft)
        self._changed()

    def _changed(self) -> None:
        app.storage.user[DRAFT] = self.draft
        self.checks.changed()

    def _graph_changed(self) -> None:
        self._show()

    def _review(self) -> None:
        if self.draft is None:
            return
        file = f'{self.draft.get("id") or "?"}.json'
        diff = self.studio.diff(self.draft)
        with ui.dialog() as dialog, ui.card().classes('w-full max-w-4xl p-3 gap-2').mark('studio-diff'):
            ui.label(t('studio_save_title', file=file)).classes('text-lg font-medium')
            if diff:
                ui.code(diff, language='diff').classes('w-full max-h-[60vh] overflow-auto text-xs')
            else:
                ui.label(t('studio_save_unchanged')).classes('text-gray-600')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('admin_cancel'), on_click=dialog.close).props('flat no-caps')
                ui.button(t('studio_save_confirm'), icon='save', on_click=lambda: self._save(dialog)).props(
                    'no-caps data-role=studio-save-confirm'
                ).mark('studio-save-confirm')
        dialog.on('hide', dialog.delete)
        dialog.open()

    async def _save(self, dialog: ui.dialog) -> None:
        if self.draft is None:
            return
        try:
            path = await self.studio.save(self.draft)
        except StudioError as e:
            ui.notify(t(f'studio_err_{e.code}', reason=e.reason), type='negative', multi_line=True)
            return
        dialog.close()
        ui.notify(t('studio_saved', file=path.name), type='positive')
        self.saved.set_options(self.studio.files(), value=self.draft['id'])
