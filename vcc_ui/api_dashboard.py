"""Admin routes of the live dashboard: any user's job preview and the dashboard's figures."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from vcc_ui.admin import require_admin
from vcc_ui.api import _error
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_API_PREFIX


def create_router(services: Services) -> APIRouter:
    """Build the admin dashboard router bound to one Services instance."""
    router = APIRouter(prefix=ADMIN_API_PREFIX, dependencies=[Depends(require_admin)], tags=['admin'])

    @router.get('/jobs/{job_id}/preview')
    async def admin_job_preview(job_id: str) -> Response:
        """The latest live preview image of any running job."""
        preview = services.jobs.preview(job_id)
        if preview is None:
            raise _error(404, 'not_found', 'No preview')
        return Response(preview[1], media_type=preview[0], headers={'Cache-Control': 'no-store'})

    @router.get('/stats')
    async def admin_stats() -> dict:
        """Counters, queue depth samples, jobs per hour and average durations per workflow."""
        c, f = services.stats.counters, services.stats.figures
        return {
            'queued': c.queued,
            'running': c.running,
            'done_last_hour': c.done_hour,
            'failed_last_hour': c.failed_hour,
            'avg_duration_seconds': {k: round(v, 1) for k, v in f.durations.items()},
            'jobs_per_hour': [
                {'hour': h.start.isoformat(), 'done': h.done, 'failed': h.failed, 'cancelled': h.cancelled}
                for h in f.per_hour
            ],
            'queue_depth': [
                {'at': s.at.isoformat(), 'queued': s.queued, 'running': s.running} for s in services.stats.depth
            ],
        }

    return router
