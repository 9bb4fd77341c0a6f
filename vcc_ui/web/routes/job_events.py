"""/api/v1/jobs/events and /api/v1/jobs/{id}/events: Server-Sent Events of the caller's jobs.

Events: `status`, `progress` (coalesced to the newest), `preview` (a version and the URL to GET), `result` (the
images of a completed job); a one-job stream ends after the job's terminal status. FastAPI sends a `: ping` comment
after 15 s without an event, so proxies keep a quiet stream open; a reader that goes away ends its subscription.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse, ServerSentEvent

from vcc_ui.services.job_events import JobFeed
from vcc_ui.web.deps import ReadyDep, ServicesDep, UserDep
from vcc_ui.web.errors import ApiError, ServiceRoute

# NOTE: app.py includes this router before the jobs router, whose GET /jobs/{job_id} would take /jobs/events
router = APIRouter(prefix='/api/v1', tags=['jobs'], dependencies=[ReadyDep], route_class=ServiceRoute)

STREAM_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        'description': 'A stream of Server-Sent Events (status, progress, preview, result)',
        'content': {'text/event-stream': {'schema': {'type': 'string', 'format': 'binary'}}},
    }
}


async def owned_job(job_id: str, user: UserDep, services: ServicesDep) -> str:
    """The id of one of the caller's jobs, else 404 (before any event is sent)."""
    view = await services.jobs.get(job_id)
    if view is None or view.owner != user:
        raise ApiError(404, 'not_found', 'No such job')
    return view.id


@router.get('/jobs/events', response_class=EventSourceResponse, responses=STREAM_ANSWER)
async def all_job_events(user: UserDep, services: ServicesDep) -> AsyncIterator[ServerSentEvent]:
    """Every change of the caller's jobs (the unfinished ones first as they are now); the stream stays open."""
    with JobFeed(services.jobs, services.images, user) as feed:
        async for event in feed.events():
            yield ServerSentEvent(event=event.name, data=event.data)


@router.get('/jobs/{job_id}/events', response_class=EventSourceResponse, responses=STREAM_ANSWER)
async def job_events(
    job_id: Annotated[str, Depends(owned_job)], user: UserDep, services: ServicesDep
) -> AsyncIterator[ServerSentEvent]:
    """One job's events from its current state on; the stream ends with the job's terminal status."""
    with JobFeed(services.jobs, services.images, user, job_id=job_id) as feed:
        async for event in feed.events():
            yield ServerSentEvent(event=event.name, data=event.data)
