"""/api/v1/images: the caller's gallery: list, read, trash, restore, favourite, tag, bulk changes and ZIPs."""

from __future__ import annotations

import contextlib
import os
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from vcc_ui.models import utcnow
from vcc_ui.services import Services
from vcc_ui.services.image_meta import ImageFilter, ImageView, content_disposition, download_name
from vcc_ui.web.deps import ReadyDep, ServicesDep, UserDep
from vcc_ui.web.errors import ApiError, ServiceRoute
from vcc_ui.web.files import stored_file
from vcc_ui.web.schemas import BulkBody, BulkOut, FavoriteBody, PageOut, TagsBody, ZipBody, file_answer

IMAGE_KINDS = {
    'generated': ('generated',),
    'control': ('control',),
    'input': ('input',),
    'all': ('generated', 'control', 'input'),
}
Page = Annotated[int, Query(ge=1, le=1_000_000)]
Size = Annotated[int, Query(ge=1, le=100)]
Status = Literal['active', 'trash']

router = APIRouter(prefix='/api/v1', tags=['images'], dependencies=[ReadyDep], route_class=ServiceRoute)


async def listing(services: Services, user: str, page: int, size: int, filters: ImageFilter) -> PageOut[ImageView]:
    """One page of the caller's images that pass the filters."""
    result = await services.images.page(user, page=page, size=size, filters=filters)
    return PageOut[ImageView].of(result, result.items)


async def owned(services: Services, user: str, image_id: str, kinds: tuple[str, ...]) -> ImageView:
    """One of the caller's images of these kinds, else 404."""
    view = await services.images.get(user, image_id)
    if view is None or view.kind not in kinds:
        raise ApiError(404, 'not_found', 'No such image.')
    return view


@router.get('/images')
async def list_images(
    user: UserDep,
    services: ServicesDep,
    *,
    page: Page = 1,
    size: Size = 50,
    from_date: date | None = None,
    to_date: date | None = None,
    aspect_ratio: Annotated[str | None, Query(max_length=16)] = None,
    workflow_id: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    favorite: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: Status = 'active',
    kind: Literal['generated', 'control', 'input', 'all'] = 'generated',
) -> PageOut[ImageView]:
    """The caller's images, newest first, paged and filtered."""
    filters = ImageFilter(
        kind=IMAGE_KINDS[kind],
        from_date=from_date,
        to_date=to_date,
        aspect_ratio=aspect_ratio,
        workflow_id=workflow_id,
        tag=tag,
        favorite=favorite,
        q=q,
        status=status,
    )
    return await listing(services, user, page, size, filters)


@router.get('/images/{image_id}')
async def get_image(image_id: str, user: UserDep, services: ServicesDep) -> ImageView:
    """One of the caller's images."""
    return await owned(services, user, image_id, IMAGE_KINDS['all'])


@router.post('/images/{image_id}/delete')
async def delete_image(image_id: str, user: UserDep, services: ServicesDep) -> ImageView:
    """Move one of the caller's images to the trash."""
    return await services.images.delete(user, image_id)


@router.post('/images/{image_id}/restore')
async def restore_image(image_id: str, user: UserDep, services: ServicesDep) -> ImageView:
    """Bring one of the caller's images back from the trash."""
    return await services.images.restore(user, image_id)


@router.post('/images/{image_id}/favorite')
async def favorite_image(
    image_id: str, user: UserDep, services: ServicesDep, body: FavoriteBody | None = None
) -> ImageView:
    """Mark (or with {"favorite": false} unmark) one of the caller's images as a favourite."""
    favorite = (body or FavoriteBody()).favorite
    return await services.images.set_favorite(user, image_id, favorite)


@router.put('/images/{image_id}/tags')
async def tag_image(image_id: str, body: TagsBody, user: UserDep, services: ServicesDep) -> ImageView:
    """Replace the tags of one of the caller's images."""
    return await services.images.set_tags(user, image_id, body.tags)


@router.post('/images/bulk')
async def bulk(body: BulkBody, user: UserDep, services: ServicesDep) -> BulkOut:
    """Delete or restore many of the caller's images; others' ids are skipped."""
    run = services.images.bulk_delete if body.action == 'delete' else services.images.bulk_restore
    return BulkOut(action=body.action, changed=[row.id for row in await run(user, body.ids)])


@router.get(
    '/images/{image_id}/download',
    response_class=FileResponse,
    responses=file_answer('The image file, named from its date, workflow and prompt', 'image/png', 'image/jpeg'),
)
async def download_image(image_id: str, user: UserDep, services: ServicesDep) -> Response:
    """One of the caller's images as a download named from its date, workflow and prompt."""
    await owned(services, user, image_id, IMAGE_KINDS['all'])
    row = await services.images.row(user, image_id)
    if row is None:
        raise ApiError(404, 'not_found', 'No such image.')
    disposition = content_disposition(download_name(row))
    try:
        return await stored_file(services.storage, row.rel_path, media_type=row.mime, disposition=disposition)
    except ApiError as error:
        if error.status != 404:
            raise
        raise ApiError(404, 'not_found', 'No such image.') from error


@router.post(
    '/images/zip', response_class=FileResponse, responses=file_answer('A ZIP of the images', 'application/zip')
)
async def download_zip(body: ZipBody, user: UserDep, services: ServicesDep) -> FileResponse:
    """A ZIP of the caller's selected images."""
    path = await services.images.zip_images(user, body.ids)
    return FileResponse(
        path,
        media_type='application/zip',
        filename=f'images-{utcnow():%Y%m%d-%H%M%S}.zip',
        background=BackgroundTask(remove, str(path)),
    )


def remove(path: str) -> None:
    """Delete a file that may be gone already."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
