"""The admin's form for a new ComfyUI server: name, URL and slots, a connection test, then save."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from vcc_ui.i18n import t
from vcc_ui.pages.weak import weak
from vcc_ui.services.image_meta import human_bytes
from vcc_ui.services.servers import ServerPool, ServerProblem


class ServerForm:
    """Folded away until opened; the test shows the server's version and devices, or why it cannot be reached."""

    def __init__(self, pool: ServerPool, *, on_added: Callable[[], None]) -> None:
        self.pool = pool
        self.on_added = weak(on_added)
        with ui.expansion(t('srv_add'), icon='add').classes('w-full bg-white rounded-lg shadow-sm').mark('server-add'):
            with ui.row().classes('w-full items-start gap-2'):
                self.name = (
                    ui.input(t('srv_name')).props('outlined dense').classes('w-full sm:w-48').mark('server-name')
                )
                self.url = (
                    ui.input(t('srv_url'), placeholder='http://192.168.0.10:8188')
                    .props('outlined dense')
                    .classes('w-full sm:w-80')
                    .mark('server-url')
                )
                self.max = (
                    ui.number(t('srv_max'), value=1, min=1, max=64, step=1, precision=0)
                    .props('outlined dense')
                    .classes('w-32')
                    .mark('server-max')
                )
            with ui.row().classes('items-center gap-2'):
                ui.button(t('srv_test'), icon='network_check', on_click=self._test).props('outline no-caps').mark(
                    'server-test'
                )
                ui.button(t('srv_save_new'), icon='save', on_click=self._add).props('unelevated no-caps').mark(
                    'server-save'
                )
            self.result = ui.label().classes('text-sm whitespace-pre-line').mark('server-test-result')

    async def _test(self) -> None:
        if not self.url.value:
            self.result.set_text(t('srv_need_url'))
            return
        answer = await self.pool.test_connection(self.url.value)
        if answer['reachable']:
            devices = (
                ', '.join(
                    f'{d.get("name") or d.get("type")} ({human_bytes(d.get("vram_total") or 0)})'
                    for d in answer['devices']
                )
                or '-'
            )
            self.result.set_text(t('srv_test_ok', version=answer['version'] or '?', devices=devices))
            self.result.classes(replace='text-positive text-sm whitespace-pre-line')
        else:
            self.result.set_text(t('srv_test_fail', error=answer['error']))
            self.result.classes(replace='text-negative text-sm whitespace-pre-line')

    async def _add(self) -> None:
        try:
            entry = await self.pool.add_server(
                name=self.name.value or '', url=self.url.value or '', max_inflight=int(self.max.value or 1)
            )
        except ServerProblem as error:
            ui.notify(t(error.key, **error.values), type='negative')
            return
        ui.notify(t('srv_added', name=entry.health.name), type='positive')
        self.name.set_value('')
        self.url.set_value('')
        self.result.set_text('')
        self.on_added()
