"""Admin REST routes /api/v1/admin/*: servers, users, everyone's images, the trash purge (admins only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from vcc_ui.admin import Admin
from vcc_ui.api import _error
from vcc_ui.models import Image
from vcc_ui.services import Services
from vcc_ui.services.admin import ADMIN_API_PREFIX, admin_url
from vcc_ui.services.admin_data import Include
from vcc_ui.services.image_meta import ImageProblem
from vcc_ui.services.images import image_dict
from vcc_ui.services.servers import ServerEntry, ServerProblem
from vcc_ui.services.storage import StorageError

SERVER_STATUS = {'not_found': 404, 'invalid': 422, 'conflict': 409, 'busy': 409}
IMAGE_STATUS = {'not_found': 404, 'invalid': 422}


class ServerCreate(BaseModel, extra='forbid'):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=300)
    max_inflight: int = Field(1, ge=1, le=64)
    enabled: bool = True


class ServerUpdate(BaseModel, extra='forbid'):
    name: str | None = Field(None, min_length=1, max_length=100)
    url: str | None = Field(None, min_length=1, max_length=300)
    max_inflight: int | None = Field(None, ge=1, le=64)
    enabled: bool | None = None


class ServerTest(BaseModel, extra='forbid'):
    url: str = Field(min_length=1, max_length=300)


class UserUpdate(BaseModel, extra='forbid'):
    display_name: str | None = Field(None, max_length=100)
    blocked: bool | None = None
    quota_max_bytes: int | None = Field(None, ge=0)
    quota_max_images: int | None = Field(None, ge=0)


class PurgeBody(BaseModel, extra='forbid'):
    older_than_days: float | None = Field(None, ge=0, le=3650)
    dry_run: bool = False


def admin_image_dict(row: Image, retention_days: int) -> dict:
    """An image as admins see it: with its owner and admin-only file URLs."""
    return {
        **image_dict(row, retention_days=retention_days),
        'owner': row.owner,
        'admin_url': admin_url(row.rel_path),
        'admin_thumb_url': admin_url(row.thumb_path) if row.thumb_path else None,
    }


def server_dict(entry: ServerEntry) -> dict:
    """The JSON shape of a server with its live health and load."""
    h = entry.health
    return {
        'id': entry.id,
        'name': h.name,
        'url': h.url,
        'enabled': h.enabled,
        'simulated': h.simulated,
        'max_inflight': h.max_inflight,
        'inflight': h.inflight,
        'reachable': h.reachable,
        'connected': h.connected,
        'queue_remaining': h.queue_remaining,
        'vram_total': h.vram_total,
        'vram_free': h.vram_free,
        'last_error': h.last_error or None,
        'last_check': h.last_check or None,
    }


def create_router(services: Services) -> APIRouter:
    """Build the admin router bound to one Services instance; every route needs an admin."""
    pool, data = services.pool, services.admin_data
    retention = services.settings.trash_retention_days

    async def ready() -> None:
        await services.ready.wait()

    api = APIRouter(prefix=ADMIN_API_PREFIX, dependencies=[Admin, Depends(ready)], tags=['admin'])

    def server_problem(error: ServerProblem) -> Exception:
        return _error(SERVER_STATUS.get(error.code, 422), error.code, error.message, error.field)

    def image_problem(error: ImageProblem) -> Exception:
        return _error(IMAGE_STATUS.get(error.code, 422), error.code, error.message)

    @api.get('/servers')
    async def list_servers() -> dict:
        """Every server with its live health and load."""
        return {'items': [server_dict(e) for e in pool.entries.values()]}

    @api.get('/servers/{server_id}')
    async def get_server(server_id: int, history: Annotated[int, Query(ge=0, le=200)] = 20) -> dict:
        """One server with its newest jobs."""
        entry = pool.get(server_id)
        if entry is None:
            raise _error(404, 'not_found', 'No such server.')
        jobs = await data.server_history(server_id, limit=history) if history else []
        return {**server_dict(entry), 'history': [j.as_dict() for j in jobs]}

    @api.post('/servers', status_code=201)
    async def add_server(body: ServerCreate) -> dict:
        """Store a new server and connect to it."""
        try:
            return server_dict(
                await pool.add_server(
                    name=body.name, url=body.url, max_inflight=body.max_inflight, enabled=body.enabled
                )
            )
        except ServerProblem as error:
            raise server_problem(error) from error

    @api.put('/servers/{server_id}')
    async def update_server(server_id: int, body: ServerUpdate) -> dict:
        """Rename, move, resize, enable or disable (drain) a server."""
        try:
            entry = await pool.update_server(server_id, name=body.name, url=body.url, max_inflight=body.max_inflight)
            if body.enabled is not None and body.enabled != entry.health.enabled:
                entry = await pool.set_enabled(server_id, body.enabled)
        except ServerProblem as error:
            raise server_problem(error) from error
        return server_dict(entry)

    @api.delete('/servers/{server_id}')
    async def remove_server(server_id: int) -> dict:
        """Forget a server; 409 while it still runs jobs."""
        try:
            await pool.remove_server(server_id)
        except ServerProblem as error:
            raise server_problem(error) from error
        return {'removed': server_id}

    @api.post('/servers/test')
    async def test_server(body: ServerTest) -> dict:
        """Try a server address before saving it: reachable, version and devices, or the error."""
        return await pool.test_connection(body.url)

    @api.get('/users')
    async def list_users() -> dict:
        """Every user with jobs, images, bytes, quota and block state."""
        return {'items': [u.as_dict() for u in await data.users()]}

    @api.patch('/users/{user_id}')
    async def update_user(user_id: str, body: UserUpdate) -> dict:
        """Set a user's display name, block state or quota (null quota = the default)."""
        fields = body.model_dump(exclude_unset=True)
        if fields.get('blocked') is None:
            fields.pop('blocked', None)
        try:
            return (await data.update_user(user_id, **fields)).as_dict()
        except ImageProblem as error:
            raise image_problem(error) from error

    @api.get('/images')
    async def list_images(
        *,
        user_id: Annotated[str | None, Query(max_length=64)] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        size: Annotated[int, Query(ge=1, le=100)] = 50,
        include: Include = 'active',
        from_date: date | None = None,
        to_date: date | None = None,
    ) -> dict:
        """Everyone's images (or one user's), newest first, paged and filtered."""
        result = await data.images_page(
            user_id=user_id or None, page=page, size=size, include=include, from_date=from_date, to_date=to_date
        )
        return {
            'items': [admin_image_dict(r, retention) for r in result.items],
            'page': result.page,
            'size': result.size,
            'total': result.total,
            'has_more': result.has_more,
        }

    @api.post('/images/{image_id}/delete')
    async def delete_image(image_id: str) -> dict:
        """Move any user's image to the trash."""
        try:
            row = await data.delete_image(image_id)
        except ImageProblem as error:
            raise image_problem(error) from error
        return admin_image_dict(row, retention)

    @api.post('/images/{image_id}/restore')
    async def restore_image(image_id: str) -> dict:
        """Bring any user's image back from the trash."""
        try:
            row = await data.restore_image(image_id)
        except ImageProblem as error:
            raise image_problem(error) from error
        return admin_image_dict(row, retention)

    @api.get('/outputs/{rel_path:path}', include_in_schema=False)
    async def output_file(rel_path: str) -> FileResponse:
        """Serve any user's image or thumbnail (never a sidecar)."""
        try:
            path = services.storage.resolve(rel_path)
        except StorageError as error:
            raise _error(404, 'not_found', 'No such file') from error
        if not rel_path.startswith('users/') or not path.is_file() or path.suffix == '.json':
            raise _error(404, 'not_found', 'No such file')
        return FileResponse(path, headers={'Cache-Control': 'private, max-age=3600'})

    @api.post('/purge-trash')
    async def purge_trash(body: PurgeBody | None = None) -> dict:
        """Remove for good what is in the trash longer than the retention (or older_than_days); dry_run counts."""
        body = body or PurgeBody()
        days = retention if body.older_than_days is None else body.older_than_days
        if body.dry_run:
            images, size = await services.images.trash_summary(older_than_days=days)
        else:
            images, size = await services.images.purge(older_than_days=days)
        return {'dry_run': body.dry_run, 'older_than_days': days, 'images': images, 'bytes': size}

    return api
