"""/healthz: whether ComfyUI, the database and the disk are fine (open without the beta password)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from vcc_ui.web.deps import ServicesDep
from vcc_ui.web.schemas import HealthOut

router = APIRouter(tags=['health'])


@router.get('/healthz', responses={503: {'model': HealthOut, 'description': 'Something is not fine'}})
async def healthz(services: ServicesDep, response: Response) -> HealthOut:
    """200 when ComfyUI, the database and the disk are fine, else 503; each check with its value."""
    if not services.ready.is_set():
        response.status_code = 503
        return HealthOut(ok=False, checks={'startup': {'ok': False}})
    ok, checks = await services.health.run()
    response.status_code = 200 if ok else 503
    return HealthOut(ok=ok, checks=checks)
