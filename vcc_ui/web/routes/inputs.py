"""/api/v1/inputs: the caller's inputs library (uploads and copies) and control images."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, UploadFile

from vcc_ui.services.image_meta import ImageFilter, ImageView
from vcc_ui.web.deps import ReadyDep, ServicesDep, UserDep
from vcc_ui.web.errors import ServiceRoute
from vcc_ui.web.routes.images import Page, Size, Status, listing, owned
from vcc_ui.web.schemas import CopyBody, PageOut

INPUT_KINDS = {'input': ('input',), 'control': ('control',), 'all': ('input', 'control')}

router = APIRouter(prefix='/api/v1', tags=['inputs'], dependencies=[ReadyDep], route_class=ServiceRoute)


@router.get('/inputs')
async def list_inputs(
    user: UserDep,
    services: ServicesDep,
    *,
    page: Page = 1,
    size: Size = 50,
    status: Status = 'active',
    kind: Literal['input', 'control', 'all'] = 'all',
) -> PageOut[ImageView]:
    """The caller's inputs library (uploads and copies) and control images, newest first."""
    return await listing(services, user, page, size, ImageFilter(kind=INPUT_KINDS[kind], status=status))


@router.post('/inputs/upload', status_code=201)
async def upload_input(user: UserDep, services: ServicesDep, file: Annotated[UploadFile, File()]) -> ImageView:
    """Add a png/jpg/webp to the caller's inputs; 413 too large, 415/422 not an accepted image, 403 quota."""
    data = await file.read(services.settings.controls_max_bytes + 1)
    return await services.images.upload_input(user, data, file.filename or 'upload')


@router.post('/inputs/copy', status_code=201)
async def copy_input(body: CopyBody, user: UserDep, services: ServicesDep) -> ImageView:
    """Copy one of the caller's generated or control images into the inputs library."""
    return await services.images.copy_to_inputs(user, body.image_id)


@router.post('/inputs/{image_id}/delete')
async def delete_input(image_id: str, user: UserDep, services: ServicesDep) -> ImageView:
    """Move one of the caller's input or control images to the trash."""
    await owned(services, user, image_id, INPUT_KINDS['all'])
    return await services.images.delete(user, image_id)


@router.post('/inputs/{image_id}/restore')
async def restore_input(image_id: str, user: UserDep, services: ServicesDep) -> ImageView:
    """Bring one of the caller's input or control images back from the trash."""
    await owned(services, user, image_id, INPUT_KINDS['all'])
    return await services.images.restore(user, image_id)
