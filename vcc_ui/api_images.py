"""REST routes of the gallery, the inputs library and share links (/api/v1/images, /inputs, /shares, /s/)."""

from __future__ import annotations

import contextlib
import os
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from vcc_ui.api import User, _error
from vcc_ui.services import Services
from vcc_ui.services.image_meta import MAX_TAGS, ImageFilter, ImageProblem, ImageView, UploadRejected
from vcc_ui.services.images import MAX_BULK
from vcc_ui.services.shares import PUBLIC_PREFIXES, SHARE_PATH
from vcc_ui.services.storage import StorageError

__all__ = ['PUBLIC_PREFIXES', 'create_router']

STATUS_BY_CODE = {'not_found': 404, 'invalid': 422, 'quota': 403, 'gone': 410, 'blocked': 403}
UPLOAD_STATUS = {'too_large': 413, 'type_not_allowed': 415, 'not_an_image': 422, 'bomb': 422}
IMAGE_KINDS = {
    'generated': ('generated',),
    'control': ('control',),
    'input': ('input',),
    'all': ('generated', 'control', 'input'),
}
INPUT_KINDS = {'input': ('input',), 'control': ('control',), 'all': ('input', 'control')}
Page = Annotated[int, Query(ge=1, le=1_000_000)]
Size = Annotated[int, Query(ge=1, le=100)]
Status = Literal['active', 'trash']
Ids = Field(max_length=MAX_BULK)


class FavoriteBody(BaseModel, extra='forbid'):
    favorite: bool = True


class TagsBody(BaseModel, extra='forbid'):
    tags: list[Annotated[str, Field(max_length=100)]] = Field(max_length=MAX_TAGS)


class BulkBody(BaseModel, extra='forbid'):
    action: Literal['delete', 'restore']
    ids: list[Annotated[str, Field(max_length=64)]] = Ids


class ZipBody(BaseModel, extra='forbid'):
    ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=MAX_BULK)


class CopyBody(BaseModel, extra='forbid'):
    image_id: str = Field(max_length=64)


class ShareBody(BaseModel, extra='forbid'):
    expires: Literal['1h', '1d', '7d', '30d'] = '1d'


def _problem(error: ImageProblem) -> Exception:
    return _error(STATUS_BY_CODE.get(error.code, 422), error.code, error.message)


