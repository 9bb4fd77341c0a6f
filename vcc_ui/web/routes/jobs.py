"""/api/v1/jobs: submit, list, read and cancel the caller's jobs, and their live previews."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from vcc_ui.services.auth import client_ip
from vcc_ui.services.job_form import remix, unavailable
from vcc_ui.web.deps import ReadyDep, ServicesDep, UserDep
from vcc_ui.web.errors import ApiError, ServiceRoute
from vcc_ui.web.schemas import ItemsOut, JobCreate, JobOut, file_answer

router = APIRouter(prefix='/api/v1', tags=['jobs'], dependencies=[ReadyDep], route_class=ServiceRoute)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias='Idempotency-Key',
        min_length=1,
        max_length=128,
        pattern=r'^[\x21-\x7e]+$',
        description='Any printable ASCII up to 128 characters: a retry with the same key within 24 h gets the '
        'first job back (200) instead of a new one',
    ),
]


@router.post('/jobs', status_code=201)
async def submit_job(
    body: JobCreate,
    *,
    user: UserDep,
    services: ServicesDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobOut:
    """Queue a job (`remix`: an image's params again); 429 at the user's limits, 503 when no server can run it.

    With an `Idempotency-Key` the caller used within 24 h, answer that job with 200 and queue nothing.
    """
    if idempotency_key is not None and (earlier := await services.jobs.keyed(user, idempotency_key)):
        response.status_code = 200
        return JobOut.of(earlier)
    workflow_id, params = body.workflow_id or '', body.params
    if body.remix:
        image = await services.images.get(user, body.remix)
        if image is None:
            raise ApiError(404, 'not_found', 'No such image to remix', 'remix')
        target = services.registry.get(body.workflow_id or image.workflow_id or '')
        workflow_id, params = remix(image, body.params, body.workflow_id, declared=target.params if target else ())
    if services.registry.get(workflow_id) and await services.pool.precheck(workflow_id):
        refused = unavailable(services.pool, workflow_id)
        if refused is None or refused.down:
            raise ApiError(503, 'unavailable', 'ComfyUI is not available: no server is reachable')
        raise ApiError(503, 'unavailable', f'This workflow cannot run on any ComfyUI server now: {refused.reason}')
    view, created = await services.jobs.submit_once(
        user, workflow_id, params, source=client_ip(request), idempotency_key=idempotency_key
    )
    if not created:
        response.status_code = 200
    return JobOut.of(view)


@router.get('/jobs')
async def list_jobs(
    user: UserDep, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> ItemsOut[JobOut]:
    """The caller's newest jobs, live ones with position, ETA and progress."""
    return ItemsOut[JobOut](items=[JobOut.of(v) for v in await services.jobs.history(user, limit=limit)])


@router.get('/jobs/{job_id}')
async def get_job(job_id: str, user: UserDep, services: ServicesDep) -> JobOut:
    """One of the caller's jobs."""
    view = await services.jobs.get(job_id)
    if view is None or view.owner != user:
        raise ApiError(404, 'not_found', 'No such job')
    return JobOut.of(view)


@router.post('/jobs/{job_id}/cancel')
async def cancel_job(job_id: str, user: UserDep, services: ServicesDep) -> JobOut:
    """Cancel a queued or running job of the caller."""
    existing = await services.jobs.get(job_id)
    if existing is None or existing.owner != user:
        raise ApiError(404, 'not_found', 'No such job')
    if existing.finished:
        raise ApiError(409, 'finished', f'The job is already {existing.status}')
    view = await services.jobs.cancel(job_id, owner=user)
    return JobOut.of(view or existing)


@router.get(
    '/jobs/{job_id}/preview',
    response_class=Response,
    responses=file_answer('The newest preview frame', 'image/jpeg'),
)
async def job_preview(job_id: str, user: UserDep, services: ServicesDep) -> Response:
    """The latest live preview image of a running job."""
    view = services.jobs.views.get(job_id)
    preview = services.jobs.preview(job_id) if view is not None and view.owner == user else None
    if preview is None:
        raise ApiError(404, 'not_found', 'No preview')
    # the URL carries the preview version, so the owner's other tabs take it from the browser's cache
    return Response(preview[1], media_type=preview[0], headers={'Cache-Control': 'private, max-age=300'})
