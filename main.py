"""Composition root: Settings -> Services -> routes and pages -> ui.run."""

from nicegui import app, ui

from vcc_ui import api
from vcc_ui.logs import configure_logging
from vcc_ui.pages import root
from vcc_ui.services import Services
from vcc_ui.settings import load_settings

settings = load_settings()
configure_logging(settings)
services = Services(settings)
app.on_startup(services.start)
app.on_shutdown(services.stop)
api.install(app, services)

ui.run(root.create(services), host=settings.host, port=settings.port, title='VCC UI', reload=False, show=False,
       storage_secret=services.secret, binding_refresh_interval=None, favicon='🎨')
