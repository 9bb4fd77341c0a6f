"""The shell every app page shares: header, navigation, health banner and language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from nicegui import app, context, events, ui

from vcc_ui.i18n import language, set_language, t, translate
from vcc_ui.pages.live import on
from vcc_ui.pages.widgets.nickname import NicknameButton
from vcc_ui.pages.widgets.time_text import learn_zone
from vcc_ui.services import Services
from vcc_ui.services.servers import ServerHealth

DRAFT_KEY = 'form_draft'  # app.storage.client: a callable giving the page's form; kept across a language switch

NAV = [
    ('nav_generate', '/', 'auto_awesome'),
    ('nav_gallery', '/gallery', 'photo_library'),
    ('nav_inputs', '/inputs', 'inventory_2'),
    ('nav_tokens', '/tokens', 'key'),
]
ADMIN_NAV = [('nav_admin', '/admin', 'admin_panel_settings'), ('nav_loras', '/admin/loras', 'extension')]


def current_user() -> str:
    """Return the anonymous id of the browser this page belongs to."""
    return context.client.request.state.user


def frame(services: Services, *, is_admin: bool = False) -> None:
    """Build the chrome once: drawer (phones), header with navigation, language switch and health banners."""
    items = NAV + (ADMIN_NAV if is_admin else [])
    links: dict[str, list[ui.link]] = {}
    with ui.left_drawer(value=False).props('overlay behavior=mobile bordered').classes('p-0') as drawer:
        with ui.column().classes('w-full gap-0 pt-2'):
            for key, path, icon in items:
                link = nav_link(key, path, icon).classes('drawer-link w-full').mark(f'drawer-{key}')
                link.on('click', drawer.hide)
                links.setdefault(path, []).append(link)
    with ui.header(elevated=True).classes('p-0 bg-slate-900'), ui.column().classes('w-full gap-0'):
        with ui.row().classes('w-full items-center no-wrap gap-2 px-3 py-2'):
            ui.button(icon='menu', on_click=drawer.toggle).props('flat round dense color=white').props(
                f'aria-label="{t("nav_menu")}"'
            ).classes('lt-sm').mark('nav-menu')
            ui.link(t('app_name'), '/').classes('text-xl font-bold text-white no-underline whitespace-nowrap').mark(
                'app-name'
            )
            with ui.row().classes('gt-xs items-center gap-1 ml-4 no-wrap'):
                for key, path, icon in items:
                    links.setdefault(path, []).append(
                        nav_link(key, path, icon).classes('header-link').mark(f'nav-{key}')
                    )
            ui.space()
            NicknameButton(services.users, current_user())
            language_switch(dark=True)
        HealthBanner(services, is_admin=is_admin)
    ui.add_css(CSS)
    ui.query('html').props(f'lang={language()}')  # screen readers, hyphenation and the browser's own widgets
    _highlight_active(links)
    learn_zone()


def nav_link(key: str, path: str, icon: str) -> ui.link:
    """One navigation link, a single element: its icon is drawn by CSS from data-icon (hidden from screen readers)."""
    return ui.link(t(key), path).classes('nav-link').props(f'data-icon={icon}')


def language_switch(*, dark: bool = False) -> None:
    """Add the KO/EN switch; choosing reloads the page in that language."""

    def switch(event: events.ValueChangeEventArguments) -> None:
        if event.value and event.value != language():
            set_language(event.value)
            if draft := app.storage.client.get(DRAFT_KEY):
                app.storage.user[DRAFT_KEY] = draft()
            ui.navigate.reload()

    colors = (
        'color=slate-700 text-color=white toggle-color=white toggle-text-color=slate-900'
        if dark
        else 'color=grey-3 text-color=grey-8 toggle-color=primary toggle-text-color=white'
    )
    ui.toggle({'ko': 'KO', 'en': 'EN'}, value=language(), on_change=switch).props(
        f'dense no-caps unelevated rounded padding="2px 10px" {colors}'
    ).classes('text-xs font-medium').mark('lang-switch')


class HealthBanner:
    """A red line per enabled server that is down (admins: its name and error; others: one line without addresses).

    The hint says what Generate does: it refuses new jobs while no server is reachable (the pre-check).
    """

    def __init__(self, services: Services, *, is_admin: bool = False) -> None:
        self.lang = language()  # NOTE: updates arrive outside any request, so the language is fixed here
        self.pool = services.pool
        self.is_admin = is_admin
        self.down: dict[int, ServerHealth] = {}
        self.rows: dict[int, tuple[ui.row, ui.label, ui.label]] = {}
        with ui.column().classes('w-full gap-0') as self.container:
            if services.pool.simulator:
                with (
                    ui.row()
                    .classes('w-full items-center no-wrap gap-2 px-4 py-1 bg-sky-100 text-sky-900 text-sm')
                    .mark('simulator-note')
                ):
                    ui.icon('info')
                    ui.label(t('simulator_note'))
        for entry in services.pool.entries.values():
            self.update(entry.health)
        on(services.pool.shown_changed, self.update, owner=self.container)

    def update(self, health: ServerHealth) -> None:
        """Follow one server's health: show, word or hide the lines."""
        if health.status == 'down':
            self.down[health.id] = health
        else:
            self.down.pop(health.id, None)
        reachable = any(e.health.reachable for e in self.pool.entries.values() if e.health.enabled)
        hint = translate('server_down_hint' if not reachable else 'server_down_others', self.lang)
        lines = (
            {
                i: translate('server_down', self.lang, name=h.name, error=h.last_error or '?')
                for i, h in self.down.items()
            }
            if self.is_admin
            else (
                {0: translate('server_down_public' if not reachable else 'server_some_down', self.lang)}
                if self.down
                else {}
            )
        )
        for key in lines.keys() - self.rows.keys():
            with (
                self.container,
                ui.row()
                .classes('w-full items-center no-wrap gap-2 px-4 py-1 bg-red-700 text-white text-sm')
                .mark('health-banner') as row,
            ):
                ui.icon('warning')
                label = ui.label().mark('health-banner-text')
                note = ui.label().classes('gt-xs opacity-80')
            self.rows[key] = (row, label, note)
        for key, (row, label, note) in self.rows.items():
            if key in lines and label.text != lines[key]:
                label.set_text(lines[key])
            if note.text != hint:
                note.set_text(hint)
            if row.visible != (key in lines):
                row.set_visibility(key in lines)


