"""The single root page: the status of the service until the app pages arrive."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from vcc_ui.services import Services


def create(services: Services) -> Callable[[], None]:
    """Return the root page function bound to the services."""
    def root() -> None:
        ui.label('VCC UI').classes('text-2xl font-bold')
        if services.pool.simulator:
            ui.label(f'Using the bundled ComfyUI simulator at {services.pool.simulator.url}').mark('simulator-note')
        with ui.row():
            ui.link('API documentation', '/docs')
            ui.link('Health', '/healthz')
        for workflow in services.registry.all():
            ui.label(f'{workflow.id}: {workflow.title.get("en", workflow.id)}')
    return root
