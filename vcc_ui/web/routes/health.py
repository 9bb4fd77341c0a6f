"""/healthz: whether ComfyUI, the database and the disk are fine (open to all; its details to admins)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vcc_ui.services.auth import client_ip
from vcc_ui.web.deps import ADMIN_CHECKED, ServicesDep
from vcc_ui.web.schemas import HealthOut

router = APIRouter(tags=['health'])


@router.get('/healthz', responses={503: {'model': HealthOut, 'description': 'Something is not fine'}})
async def healthz(request: Request, services: ServicesDep, response: Response) -> HealthOut:
    """200 when ComfyUI, the database and the disk are fine, else 503; each check with its values for an admin."""
    if not services.ready.is_set():
        response.status_code = 503
        return HealthOut(ok=False, status='starting', checks={})
    ok, checks = await services.health.run()
    response.status_code = 200 if ok else 503
    return HealthOut(
        ok=ok, status='ok' if ok else 'failing', checks=checks if await is_admin(request, services) else {}
    )


async def is_admin(request: Request, services: ServicesDep) -> bool:
    """Whether the caller showed admin credentials (session cookie or HTTP Basic); wrong ones count as attempts."""
    if getattr(request.state, ADMIN_CHECKED, False) or services.admin.is_admin(request.cookies):
        return True
    attempt = await services.admin.basic(request.headers.get('authorization'), client_ip(request))
    return attempt is not None and attempt.ok
