"""/api/v1/admin/servers: list, read, add, change, remove and try ComfyUI servers (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from vcc_ui.services.admin import ADMIN_API_PREFIX
from vcc_ui.web.deps import AdminDep, ReadyDep, ServicesDep
from vcc_ui.web.errors import ApiError, ServiceRoute
from vcc_ui.web.schemas import (
    ItemsOut,
    RemovedOut,
    ServerCreate,
    ServerDetailOut,
    ServerOut,
    ServerTest,
    ServerTestOut,
    ServerUpdate,
)

router = APIRouter(prefix=ADMIN_API_PREFIX, tags=['admin'], dependencies=[AdminDep, ReadyDep], route_class=ServiceRoute)


@router.get('/servers')
async def list_servers(services: ServicesDep) -> ItemsOut[ServerOut]:
    """Every server with its live health and load."""
    return ItemsOut[ServerOut](items=[ServerOut.of(e) for e in services.pool.entries.values()])


@router.get('/servers/{server_id}')
async def get_server(
    server_id: int, services: ServicesDep, history: Annotated[int, Query(ge=0, le=200)] = 20
) -> ServerDetailOut:
    """One server with its newest jobs."""
    entry = services.pool.get(server_id)
    if entry is None:
        raise ApiError(404, 'not_found', 'No such server.')
    jobs = await services.admin_data.server_history(server_id, limit=history) if history else []
    return ServerDetailOut(**ServerOut.of(entry).model_dump(), history=jobs)


@router.post('/servers', status_code=201)
async def add_server(body: ServerCreate, services: ServicesDep) -> ServerOut:
    """Store a new server and connect to it."""
    entry = await services.pool.add_server(
        name=body.name, url=body.url, max_inflight=body.max_inflight, enabled=body.enabled
    )
    return ServerOut.of(entry)


@router.put('/servers/{server_id}')
async def update_server(server_id: int, body: ServerUpdate, services: ServicesDep) -> ServerOut:
    """Rename, move, resize, enable or disable (drain) a server."""
    pool = services.pool
    entry = await pool.update_server(server_id, name=body.name, url=body.url, max_inflight=body.max_inflight)
    if body.enabled is not None and body.enabled != entry.health.enabled:
        entry = await pool.set_enabled(server_id, body.enabled)
    return ServerOut.of(entry)


@router.delete('/servers/{server_id}')
async def remove_server(server_id: int, services: ServicesDep) -> RemovedOut:
    """Forget a server; 409 while it still runs jobs."""
    await services.pool.remove_server(server_id)
    return RemovedOut(removed=server_id)


@router.post('/servers/test')
async def test_server(body: ServerTest, services: ServicesDep) -> ServerTestOut:
    """Try a server address before saving it: reachable, version and devices, or the error."""
    return ServerTestOut.model_validate(await services.pool.test_connection(body.url))