def create_router(services: Services) -> APIRouter:
    """Build the gallery, inputs and share routes bound to one Services instance."""
    images, shares = services.images, services.shares

    async def ready() -> None:
        await services.ready.wait()

    router = APIRouter()
    api = APIRouter(prefix='/api/v1', dependencies=[Depends(ready)], tags=['images'])

    def item(view: ImageView) -> dict:
        return view.model_dump(mode='json')

    async def listing(user: str, page: int, size: int, kinds: tuple[str, ...], **criteria: object) -> dict:
        result = await images.page(user, page=page, size=size, filters=ImageFilter(kind=kinds, **criteria))
        return {
            'items': [item(r) for r in result.items],
            'page': result.page,
            'size': result.size,
            'total': result.total,
            'has_more': result.has_more,
        }

    async def owned(user: str, image_id: str, kinds: tuple[str, ...]) -> ImageView:
        view = await images.get(user, image_id)
        if view is None or view.kind not in kinds:
            raise _error(404, 'not_found', 'No such image.')
        return view

    async def change(coro) -> dict:
        try:
            return item(await coro)
        except ImageProblem as error:
            raise _problem(error) from error

    @api.get('/images')
    async def list_images(
        user: User,
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
    ) -> dict:
        """The caller's images, newest first, paged and filtered."""
        return await listing(
            user,
            page,
            size,
            IMAGE_KINDS[kind],
            from_date=from_date,
            to_date=to_date,
            aspect_ratio=aspect_ratio,
            workflow_id=workflow_id,
            tag=tag,
            favorite=favorite,
            q=q,
            status=status,
        )

    @api.get('/images/{image_id}')
    async def get_image(image_id: str, user: User) -> dict:
        """One of the caller's images."""
        return item(await owned(user, image_id, IMAGE_KINDS['all']))

    @api.post('/images/{image_id}/delete')
    async def delete_image(image_id: str, user: User) -> dict:
        """Move one of the caller's images to the trash."""
        return await change(images.delete(user, image_id))

    @api.post('/images/{image_id}/restore')
    async def restore_image(image_id: str, user: User) -> dict:
        """Bring one of the caller's images back from the trash."""
        return await change(images.restore(user, image_id))

    @api.post('/images/{image_id}/favorite')
    async def favorite_image(image_id: str, user: User, body: FavoriteBody | None = None) -> dict:
        """Mark (or with {"favorite": false} unmark) one of the caller's images as a favourite."""
        return await change(images.set_favorite(user, image_id, (body or FavoriteBody()).favorite))

    @api.put('/images/{image_id}/tags')
    async def tag_image(image_id: str, body: TagsBody, user: User) -> dict:
        """Replace the tags of one of the caller's images."""
        return await change(images.set_tags(user, image_id, body.tags))

    @api.post('/images/bulk')
    async def bulk(body: BulkBody, user: User) -> dict:
        """Delete or restore many of the caller's images; others' ids are skipped."""
        run = images.bulk_delete if body.action == 'delete' else images.bulk_restore
        try:
            changed = await run(user, body.ids)
        except ImageProblem as error:
            raise _problem(error) from error
        return {'action': body.action, 'changed': [r.id for r in changed]}

    @api.post('/images/zip')
    async def download_zip(body: ZipBody, user: User) -> FileResponse:
        """A ZIP of the caller's selected images."""
        try:
            path = await images.zip_images(user, body.ids)
        except ImageProblem as error:
            raise _problem(error) from error
        return FileResponse(
            path, media_type='application/zip', filename='images.zip', background=BackgroundTask(_remove, str(path))
        )

    @api.get('/inputs')
    async def list_inputs(
        user: User,
        page: Page = 1,
        size: Size = 50,
        status: Status = 'active',
        kind: Literal['input', 'control', 'all'] = 'all',
    ) -> dict:
        """The caller's inputs library (uploads and copies) and control images, newest first."""
        return await listing(user, page, size, INPUT_KINDS[kind], status=status)

    @api.post('/inputs/upload', status_code=201)
    async def upload_input(user: User, file: Annotated[UploadFile, File()]) -> dict:
        """Add a png/jpg/webp to the caller's inputs; 413 too large, 415/422 not an accepted image, 403 quota."""
        limit = services.settings.controls_max_bytes
        data = await file.read(limit + 1)
        try:
            return item(await images.upload_input(user, data, file.filename or 'upload'))
        except UploadRejected as error:
            raise _error(UPLOAD_STATUS.get(error.code, 422), error.code, error.reason, 'file') from error
        except ImageProblem as error:
            raise _problem(error) from error

    @api.post('/inputs/copy', status_code=201)
    async def copy_input(body: CopyBody, user: User) -> dict:
        """Copy one of the caller's generated or control images into the inputs library."""
        return await change(images.copy_to_inputs(user, body.image_id))

    @api.post('/inputs/{image_id}/delete')
    async def delete_input(image_id: str, user: User) -> dict:
        """Move one of the caller's input or control images to the trash."""
        await owned(user, image_id, INPUT_KINDS['all'])
        return await change(images.delete(user, image_id))

    @api.post('/inputs/{image_id}/restore')
    async def restore_input(image_id: str, user: User) -> dict:
        """Bring one of the caller's input or control images back from the trash."""
        await owned(user, image_id, INPUT_KINDS['all'])
        return await change(images.restore(user, image_id))

    @api.post('/images/{image_id}/shares', status_code=201)
    async def create_share(image_id: str, user: User, body: ShareBody | None = None) -> dict:
        """Make an expiring link to one of the caller's images."""
        try:
            link = await shares.create(user, image_id, (body or ShareBody()).expires)
        except ImageProblem as error:
            raise _problem(error) from error
        return shares.as_dict(link)

    @api.get('/images/{image_id}/shares')
    async def image_shares(image_id: str, user: User) -> dict:
        """The caller's links to one image."""
        await owned(user, image_id, IMAGE_KINDS['all'])
        return {'items': [shares.as_dict(link) for link in await shares.links(user, image_id)]}

    @api.get('/shares')
    async def list_shares(user: User) -> dict:
        """All the caller's share links."""
        return {'items': [shares.as_dict(link) for link in await shares.links(user)]}

    @api.post('/shares/{link_id}/revoke')
    async def revoke_share(link_id: str, user: User) -> dict:
        """Turn off one of the caller's share links."""
        try:
            return shares.as_dict(await shares.revoke(user, link_id))
        except ImageProblem as error:
            raise _problem(error) from error

    @router.get(SHARE_PATH + '{token}', dependencies=[Depends(ready)], include_in_schema=False)
    async def shared_image(token: str) -> Response:
        """The shared image itself, for anyone holding a valid link; 404 unknown, 410 expired or revoked."""
        try:
            row = await shares.resolve(token)
            path = services.storage.resolve(row.rel_path)
        except ImageProblem as error:
            return JSONResponse(
                {'detail': {'code': error.code, 'message': error.message, 'field': None}},
                status_code=STATUS_BY_CODE.get(error.code, 404),
            )
        except StorageError:
            return JSONResponse(
                {'detail': {'code': 'gone', 'message': 'The shared image is no longer available.', 'field': None}},
                status_code=410,
            )
        if not path.is_file():
            return JSONResponse(
                {'detail': {'code': 'gone', 'message': 'The shared image is no longer available.', 'field': None}},
                status_code=410,
            )
        return FileResponse(path, media_type=row.mime, headers={'Cache-Control': 'private, no-store'})

    router.include_router(api)
    return router


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
