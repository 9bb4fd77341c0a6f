"""/api/v1/admin/stats and /jobs/{id}/preview: the live dashboard's figures and any job's preview (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from vcc_ui.services.admin import ADMIN_API_PREFIX
from vcc_ui.web.deps import AdminDep, ServicesDep
from vcc_ui.web.errors import ApiError
from vcc_ui.web.schemas import StatsOut, file_answer

router = APIRouter(prefix=ADMIN_API_PREFIX, tags=['admin'], dependencies=[AdminDep])


@router.get(
    '/jobs/{job_id}/preview', response_class=Response, responses=file_answer('The newest preview frame', 'image/jpeg')
)
async def admin_job_preview(job_id: str, services: ServicesDep) -> Response:
    """The latest live preview image of any running job."""
    preview = services.jobs.preview(job_id)
    if preview is None:
        raise ApiError(404, 'not_found', 'No preview')
    return Response(preview[1], media_type=preview[0], headers={'Cache-Control': 'no-store'})


@router.get('/stats')
async def admin_stats(services: ServicesDep) -> StatsOut:
    """Counters, queue depth samples, jobs per hour and average durations per workflow."""
    return StatsOut.of(services.stats)