def _highlight_active(links: dict[str, list[ui.link]]) -> None:
    router = context.client.sub_pages_router

    def mark(path: str) -> None:
        current = '/' + urlsplit(path).path.strip('/').split('/', 1)[0]
        for target, elements in links.items():
            for link in elements:
                if target == current:
                    link.classes(add='active')
                else:
                    link.classes(remove='active')

    mark(router.current_path)
    router.on_path_changed(mark)


CSS = """
.nav-link { display: flex; align-items: center; gap: .4rem; text-decoration: none; border-radius: .5rem; }
.nav-link::before { content: attr(data-icon); content: attr(data-icon) / ''; font-family: 'Material Icons';
  font-size: 1.25rem; line-height: 1; font-feature-settings: 'liga'; -webkit-font-smoothing: antialiased; }
.header-link { color: rgba(255,255,255,.8); padding: .35rem .7rem; }
.header-link::before { font-size: 1.125rem; }
.header-link:hover, .header-link.active { color: white; background: rgba(255,255,255,.14); }
.drawer-link { color: #1e293b; padding: .8rem 1.2rem; border-radius: 0; }
.drawer-link.active { background: #e2e8f0; font-weight: 600; }
.vcc-uploader { max-height: none; }
.vcc-uploader .q-uploader__subtitle, .vcc-uploader .q-uploader__list { display: none; }
"""
