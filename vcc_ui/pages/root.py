"""The single root page: the shell once, then the sub page of the current path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import app, context, ui
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from vcc_ui.pages import (
    admin_dashboard,
    admin_images,
    admin_login,
    admin_logs,
    admin_loras,
    admin_servers,
    admin_studio,
    admin_users,
    gallery,
    generate,
    inputs,
    speedups,
    tokens,
    typed_early,
)
from vcc_ui.pages.first_loads import FirstLoads, first_build
from vcc_ui.pages.frame import frame
from vcc_ui.pages.housekeeping import Housekeeping
from vcc_ui.pages.live import JobFeed
from vcc_ui.services import Services

PAGE_PATHS = frozenset(
    {'/', '/gallery', '/inputs', '/tokens', '/admin', '/admin/servers', '/admin/users', '/admin/images'}
    | {'/admin/loras', '/admin/logs', '/admin/studio'}
)  # the sub pages below; any other path the root page would build answers 404 first (web.UnknownPathMiddleware)


def create(services: Services) -> Callable[[Request], Awaitable[Response | None]]:
    """Return the root page function bound to the services."""
    speedups.install()
    typed_early.install()
    admin_loras.install(services)
    admin_dashboard.track_presence(services)
    housekeeping = Housekeeping()
    feed = app.state.job_feed = JobFeed(services.jobs.changed)  # NOTE: page tests reach it on app.state

    async def root(request: Request) -> Response | None:
        await services.ready.wait()
        if target := services.admin.login_redirect(request.url.path, request.url.query, request.cookies):
            return RedirectResponse(target, status_code=303)
        services.users.touch(request.state.user)
        loads = FirstLoads.open(context.client)  # the answer carries the page's first content (first_loads.py)
        frame(services, is_admin=services.admin.is_admin(request.cookies))
        with ui.column().classes('w-full max-w-7xl mx-auto p-0'):
            ui.sub_pages(
                {
                    path: first_build(build)
                    for path, build in {
                        '/': lambda: generate.page(services, feed),
                        '/gallery': lambda: gallery.page(services, feed),
                        '/inputs': lambda: inputs.page(services),
                        '/tokens': lambda: tokens.page(services),
                        '/admin': admin_login.protected(services, lambda: admin_dashboard.page(services, feed)),
                        '/admin/servers': admin_login.protected(services, lambda: admin_servers.page(services)),
                        '/admin/users': admin_login.protected(services, lambda: admin_users.page(services)),
                        '/admin/images': admin_login.protected(services, lambda: admin_images.page(services)),
                        '/admin/loras': admin_login.protected(services, lambda: admin_loras.page(services)),
                        '/admin/logs': admin_login.protected(services, lambda: admin_logs.page(services)),
                        '/admin/studio': admin_login.protected(services, lambda: admin_studio.page(services, feed)),
                    }.items()
                }
            ).classes('w-full')
        await loads.settled(context.client)
        housekeeping.built()  # the automatic collections leave the page alone (housekeeping.py)
        return None

    return root
