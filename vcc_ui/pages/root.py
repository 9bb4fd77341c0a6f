"""The single root page: the shell once, then the sub page of the current path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui
from starlette.requests import Request

from vcc_ui.pages import gallery, generate, inputs
from vcc_ui.pages.frame import frame
from vcc_ui.services import Services


def create(services: Services) -> Callable[[Request], Awaitable[None]]:
    """Return the root page function bound to the services."""
    async def root(request: Request) -> None:
        await services.ready.wait()
        services.users.touch(request.state.user)
        frame(services)
        with ui.column().classes('w-full max-w-7xl mx-auto p-0'):
            ui.sub_pages({
                '/': lambda: generate.page(services),
                '/gallery': lambda: gallery.page(services),
                '/inputs': lambda: inputs.page(services),
            }).classes('w-full')
    return root
