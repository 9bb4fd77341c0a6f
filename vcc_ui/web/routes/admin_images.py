"""/api/v1/admin/images, /outputs and /purge-trash: everyone's images, their files and the trash (admins only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from vcc_ui.services.admin import ADMIN_API_PREFIX
from vcc_ui.services.admin_data import Include
from vcc_ui.web.deps import AdminDep, ReadyDep, ServicesDep
from vcc_ui.web.errors import ServiceRoute
from vcc_ui.web.files import stored_file
from vcc_ui.web.routes.outputs import servable
from vcc_ui.web.schemas import AdminImageOut, PageOut, PurgeBody, PurgeOut

router = APIRouter(prefix=ADMIN_API_PREFIX, tags=['admin'], dependencies=[AdminDep, ReadyDep], route_class=ServiceRoute)


@router.get('/images')
async def list_images(
    services: ServicesDep,
    *,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 50,
    include: Include = 'active',
    from_date: date | None = None,
    to_date: date | None = None,
) -> PageOut[AdminImageOut]:
    """Everyone's images (or one user's), newest first, paged and filtered."""
    result = await services.admin_data.images_page(
        user_id=user_id or None, page=page, size=size, include=include, from_date=from_date, to_date=to_date
    )
    return PageOut[AdminImageOut].of(result, [AdminImageOut.of_view(view) for view in result.items])


@router.post('/images/{image_id}/delete')
async def delete_image(image_id: str, services: ServicesDep) -> AdminImageOut:
    """Move any user's image to the trash."""
    row = await services.admin_data.delete_image(image_id)
    return AdminImageOut.of_view(row)


@router.post('/images/{image_id}/restore')
async def restore_image(image_id: str, services: ServicesDep) -> AdminImageOut:
    """Bring any user's image back from the trash."""
    row = await services.admin_data.restore_image(image_id)
    return AdminImageOut.of_view(row)


@router.get('/outputs/{rel_path:path}', include_in_schema=False)
async def output_file(rel_path: str, services: ServicesDep) -> Response:
    """Serve any user's image or thumbnail (never a sidecar)."""
    return await stored_file(services.storage, servable(rel_path), headers={'Cache-Control': 'private, max-age=3600'})


@router.post('/purge-trash')
async def purge_trash(services: ServicesDep, body: PurgeBody | None = None) -> PurgeOut:
    """Remove for good what is in the trash longer than the retention (or older_than_days); dry_run counts."""
    body = body or PurgeBody()
    retention = services.settings.trash_retention_days
    days = retention if body.older_than_days is None else body.older_than_days
    if body.dry_run:
        images, size = await services.images.trash_summary(older_than_days=days)
    else:
        images, size = await services.images.purge(older_than_days=days)
    return PurgeOut(dry_run=body.dry_run, older_than_days=days, images=images, bytes=size)
