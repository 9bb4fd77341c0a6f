"""Composition root: Settings -> Services -> routes and pages -> ui.run."""

from functools import partial

from nicegui import app, ui
from starlette.middleware.gzip import GZipMiddleware

from vcc_ui.logs import configure_logging
from vcc_ui.pages import root
from vcc_ui.services import Services
from vcc_ui.services.servers import BundledServer
from vcc_ui.settings import Settings, load_settings
from vcc_ui.web.app import install as install_web
from vcc_ui.web.user_storage import share_user_storage


async def start_simulator(settings: Settings) -> BundledServer:
    """Start the bundled ComfyUI simulator; its package is loaded only when no server is configured."""
    from vcc_ui.simulator import start_bundled

    return await start_bundled(settings)


settings = load_settings()
configure_logging(settings)
# NOTE: with REDIS_URL, app.storage.user (language, drafts, time zone) lives in Redis, so a user whose instance died
# finds it on another one; the session cookie that names it is signed with SECRET_KEY, the same on every instance
share_user_storage(settings.redis_url)
services = Services(settings, start_simulator=start_simulator)
app.on_startup(services.start)
app.on_shutdown(services.stop)
# NOTE: routes and page tests reach the services on app.state
install_web(app, services, pages=root.PAGE_PATHS)

ui.run(
    root.create(services),
    host=settings.host,
    port=settings.port,
    title='VCC UI',
    reload=False,
    show=False,
    storage_secret=services.secret,
    session_middleware_kwargs={'https_only': settings.cookie_secure, 'same_site': 'lax'},
    binding_refresh_interval=None,
    favicon='🎨',
    reconnect_timeout=10,
    fastapi_docs={'title': 'VCC UI API', 'summary': 'Jobs, workflows, images and health of VCC UI'},
    # NOTE: zlib's default level; Starlette's 9 took twice the CPU of a page build's compression for 2-3% fewer bytes
    gzip_middleware_factory=partial(GZipMiddleware, compresslevel=6),
    **settings.uvicorn_proxy_options,
)
