"""install(app, services): the error handler, the identity and gate middleware and every route of the web layer."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI

from vcc_ui.services import Services
from vcc_ui.web.errors import install_error_handler
from vcc_ui.web.middleware import (
    BodyLimitMiddleware,
    GateMiddleware,
    IdentityMiddleware,
    OriginMiddleware,
    SecurityHeadersMiddleware,
    TokenMiddleware,
    UnknownPathMiddleware,
)
from vcc_ui.web.routes import (
    admin_dashboard,
    admin_images,
    admin_login,
    admin_servers,
    admin_users,
    beta_login,
    health,
    images,
    inputs,
    job_events,
    jobs,
    outputs,
    shares,
    tokens,
    workflows,
)

log = logging.getLogger(__name__)

# NOTE: one router for the app to include: FastAPI merges the lifespan of every router an app includes, and the page
# tests install the web layer once per test on the same app
router = APIRouter()
router.include_router(job_events.router)  # before jobs: its /jobs/events would match GET /jobs/{job_id}
router.include_router(jobs.router)
router.include_router(tokens.router)
router.include_router(workflows.router)
router.include_router(images.router)
router.include_router(inputs.router)
router.include_router(shares.router)
router.include_router(outputs.router)
router.include_router(health.router)
router.include_router(admin_login.router)
router.include_router(admin_servers.router)
router.include_router(admin_users.router)
router.include_router(admin_images.router)
router.include_router(admin_dashboard.router)
router.include_router(beta_login.router)


def install(app: FastAPI, services: Services, *, pages: frozenset[str] = frozenset()) -> None:
    """Keep the services on app.state, add the middleware (headers, origin, token, gate, identity: outside in), the
    routes."""
    app.state.services = services
    install_error_handler(app)
    app.add_middleware(IdentityMiddleware, services=services)
    app.add_middleware(UnknownPathMiddleware, routes=app, pages=pages)  # `pages`: the paths of the root page
    app.add_middleware(GateMiddleware, gate=services.gate, admin=services.admin)
    app.add_middleware(TokenMiddleware, tokens=services.tokens)  # before the gate: a token needs no beta cookie
    app.add_middleware(BodyLimitMiddleware, upload_max=services.settings.controls_max_bytes)
    app.add_middleware(OriginMiddleware)  # before the gate: a cross-site request costs no login attempt
    origin = services.storage.direct_origin()
    app.add_middleware(
        SecurityHeadersMiddleware, secure=services.settings.cookie_secure, image_origins=(origin,) if origin else ()
    )
    if services.gate.enabled:
        log.info('beta gate is on: every page and API route needs the BETA_PASSWORD')
    else:
        log.warning('BETA_PASSWORD is not set: the beta gate is OFF, anyone who reaches this app can use it')
    app.include_router(router)
