"""REST routes /api/v1/*, /outputs/* and /healthz, mounted on NiceGUI's FastAPI app."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from vcc_ui.services import Services
from vcc_ui.services.auth import ANON_COOKIE, ONE_YEAR
from vcc_ui.services.jobs import SubmitError
from vcc_ui.services.storage import StorageError

STATUS_BY_CODE = {
    'unknown_workflow': 404,
    'invalid_params': 422,
    'limit': 429,
    'unavailable': 503,
    'quota': 403,
    'blocked': 403,
}


class JobCreate(BaseModel, extra='forbid'):
    """What POST /api/v1/jobs takes."""

    workflow_id: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)


def _caller(request: Request) -> str:
    return request.state.user


User = Annotated[str, Depends(_caller)]


def _error(status: int, code: str, message: str, field: str | None = None) -> HTTPException:
    return HTTPException(status, detail={'code': code, 'message': message, 'field': field})


def install(app: FastAPI, services: Services) -> None:
    """Add the identity middleware and every route to the app."""
    from vcc_ui import admin, api_dashboard, api_images  # imports this module's helpers

    app.add_middleware(IdentityMiddleware, services=services)
    app.include_router(create_router(services))
    app.include_router(api_images.create_router(services))
    admin.install(app, services)
    app.include_router(api_dashboard.create_router(services))


class IdentityMiddleware(BaseHTTPMiddleware):
    """Give every browser a signed anonymous id cookie and put the id on request.state.user."""

    def __init__(self, app: Any, services: Services) -> None:
        super().__init__(app)
        self.services = services

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        identity = self.services.identity
        user = identity.read(request.cookies.get(ANON_COOKIE))
        fresh = user is None
        request.state.user = user or identity.new_id()
        if not fresh:  # a first visit is recorded by the root page; a cookieless script makes no User row
            self.services.users.touch(request.state.user)
        response = await call_next(request)
        if fresh:
            response.set_cookie(
                ANON_COOKIE,
                identity.cookie_for(request.state.user),
                max_age=ONE_YEAR,
                httponly=True,
                samesite='lax',
                secure=self.services.settings.cookie_secure,
            )
        return response


def create_router(services: Services) -> APIRouter:
    """Build the router bound to one Services instance."""
    router = APIRouter()

    async def ready() -> None:
        await services.ready.wait()

    api = APIRouter(prefix='/api/v1', dependencies=[Depends(ready)], tags=['v1'])

    @api.post('/jobs', status_code=201)
    async def submit_job(body: JobCreate, user: User) -> dict:
        """Queue a job; 429 when the user's queue or concurrency limit is reached."""
        reason = await services.pool.precheck(body.workflow_id) if services.registry.get(body.workflow_id) else None
        if reason:
            raise _error(503, 'unavailable', f'ComfyUI is not available: {reason}')
        try:
            view = await services.jobs.submit(user, body.workflow_id, body.params)
        except SubmitError as error:
            raise _error(STATUS_BY_CODE[error.code], error.code, error.message, error.field) from error
        return view.to_dict()

    @api.get('/jobs')
    async def list_jobs(user: User, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict:
        """The caller's newest jobs, live ones with position, ETA and progress."""
        return {'items': [v.to_dict() for v in await services.jobs.history(user, limit=limit)]}

    @api.get('/jobs/{job_id}')
    async def get_job(job_id: str, user: User) -> dict:
        """One of the caller's jobs."""
        view = await services.jobs.get(job_id)
        if view is None or view.owner != user:
            raise _error(404, 'not_found', 'No such job')
        return view.to_dict()

    @api.post('/jobs/{job_id}/cancel')
    async def cancel_job(job_id: str, user: User) -> dict:
        """Cancel a queued or running job of the caller."""
        existing = await services.jobs.get(job_id)
        if existing is None or existing.owner != user:
            raise _error(404, 'not_found', 'No such job')
        if existing.finished:
            raise _error(409, 'finished', f'The job is already {existing.status}')
        view = await services.jobs.cancel(job_id, owner=user)
        return (view or existing).to_dict()

    @api.get('/jobs/{job_id}/preview')
    async def job_preview(job_id: str, user: User) -> Response:
        """The latest live preview image of a running job."""
        view = services.jobs.views.get(job_id)
        preview = services.jobs.preview(job_id) if view is not None and view.owner == user else None
        if preview is None:
            raise _error(404, 'not_found', 'No preview')
        # the URL carries the preview version, so the owner's other tabs take it from the browser's cache
        return Response(preview[1], media_type=preview[0], headers={'Cache-Control': 'private, max-age=300'})

    @api.get('/workflows')
    async def list_workflows() -> dict:
        """The workflows with their UI metadata and availability per server."""
        return {
            'items': [_workflow_dict(w, services.registry.availability(w.id)) for w in services.registry.all()],
            'problems': [{'file': p.file, 'reason': p.reason} for p in services.registry.problems],
        }

    @router.get('/outputs/{rel_path:path}', dependencies=[Depends(ready)], include_in_schema=False)
    async def output_file(rel_path: str, user: User) -> FileResponse:
        """Serve one of the caller's files; other users' files answer 404."""
        if not rel_path.startswith(f'users/{user}/'):
            raise _error(404, 'not_found', 'No such file')
        try:
            path = services.storage.resolve(rel_path)
        except StorageError as error:
            raise _error(404, 'not_found', 'No such file') from error
        if not path.is_file() or path.suffix == '.json':
            raise _error(404, 'not_found', 'No such file')
        return FileResponse(path, headers={'Cache-Control': 'private, max-age=31536000, immutable'})

    @router.get('/healthz', tags=['health'])
    async def healthz() -> JSONResponse:
        """200 when ComfyUI, the database and the disk are fine, else 503; each check with its value."""
        if not services.ready.is_set():
            return JSONResponse({'ok': False, 'checks': {'startup': {'ok': False}}}, status_code=503)
        ok, checks = await services.health.run()
        return JSONResponse({'ok': ok, 'checks': checks}, status_code=200 if ok else 503)

    router.include_router(api)
    return router


def _workflow_dict(workflow: Any, availability: dict[str, str | None]) -> dict:
    return {
        'id': workflow.id,
        'title': workflow.title,
        'description': workflow.description,
        'mode': workflow.mode,
        'related_img2img': workflow.related_img2img,
        'aspect_ratios': workflow.aspect_ratios,
        'max_batch': workflow.max_batch,
        'defaults': workflow.defaults,
        'templates': [t.model_dump() if hasattr(t, 'model_dump') else t for t in workflow.templates],
        'availability': {server: {'ok': reason is None, 'reason': reason} for server, reason in availability.items()},
    }
